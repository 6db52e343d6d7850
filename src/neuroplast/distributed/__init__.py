"""Training on several processes or machines: launching them (``neuroplast train --devices
N``, torchrun, SLURM) and what each process does. The loop itself is the one
:class:`~neuroplast.training.Trainer`; see docs/scaling.md."""

from neuroplast.distributed.launch import Launched, LaunchOptions, launch, launch_options

__all__ = ["LaunchOptions", "Launched", "launch", "launch_options"]
