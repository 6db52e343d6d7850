"""``monitor``: a version's logged traffic, cut into windows, each tested against the
version's reference.

Per window: the pooled features (:class:`ProjectedKSTest`), the input statistics (KS on
each: text length and unknown-token rate, or image mean and spread of pixels), the
predicted-class mix (chi-square), the confidence (KS), and the accuracy on the inputs
users gave feedback on (river's ADWIN over the whole stream, in order). A window raises the
alarm when any test does; so that a window of unchanged traffic alarms with probability at
most ``alpha``, each of the ``m`` tests with a p-value runs at ``alpha / m`` (Bonferroni).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np

from neuroplast.errors import ConfigError, DataError
from neuroplast.monitoring.detectors import (
    ChiSquareTest,
    KSTest,
    ProjectedKSTest,
    StreamingAccuracy,
    TestResult,
)
from neuroplast.monitoring.embeddings import EmbeddingSample, check_encoder, embedding_sample
from neuroplast.monitoring.features import FeatureExtractor, InputFeatures, decode_thumbnails
from neuroplast.monitoring.reference import Reference, load_or_build_reference
from neuroplast.registry import Registry
from neuroplast.registry.traffic import PredictionRecord

__all__ = ["MAX_WINDOWS", "MonitorReport", "WindowReport", "monitor_traffic", "run_windows"]

logger = logging.getLogger(__name__)

#: At most this many windows (the newest) are read from the log.
MAX_WINDOWS = 50
_STAT_NAMES = {
    "length": "input length (KS)",
    "oov_rate": "unknown-token rate (KS)",
    "pixel_mean": "pixel mean (KS)",
    "pixel_std": "pixel spread (KS)",
}


@dataclass(frozen=True)
class WindowReport:
    """One window of traffic (oldest first in a report) and its tests."""

    index: int
    start: datetime | None
    end: datetime | None
    size: int
    results: list[TestResult]

    @property
    def alarm(self) -> bool:
        return any(r.alarm for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "start": None if self.start is None else self.start.isoformat(),
            "end": None if self.end is None else self.end.isoformat(),
            "size": self.size,
            "alarm": self.alarm,
            "tests": [r.to_dict() for r in self.results],
        }


@dataclass
class MonitorReport:
    """Every window's tests, with what they were compared with."""

    model: str
    version: str
    reference: str
    reference_size: int
    window: int
    alpha: float
    windows: list[WindowReport]
    notes: list[str] = field(default_factory=list)
    #: reference and newest window, per test, for the plots (not in ``to_dict``)
    samples: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)
    #: the id of the stored check (``monitor_traffic(store=True)``), not in ``to_dict``
    check_id: int | None = None

    @property
    def alarms(self) -> int:
        return sum(w.alarm for w in self.windows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "reference": self.reference,
            "reference_size": self.reference_size,
            "window": self.window,
            "alpha": self.alpha,
            "alarms": self.alarms,
            "windows": [w.to_dict() for w in self.windows],
            "notes": list(self.notes),
        }


def _codes(labels: list[str], names: list[str], what: str) -> np.ndarray:
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted({label for label in labels if label not in index})
    if unknown:
        raise DataError(
            f"{what} holds labels the model does not have: {', '.join(unknown[:5])}; "
            f"its labels are {', '.join(names)}"
        )
    return np.array([index[label] for label in labels], dtype=np.int64)


def _sentence_tests(
    embeddings: EmbeddingSample | None,
    count: int,
    level: float,
    fit_on: Literal["pooled", "reference"],
) -> tuple[list[TestResult], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """The sentence-vector test of each window (none without ``embeddings``), and the
    reference's and last window's first component for the plots."""
    if embeddings is None:
        return [], {}
    if len(embeddings.windows) != count:
        raise DataError(f"{len(embeddings.windows)} windows of sentence vectors for {count}")
    test = ProjectedKSTest(embeddings.name, alpha=level, fit_on=fit_on).fit(embeddings.reference)
    results = [test.test(None, vectors) for vectors in embeddings.windows]
    last = embeddings.windows[-1] if embeddings.windows else embeddings.reference[:0]
    first = (test.reference_projection[:, 0], test.project(last)[:, 0])
    return results, {f"{test.name}, first component": first}


def run_windows(
    reference: Reference,
    windows: list[tuple[InputFeatures, np.ndarray, np.ndarray, np.ndarray | None]],
    *,
    alpha: float = 0.05,
    fit_on: Literal["pooled", "reference"] = "pooled",
    embeddings: EmbeddingSample | None = None,
) -> tuple[list[list[TestResult]], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """The tests of each window, given as (input features, served predicted class codes,
    served confidences, feedback correctness flags or None). Also returns, per test, the
    reference's and the last window's values (for plots). ``fit_on``: where the features'
    projection is fitted (:class:`ProjectedKSTest`). ``embeddings``: sentence vectors of
    the reference and of each window, one more test (:mod:`neuroplast.monitoring.embeddings`)."""
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be between 0 and 1 (exclusive), not {alpha!r}")
    ref = reference.inputs
    # the vocabulary was built on the training split: its unknown-token rate there is ~0 by
    # construction, so that test would alarm on any traffic; it runs against val and test
    stat_names = [
        n for n in sorted(ref.statistics) if not (n == "oov_rate" and reference.split == "train")
    ]
    # features, class mix, confidence, statistics (and sentence vectors)
    level = alpha / (3 + len(stat_names) + (embeddings is not None))
    features = ProjectedKSTest("pooled features (PCA-KS)", alpha=level, fit_on=fit_on)
    features.fit(ref.features)
    sentence_results, sentence_samples = _sentence_tests(embeddings, len(windows), level, fit_on)
    mix = ChiSquareTest("predicted-class mix (chi-square)", len(reference.label_names), alpha=level)
    confidence = KSTest("confidence (KS)", alpha=level)
    stat_tests = {
        name: KSTest(_STAT_NAMES.get(name, f"{name} (KS)"), alpha=level) for name in stat_names
    }
    accuracy = StreamingAccuracy()
    out: list[list[TestResult]] = []
    samples: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for i, (inputs, predicted, conf, correct) in enumerate(windows):
        results = [
            features.test(None, inputs.features),
            mix.test(ref.predicted, predicted),
            confidence.test(ref.confidence, conf),
        ]
        results[1:1] = sentence_results[i : i + 1]
        for name, test in stat_tests.items():
            results.append(test.test(ref.statistics[name], inputs.statistics[name]))
        if correct is not None:
            results.append(accuracy.test(None, correct.tolist()))
        out.append(results)
        samples = {
            f"{features.name}, first component": (
                features.reference_projection[:, 0],
                features.project(inputs.features)[:, 0],
            ),
            mix.name: (ref.predicted, predicted),
            confidence.name: (ref.confidence, conf),
            **{t.name: (ref.statistics[n], inputs.statistics[n]) for n, t in stat_tests.items()},
        }
    return out, {**samples, **sentence_samples}


def _window_inputs(
    rows: list[PredictionRecord], extractor: FeatureExtractor, ref: str
) -> InputFeatures:
    if extractor.modality == "text":
        texts = [r.input_text for r in rows]
        if any(t is None for t in texts):
            raise DataError(f"the log of {ref} holds inputs without their text; cannot test them")
        return extractor.extract([str(t) for t in texts])
    thumbs = [r.thumbnail for r in rows]
    if any(t is None for t in thumbs):
        raise DataError(f"the log of {ref} holds images without a thumbnail; cannot test them")
    shape = extractor.predictor.pre.get("image_shape") or [
        extractor.loaded.meta.arch_config.get("in_channels", 1),
        extractor.loaded.meta.arch_config.get("image_size", 28),
    ]
    images = decode_thumbnails([str(t) for t in thumbs], channels=int(shape[0]), size=int(shape[1]))
    return extractor.extract(images)


def _logged_rows(
    registry: Registry, model: str, version: int, *, window: int, since: datetime | None
) -> list[PredictionRecord]:
    """The newest whole windows of ``version``'s logged rows, oldest first."""
    name = model.partition(":")[0].partition("@")[0]
    rows = registry.predictions(name, since=since, limit=window * MAX_WINDOWS)
    when = "" if since is None else f" since {since.isoformat(timespec='seconds')}"
    if not rows:
        raise DataError(
            f"no traffic of {name} is logged{when}: serve it (`neuroplast serve {name}`) with "
            "the prediction log on, or widen --since"
        )
    mine = [r for r in reversed(rows) if r.version == version]
    if not mine:
        others = ", ".join(f"{name}:{v}" for v in sorted({r.version for r in rows}))
        raise DataError(f"no traffic of {name}:{version} is logged{when}; the log holds {others}")
    if len(mine) < window:
        raise ConfigError(
            f"--window {window} is bigger than the log: {len(mine)} inputs of {name}:{version} "
            f"are logged{when}; pass --window {len(mine)} or less, or wait for more traffic"
        )
    return mine[len(mine) % window :]


def _window_parts(
    rows: list[PredictionRecord],
    current: InputFeatures,
    predicted: np.ndarray,
    confidence: np.ndarray,
    window: int,
) -> list[tuple[InputFeatures, np.ndarray, np.ndarray, np.ndarray | None]]:
    """What :func:`run_windows` takes, per whole window of the logged ``rows``."""
    feedback = [r.feedback for r in rows]
    parts = []
    for start in range(0, len(rows), window):
        end = start + window
        chunk = slice(start, end)
        given = [(i, f) for i, f in enumerate(feedback[chunk]) if f is not None]
        correct = None
        if any(f is not None for f in feedback):
            correct = np.array([f == rows[start + i].label for i, f in given], dtype=bool)
        stats = {k: v[chunk] for k, v in current.statistics.items()}
        inputs = InputFeatures(current.features[chunk], current.probabilities[chunk], stats)
        parts.append((inputs, predicted[chunk], confidence[chunk], correct))
    return parts


def _notes(modality: str, ref: Reference, feedback: list[str | None]) -> list[str]:
    """What a reader of the report must know about what was (not) tested."""
    notes = []
    if modality == "image":
        notes.append(
            "image inputs are read back from the log's thumbnails: exact for images of at "
            "most 64 pixels a side, scaled back up (approximate) for larger ones"
        )
    if ref.split == "train" and "oov_rate" in ref.inputs.statistics:
        notes.append(
            "the unknown-token rate is not tested against the train split (the vocabulary was "
            "built on it, so its rate there is ~0); --reference val tests it"
        )
    if all(f is None for f in feedback):
        notes.append("no feedback logged: the accuracy detector did not run")
    return notes


def monitor_traffic(
    registry: Registry,
    model: str,
    *,
    window: int = 500,
    since: datetime | None = None,
    reference: str = "heldout",
    alpha: float = 0.05,
    store: bool = True,
    embeddings: str | None = None,
) -> MonitorReport:
    """Test the logged traffic of ``model`` (a name: its production version, else its
    newest; or ``name:N``) window by window against its ``reference`` split.

    The default is ``heldout`` (val and test together), not ``train``: a model is more
    confident, and its pooled features sit elsewhere, on the inputs it was trained on than
    on any new input (every window of unseen reviews alarmed against them). Not ``val``
    alone: each window is compared with the same reference, so a small one's chance offset
    shows in all of them at once (``benchmarks/drift_calibration.py``).

    ``store``: keep the report in the registry (:meth:`Registry.add_drift_check`) for the
    dashboard; a read-only registry keeps nothing. ``embeddings="minilm"``: test the texts'
    sentence vectors too (:mod:`neuroplast.monitoring.embeddings`)."""
    from neuroplast.inference.registered import load_registered

    _check_options(window, embeddings)
    version = registry.resolve(model)
    rows = _logged_rows(registry, model, version.version, window=window, since=since)
    version, loaded = load_registered(registry, version.ref)
    extractor = FeatureExtractor(loaded)
    ref = load_or_build_reference(registry, version, extractor, reference)
    current = _window_inputs(rows, extractor, version.ref)
    labels = [r.label for r in rows]
    predicted = _codes(labels, list(loaded.meta.label_names), f"the log of {version.ref}")
    confidence = np.array([r.probability for r in rows], dtype=np.float64)
    notes = _notes(extractor.modality, ref, [r.feedback for r in rows])
    parts = _window_parts(rows, current, predicted, confidence, window)
    sentences = None
    if embeddings is not None:  # the logged texts, cut into the same windows
        chunks = [_texts(rows[i : i + window]) for i in range(0, len(rows), window)]
        sentences = embedding_sample(registry, version, extractor, ref.split, chunks, embeddings)
    results, samples = run_windows(ref, parts, alpha=alpha, embeddings=sentences)
    windows = [
        WindowReport(i, rows[i * window].at, rows[(i + 1) * window - 1].at, window, r)
        for i, r in enumerate(results)
    ]
    report = MonitorReport(
        model=version.model_name,
        version=version.ref,
        reference=ref.split,
        reference_size=ref.size,
        window=window,
        alpha=alpha,
        windows=windows,
        notes=notes,
        samples=samples,
    )
    _store(registry, report, store)
    return report


def _check_options(window: int, embeddings: str | None) -> None:
    if isinstance(window, bool) or not isinstance(window, int) or window < 2:
        raise ConfigError(f"--window must be an integer >= 2, not {window!r}")
    if embeddings is not None:
        check_encoder(embeddings)


def _texts(rows: list[PredictionRecord]) -> list[str]:
    return [str(r.input_text) for r in rows]


def _store(registry: Registry, report: MonitorReport, store: bool) -> None:
    logger.info("%s: %d windows of %d, %d alarms", report.version, len(report.windows),
                report.window, report.alarms)  # fmt: skip
    if not store:
        return
    if registry.read_only:
        report.notes.append("the registry is read-only: this check is not stored")
    else:
        report.check_id = registry.add_drift_check(report.to_dict())
