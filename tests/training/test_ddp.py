"""Two training processes (DDP on gloo) against one, on the same data, seed and global batch.

The model has no dropout: each process draws its own dropout masks, so with dropout the two
runs are equal in distribution only. Everything else (the batches, the loss over each
global batch, gradient clipping, Adam) is the same computation, summed in another order.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml
from safetensors.torch import load_file
from tests.conftest import small_text_config

from neuroplast.engine import Engine
from neuroplast.registry import Registry

pytestmark = pytest.mark.slow
TIMEOUT = 240  # seconds for a whole two-process run, startup included
# 480 training rows in global batches of 41: the last batch (29 rows) splits 15 / 14
CONFIG = small_text_config(
    "ddp-rt", batch_size=41, num_threads=1, precision="32-true", grad_clip=1.0
)
CONFIG["model"]["dropout"] = 0.0
CONFIG["data"]["limit"] = 600
CONFIG["evaluation"] = {"baseline": False}


def _weights(home: Path, name: str = "ddp-rt") -> dict[str, Any]:
    with Registry(home) as registry:
        versions = registry.versions(name)
        assert len(versions) == 1, [v.ref for v in versions]  # one version, not one per process
        return load_file(versions[0].artifact_dir / "weights.safetensors")


def _max_difference(a: dict[str, Any], b: dict[str, Any]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def run_processes(home: Path, cfg: Path, *args: str) -> dict[str, Any]:
    """``neuroplast train CFG --json ARGS`` in a session of its own, bounded in time; every
    process it started is gone afterwards (killed on a timeout)."""
    mark = uuid.uuid4().hex
    env = {**os.environ, "NEUROPLAST_HOME": str(home), "NEUROPLAST_TEST_MARK": mark}
    env["OMP_NUM_THREADS"] = "1"
    command = [sys.executable, "-m", "neuroplast", "train", str(cfg), "--json", *args]
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{' '.join(args)}: no result within {TIMEOUT} s")
    finally:
        left = [p for p in psutil.process_iter() if _marked(p, mark)]
        for p in left:
            p.kill()
    assert not left, f"processes left running: {[p.pid for p in left]}"
    assert proc.returncode == 0, err.decode()[-3000:]
    document: dict[str, Any] = json.loads(out)
    return document


def _marked(process: psutil.Process, mark: str) -> bool:
    try:
        return process.environ().get("NEUROPLAST_TEST_MARK") == mark
    except (psutil.Error, OSError):
        return False


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ddp") / "ddp-rt.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    return path


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    home = tmp_path_factory.mktemp("one")
    with Engine(home) as engine:
        outcome = engine.train(CONFIG)
    return home, outcome


def test_two_processes_train_the_same_weights_as_one(
    tmp_path: Path, config_file: Path, one_process: tuple[Path, Any]
) -> None:
    reference_home, reference = one_process
    document = run_processes(tmp_path / "two", config_file, "--devices", "2", "--strategy", "ddp")

    difference = _max_difference(_weights(tmp_path / "two"), _weights(reference_home))
    assert difference < 1e-5
    # each process validated half of the validation set; the sums over both give the
    # metrics of the whole set, as one process computes them
    for two, one in zip(document["history"], reference.history, strict=True):
        assert two["val_accuracy"] == pytest.approx(one.val_accuracy, abs=1e-9)
        assert two["val_loss"] == pytest.approx(one.val_loss, abs=1e-5)
        assert two["train_loss"] == pytest.approx(one.train_loss, abs=1e-5)
    with Registry(tmp_path / "two") as registry:  # one run, recorded by rank 0 only
        runs = [registry.get_run(run_id) for run_id in (1, 2) if _exists(registry, run_id)]
    assert [run.status for run in runs] == ["completed"]


def _exists(registry: Registry, run_id: int) -> bool:
    try:
        registry.get_run(run_id)
    except Exception:
        return False
    return True


def test_a_one_process_checkpoint_resumes_on_two_processes(
    tmp_path: Path, config_file: Path, one_process: tuple[Path, Any]
) -> None:
    home = tmp_path / "resumed"

    epochs_started = []

    def stop_in_the_second_epoch(stage: str, index: int, total: int) -> None:
        epochs_started.extend([index] if index == 1 else [])
        if len(epochs_started) == 2:  # epoch 1 is checkpointed: stop as Ctrl-C does
            raise KeyboardInterrupt

    with Engine(home) as engine, pytest.raises(KeyboardInterrupt):
        engine.train(CONFIG, progress=stop_in_the_second_epoch)
    document = run_processes(home, config_file, "--devices", "2", "--resume")

    assert document["resumed_from_epoch"] == 1
    assert _max_difference(_weights(home), _weights(one_process[0])) < 1e-5
