"""The learner reads a text stream's raw texts (a sentence encoder needs them, the stream
holds token ids): the same rows, in the same order, as every other strategy trains on."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from neuroplast.continual import StreamConfig, make_stream
from neuroplast.continual.neuromorphic._raw import raw_tasks


def test_a_user_text_stream_gives_back_its_texts_row_for_row(tmp_path: Path) -> None:
    rows = []
    for task, labels in enumerate((["animal", "plant"], ["rock", "river"])):
        for label in labels:
            for i in range(12):
                rows.append({"text": f"{label} number {i} of task {task}", "label": label,
                             "task": f"t{task}"})  # fmt: skip
    path = tmp_path / "stream.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    cfg = StreamConfig(source="csv", path=str(path), scenario="class", test_fraction=0.25)
    stream = make_stream(cfg)
    tasks = raw_tasks(stream, cfg)
    assert len(tasks) == 2
    for raw, task in zip(tasks, stream.tasks, strict=True):
        assert torch.equal(raw.y_train, task.y_train) and torch.equal(raw.y_test, task.y_test)
        for text, label in zip(raw.x_train, raw.y_train, strict=True):
            assert text.startswith(stream.label_names[int(label)] + " number ")
        assert len(raw.x_test) == len(task.x_test) == 6


def test_image_streams_pass_their_tensors_through() -> None:
    cfg = StreamConfig(source="split_mnist", tasks=2, train_per_class=10, test_per_class=5)
    stream = make_stream(cfg)
    (first, _) = raw_tasks(stream, cfg)
    assert first.x_train is stream.tasks[0].x_train and first.classes == stream.tasks[0].classes
