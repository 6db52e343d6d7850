"""Load a folder of images, one subfolder per class, into :class:`ImageData`.

Layout::

    path/
      cat/  001.png 002.jpg ...
      dog/  001.png ...

Hidden entries (``.DS_Store``, ``.ipynb_checkpoints``) and files that are not images by
extension are skipped. Every image must have the same size; if all images are grayscale they
keep one channel, otherwise all are converted to RGB (alpha is dropped). An image with more
pixels than PIL's decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``) is refused with a
:class:`~neuroplast.errors.DataError`, whether PIL would raise or only warn.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from neuroplast._pixels import pixel_limit_guard
from neuroplast.data._types import ImageData
from neuroplast.data.labels import encode_labels
from neuroplast.errors import DataError

__all__ = ["IMAGE_EXTENSIONS", "load_image_folder"]

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".png",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".webp",
    ".pgm",
    ".ppm",
    ".pbm",
)
_GRAY_MODES = {"1", "L", "LA", "La", "I", "F"}
_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N"}


def _visible(entries: list[Path]) -> list[Path]:
    return sorted(entry for entry in entries if not entry.name.startswith("."))


def _read_image(path: Path) -> np.ndarray:
    """``(H, W)`` uint8 for grayscale images, ``(H, W, 3)`` uint8 for anything else."""
    try:
        with pixel_limit_guard(path), Image.open(path) as image:
            image.load()
            if image.mode in _SIXTEEN_BIT_MODES:
                return (np.asarray(image, dtype=np.uint32) >> 8).astype(np.uint8)
            if image.mode in _GRAY_MODES:
                return np.asarray(image.convert("L"), dtype=np.uint8)
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise DataError(
            f"cannot read image {path} ({error}); replace the file with a valid image or delete it"
        ) from error


def _class_files(folder: Path) -> list[Path]:
    files = [p for p in _visible(list(folder.iterdir())) if p.is_file()]
    images = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS]
    skipped = len(files) - len(images)
    if skipped:
        logger.debug("%s: skipped %d files that are not images by extension", folder, skipped)
    if not images:
        raise DataError(
            f"class folder {folder} has no images (looked for {', '.join(IMAGE_EXTENSIONS)}); "
            "add images to it or delete the folder"
        )
    return images


def _class_dirs(root: Path) -> list[Path]:
    """The class subfolders of the image folder ``root`` (an error naming what is wrong when
    it is missing, a file, or holds none)."""
    if not root.exists():
        raise DataError(
            f"image folder {root} does not exist (looked in {root.absolute().parent}); "
            "check the path"
        )
    if not root.is_dir():
        raise DataError(
            f"{root} is a file, not a folder; pass a folder with one subfolder of images per "
            "class, or use load_table for a text table"
        )
    entries = _visible(list(root.iterdir()))
    class_dirs = [entry for entry in entries if entry.is_dir()]
    if not class_dirs:
        loose = sum(1 for e in entries if e.is_file() and e.suffix.lower() in IMAGE_EXTENSIONS)
        hint = f" It holds {loose} images directly;" if loose else ""
        raise DataError(
            f"image folder {root} has no class subfolders.{hint} put the images in one "
            f"subfolder per class, e.g. {root}/cat/001.png and {root}/dog/001.png"
        )
    return class_dirs


def _stacked(arrays: list[np.ndarray]) -> np.ndarray:
    """The images as one ``(N, C, H, W)`` array: grey when all are, else RGB (grey images
    repeated on 3 channels)."""
    if all(array.ndim == 2 for array in arrays):
        return np.stack(arrays)[:, None, :, :]
    rgb = [np.repeat(a[:, :, None], 3, axis=2) if a.ndim == 2 else a for a in arrays]
    return np.stack(rgb).transpose(0, 3, 1, 2)


def load_image_folder(path: str | Path) -> ImageData:
    """Read ``path/<class name>/<image>`` into uint8 ``(N, C, H, W)`` arrays.

    Class names are the subfolder names, ordered numerically when they are all integers
    (``"2"`` before ``"10"``), else alphabetically.
    """
    root = Path(path)
    class_dirs = _class_dirs(root)
    arrays: list[np.ndarray] = []
    class_of: list[str] = []
    first: tuple[Path, tuple[int, int]] | None = None
    for class_dir in class_dirs:
        for file in _class_files(class_dir):
            array = _read_image(file)
            size = (array.shape[1], array.shape[0])
            if first is None:
                first = (file, size)
            elif size != first[1]:
                raise DataError(
                    f"images in {root} have different sizes: {first[0]} is "
                    f"{first[1][0]}x{first[1][1]} but {file} is {size[0]}x{size[1]}; "
                    f"resize them all to one size (e.g. {first[1][0]}x{first[1][1]})"
                )
            arrays.append(array)
            class_of.append(class_dir.name)

    images = _stacked(arrays)
    labels, names = encode_labels(class_of, source=str(root))
    logger.info(
        "loaded %d images of shape %s in %d classes from %s",
        len(images),
        images.shape[1:],
        len(names),
        root,
    )
    return ImageData(
        images=np.ascontiguousarray(images), labels=labels, label_names=names, source=str(root)
    )
