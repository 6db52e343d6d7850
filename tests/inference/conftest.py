"""The compression tests' fixtures: one torch thread, a trained model, the CLI runner."""

from tests.compression.conftest import one_thread_per_test, run_cli, trained_home

__all__ = ["one_thread_per_test", "run_cli", "trained_home"]
