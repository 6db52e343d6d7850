"""Read IDX files (the MNIST / Fashion-MNIST format), optionally gzip-compressed.

Layout: two zero bytes, a type code (``0x08`` = unsigned byte), the number of dimensions, one
big-endian int32 per dimension, then the data in C order. The whole header is checked against
what the caller expects, so a truncated or mislabelled file fails with a clear message.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from neuroplast.errors import DataError

__all__ = ["read_idx"]

_UBYTE = 0x08


def read_idx(path: Path, *, ndim: int, fix: str) -> np.ndarray:
    """The uint8 array in ``path`` with ``ndim`` dimensions; ``fix`` says how to repair it."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"cannot read {path} ({error}); {fix}") from error
    header = 4 + 4 * ndim
    if len(raw) < header or raw[:2] != b"\x00\x00" or raw[2] != _UBYTE or raw[3] != ndim:
        magic = raw[:4].hex() if len(raw) >= 4 else "missing"
        raise DataError(
            f"{path} is not an IDX file of unsigned bytes with {ndim} dimensions (magic "
            f"number {magic}, expected 000008{ndim:02x}); {fix}"
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise DataError(
            f"{path} holds {len(raw) - header} data bytes but its header announces {shape} "
            f"= {expected}; the file is truncated or corrupt, {fix}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()
