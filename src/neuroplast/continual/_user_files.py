"""User streams from files: tables, ``.npz`` / ``.safetensors`` arrays and image folders,
one per task or one with a task column, combined into one data set with each row's task and
split.

Arrays: ``x`` (uint8 images ``[N, C, H, W]``, ``[N, H, W]`` or ``[N, H, W, C]``; or numbers
``[N, D]``: pixels when they fit an image and are whole numbers 0..255, else features), ``y``
(labels), and optionally ``task`` and ``split`` (train / val / test; in safetensors, which
holds numbers only, 0 / 1 / 2). An image folder holds one subfolder per class, or ``train/``,
``test/`` (and ``val/``) subfolders that each hold one subfolder per class.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neuroplast.continual._splits import SPLIT_NAMES, split_codes
from neuroplast.continual._user_tables import Part, image_shape_for, read_table_part
from neuroplast.continual.config import StreamConfig
from neuroplast.continual.streams import FeatureData
from neuroplast.data import ImageData, TextData, load_image_folder
from neuroplast.data.labels import encode_labels, format_rows
from neuroplast.errors import ConfigError, DataError

__all__ = ["UserData", "read_parts", "read_user_data"]

ARRAY_SUFFIXES = (".npz", ".safetensors")
UserData = tuple[TextData | ImageData | FeatureData, np.ndarray, np.ndarray | None]


def _load_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                return {k: archive[k] for k in archive.files}
        from safetensors.numpy import load_file

        return dict(load_file(str(path)))
    except (OSError, ValueError, EOFError) as e:
        raise DataError(
            f"{path} cannot be read as {path.suffix} arrays ({e}); object arrays (pickles) are "
            "refused: store numbers or fixed-width strings"
        ) from e


def _array(arrays: dict[str, np.ndarray], names: Sequence[str], path: Path) -> np.ndarray | None:
    for name in names:
        if name in arrays:
            return arrays[name]
    return None


def _image_array(x: np.ndarray, path: Path, cfg: StreamConfig) -> np.ndarray | None:
    """uint8 [N, C, H, W] from an image array, or None when ``x`` holds features."""
    if x.ndim == 2:
        shape = image_shape_for(x.shape[1], cfg.image_shape)
        whole = x.dtype == np.uint8 or bool(((x >= 0) & (x <= 255) & (x == np.round(x))).all())
        if cfg.kind == "features" or shape is None or not whole or x.shape[1] != np.prod(shape):
            if cfg.kind == "image":
                raise DataError(
                    f"{path}: x holds {x.shape[1]} values a row, which are not whole pixel "
                    f"values 0..255 of a {cfg.image_shape or 'square'} image; set "
                    "stream.image_shape: [C, H, W] or stream.kind: features"
                )
            return None
        return x.astype(np.uint8).reshape(-1, *shape)
    if x.dtype != np.uint8:
        raise DataError(
            f"{path}: x holds {x.dtype} images of shape {x.shape[1:]}; store uint8 pixels "
            "0..255 (or flatten numeric features to [N, D])"
        )
    if x.ndim == 3:
        return x[:, None, :, :]
    if x.ndim == 4 and x.shape[1] not in (1, 3) and x.shape[3] in (1, 3):
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    if x.ndim == 4:
        return x
    raise DataError(f"{path}: x has shape {x.shape}; use [N, D], [N, H, W] or [N, C, H, W]")


def _arrays_part(path: Path, cfg: StreamConfig, with_task: bool) -> Part:
    arrays = _load_arrays(path)
    x = _array(arrays, ("x", "images", "features", "inputs"), path)
    y = _array(arrays, ("y", "labels", "label"), path)
    if x is None or y is None:
        raise DataError(
            f"{path} holds arrays {', '.join(sorted(arrays)) or '(none)'}; it needs x (the "
            "inputs) and y (the labels), and may hold task and split"
        )
    task = _array(arrays, ("task", "tasks"), path)
    if with_task and task is None:
        raise DataError(f"{path} has no task array; add one (a task id per row) or use files")
    split = _array(arrays, ("split",), path)
    for name, array in (("y", y), ("task", task), ("split", split)):
        if array is not None and (array.ndim != 1 or len(array) != len(x)):
            raise DataError(
                f"{path}: {name} has shape {array.shape} but x has {len(x)} rows; give one "
                f"{name} value per row"
            )
    images = _image_array(x, path, cfg)
    part = Part("image", images, y.tolist(), str(path))
    if images is None:
        columns = [f"x{i}" for i in range(x.shape[1])]
        part = Part("features", x.astype(np.float32), y.tolist(), str(path), columns=columns)
    if with_task and task is not None:
        part.tasks = [str(v) for v in task.tolist()]
    if split is not None:
        part.split = split_codes(
            split.tolist(),
            source=f"{path} split",
            where=lambda p: f"positions {format_rows(p)} (0-based)",
            integer_codes=True,
        )
    return part


def _folder_part(path: Path) -> Part:
    """An image folder (one subfolder per class), or train / test (/ val) folders of one."""
    subfolders = {p.name.lower(): p for p in path.iterdir() if p.is_dir()}
    if {"train", "test"} <= set(subfolders) <= set(SPLIT_NAMES):
        loaded = [
            (code, load_image_folder(subfolders[name]))
            for code, name in enumerate(SPLIT_NAMES)
            if name in subfolders
        ]
        shapes = {data.image_shape for _, data in loaded}
        if len(shapes) > 1:
            raise DataError(
                f"{path}: its split folders hold images of sizes {sorted(shapes)}; resize them "
                "to one size"
            )
        images = np.concatenate([data.images for _, data in loaded])
        labels = [data.label_names[i] for _, data in loaded for i in data.labels]
        split = np.concatenate([np.full(len(data.labels), code) for code, data in loaded])
        return Part("image", images, labels, str(path), split=split)
    data = load_image_folder(path)
    return Part("image", data.images, [data.label_names[i] for i in data.labels], str(path))


def read_parts(cfg: StreamConfig) -> list[Part]:
    """The stream's files: one with a task column (``csv``), or one per task (``files``)."""
    if cfg.source == "csv":
        if cfg.path is None:
            raise ConfigError("stream.source=csv needs stream.path (a file with a task column)")
        path = Path(cfg.path)
        if path.is_dir():
            raise ConfigError(
                f"stream.path {path} is a folder; for one image folder per task use "
                f"source: files with paths: [{path}/task1, {path}/task2, ...]"
            )
        return [_read_part(path, cfg, with_task=True)]
    if len(cfg.paths) < 2:
        raise ConfigError("stream.source=files needs stream.paths: two or more files or folders")
    parts = [_read_part(Path(p), cfg, with_task=False) for p in cfg.paths]
    for index, part in enumerate(parts):
        part.tasks = [str(index)] * len(part)
    return parts


def _read_part(path: Path, cfg: StreamConfig, *, with_task: bool) -> Part:
    if not path.exists():
        raise DataError(f"{path} does not exist; check stream.path / stream.paths")
    if path.is_dir():
        return _folder_part(path)
    if path.suffix.lower() in ARRAY_SUFFIXES:
        return _arrays_part(path, cfg, with_task)
    return read_table_part(path, cfg, with_task=with_task)


def _same_kind(parts: list[Part], cfg: StreamConfig) -> None:
    first = parts[0]
    for part in parts[1:]:
        if part.describe != first.describe:
            raise DataError(
                f"{first.source} holds {first.describe} but {part.source} holds "
                f"{part.describe}: every task of a stream must hold the same kind and shape of "
                "input; convert them to one kind"
            )
    if cfg.kind not in ("auto", first.kind):
        raise DataError(
            f"stream.kind is {cfg.kind} but {first.source} holds {first.describe}; set "
            f"stream.kind: auto or {first.kind}"
        )
    with_split = [p.split is not None for p in parts]
    if any(with_split) and not all(with_split):
        missing = next(p.source for p in parts if p.split is None)
        raise DataError(
            f"some files of the stream give each row its split but {missing} does not; give "
            f"every file a {cfg.split_column} column (or train/test folders), or none"
        )


def _where(parts: list[Part]) -> Any:
    starts = np.cumsum([0] + [len(p) for p in parts])

    def where(positions: list[int]) -> str:
        position = positions[0]
        index = int(np.searchsorted(starts, position, side="right") - 1)
        part = parts[index]
        local = [
            p - int(starts[index]) for p in positions if starts[index] <= p < starts[index + 1]
        ]
        shown = part.where(local) if part.where is not None else f"rows {local}"
        return f"{part.source} {shown}"

    return where


def read_user_data(cfg: StreamConfig) -> tuple[UserData, list[str]]:
    """The stream's rows as one data set, each row's task (in order of first appearance) and
    split code (None: no split given); and the task names."""
    parts = read_parts(cfg)
    _same_kind(parts, cfg)
    source = parts[0].source
    labels, names = encode_labels(
        [v for p in parts for v in p.labels], source=source, where=_where(parts)
    )
    kind = parts[0].kind
    data: TextData | ImageData | FeatureData
    if kind == "text":
        texts = [t for p in parts for t in p.inputs]
        data = TextData(texts=texts, labels=labels, label_names=names, source=source)
    elif kind == "image":
        images = np.concatenate([p.inputs for p in parts])
        data = ImageData(images=images, labels=labels, label_names=names, source=source)
    else:
        features = np.concatenate([p.inputs for p in parts])
        data = FeatureData(features, labels, names, source, parts[0].columns)
    task_values = [t for p in parts for t in (p.tasks or [])]
    order = list(dict.fromkeys(task_values))
    lookup = {t: i for i, t in enumerate(order)}
    task_of_row = np.array([lookup[t] for t in task_values], dtype=np.int64)
    split = None
    if parts[0].split is not None:
        split = np.concatenate([p.split for p in parts if p.split is not None])
    return (data, task_of_row, split), order
