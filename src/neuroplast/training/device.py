"""Device, precision and process layout, delegated to Lightning Fabric.

``precision: auto`` picks reduced precision only where the hardware runs it faster:
bf16-mixed on CUDA GPUs that support bf16, 16-mixed on older CUDA GPUs, and fp32 on
CPU and MPS (on CPUs of our kind bf16 autocast measured 4-6x slower than fp32 and
oneDNN's LSTM fails under bf16).

Several processes (``devices`` per machine times ``num_nodes``) train with Fabric's
``ddp`` strategy (gloo on CPUs, nccl on CUDA GPUs); ``fsdp`` is recognised but refused
(on CPUs because it shards over CUDA GPUs; on GPUs because the checkpoints and registered
versions are whole models, not gathered from its shards yet). :func:`check_layout` refuses
the layouts that cannot run on this machine before anything starts.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import torch

from neuroplast.errors import ConfigError

if TYPE_CHECKING:
    from lightning_fabric import Fabric

__all__ = [
    "STRATEGIES",
    "check_layout",
    "make_fabric",
    "resolve_accelerator",
    "resolve_precision",
]

logger = logging.getLogger(__name__)

#: The strategies ``--strategy`` accepts: ``auto`` is one process for one device, else ddp.
STRATEGIES = ("auto", "ddp", "fsdp")
#: How long a collective waits for a missing process before the run fails.
COLLECTIVE_TIMEOUT = timedelta(minutes=30)


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


def check_layout(devices: int, strategy: str, accelerator: str, num_nodes: int = 1) -> str:
    """The strategy to run ``devices`` processes per machine on ``num_nodes`` machines with
    (``single`` for one process), or a :class:`ConfigError` saying what cannot run here."""
    if devices < 1:
        raise ConfigError(
            f"--devices {devices}: the number of training processes per machine must be at "
            "least 1 (1 trains in this process; 2 or more start that many)"
        )
    if num_nodes < 1:
        raise ConfigError(f"--num-nodes {num_nodes}: the number of machines must be at least 1")
    if strategy not in STRATEGIES:
        raise ConfigError(
            f"--strategy {strategy!r} is not supported; choose one of {', '.join(STRATEGIES)} "
            "(ddp: a model copy per process; fsdp: the model sharded over CUDA GPUs)"
        )
    acc = resolve_accelerator(accelerator)
    if strategy == "fsdp" and acc != "cuda":
        raise ConfigError(
            f"--strategy fsdp shards the model over CUDA GPUs but this run is on {acc}; "
            "use --strategy ddp (gloo on CPUs) or run on a machine with CUDA GPUs"
        )
    if strategy == "fsdp":
        raise ConfigError(
            "--strategy fsdp is not available yet: neuroplast's checkpoints and registered "
            "versions hold whole models, and gathering them from FSDP's shards is not "
            "written; use --strategy ddp (each GPU holds the whole model)"
        )
    if acc == "mps" and devices > 1:
        raise ConfigError(
            f"--devices {devices}: MPS exposes one device per machine; use --devices 1, or "
            "train.accelerator=cpu for several CPU processes"
        )
    if acc == "cuda" and devices > torch.cuda.device_count():
        raise ConfigError(
            f"--devices {devices} but this machine has {torch.cuda.device_count()} CUDA "
            "GPU(s); ask for at most that many"
        )
    if devices * num_nodes == 1 and strategy != "fsdp":
        return "single"
    return "ddp" if strategy == "auto" else strategy


def make_fabric(
    accelerator: str = "auto",
    precision: str = "auto",
    *,
    devices: int = 1,
    strategy: str = "auto",
    num_nodes: int = 1,
    **kwargs: Any,
) -> Fabric:
    """A Fabric with the resolved accelerator and precision: one device, or ``devices``
    processes per machine on ``num_nodes`` machines (not launched yet: see
    :func:`neuroplast.distributed.launch`)."""
    layout = check_layout(devices, strategy, accelerator, num_nodes)
    acc = resolve_accelerator(accelerator)
    from lightning_fabric import Fabric

    prec = resolve_precision(precision, acc)
    if layout == "single":
        logger.info("training on %s with precision %s", acc, prec)
        return Fabric(accelerator=acc, devices=1, precision=prec, **kwargs)  # type: ignore[arg-type]
    logger.info(
        "training with %s on %d x %d %s process(es), precision %s",
        layout,
        num_nodes,
        devices,
        acc,
        prec,
    )
    return Fabric(
        accelerator=acc,
        devices=devices,
        num_nodes=num_nodes,
        strategy=_strategy(layout, acc),
        precision=prec,  # type: ignore[arg-type]
        **kwargs,
    )


def _strategy(layout: str, accelerator: str) -> Any:
    """Fabric's DDP strategy: gloo between CPU processes, nccl between CUDA GPUs."""
    backend = "nccl" if accelerator == "cuda" else "gloo"
    from lightning_fabric.strategies import DDPStrategy

    return DDPStrategy(process_group_backend=backend, timeout=COLLECTIVE_TIMEOUT)
