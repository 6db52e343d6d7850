"""Streams cut from real data, in the three scenarios, and their bad-input errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from neuroplast.continual import StreamConfig, make_stream
from neuroplast.errors import ConfigError, DataError


def test_split_mnist_has_five_tasks_of_two_digits() -> None:
    stream = make_stream(StreamConfig(source="split_mnist", scenario="class"))
    assert [t.classes for t in stream.tasks] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    for t in stream.tasks:  # 500 digits a class, 20% held out
        assert len(t.y_train) == 800 and len(t.y_test) == 200
        assert set(t.y_train.tolist()) == set(t.classes) == set(t.y_test.tolist())
        assert t.x_train.shape[1:] == (1, 28, 28)
        assert -1.0 <= float(t.x_train.min()) < 0 < float(t.x_train.max()) <= 1.0
    assert stream.num_outputs == 10
    # class-IL: the outputs of every class seen so far compete
    assert stream.output_mask(1).tolist() == [True] * 4 + [False] * 6
    assert stream.output_mask(0, through=2).sum() == 6


def test_task_and_domain_scenarios_label_and_mask_differently() -> None:
    task_il = make_stream(StreamConfig(source="split_mnist", scenario="task"))
    assert task_il.output_mask(2).nonzero().flatten().tolist() == [4, 5]
    assert task_il.task_of_class().tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    domain = make_stream(StreamConfig(source="split_mnist", scenario="domain"))
    assert domain.num_outputs == 2 and bool(domain.output_mask(3).all())
    third = domain.tasks[2]
    assert set(third.y_train.tolist()) == {0, 1}  # digits 4 and 5 become outputs 0 and 1
    assert torch.equal(third.x_test, task_il.tasks[2].x_test)


def test_permuted_mnist_shuffles_pixels_with_one_fixed_permutation_per_task() -> None:
    stream = make_stream(StreamConfig(source="permuted_mnist", scenario="domain", tasks=3))
    first, second = stream.tasks[0], stream.tasks[1]
    assert first.classes == list(range(10)) and stream.num_outputs == 10
    a, b = first.x_train.flatten(1), second.x_train.flatten(1)
    assert not torch.equal(a, b)
    assert torch.equal(a.sort(dim=1).values, b.sort(dim=1).values)  # same pixels, moved
    with pytest.raises(ConfigError, match="no class-incremental form"):
        make_stream(StreamConfig(source="permuted_mnist", scenario="class"))


def _csv(path: Path, tasks: list[tuple[str, list[str]]]) -> Path:
    lines = ["text,label,task"]
    words = ["apple", "river", "stone", "cloud", "green", "quiet", "bright", "sharp"]
    for task, labels in tasks:
        for label in labels:
            for i in range(10):
                lines.append(f"{label} {words[i % 8]} {words[(i * 3) % 8]} {i},{label},{task}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_user_csv_stream_with_a_task_column(tmp_path: Path) -> None:
    path = _csv(tmp_path / "s.csv", [("a", ["cat", "dog"]), ("b", ["eel", "fox"])])
    stream = make_stream(StreamConfig(source="csv", path=str(path), scenario="class"))
    assert stream.label_names == ["cat", "dog", "eel", "fox"]
    assert [t.classes for t in stream.tasks] == [[0, 1], [2, 3]]
    assert stream.vocab is not None and stream.tasks[0].x_train.dtype == torch.long
    assert len(stream.tasks[0].y_train) == 16 and len(stream.tasks[0].y_test) == 4


def test_overlapping_classes_are_an_error_where_the_scenario_forbids_them(tmp_path: Path) -> None:
    path = _csv(tmp_path / "s.csv", [("a", ["cat", "dog"]), ("b", ["dog", "fox"])])
    with pytest.raises(DataError, match="class 1 appears in task 1 and task 2"):
        make_stream(StreamConfig(source="csv", path=str(path), scenario="class"))
    domain = make_stream(StreamConfig(source="csv", path=str(path), scenario="domain"))
    assert len(domain.tasks) == 2


def test_a_task_with_one_class_is_an_error(tmp_path: Path) -> None:
    path = _csv(tmp_path / "s.csv", [("a", ["cat", "dog"]), ("b", ["eel"])])
    with pytest.raises(DataError, match="task 2 has only 1 class"):
        make_stream(StreamConfig(source="csv", path=str(path), scenario="class"))
    with pytest.raises(ConfigError, match="a task needs at least 2 classes"):
        make_stream(StreamConfig(source="split_mnist", classes_per_task=1))


def test_missing_task_column_and_too_many_tasks() -> None:
    with pytest.raises(ConfigError, match="only 5 tasks"):
        make_stream(StreamConfig(source="split_mnist", tasks=6))
    with pytest.raises(ConfigError, match=r"needs stream\.path"):
        make_stream(StreamConfig(source="csv"))


def test_a_shortened_stream_has_outputs_for_its_own_classes_only() -> None:
    stream = make_stream(StreamConfig(source="split_mnist", tasks=2, scenario="class"))
    assert stream.label_names == ["0", "1", "2", "3"] and stream.num_outputs == 4
    assert sorted(stream.tasks[1].y_test.unique().tolist()) == [2, 3]


def test_a_sequence_of_files_is_one_task_each(tmp_path: Path) -> None:
    first = _csv(tmp_path / "a.csv", [("x", ["cat", "dog"])])
    second = _csv(tmp_path / "b.csv", [("x", ["eel", "fox"])])
    cfg = StreamConfig(source="files", paths=[str(first), str(second)], scenario="task")
    stream = make_stream(cfg)
    assert [t.classes for t in stream.tasks] == [[0, 1], [2, 3]]
    assert stream.output_mask(1).tolist() == [False, False, True, True]
    with pytest.raises(ConfigError, match="two or more files"):
        make_stream(StreamConfig(source="files", paths=[str(first)]))
