"""Device and precision choice, delegated to Lightning Fabric.

``precision: auto`` picks reduced precision only where the hardware runs it faster:
bf16-mixed on CUDA GPUs that support bf16, 16-mixed on older CUDA GPUs, and fp32 on
CPU and MPS (on CPUs of our kind bf16 autocast measured 4-6x slower than fp32 and
oneDNN's LSTM fails under bf16).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import torch

from neuroplast.errors import ConfigError

if TYPE_CHECKING:
    from lightning_fabric import Fabric

__all__ = ["make_fabric", "resolve_accelerator", "resolve_precision"]

logger = logging.getLogger(__name__)


def resolve_accelerator(accelerator: str) -> str:
    if accelerator == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if accelerator == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.accelerator=cuda but no CUDA device is visible; use auto or cpu")
    if accelerator == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("train.accelerator=mps but MPS is not available; use auto or cpu")
    return accelerator


def resolve_precision(precision: str, accelerator: str) -> str:
    if precision != "auto":
        if precision == "16-mixed" and accelerator == "cpu":
            raise ConfigError(
                "train.precision=16-mixed needs a GPU; use auto, 32-true or bf16-mixed"
            )
        return precision
    if accelerator == "cuda":
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def make_fabric(accelerator: str = "auto", precision: str = "auto", **kwargs: Any) -> Fabric:
    """A single-device Fabric with the resolved accelerator and precision."""
    acc = resolve_accelerator(accelerator)
    from lightning_fabric import Fabric

    prec = resolve_precision(precision, acc)
    logger.info("training on %s with precision %s", acc, prec)
    return Fabric(accelerator=acc, devices=1, precision=prec, **kwargs)  # type: ignore[arg-type]
