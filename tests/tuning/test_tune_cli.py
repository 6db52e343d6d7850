"""`neuroplast tune` end to end: trials as registry runs, pruning, the best registered,
`tune status` with importances and PNG plots."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from neuroplast.registry import Registry
from tests.conftest import Result
from tests.tuning.conftest import PRUNABLE_SPACE, tune_config, write_yaml

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_tune_runs_prunes_registers_and_reports(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    config = write_yaml(tmp_path / "cfg.yaml", tune_config())
    space = write_yaml(tmp_path / "space.yaml", PRUNABLE_SPACE)
    # the random sampler's seed 1 draws lr 0.01 first, then 1e-7 (whose val_loss stays put)
    args = ["--trials", "4", "--space", str(space), "--sampler", "random", "--seed", "1"]
    args += ["--metric", "val_loss", "--pruner-startup", "1"]
    result = cli("tune", str(config), *args, "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert [t["number"] for t in doc["trials"]] == [0, 1, 2, 3]
    assert doc["counts"]["pruned"] >= 1 and doc["counts"]["complete"] >= 1
    pruned = [t for t in doc["trials"] if t["state"] == "pruned"]
    assert all(t["params"]["train.optimizer.lr"] == 1e-7 and t["epochs"] >= 2 for t in pruned)
    best = doc["best"]
    assert best["params"]["train.optimizer.lr"] == 0.01 and best["value"] < 0.69
    assert doc["version"]["ref"] == "rt-tune:1"

    with Registry(home) as registry:
        version = registry.resolve("rt-tune:1")
        assert version.metrics["tuning_study"] == "rt-tune"
        assert version.metrics["tuning_trial"] == best["number"]
        for trial in doc["trials"]:
            run = registry.get_run(trial["run_id"])
            assert run.uid == trial["run"]
            assert run.config["tuning"] == {"study": "rt-tune", "trial": trial["number"]}
            assert run.status == {"complete": "completed", "pruned": "pruned"}[trial["state"]]
            assert len(registry.epoch_metrics(run.id)) == trial["epochs"]

    status = cli("tune", "status", "rt-tune", "--plots", str(tmp_path / "plots"), "--json")
    assert status.code == 0, status.err
    report = json.loads(status.out)
    assert report["best"]["number"] == best["number"] and report["best_version"] == "rt-tune:1"
    assert set(report["importances"]) == set(PRUNABLE_SPACE["params"])
    for name in ("history", "parallel"):
        assert Path(report["plots"][name]).read_bytes().startswith(PNG)
    text = cli("tune", "status", "rt-tune", "--plots", str(tmp_path / "plots"))
    assert text.code == 0 and "best so far: trial" in text.out and "importances" in text.out
