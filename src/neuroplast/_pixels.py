"""One guard around PIL's decompression-bomb check, for every place that opens image files.

PIL raises ``DecompressionBombError`` for images over twice ``Image.MAX_IMAGE_PIXELS`` and
only warns (``DecompressionBombWarning``) over the limit itself; :func:`pixel_limit_guard`
refuses both with a :class:`~neuroplast.errors.DataError` that names the file and the limit.
It lives here, outside ``data/`` and ``inference/``, so that the torch-free serving path can
use it without importing the data layer (pandas).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PIL import Image

from neuroplast.errors import DataError

__all__ = ["pixel_limit_guard"]

_SIZE_RE = re.compile(r"\((\d+) pixels\)")  # PIL's "Image size (N pixels) exceeds limit..."


@contextmanager
def pixel_limit_guard(path: Path) -> Iterator[None]:
    """Wrap ``Image.open`` and the decoding of ``path``: over the pixel limit is a DataError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        size = _SIZE_RE.search(str(error))
        pixels = f"{int(size.group(1)):,} pixels" if size else "too many pixels"
        raise DataError(
            f"image {path} has {pixels}, more than PIL's limit of {Image.MAX_IMAGE_PIXELS:,} "
            "(PIL.Image.MAX_IMAGE_PIXELS, a guard against decompression bombs); shrink the "
            "image or remove it"
        ) from error
