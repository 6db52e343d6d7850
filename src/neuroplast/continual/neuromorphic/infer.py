"""``neuro infer``: a registered learner's answers (label, confidence, abstained, evidence)
for texts, image files or a folder of images, as JSON-ready dicts.

For a server: load once with :func:`load_learner`, then answer each request's batch with
:func:`answer_batch` (texts, or in-memory images shaped and scaled like the stream's)."""

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

__all__ = [
    "IMAGE_SUFFIXES",
    "answer_batch",
    "answer_dict",
    "image_files",
    "image_tensor_of",
    "infer",
    "load_learner",
    "read_images",
]

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


def _pixels(image: Any, channels: int, height: int, width: int, where: str) -> np.ndarray:
    """One image (a PIL image or a uint8 array [H, W] / [H, W, C]) as uint8 [C, H, W]."""
    from PIL import Image

    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim not in (2, 3):
            raise DataError(
                f"{where}: expected a uint8 array [H, W] or [H, W, C], got {image.dtype} "
                f"{tuple(image.shape)}"
            )
        image = Image.fromarray(image)
    if not isinstance(image, Image.Image):
        kind = type(image).__name__
        raise DataError(f"{where}: expected a PIL image or a uint8 array, got {kind}")
    converted = image.convert("L" if channels == 1 else "RGB").resize((width, height))
    pixels = np.asarray(converted, dtype=np.uint8)
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def image_tensor_of(
    images: Sequence[Any], shape: Sequence[int], input_range: Sequence[float]
) -> Any:
    """In-memory images (PIL or uint8 arrays) as the stream's tensors: ``shape`` [C, H, W],
    pixels scaled to ``input_range`` like the training stream."""
    from neuroplast.continual.streams import image_tensor

    c, h, w = (int(v) for v in shape)
    arrays = [_pixels(image, c, h, w, f"image {i}") for i, image in enumerate(images)]
    low, high = (float(v) for v in input_range)
    return image_tensor(np.stack(arrays), (low, high))


def read_images(paths: Sequence[Path], shape: Sequence[int], input_range: Sequence[float]) -> Any:
    """Image files as the stream's tensors: ``shape`` [C, H, W], pixels scaled like it."""
    from PIL import Image, UnidentifiedImageError

    from neuroplast._pixels import pixel_limit_guard

    images = []
    for path in paths:
        try:
            with pixel_limit_guard(path), Image.open(path) as image:
                image.load()
                images.append(image.copy())
        except (UnidentifiedImageError, OSError) as e:
            raise DataError(f"{path} is not an image PIL can read ({e})") from e
    return image_tensor_of(images, shape, input_range)


def answer_dict(answer: Any, name: str, examples: dict[str, str] | None = None) -> dict[str, Any]:
    """One answer as JSON: input, label, confidence, abstained, the class probabilities and
    the evidence, each stored example ref with the input it names (``examples``)."""
    data = answer.to_dict() if hasattr(answer, "to_dict") else dataclasses.asdict(answer)
    for item in data.get("evidence") or []:
        item["examples"] = [
            {"ref": ref, "input": (examples or {}).get(str(ref))} for ref in item["examples"]
        ]
    return {"input": name, **data}


def answer_batch(
    learner: NeuromorphicLearner,
    modality: str,
    inputs: Sequence[Any],
    *,
    names: Sequence[str] | None = None,
    batch: int = 256,
) -> list[dict[str, Any]]:
    """The answers of a loaded learner (``modality``: its version's, text or image) for
    ``inputs``: texts, or images (PIL or uint8 arrays) resized and scaled like its
    training stream. One JSON-ready dict per input: input (``names`` or a prefix of the
    text / the position), label, confidence, abstained, probabilities and evidence."""
    if not len(inputs):
        raise DataError("no inputs to answer: give at least one text or image")
    if names is not None and len(names) != len(inputs):
        raise DataError(f"{len(names)} names for {len(inputs)} inputs")
    if modality == "text":
        if not all(isinstance(t, str) for t in inputs):
            raise DataError("this learner reads texts: every input must be a string")
        data: Any = list(inputs)
        shown = [t[:60] for t in inputs] if names is None else list(names)
    else:
        if any(isinstance(t, str) for t in inputs):
            raise DataError("this learner reads images, not texts")
        prep = learner.preprocessing
        data = image_tensor_of(inputs, prep["input_shape"], prep["input_range"])
        shown = [f"image {i}" for i in range(len(inputs))] if names is None else list(names)
    return _answers(learner, data, shown, batch)


def _answers(
    learner: NeuromorphicLearner, data: Any, names: list[str], batch: int
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    with torch.no_grad():
        for start in range(0, len(names), batch):
            answers = learner.predict(data[start : start + batch])
            chunk = names[start : start + batch]
            out += [
                answer_dict(a, n, learner.examples) for a, n in zip(answers, chunk, strict=True)
            ]
    return out


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
    if version.modality == "text":
        if paths or not texts:
            raise DataError("this learner reads texts: give them as arguments, not --input")
        return answer_batch(learner, "text", list(texts), batch=batch)
    if texts or not paths:
        raise DataError("this learner reads images: give --input image.png or --input-dir folder/")
    images = read_images(paths, learner.preprocessing["input_shape"],
                         learner.preprocessing["input_range"])  # fmt: skip
    return _answers(learner, images, [str(p) for p in paths], batch)
