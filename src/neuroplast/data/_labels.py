"""Turn raw label values (strings or numbers) into class indices and ordered class names.

Names are canonical strings: ``1``, ``1.0`` and ``"1"`` all become ``"1"``. When every name
is an integer the classes are ordered by numeric value (``"2"`` before ``"10"``), otherwise
alphabetically. A caller-supplied ``label_names`` fixes the order instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from neuroplast.errors import DataError

__all__ = ["canonical_label", "encode_labels", "format_rows", "order_label_names"]

_INT_RE = re.compile(r"[+-]?\d+")


def canonical_label(value: Any) -> str:
    """The class name for one raw label value."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        return str(int(number)) if number.is_integer() else str(number)
    text = str(value).strip()
    return str(int(text)) if _INT_RE.fullmatch(text) else text


def order_label_names(names: set[str]) -> list[str]:
    """Numeric order when every name is an integer, else alphabetical."""
    if all(_INT_RE.fullmatch(name) for name in names):
        return sorted(names, key=int)
    return sorted(names)


def format_rows(rows: Sequence[int], *, limit: int = 5) -> str:
    """``"3, 7, 9"`` or ``"3, 7, 9, 10, 12 and 40 more"``."""
    shown = ", ".join(str(row) for row in rows[:limit])
    return shown if len(rows) <= limit else f"{shown} and {len(rows) - limit} more"


def _default_where(positions: list[int]) -> str:
    return f"rows {format_rows([i + 1 for i in positions])}"


def encode_labels(
    values: Sequence[Any] | pd.Series,
    *,
    source: str,
    label_names: list[str] | None = None,
    where: Callable[[list[int]], str] | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Return ``(int64 labels, label names)`` for non-missing raw ``values``.

    ``where`` describes 0-based positions the way a person finds them in the file (for
    example ``"rows 3, 7 (the header is row 1)"``), so errors point at the right rows.
    """
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), sort=False)
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
        names = [canonical_label(name) for name in label_names]
        if len(names) < 2 or len(set(names)) != len(names):
            raise DataError(
                f"label_names {label_names!r} given for {source} must list at least 2 distinct "
                "classes; fix the label_names argument"
            )
        unknown = sorted({name for name in unique_names if name not in names})
        if unknown:
            bad_codes = [unique_names.index(name) for name in unknown]
            positions = [int(i) for i in np.flatnonzero(np.isin(codes, bad_codes))]
            located = (where or _default_where)(positions)
            raise DataError(
                f"{source} has labels not in label_names: {', '.join(map(repr, unknown[:5]))} "
                f"({located}); expected one of "
                f"{', '.join(map(repr, names))}. Fix those rows or pass the full label_names"
            )
    index = {name: i for i, name in enumerate(names)}
    lookup = np.array([index[name] for name in unique_names], dtype=np.int64)
    labels = lookup[codes] if len(codes) else np.zeros(0, dtype=np.int64)
    return labels, names
