"""Layouts that cannot run are refused before any process starts; the sampler's shares."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml
from tests._bad_input import registry_snapshot
from tests.conftest import Result, small_text_config
from torch.utils.data import DataLoader, TensorDataset

from neuroplast.config import TrainConfig
from neuroplast.distributed import LaunchOptions, launch_options
from neuroplast.errors import ConfigError, TrainingError
from neuroplast.training import Trainer, make_fabric
from neuroplast.training.sharding import ShardedBatchSampler, shard_loader


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--devices", "0"], "--devices 0: the number of training processes"),
        (["--devices", "2", "--strategy", "deepspeed"], "'deepspeed' is not supported; choose"),
        (["--devices", "2", "--strategy", "fsdp"], "fsdp shards the model over CUDA GPUs"),
        (["--strategy", "fsdp"], "fsdp shards the model over CUDA GPUs"),
        (["--num-nodes", "0"], "--num-nodes 0"),
        (["--slurm"], "--slurm: this process is not a task of a SLURM job step"),
        # in-process (a test runner, a notebook) there is no neuroplast command to run again:
        # 'pytest' (python -m pytest), '-c' (an xdist worker, whatever sys.argv says)
        (["--devices", "2"], "by running this command again, but it is '"),
    ],
)
def test_layouts_that_cannot_run_here_are_refused_before_anything_starts(
    cli: Callable[..., Result],
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.delenv("SLURM_PROCID", raising=False)
    for launcher in ("TORCHELASTIC_RUN_ID", "LOCAL_RANK"):
        monkeypatch.delenv(launcher, raising=False)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(small_text_config()))
    result = cli("train", str(cfg), *args)
    assert result.code != 0
    assert message in result.out + result.err
    assert registry_snapshot(home) == {}  # no run, no version, not even a home


def test_launchers_decide_the_layout_and_a_different_request_is_refused() -> None:
    torchrun = {"TORCHELASTIC_RUN_ID": "x", "LOCAL_WORLD_SIZE": "4", "WORLD_SIZE": "8"}
    assert launch_options(LaunchOptions(), torchrun) == LaunchOptions(devices=4, num_nodes=2)
    with pytest.raises(ConfigError, match="torchrun started 4 process"):
        launch_options(LaunchOptions(devices=2), torchrun)
    slurm = {"SLURM_PROCID": "3", "SLURM_NTASKS": "8", "SLURM_NTASKS_PER_NODE": "4(x2)"}
    assert launch_options(LaunchOptions(slurm=True), slurm).devices == 4
    assert launch_options(LaunchOptions(), slurm).num_nodes == 2  # srun with 8 tasks
    alone = {"SLURM_PROCID": "0", "SLURM_NTASKS": "1"}  # an sbatch script's own shell
    assert launch_options(LaunchOptions(), alone) == LaunchOptions()


def test_each_process_gets_its_share_of_every_global_batch_weighted_by_its_rows() -> None:
    batches = [[0, 1, 2, 3, 4], [5, 6, 7], [8]]
    shares = []
    for rank in range(2):
        sampler = ShardedBatchSampler(batches, rank, 2, pad_empty=True)
        shares.append([(b, sampler.rows, sampler.loss_scale) for b in sampler])
    assert shares[0] == [([0, 2, 4], 3, 2 * 3 / 5), ([5, 7], 2, 2 * 2 / 3), ([8], 1, 2.0)]
    # the last batch has one row: rank 1 trains on it with weight 0 (every rank steps)
    assert shares[1] == [([1, 3], 2, 2 * 2 / 5), ([6], 1, 2 / 3), ([8], 0, 0.0)]
    evaluation = ShardedBatchSampler(batches, 1, 2, pad_empty=False)
    assert list(evaluation) == [[1, 3], [6]]  # no padding: each row counted once


def test_a_sharded_loader_keeps_the_dataset_and_collate_function() -> None:
    data = TensorDataset(torch.arange(10.0), torch.arange(10))
    loader = DataLoader(data, batch_size=4, shuffle=False)
    shard = shard_loader(loader, 1, 2, train=True)
    assert [b[1].tolist() for b in shard] == [[1, 3], [5, 7], [9]]
    with pytest.raises(TrainingError, match="needs DataLoaders"):
        shard_loader([(torch.zeros(1), torch.zeros(1))], 0, 2, train=True)


def test_a_multi_process_fabric_that_was_not_launched_is_explained() -> None:
    fabric = make_fabric("cpu", "32-true", devices=2, strategy="ddp")
    data = DataLoader(TensorDataset(torch.zeros(4, 3), torch.zeros(4).long()), batch_size=2)
    trainer = Trainer(TrainConfig(early_stopping={"enabled": False}), fabric=fabric)
    with pytest.raises(TrainingError, match="were not started: launch them first"):
        trainer.fit(torch.nn.Linear(3, 2), data)


def test_fsdp_is_refused_with_the_reason_on_cpus_and_on_gpus(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from neuroplast.training import device

    with pytest.raises(ConfigError) as on_cpu:
        device.check_layout(2, "fsdp", "cpu")
    message = str(on_cpu.value)
    # what cannot run, why, and what to do instead
    assert message.startswith("--strategy fsdp shards the model over CUDA GPUs")
    assert "this run is on cpu" in message and "use --strategy ddp (gloo on CPUs)" in message
    monkeypatch.setattr(device, "resolve_accelerator", lambda accelerator: "cuda")
    with pytest.raises(ConfigError, match=r"gathering them from FSDP's shards is not written"):
        device.check_layout(2, "fsdp", "auto")
    # ddp on the same "GPUs" is the way out the message names
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert device.check_layout(2, "ddp", "auto") == "ddp"
