"""Crashes: a training process killed with SIGKILL mid-epoch resumes to the same weights as
an uninterrupted run, and a process killed while writing an artifact leaves nothing partial
where readers look."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from tests.conftest import small_text_config

from neuroplast.registry import Registry
from neuroplast.registry.artifacts import read_safetensors_verified
from neuroplast.registry.maintenance import gc, verify

ROOT = Path(__file__).resolve().parents[2]
EPOCHS = 3  # killed after the first: the resumed run trains the other two
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "NEUROPLAST_NO_PROGRESS": "1"}
ENV.pop("NEUROPLAST_DB_URL", None)


def _cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "neuroplast", *args],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _weights(home: Path) -> dict[str, torch.Tensor]:
    with Registry(home) as reg:
        artifact = reg.resolve("crash").artifacts["weights.safetensors"]
        return read_safetensors_verified(artifact.path, artifact.sha256)


def _wait_for_epoch(home: Path, proc: subprocess.Popen[str], epoch: int) -> int:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        for checkpoint in home.glob("runs/*/last.json"):
            try:
                done = int(json.loads(checkpoint.read_text())["epoch"])
            except (ValueError, KeyError, OSError):
                continue  # caught between writes: look again
            if done >= epoch:
                return done
        time.sleep(0.005)
    pytest.fail(f"training never checkpointed epoch {epoch}: {proc.communicate()[1][-2000:]}")


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    config = small_text_config("crash", epochs=EPOCHS)
    config["data"]["limit"] = 2000  # an epoch takes long enough to be killed in the middle
    path = tmp_path / "crash.yaml"
    path.write_text(yaml.safe_dump(config))
    killed, clean = tmp_path / "killed", tmp_path / "clean"

    proc = _cli("train", str(path), "--home", str(killed))
    _wait_for_epoch(killed, proc, 1)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    (checkpoint,) = killed.glob("runs/*/last.json")
    killed_after = int(json.loads(checkpoint.read_text())["epoch"])
    assert 1 <= killed_after < EPOCHS, "the process must die before training ends"
    with Registry(killed) as reg:
        assert reg.list_models() == []  # nothing half-registered

    resumed = _cli("train", str(path), "--resume", "--home", str(killed))
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-3000:]
    assert f"resumed after epoch {killed_after}" in out

    uninterrupted = _cli("train", str(path), "--home", str(clean))
    _, err = uninterrupted.communicate(timeout=600)
    assert uninterrupted.returncode == 0, err[-3000:]

    a, b = _weights(killed), _weights(clean)
    assert a.keys() == b.keys()
    max_diff = max((a[k].double() - b[k].double()).abs().max().item() for k in a)
    assert max_diff == 0.0, f"resumed weights differ by up to {max_diff}"


_WRITER = """
import sys
from pathlib import Path
from neuroplast.registry import Registry
from neuroplast.registry.artifacts import atomic_write_bytes
with Registry(Path(sys.argv[1])) as reg:
    version = reg.create_version("m", architecture="cnn", task="t", modality="text", config={})
data = b"x" * (1 << 30)
Path(sys.argv[2]).write_text(str(version.artifact_dir))
atomic_write_bytes(version.artifact_dir / "weights.safetensors", data)
"""


def test_sigkill_during_an_artifact_write_leaves_no_partial_artifact(tmp_path: Path) -> None:
    home, started = tmp_path / "home", tmp_path / "started"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(home), str(started)], cwd=ROOT, env=ENV
    )
    deadline = time.monotonic() + 120
    partial: list[Path] = []
    while time.monotonic() < deadline and proc.poll() is None:
        if started.exists():
            folder = Path(started.read_text())
            partial = [p for p in folder.glob(".*.tmp") if p.stat().st_size > 0]
            if partial:
                break
        time.sleep(0.002)
    proc.kill()
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert partial, "the writer was not caught in the middle of writing"
    assert not (folder / "weights.safetensors").exists(), "readers never see a partial file"
    with Registry(home) as reg:
        report = verify(reg)
        assert report.clean and report.problems == [] and report.orphans == []
        # the temporary file belongs to the registration the kill interrupted
        assert report.partial_writes == [] and len(report.stale_drafts) == 1
        assert report.stale_drafts[0].startswith("m:1: unfinished registration, 1 files; ")
        assert report.stale_drafts[0].endswith("a process that no longer runs on this machine")
        assert gc(reg) == [str(p) for p in partial]
        after = verify(reg)
        assert after.partial_writes == after.stale_drafts == [] and not folder.exists()
