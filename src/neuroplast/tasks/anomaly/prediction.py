"""Score new inputs with an anomaly version: a file of rows, a series file (scored per
window) or image files; each gets its score and ``is_anomaly`` (score above the stored
threshold). ``backend="onnx"`` scores with the version's ONNX graph in ONNX Runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from neuroplast.errors import ConfigError, DataError
from neuroplast.registry import Registry
from neuroplast.tasks import TaskResult
from neuroplast.tasks._store import StoredTask, load_task_version, onnx_path
from neuroplast.tasks._tables import numeric_columns, read_table
from neuroplast.tasks.anomaly.data import windows
from neuroplast.tasks.anomaly.models import build_model, score
from neuroplast.tasks.anomaly.state import AnomalyState

__all__ = ["predict_anomaly", "read_images"]


def read_images(paths: list[str], shape: list[int]) -> np.ndarray:
    """Image files as 0..1 float arrays ``(N, C, H, W)`` of the model's channels and size."""
    from PIL import Image, UnidentifiedImageError

    from neuroplast._pixels import pixel_limit_guard

    channels, height, width = shape
    out = np.empty((len(paths), channels, height, width), dtype=np.float32)
    for i, name in enumerate(paths):
        path = Path(name)
        try:
            with pixel_limit_guard(path), Image.open(path) as opened:
                image = opened.convert("L" if channels == 1 else "RGB").resize((width, height))
                pixels = np.asarray(image, dtype=np.float32) / 255.0
        except (UnidentifiedImageError, OSError, ValueError) as e:
            raise DataError(f"cannot read image {path} ({e}); give a PNG or JPEG file") from e
        out[i] = pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)
    return out


def _inputs(state: AnomalyState, file: Path | None, images: list[str]) -> tuple[Any, list[dict]]:
    """The raw inputs and one record per input (row number, window span or file name)."""
    if state.kind == "image":
        if not images:
            raise DataError("nothing to score: give image files (or a folder with --file)")
        return read_images(images, state.input_shape), [{"input": p} for p in images]
    if file is None:
        raise DataError("nothing to score: give --file FILE (CSV / TSV / JSONL / Parquet)")
    x = numeric_columns(read_table(file), state.columns, file)
    if state.kind == "tabular":
        return x, [{"row": i + 1} for i in range(len(x))]
    wins, starts = windows(x[:, 0], int(state.window or 0), int(state.stride or 1))
    return wins, [{"start": int(s), "end": int(s) + wins.shape[1]} for s in starts]


def _scores(stored: StoredTask, inputs: Tensor, backend: str) -> np.ndarray:
    if backend == "torch":
        return score(stored.build(build_model), inputs).numpy()
    if backend != "onnx":
        raise ConfigError(f"--backend {backend!r}: anomaly models run on torch or onnx")
    path = onnx_path(stored)
    if path is None:
        raise ConfigError(f"{stored.version.ref} has no ONNX graph; use --backend torch")
    from neuroplast.registry.artifacts import read_verified

    sha = stored.version.artifacts[path.name].sha256
    import onnxruntime as ort

    session = ort.InferenceSession(read_verified(path, sha), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(["output"], {"input": inputs.numpy()})[0])


def predict_anomaly(
    registry: Registry,
    model: str,
    *,
    file: Path | None = None,
    images: list[str] | None = None,
    backend: str = "torch",
) -> TaskResult:
    stored = load_task_version(registry, model, "anomaly_detection")
    state = AnomalyState.from_json(stored.state)
    x, records = _inputs(state, file, list(images or []))
    if state.kind == "tabular" and x.shape[1] != state.input_shape[0]:
        raise DataError(f"{file}: {x.shape[1]} columns, the model reads {state.input_shape[0]}")
    scores = _scores(stored, state.tensor(x), backend)
    rows = [
        {**r, "score": float(s), "is_anomaly": bool(s > state.cut)}
        for r, s in zip(records, scores, strict=True)
    ]
    flagged = sum(r["is_anomaly"] for r in rows)
    lines = [f"{stored.version.ref}: {flagged} of {len(rows)} flagged (threshold {state.cut:.6g})"]
    document = {"version": stored.version.ref, "threshold": state.cut, "rows": rows}
    return TaskResult(stored.version, {"flagged": flagged, "inputs": len(rows)}, document, lines)
