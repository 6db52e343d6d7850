"""Turn raw label values (strings or numbers) into class indices and ordered class names.

One rule names the classes: a text label is its text with the surrounding whitespace
stripped, compared exactly (so ``" 1"`` is ``"1"``, but ``"01"`` and ``"1.0"`` are classes of
their own); a number is its integer text when it is a whole number (``1`` and ``1.0`` from
JSON or Parquet are ``"1"``), else its ``str``. Table files are read as text, so a CSV's
labels are compared as written.

A missing label (None, NaN, an empty or blank string, or a text spelling of a missing value:
``NaN``, ``null``, ``N/A``, ``#N/A``, ``<NA>``, in any case) is never a class: such rows are
an error. When every name is an integer of up to 18 digits the classes are ordered by numeric
value (``"2"`` before ``"10"``, ties by text), otherwise alphabetically. A caller-supplied
``label_names`` fixes the order instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from neuroplast.errors import DataError

__all__ = [
    "MISSING_LABEL_TEXTS",
    "canonical_label",
    "encode_labels",
    "format_rows",
    "is_missing_label",
    "order_label_names",
    "plural",
]

_INT_RE = re.compile(r"[+-]?[0-9]{1,18}")
_NESTED = (list, dict, tuple, set, np.ndarray, bytes)
#: Text labels that spell a missing value (compared after ``strip().lower()``).
MISSING_LABEL_TEXTS = frozenset({"", "nan", "-nan", "null", "n/a", "#n/a", "<na>"})


def is_missing_label(value: Any) -> bool:
    """Whether a raw label value means "no label" (see the module doc)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(float(value))
    if isinstance(value, str):
        return value.strip().lower() in MISSING_LABEL_TEXTS
    return False


def canonical_label(value: Any) -> str:
    """The class name for one raw label value (see the module doc for the rule)."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        return str(int(number)) if number.is_integer() else str(number)
    return str(value).strip()


def order_label_names(names: set[str]) -> list[str]:
    """Numeric order when every name is an integer (ties by text), else alphabetical."""
    if all(_INT_RE.fullmatch(name) for name in names):
        return sorted(names, key=lambda name: (int(name), name))
    return sorted(names)


def format_rows(rows: Sequence[int], *, limit: int = 5) -> str:
    """``"3, 7, 9"`` or ``"3, 7, 9, 10, 12 and 40 more"``."""
    shown = ", ".join(str(row) for row in rows[:limit])
    return shown if len(rows) <= limit else f"{shown} and {len(rows) - limit} more"


def plural(count: int, word: str) -> str:
    """``"1 row"``, ``"3 rows"`` (``word`` is the plural)."""
    return f"{count} {word.removesuffix('s') if count == 1 else word}"


def _default_where(positions: list[int]) -> str:
    return f"rows {format_rows([i + 1 for i in positions])}"


def _check_present(items: list[Any], source: str, located: Callable[[list[int]], str]) -> None:
    """Every label is one text or number: none nested (a list, a dict), none missing."""
    nested = [i for i, value in enumerate(items) if isinstance(value, _NESTED)]
    if nested:
        kind = type(items[nested[0]]).__name__
        verb = "is" if len(nested) == 1 else "are"
        raise DataError(
            f"{source}: {plural(len(nested), 'labels')} {verb} neither a text nor a number "
            f"(a {kind}; {located(nested)}); give each row one label"
        )
    missing = [i for i, value in enumerate(items) if is_missing_label(value)]
    if missing:
        raise DataError(
            f"{source} has {plural(len(missing), 'labels')} missing (empty, NaN or null; "
            f"{located(missing)}); fill in the labels or delete those rows"
        )


def _given_names(
    label_names: list[str],
    unique_names: list[str],
    codes: np.ndarray,
    source: str,
    located: Callable[[list[int]], str],
) -> list[str]:
    """The caller's ``label_names`` (canonical): at least 2, distinct, and holding every label
    of the data (``unique_names``, the name of each of the ``codes``)."""
    names = [canonical_label(name) for name in label_names]
    if len(names) < 2 or len(set(names)) != len(names):
        raise DataError(
            f"label_names {label_names!r} given for {source} must list at least 2 distinct "
            "classes; fix the label_names argument"
        )
    unknown = sorted({name for name in unique_names if name not in names})
    if unknown:
        bad_codes = [i for i, name in enumerate(unique_names) if name in unknown]
        positions = [int(i) for i in np.flatnonzero(np.isin(codes, bad_codes))]
        raise DataError(
            f"{source} has labels not in label_names: {', '.join(map(repr, unknown[:5]))} "
            f"({located(positions)}); expected one of "
            f"{', '.join(map(repr, names[:20]))}"
            f"{f' and {len(names) - 20} more' if len(names) > 20 else ''}. Fix those rows "
            "or pass the full label_names"
        )
    return names


def encode_labels(
    values: Sequence[Any] | pd.Series,
    *,
    source: str,
    label_names: list[str] | None = None,
    where: Callable[[list[int]], str] | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Return ``(int64 labels, label names)`` for raw ``values``; a missing label is an error.

    ``where`` describes 0-based positions the way a person finds them in the file (for
    example ``"rows 3, 7 (the header is row 1)"``), so errors point at the right rows.
    """
    raw = pd.Series(values, dtype=object)
    located = where or _default_where
    _check_present(raw.tolist(), source, located)
    codes, uniques = pd.factorize(raw, sort=False)
    # factorize compares raw values, so " 1" and "1" are two codes of one name: merge them.
    unique_names = [canonical_label(value) for value in uniques]
    if label_names is None:
        names = order_label_names(set(unique_names))
        if len(names) < 2:
            only = names[0] if names else "none"
            raise DataError(
                f"{source} has a single class ({only!r}); training needs at least 2 classes. "
                "Add examples of the other classes or check the label column"
            )
    else:
        names = _given_names(label_names, unique_names, codes, source, located)
    index = {name: i for i, name in enumerate(names)}
    lookup = np.array([index[name] for name in unique_names], dtype=np.int64)
    labels = lookup[codes] if len(codes) else np.zeros(0, dtype=np.int64)
    return labels, names
