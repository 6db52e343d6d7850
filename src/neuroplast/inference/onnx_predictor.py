"""The ONNX Runtime backends of the Predictor (``"onnx"`` fp32 and ``"onnx-int8"``).

This module imports neither torch nor pandas: a serving process that only answers
predictions needs numpy, onnxruntime and a model folder holding ``model.json``,
``vocab.json`` (text models) and ``model.onnx`` / ``model.int8.onnx``
(``neuroplast export-onnx MODEL --format onnx -o DIR`` writes one).

>>> predictor = OnnxPredictor.from_dir("exported/rt-cnn")  # doctest: +SKIP
>>> predictor.predict(["a gorgeous, witty film"])  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from neuroplast.errors import ArtifactError, ConfigError
from neuroplast.inference.base import SMALL_BATCH, BasePredictor, Prediction, physical_cores
from neuroplast.inference.meta import META, ONNX, ONNX_INT8, VOCAB, ModelMeta
from neuroplast.registry.artifacts import read_verified
from neuroplast.tokens import Vocabulary

__all__ = [
    "REEXPORT",
    "SMALL_BATCH",
    "OnnxPredictor",
    "Prediction",
    "onnxruntime_version",
    "session_options",
]

logger = logging.getLogger(__name__)


def _ort() -> Any:
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise ConfigError(
            "the ONNX backends need onnxruntime: pip install 'onnxruntime>=1.20,<2'"
        ) from e
    return ort


def onnxruntime_version() -> str | None:
    """The installed ONNX Runtime's version, or None when it is not installed."""
    try:
        return str(_ort().__version__)
    except ConfigError:
        return None


def session_options(threads: int | None = None) -> object:
    """ONNX Runtime options: every graph optimization, ``threads`` intra-op threads
    (default: the physical cores, or ``OMP_NUM_THREADS`` if fewer), one inter-op thread, and
    worker threads that sleep instead of spinning when they have no work: spinning threads
    took the cores from eager PyTorch and from the other sessions of the process (see
    benchmarks/README.md)."""
    ort = _ort()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads or physical_cores()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


#: What to do about a missing or damaged file of a serving folder.
REEXPORT = "export the model first (neuroplast export-onnx MODEL --format onnx -o DIR)"


def _json(data: bytes, where: Path) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArtifactError(f"{where} is not valid JSON: {e}") from e


class OnnxPredictor(BasePredictor):
    """Batched inference on ONNX Runtime's CPU provider, from an ONNX model in memory."""

    def __init__(
        self,
        model: bytes,
        meta: ModelMeta,
        vocab: Vocabulary | None,
        *,
        int8: bool = False,
        threads: int | None = None,
        batch_size: int = 256,
    ) -> None:
        super().__init__(meta, vocab, batch_size=batch_size)
        options = session_options(threads)
        self.session = self._session(model, options)
        self.threads = int(options.intra_op_num_threads)  # type: ignore[attr-defined]
        # Small batches run on a one-thread session by default: waking a second thread costs
        # more than it saves there, and a busy machine may not give it a core in time.
        self.sessions = {self.threads: self.session}
        if self.threads > 1:
            self.sessions[1] = self._session(model, session_options(1))
        self.small_session = self.sessions[1]
        self.thread_counts = tuple(sorted(self.sessions))
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [self.session.get_outputs()[0].name]
        self.backend = "onnx-int8" if int8 else "onnx"

    @staticmethod
    def _session(model: bytes, options: object) -> Any:
        ort = _ort()
        try:
            return ort.InferenceSession(
                model, sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ArtifactError(f"ONNX Runtime cannot load this model: {e}") from e

    @classmethod
    def from_dir(
        cls,
        directory: str | Path,
        *,
        int8: bool = False,
        hashes: dict[str, str] | None = None,
        threads: int | None = None,
        batch_size: int = 256,
    ) -> OnnxPredictor:
        """Load ``model.json``, ``vocab.json`` and ``model.onnx`` (``model.int8.onnx`` with
        ``int8``) from ``directory``; with ``hashes`` (file name -> sha256) each is verified."""
        root = Path(directory)
        files = {name: root / name for name in (META, VOCAB, ONNX_INT8 if int8 else ONNX)}
        return cls.from_files(
            files, int8=int8, hashes=hashes, threads=threads, batch_size=batch_size
        )

    @classmethod
    def from_files(
        cls,
        files: Mapping[str, Path],
        *,
        int8: bool = False,
        hashes: Mapping[str, str] | None = None,
        threads: int | None = None,
        batch_size: int = 256,
        fix: str = REEXPORT,
    ) -> OnnxPredictor:
        """Load the model from ``files`` (artifact name -> path: ``model.json``,
        ``vocab.json`` for text models, ``model.onnx`` or with ``int8`` ``model.int8.onnx``),
        each read once and checked against ``hashes`` (name -> sha256) when it names it; a
        missing or damaged file raises :class:`ArtifactError` saying ``fix``."""
        hashes = hashes or {}

        def read(name: str) -> tuple[bytes, Path]:
            path = files.get(name)
            if path is None:
                raise ArtifactError(f"the model has no {name}; {fix}")
            return read_verified(path, hashes.get(name), fix=fix), path

        meta = ModelMeta.from_json(_json(*read(META)), files[META])
        vocab = None
        if meta.modality == "text":
            vocab = Vocabulary.from_dict(_json(*read(VOCAB)))
        model, _ = read(ONNX_INT8 if int8 else ONNX)
        return cls(model, meta, vocab, int8=int8, threads=threads, batch_size=batch_size)

    def run_logits(self, batch: np.ndarray, *, threads: int | None = None) -> np.ndarray:
        count = self.default_threads(len(batch)) if threads is None else self.check_threads(threads)
        session = self.sessions[count]
        result: np.ndarray = session.run(self.output_names, {self.input_name: batch})[0]
        return result
