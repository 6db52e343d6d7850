"""The compression tests' fixtures: one torch thread, a trained model, the CLI runner."""

from tests.compression.conftest import one_torch_thread, run_cli, trained_home

__all__ = ["one_torch_thread", "run_cli", "trained_home"]
