"""The compression tests' fixtures: a trained model, the CLI runner."""

from tests.compression.conftest import run_cli, trained_home

__all__ = ["run_cli", "trained_home"]
