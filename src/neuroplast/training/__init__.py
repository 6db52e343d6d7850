"""The training loop on Lightning Fabric, its callbacks (tracking loggers among them), optimizers
and checkpoints."""

from neuroplast.training.callbacks import Callback, EarlyStopping, MetricsRecorder
from neuroplast.training.checkpoint import TrainingState, load_checkpoint, save_checkpoint
from neuroplast.training.device import make_fabric, resolve_accelerator, resolve_precision
from neuroplast.training.loggers import (
    TrackingCallback,
    TrackingLogger,
    TrackingTarget,
    make_tracking,
)
from neuroplast.training.trainer import Trainer, logits_of

__all__ = [
    "Callback",
    "EarlyStopping",
    "MetricsRecorder",
    "TrackingCallback",
    "TrackingLogger",
    "TrackingTarget",
    "Trainer",
    "TrainingState",
    "load_checkpoint",
    "logits_of",
    "make_fabric",
    "make_tracking",
    "resolve_accelerator",
    "resolve_precision",
    "save_checkpoint",
]
