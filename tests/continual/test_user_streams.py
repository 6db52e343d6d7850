"""User streams of images and numeric features (pixel CSV, per-task image folders, .npz and
safetensors arrays), a split column honoured row for row, a split file for the built-in
streams, and a clear error for each kind of bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

from neuroplast.continual import StreamConfig, make_stream
from neuroplast.continual.config import ContinualConfig, parse_continual_config
from neuroplast.continual.runner import run_strategy
from neuroplast.continual.sources import split_table
from neuroplast.data import ImageData, load_builtin
from neuroplast.errors import ConfigError, DataError
from neuroplast.inference.registered import load_registered
from neuroplast.registry import Registry
from tests.conftest import Result

TRAIN = {"steps_per_task": 30, "batch_size": 32}
MODEL = {"architecture": "image_mlp", "hidden_dim": 32, "num_layers": 1, "dropout": 0.0}


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """40 real digits of each of 0..3 (uint8 [160, 1, 28, 28]) and their labels."""
    data = load_builtin("mnist_5k")
    assert isinstance(data, ImageData)
    rows = np.concatenate([np.flatnonzero(data.labels == c)[:40] for c in range(4)])
    return data.images[rows], data.labels[rows]


def _splits(labels: np.ndarray) -> list[str]:
    """Per class: every 4th row test, every 8th val (from the 2nd), the rest train."""
    out = []
    for i in range(len(labels)):
        k = i % 40
        out.append("test" if k % 4 == 0 else "val" if k % 8 == 1 else "train")
    return out


def _pixel_frame(images: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame(images.reshape(len(images), -1), columns=[f"p{i}" for i in range(784)])
    frame.insert(0, "label", [f"d{c}" for c in labels])
    frame.insert(1, "task", ["first" if c < 2 else "second" for c in labels])
    frame.insert(2, "split", _splits(labels))
    return frame


def _config(stream: dict[str, object]) -> ContinualConfig:
    return parse_continual_config({"stream": stream, "model": MODEL, "train": TRAIN})


def test_pixel_csv_honours_its_split_column_row_for_row(
    tmp_path: Path, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    images, labels = digits
    frame = _pixel_frame(images, labels)
    path = tmp_path / "pixels.csv"
    frame.to_csv(path, index=False)
    stream = make_stream(StreamConfig(source="csv", path=str(path), input_range=(0, 1)))
    assert stream.kind == "image" and stream.input_shape == (1, 28, 28)
    assert stream.label_names == ["d0", "d1", "d2", "d3"]
    split = np.array(_splits(labels))
    for task, classes in zip(stream.tasks, ([0, 1], [2, 3]), strict=True):
        in_task = np.isin(labels, classes)
        expected_test = images[in_task & (split == "test")]
        expected_train = images[in_task & (split == "train")]
        assert torch.equal(task.x_test, torch.from_numpy(expected_test).float() / 255)
        assert torch.equal(task.x_train, torch.from_numpy(expected_train).float() / 255)
    on_val = make_stream(StreamConfig(source="csv", path=str(path), evaluate_on="val"))
    assert len(on_val.tasks[0].y_test) == 10  # 5 val rows of each of its 2 classes


@pytest.mark.slow
def test_pixel_csv_stream_runs_end_to_end_and_registers(
    tmp_path: Path,
    digits: tuple[np.ndarray, np.ndarray],
    home: Path,
    cli: Callable[..., Result],
) -> None:
    images, labels = digits
    path = tmp_path / "pixels.csv"
    _pixel_frame(images, labels).to_csv(path, index=False)
    config = {
        "name": "digits-stream",
        "stream": {
            "source": "csv",
            "path": str(path),
            "input_range": [0, 1],
            "scenario": "task",
            "heads": "multi",
        },
        "strategies": ["ewc"],
        "model": MODEL,
        "train": TRAIN,
    }
    (tmp_path / "stream.yaml").write_text(yaml.safe_dump(config))
    result = cli("continual", "run", str(tmp_path / "stream.yaml"))
    assert result.code == 0, result.err
    with Registry(home) as registry:
        version, loaded = load_registered(registry, "digits-stream")
    assert version.metrics["acc"] > 0.7  # task-IL over the two tasks, chance 0.5
    assert (loaded.meta.preprocessing["mean"], loaded.meta.preprocessing["std"]) == (0.0, 1.0)
    # the two task heads were folded into the plain architecture's one output layer
    classifier = loaded.model.classifier
    assert isinstance(classifier, torch.nn.Linear) and classifier.out_features == 4
    test = np.array(_splits(labels)) == "test"
    x = torch.from_numpy(images[test]).float() / 255
    with torch.no_grad():
        logits = loaded.model(x)
    second = labels[test] >= 2  # task 2's rows, its two outputs competing
    pred = logits[torch.from_numpy(second)][:, 2:].argmax(1) + 2
    accuracy = float((pred.numpy() == labels[test][second]).mean())
    assert accuracy == pytest.approx(version.metrics["accuracy_matrix"][1][1], abs=1e-6)


def _write_folders(root: Path, images: np.ndarray, labels: np.ndarray) -> list[str]:
    split = _splits(labels)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        if split[i] == "val":
            continue
        task = "task1" if label < 2 else "task2"
        folder = root / task / split[i] / f"digit{label}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[0]).save(folder / f"{i:04d}.png")
    return [str(root / "task1"), str(root / "task2")]


def test_per_task_image_folders_with_split_folders_run_end_to_end(
    tmp_path: Path, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    paths = _write_folders(tmp_path, *digits)
    config = _config({"source": "files", "paths": paths, "scenario": "task"})
    stream = make_stream(config.stream)
    assert [t.classes for t in stream.tasks] == [[0, 1], [2, 3]]
    assert [len(t.y_test) for t in stream.tasks] == [20, 20]  # the test/ folders, exactly
    assert [len(t.y_train) for t in stream.tasks] == [50, 50]
    result = run_strategy(stream, config, ["naive"])
    assert min(result.metrics.matrix[1]) > 0.7  # task-IL, chance 0.5


def test_npz_features_and_safetensors_images(
    tmp_path: Path, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    from safetensors.numpy import save_file

    images, labels = digits
    split = np.array(_splits(labels))
    features = images.reshape(len(images), -1)[:, ::8].astype(np.float32) / 7.0  # 98 numbers
    np.savez(
        tmp_path / "f.npz", x=features, y=labels, task=np.where(labels < 2, "a", "b"), split=split
    )
    stream = make_stream(StreamConfig(source="csv", path=str(tmp_path / "f.npz")))
    assert stream.kind == "features" and stream.input_shape == (1, 10, 10)  # 98 -> 10 x 10
    train = torch.cat([t.x_train for t in stream.tasks]).flatten(1)
    assert torch.allclose(train[:, :98].mean(0), torch.zeros(98), atol=1e-5)  # standardised
    assert bool((train[:, 98:] == 0).all())  # the padding
    config = _config({"source": "csv", "path": str(tmp_path / "f.npz"), "scenario": "task"})
    task_il = make_stream(config.stream)
    assert min(run_strategy(task_il, config, ["naive"]).metrics.matrix[1]) > 0.7
    codes = np.select([split == "train", split == "val"], [0, 1], 2).astype(np.int64)
    tensors = {"x": images[:, 0], "y": labels.astype(np.int64), "split": codes}
    tensors["task"] = (labels >= 2).astype(np.int64)
    save_file(tensors, str(tmp_path / "d.safetensors"))
    arrays = make_stream(StreamConfig(source="csv", path=str(tmp_path / "d.safetensors")))
    assert arrays.kind == "image" and [len(t.y_test) for t in arrays.tasks] == [20, 20]


def test_split_file_fixes_the_rows_of_a_built_in_stream(tmp_path: Path) -> None:
    data = load_builtin("mnist_5k")
    assert isinstance(data, ImageData)
    rows = np.concatenate([np.flatnonzero(data.labels == c)[:30] for c in range(4)])
    split = ["test" if i % 3 == 0 else "train" for i in range(len(rows))]
    pd.DataFrame({"row": rows, "split": split}).to_csv(tmp_path / "split.csv", index=False)
    cfg = StreamConfig(tasks=2, split_file=str(tmp_path / "split.csv"))
    stream = make_stream(cfg)
    chosen = rows[np.array(split) == "test"]
    expected = chosen[np.isin(data.labels[chosen], [0, 1])]
    assert torch.equal(
        stream.tasks[0].x_test, (torch.from_numpy(data.images[expected]).float() / 255 - 0.5) / 0.5
    )
    assert len(stream.tasks[0].y_train) == 40 and len(stream.tasks[1].y_test) == 20
    # the rows a seeded run used, saved and given back: the same stream
    seeded = StreamConfig(tasks=2, train_per_class=50, test_per_class=20, seed=4)
    split_table(seeded).to_csv(tmp_path / "seeded.csv", index=False)
    pinned = make_stream(StreamConfig(tasks=2, split_file=str(tmp_path / "seeded.csv")))
    for a, b in zip(make_stream(seeded).tasks, pinned.tasks, strict=True):
        assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_bad_split_values_and_split_files_are_named(tmp_path: Path) -> None:
    rows = ["text,label,task,split"] + [
        f"w{i} w{i % 3},{'ab'[i % 2]},t{i // 20},{'train' if i % 5 else 'test'}" for i in range(40)
    ]
    rows[7] = rows[7].rsplit(",", 1)[0] + ",tset"
    path = _write(tmp_path / "s.csv", "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"split value 'tset' in rows 8 is not one of train, val"):
        make_stream(StreamConfig(source="csv", path=path))
    bad = _write(tmp_path / "split.csv", "row,split\n0,train\n5000,test\n")
    with pytest.raises(DataError, match=r"names row 5000, but mnist_5k has rows 0\.\.4999"):
        make_stream(StreamConfig(split_file=bad))
    twice = _write(tmp_path / "twice.csv", "row,split\n3,train\n3,test\n")
    with pytest.raises(DataError, match="lists row 3 more than once"):
        make_stream(StreamConfig(split_file=twice))
    no_column = _write(tmp_path / "cols.csv", "index,split\n3,train\n")
    with pytest.raises(DataError, match="has no 'row' column"):
        make_stream(StreamConfig(split_file=no_column))
    with pytest.raises(ConfigError, match="evaluate_on=val needs val rows"):
        make_stream(StreamConfig(tasks=2, evaluate_on="val"))


def test_pixel_count_missing_column_and_mixed_kind_errors(
    tmp_path: Path, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    images, labels = digits
    frame = _pixel_frame(images, labels)
    short = tmp_path / "short.csv"
    frame.drop(columns=["p783"]).to_csv(short, index=False)
    with pytest.raises(DataError, match=r"image_shape \[1, 28, 28\] needs 784 pixel columns"):
        make_stream(StreamConfig(source="csv", path=str(short), image_shape=[1, 28, 28]))
    with pytest.raises(DataError, match=r"783 pixel columns .* are not a square image"):
        make_stream(StreamConfig(source="csv", path=str(short), kind="image"))
    pixels = tmp_path / "pixels.csv"
    frame.to_csv(pixels, index=False)
    with pytest.raises(DataError, match=r"has no 'stage' column .* set stream.task_column"):
        make_stream(StreamConfig(source="csv", path=str(pixels), task_column="stage"))
    # the header decides: rows that do not parse further down are never read
    broken = tmp_path / "broken.csv"
    broken.write_text(pixels.read_text() + "not,a,row\n")
    with pytest.raises(DataError, match="has no 'text' column"):
        make_stream(StreamConfig(source="csv", path=str(broken), kind="text"))
    words = frame.astype({"p300": object})
    words.loc[5, "p300"] = "dark"
    words.to_csv(tmp_path / "words.csv", index=False)
    with pytest.raises(DataError, match=r"column 'p300' holds 'dark' in rows 7, not a number"):
        make_stream(StreamConfig(source="csv", path=str(tmp_path / "words.csv")))
    texts = _write(
        tmp_path / "t.csv", "text,label\n" + "".join(f"w{i},{i % 2}\n" for i in range(9))
    )
    first = tmp_path / "first.csv"
    frame.drop(columns=["task"]).to_csv(first, index=False)
    with pytest.raises(DataError, match=r"holds 1x28x28 images but .* holds texts"):
        make_stream(StreamConfig(source="files", paths=[str(first), texts]))
    np.savez(tmp_path / "a.npz", x=images[:, 0], y=labels, task=labels // 2)
    with pytest.raises(DataError, match=r"stream.kind is text but .* holds 1x28x28 images"):
        make_stream(StreamConfig(source="csv", path=str(tmp_path / "a.npz"), kind="text"))
