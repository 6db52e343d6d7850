"""``neuro infer``: a registered learner's answers (label, confidence, abstained, evidence)
for texts, image files or a folder of images, as JSON-ready dicts."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuroplast.continual.neuromorphic.learner import NeuromorphicLearner
from neuroplast.continual.neuromorphic.workflow import load_learner
from neuroplast.errors import DataError
from neuroplast.registry import Registry

__all__ = ["IMAGE_SUFFIXES", "answer_dict", "image_files", "infer", "read_images"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def image_files(inputs: Sequence[Path], input_dir: Path | None) -> list[Path]:
    """The image files named, and those of ``input_dir`` (sorted); each must exist."""
    files = list(inputs)
    if input_dir is not None:
        if not input_dir.is_dir():
            raise DataError(f"--input-dir {input_dir} is not a folder of images")
        files += sorted(p for p in input_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"--input-dir {input_dir} holds no {'/'.join(IMAGE_SUFFIXES)} files")
    for path in files:
        if not path.is_file():
            raise DataError(f"input image {path} not found; check the path")
    return files


def read_images(paths: Sequence[Path], shape: Sequence[int], input_range: Sequence[float]) -> Any:
    """Image files as the stream's tensors: ``shape`` [C, H, W], pixels scaled like it."""
    from PIL import Image, UnidentifiedImageError

    from neuroplast._pixels import pixel_limit_guard
    from neuroplast.continual.streams import image_tensor

    c, h, w = (int(v) for v in shape)
    arrays = []
    for path in paths:
        try:
            with pixel_limit_guard(path), Image.open(path) as image:
                converted = image.convert("L" if c == 1 else "RGB").resize((w, h))
                pixels = np.asarray(converted, dtype=np.uint8)
        except (UnidentifiedImageError, OSError) as e:
            raise DataError(f"{path} is not an image PIL can read ({e})") from e
        arrays.append(pixels[None] if c == 1 else pixels.transpose(2, 0, 1))
    low, high = (float(v) for v in input_range)
    return image_tensor(np.stack(arrays), (low, high))


def answer_dict(answer: Any, name: str, examples: dict[str, str] | None = None) -> dict[str, Any]:
    """One answer as JSON: input, label, confidence, abstained, the class probabilities and
    the evidence, each stored example ref with the input it names (``examples``)."""
    data = answer.to_dict() if hasattr(answer, "to_dict") else dataclasses.asdict(answer)
    for item in data.get("evidence") or []:
        item["examples"] = [
            {"ref": ref, "input": (examples or {}).get(str(ref))} for ref in item["examples"]
        ]
    return {"input": name, **data}


def _inputs(
    learner: NeuromorphicLearner, modality: str, texts: Sequence[str], paths: Sequence[Path],
    preprocessing: dict[str, Any],
) -> tuple[Any, list[str]]:  # fmt: skip
    if modality == "text":
        if paths or not texts:
            raise DataError("this learner reads texts: give them as arguments, not --input")
        return list(texts), [t[:60] for t in texts]
    if texts or not paths:
        raise DataError("this learner reads images: give --input image.png or --input-dir folder/")
    shape, value_range = preprocessing["input_shape"], preprocessing["input_range"]
    return read_images(paths, shape, value_range), [str(p) for p in paths]


def infer(
    registry: Registry,
    ref: str,
    *,
    texts: Sequence[str] = (),
    paths: Sequence[Path] = (),
    batch: int = 256,
) -> list[dict[str, Any]]:
    """Answers of the learner ``ref`` for ``texts`` or the image files ``paths``."""
    learner, version = load_learner(registry, ref)
    inputs, names = _inputs(learner, version.modality, texts, paths, learner.preprocessing)
    out: list[dict[str, Any]] = []
    with torch.no_grad():
        for start in range(0, len(names), batch):
            answers = learner.predict(inputs[start : start + batch])
            chunk = names[start : start + batch]
            out += [
                answer_dict(a, n, learner.examples) for a, n in zip(answers, chunk, strict=True)
            ]
    return out
