"""Documents, splits and tokens: boundaries, empty files, tokenizers saved as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from neuroplast.errors import DataError
from neuroplast.tasks.generation.corpus import (
    fortune_documents,
    load_corpus,
    read_documents,
    split_documents,
)
from neuroplast.tasks.generation.lm_data import WindowBatches
from neuroplast.tasks.generation.tokenizer import (
    BpeTokenizer,
    CharTokenizer,
    encode_documents,
    tokenizer_from_json,
)


def test_documents_end_at_blank_lines_or_at_the_separator(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("one\nstill one\n\n\n  \ntwo\r\n\r\nthree\n")
    assert read_documents(path) == ["one\nstill one", "two", "three"]
    path.write_text("a\n\nb\n%\nc\n%\n")
    assert read_documents(path, "%") == ["a\n\nb", "c"]


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_an_empty_text_file_is_refused_with_a_clear_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.txt"
    path.write_text(content)
    with pytest.raises(DataError, match=r"empty\.txt holds no text .*at least one document"):
        read_documents(path)


def test_a_missing_or_binary_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        read_documents(tmp_path / "nope.txt")
    (tmp_path / "b.txt").write_bytes(b"ok\xff\xfe")
    with pytest.raises(DataError, match="not UTF-8"):
        read_documents(tmp_path / "b.txt")


def test_fortunes_are_records_between_percent_lines() -> None:
    from tests.tasks.generation.conftest import require_fortunes

    require_fortunes()
    docs = fortune_documents()
    assert len(docs) > 10_000
    assert not any(line.strip() == "%" for d in docs[:500] for line in d.splitlines())


def test_splits_are_by_document_and_seeded() -> None:
    docs = [f"doc {i}" for i in range(50)]
    a = split_documents(docs, val_fraction=0.1, test_fraction=0.2, seed=3)
    assert [len(s) for s in a] == [35, 5, 10]
    assert sorted(d for part in a for d in part) == sorted(docs)
    assert split_documents(docs, val_fraction=0.1, test_fraction=0.2, seed=3) == a
    with pytest.raises(DataError, match="at least 3"):
        split_documents(docs[:2], val_fraction=0.1, test_fraction=0.1, seed=0)


def test_repeats_and_near_duplicates_are_kept_once_before_the_split(tmp_path: Path) -> None:
    quote = "The best way to predict the future is to invent it, said someone wise once"
    docs = [
        quote + "\n\t\t-- Alan Kay",
        quote.upper() + "\n\t\t-- Alan Kay",  # a repeat: the same words
        quote + "\n\t-- Kay, 1971",  # near: word 6-grams with Jaccard 10 / 14
        quote.replace("to invent it", "to build it yourself"),  # 4 / 19: kept
        *(f"distinct document number {i} about {w}" for i, w in enumerate("abcdefg")),
    ]
    path = tmp_path / "q.txt"
    path.write_text("\n\n".join(docs))
    corpus = load_corpus(
        dataset=None, path=str(path), separator="", val_fraction=0.2, test_fraction=0.2, seed=1
    )
    kept = corpus.train + corpus.val + corpus.test
    assert len(kept) == len(docs) - 2
    assert docs[0] in kept and docs[3] in kept
    assert docs[1] not in kept and docs[2] not in kept


@pytest.mark.parametrize("kind", ["char", "bpe"])
def test_tokenizers_round_trip_through_json(kind: str, fortunes_slice: list[str]) -> None:
    if kind == "char":
        tok = CharTokenizer.train(fortunes_slice, 500)
    else:
        tok = BpeTokenizer.train(fortunes_slice, 300)
        assert tok.to_json()["tokenizers_version"]
    again = tokenizer_from_json(json.loads(json.dumps(tok.to_json())))
    text = fortunes_slice[3]
    assert again.encode(text) == tok.encode(text)
    assert again.decode(again.encode(text)) == text
    stream = encode_documents(tok, fortunes_slice[:2])
    assert stream[0] == 0 and stream[-1] == 0 and stream.count(0) == 3  # boundaries


def test_windows_cover_the_stream_and_targets_are_shifted() -> None:
    batches = WindowBatches(list(range(1, 42)), context=8, batch_size=2, seed=1)
    seen = []
    for inputs, targets in batches:
        assert targets.shape[0] == inputs.numel()
        assert (targets.view(inputs.shape) == inputs + 1).all()
        seen += inputs.flatten().tolist()
    assert sorted(seen) == list(range(1, 41)) and len(batches) == 3


def test_an_epoch_can_draw_fewer_windows_and_each_epoch_others() -> None:
    batches = WindowBatches(list(range(1, 82)), context=8, batch_size=2, seed=1, per_epoch=4)
    assert len(batches) == 2
    firsts = []
    for epoch in (1, 2):
        batches.sampler.set_epoch(epoch)
        firsts.append(sorted(int(x[:, 0].min()) for x, _ in batches))
    assert firsts[0] != firsts[1]


def test_the_time_budget_stops_when_one_more_epoch_would_not_fit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from types import SimpleNamespace

    from neuroplast.tasks.generation import workflow

    clock = iter([0.0, 100.0, 200.0, 290.0])  # fit start, then the end of epochs 1-3
    monkeypatch.setattr(workflow.time, "perf_counter", lambda: next(clock))
    budget, trainer = workflow.TimeBudget(6.0), SimpleNamespace(should_stop=False)
    budget.on_fit_start(trainer)  # type: ignore[arg-type]
    stops = []
    for _ in range(3):
        budget.on_epoch_end(trainer, {})  # type: ignore[arg-type]
        stops.append(trainer.should_stop)
    # 100 s + 100 s fits in 360 s; 200 s + 100 s still does; 290 s + 90 s does not
    assert stops == [False, False, True]


def test_the_time_budget_anneals_the_one_cycle_rate_by_the_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from types import SimpleNamespace

    from neuroplast.tasks.generation import workflow

    clock = iter([0.0, 0.0, 30.0, 60.0, 60.0])  # fit start, then three steps
    monkeypatch.setattr(workflow.time, "perf_counter", lambda: next(clock))
    groups = [{"lr": 0.04, "max_lr": 1.0}, {"lr": 0.01, "max_lr": 0.5}]
    trainer = SimpleNamespace(optimizer=SimpleNamespace(param_groups=groups))
    budget = workflow.TimeBudget(1.0, anneal=True)
    budget.on_fit_start(trainer)  # type: ignore[arg-type]
    budget.on_after_backward(trainer)  # t = 0: the schedule's (warm-up) rates stand
    assert [g["lr"] for g in groups] == [0.04, 0.01]
    for g in groups:
        g["lr"] = g["max_lr"] * 0.9  # the one-cycle schedule, planned over more epochs
    budget.on_after_backward(trainer)  # half the budget spent: half the peak
    assert [g["lr"] for g in groups] == pytest.approx([0.5, 0.25])
    budget.on_after_backward(trainer)  # the budget spent: annealed to zero
    assert [g["lr"] for g in groups] == pytest.approx([0.0, 0.0], abs=1e-12)
    still = workflow.TimeBudget(1.0)  # other schedules keep their own rates
    still.on_fit_start(trainer)  # type: ignore[arg-type]
    groups[0]["lr"] = 0.3
    still.on_after_backward(trainer)
    assert groups[0]["lr"] == 0.3
