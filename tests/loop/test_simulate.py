"""``neuroplast simulate``: the stream file's schema and its errors, the streams it builds
(seeded, the shares and shifts they promise), and a replay through a real server on
127.0.0.1 (the serving tests' trained models) that reports the live accuracy per block, the
versions that answered and the feedback the server took or refused."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.conftest import Result
from tests.serving.fixtures import (
    IMAGE_MODEL,
    TEXT_MODEL,
    Server,
    copy_home,
    has_fashion_mnist,
    launch,
)

from neuroplast.errors import ConfigError, ModelNotFoundError
from neuroplast.loop.simulate import simulate
from neuroplast.loop.simulate_stream import PLOT, build_stream, load_stream
from neuroplast.registry import Registry

Cli = Callable[..., Result]

DIGITS = {
    "dataset": "digits",
    "split": "all",
    "seed": 3,
    "phases": [
        {"name": "before", "inputs": 60, "classes": ["0", "1", "2"]},
        {
            "name": "new",
            "inputs": 100,
            "classes": ["0", "1", "2"],
            "shift": {"share": 0.3, "classes": ["7"]},
        },
        {"name": "inverted", "inputs": 50, "shift": {"share": 0.4, "transform": "invert"}},
    ],
}


# ---- the stream file ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"phases": []}, "phases: List should have at least 1 item"),
        ({"dataset_name": "x"}, "unknown key 'dataset_name' (stream keys: dataset, split"),
        ({"split": "dev"}, "split: Input should be 'test', 'train' or 'all'"),
        ({"feedback": 1.5}, "feedback: Input should be less than or equal to 1"),
        (
            {"phases": [{"inputs": 0}]},
            "phases.0.inputs: Input should be greater than or equal to 1",
        ),
        ({"phases": [{"inputs": 5, "shift": {"share": 0.2}}]}, "a shift needs new `classes`"),
        (
            {"phases": [{"inputs": 5, "shift": {"share": 0.2, "transform": "noise"}}]},
            "noise_std > 0",
        ),
        (
            {"phases": [{"inputs": 5, "shift": {"share": 0, "classes": ["1"]}}]},
            "share: Input should be greater than 0",
        ),
        ({"phases": [{"inputs": 5, "classes": {"1": -1}}]}, "class weights must be 0 or more"),
        ({"phases": [{"inputs": 5, "mix": ["1"]}]}, "unknown key 'phases.0.mix'"),
    ],
)
def test_schema_errors_name_the_key(change: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError, match="^stream: .*" + _escape(words)):
        load_stream({**DIGITS, **change})


def _escape(text: str) -> str:
    import re

    return re.escape(text)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            {"phases": [{"inputs": 5, "classes": ["zebra"]}]},
            "phases.0: unknown class 'zebra'; the classes: 0, 1, 2",
        ),
        ({"split": "test"}, "digits has no fixed test split: use `split: all`"),
        (
            {"phases": [{"inputs": 5, "shift": {"share": 0.5, "classes": [PLOT]}}]},
            "class 'plot' exists only in rotten_tomatoes",
        ),
    ],
)
def test_errors_found_while_building(change: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError, match=_escape(words)):
        build_stream(load_stream({**DIGITS, **change}))


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"stream file .*nope.yaml not found"):
        load_stream(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("phases: [inputs: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: not valid YAML"):
        load_stream(bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: expected a mapping .* got list"):
        load_stream(bad)
    text = tmp_path / "text.yaml"
    text.write_text(
        "dataset: rotten_tomatoes\nsplit: all\nphases:\n"
        "  - {inputs: 5, shift: {share: 0.5, transform: invert}}\n"
    )
    with pytest.raises(ConfigError, match=r"transforms .* apply to image data sets only"):
        build_stream(load_stream(text))


# ---- the streams ----------------------------------------------------------------------------
def test_a_stream_keeps_its_promises() -> None:
    stream = build_stream(load_stream(DIGITS))
    again = build_stream(load_stream(DIGITS))
    assert isinstance(stream.inputs, np.ndarray) and isinstance(again.inputs, np.ndarray)
    assert np.array_equal(stream.inputs, again.inputs) and stream.labels == again.labels
    assert len(stream) == 210 and stream.phase_starts() == [0, 60, 160]
    labels = np.asarray(stream.labels)
    assert set(labels[:60]) <= {"0", "1", "2"} and not stream.shifted[:60].any()
    new = slice(60, 160)
    assert stream.shifted[new].sum() == 30  # exactly 30 % of the phase
    assert set(labels[new][stream.shifted[new]]) == {"7"}
    assert set(labels[new][~stream.shifted[new]]) <= {"0", "1", "2"}
    # the last phase: default mix = every class no shift brings in (not 7); 40 % inverted
    last = slice(160, 210)
    assert stream.shifted[last].sum() == 20 and "7" not in set(labels[last])
    other = build_stream(load_stream({**DIGITS, "seed": 4}))
    assert other.labels != stream.labels


def test_rename_gives_the_model_its_own_class_names() -> None:
    renamed = build_stream(load_stream({**DIGITS, "rename": {"7": "seven"}}))
    plain = build_stream(load_stream(DIGITS))
    assert [{"7": "seven"}.get(x, x) for x in plain.labels] == renamed.labels
    with pytest.raises(ConfigError, match="rename: unknown class 'eleven'"):
        build_stream(load_stream({**DIGITS, "rename": {"eleven": "11"}}))


def test_inverted_inputs_are_the_negatives_of_real_ones() -> None:
    from neuroplast.data import load_builtin

    stream = build_stream(load_stream(DIGITS))
    assert isinstance(stream.inputs, np.ndarray)
    originals = {bytes(img.tobytes()) for img in load_builtin("digits").images}
    inverted = stream.inputs[160:][stream.shifted[160:]]
    kept = stream.inputs[160:][~stream.shifted[160:]]
    assert all(bytes((255 - img).tobytes()) in originals for img in inverted)
    assert all(bytes(img.tobytes()) in originals for img in kept)


def test_plot_rows_are_a_class_of_rotten_tomatoes_streams() -> None:
    spec = {
        "dataset": "rotten_tomatoes",
        "split": "all",
        "phases": [{"inputs": 40}, {"inputs": 100, "shift": {"share": 0.3, "classes": [PLOT]}}],
    }
    stream = build_stream(load_stream(spec))
    labels = np.asarray(stream.labels)
    assert set(labels[:40]) <= {"rotten", "fresh"}
    assert (labels[40:] == PLOT).sum() == 30 and (labels[stream.shifted] == PLOT).all()
    assert all(isinstance(t, str) and t for t in stream.inputs)


# ---- a live server --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def live(
    serving_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("simulate")
    running = launch(copy_home(serving_template, root / "home"), log_dir=root)
    yield running
    running.stop()


TEXT_STREAM = {
    "dataset": "rotten_tomatoes",
    "split": "all",
    "seed": 1,
    "batch_size": 16,
    "feedback": 0.25,
    "block": 50,
    "phases": [
        {"name": "reviews", "inputs": 100},
        {"name": "plots", "inputs": 100, "shift": {"share": 0.5, "classes": [PLOT]}},
    ],
}


def test_replay_of_texts_through_a_live_server(live: Server) -> None:
    blocks: list[Any] = []
    report = simulate(TEXT_MODEL, TEXT_STREAM, url=live.url, on_block=blocks.append)
    assert [(b.start, b.end) for b in report.blocks] == [(0, 50), (50, 100), (100, 150), (150, 200)]
    assert blocks == report.blocks
    assert report.versions == {f"{TEXT_MODEL}:1": 200}
    assert report.first_answer == {f"{TEXT_MODEL}:1": 0}
    assert [p["start"] for p in report.phases] == [0, 100]
    # a plot description has no sentiment: never right, and its label is refused
    assert all(b.shifted_accuracy == 0.0 for b in report.blocks[2:])
    assert report.blocks[0].shifted_accuracy is None and report.blocks[0].shifted == 0
    assert sum(b.shifted for b in report.blocks) == 50
    assert report.feedback == 50
    stream = build_stream(load_stream(TEXT_STREAM))
    assert 0 < report.refused < report.feedback
    assert report.refusals == [
        f"'plot' is not a label of {TEXT_MODEL}:1; its labels: rotten, fresh (a class the "
        "model should learn: send it with new_class true)"
    ]
    # the blocks' accuracy is what the log says the model answered: the feedback the server
    # took says right or wrong for the same inputs
    mean = sum(b.accuracy * (b.end - b.start) for b in report.blocks) / len(stream)
    assert report.accuracy == pytest.approx(mean)


def test_a_loop_step_every_n_inputs(live: Server) -> None:
    """With a policy, one `run_loop` step runs on the server's registry after every 100
    inputs (at the end of the request the 100th falls in); with too little feedback for
    this policy, each step waits and says why, on the audit trail too."""
    from neuroplast.loop import LoopPolicy, load_policy

    policy = load_policy(LoopPolicy(), {"feedback.min_labelled": 1000, "trigger.window": 50})
    spec = {**TEXT_STREAM, "batch_size": 10, "phases": [{"inputs": 200}], "loop_every": 100}
    with Registry(live.home) as registry:
        report = simulate(TEXT_MODEL, spec, url=live.url, registry=registry, policy=policy)
        events = registry.loop_events(TEXT_MODEL)
    assert [run.at for run in report.loop_runs] == [100, 200]
    for run in report.loop_runs:
        assert run.error is None and run.report is not None
        assert run.report["outcome"] == "waiting" and run.report["promoted"] is None
    assert "labelled inputs" in report.loop_runs[-1].report["decisions"][-1]["reason"]
    assert events and all(e.action.startswith("loop_") for e in events)


def test_replay_of_images_and_the_cli(live: Server, cli: Cli, tmp_path: Path) -> None:
    if not has_fashion_mnist():
        pytest.skip("the serving template has no image model without Fashion-MNIST")
    spec = tmp_path / "drift.yaml"
    spec.write_text(
        "dataset: fashion_mnist\nsplit: test\nbatch_size: 10\nblock: 40\nfeedback: 0.5\n"
        "phases:\n  - {name: plain, inputs: 40}\n"
        "  - {name: inverted, inputs: 40, shift: {share: 1.0, transform: invert}}\n"
    )
    out = tmp_path / "run.json"
    result = cli(
        "simulate", IMAGE_MODEL, "--stream", str(spec), "--url", live.url, "--out", str(out)
    )
    assert result.code == 0, result.err
    assert "0-40" in result.out and "inverted" in result.out and f"{IMAGE_MODEL}:1" in result.out
    report = json.loads(out.read_text())
    plain, inverted = report["blocks"]
    assert plain["shifted_accuracy"] is None and inverted["known_accuracy"] is None
    assert report["feedback"] == 40 and report["refused"] == 0  # every label is the model's
    assert report["versions"] == {f"{IMAGE_MODEL}:1": 80}


def test_cli_errors(live: Server, cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "drift.yaml"
    spec.write_text(json.dumps(DIGITS))
    result = cli("simulate", TEXT_MODEL, "--stream", str(spec), "--url", live.url)
    assert (
        result.code == 2
        and "takes text inputs but the stream's data set gives images" in result.err
    )
    result = cli("simulate", "nope", "--stream", str(spec), "--url", live.url)
    assert result.code == ModelNotFoundError.exit_code and "serves: " in result.err
    closed = live.url.rsplit(":", 1)[0] + ":1"
    result = cli("simulate", TEXT_MODEL, "--stream", str(spec), "--url", closed)
    assert result.code == 2 and "no neuroplast server answers at" in result.err
    spec.write_text(json.dumps({**DIGITS, "loop_every": 50}))
    result = cli("simulate", TEXT_MODEL, "--stream", str(spec), "--url", live.url)
    assert result.code == 2 and "no loop policy was given" in result.err


def test_new_class_feedback_reaches_the_log_when_the_stream_says_so(live: Server) -> None:
    """With ``new_classes: true`` the labels the model lacks are sent as classes to learn:
    the server takes them and the log holds them for the closed loop."""
    stream = {**TEXT_STREAM, "seed": 2, "new_classes": True}
    report = simulate(TEXT_MODEL, stream, url=live.url)
    assert report.feedback > 0 and report.refused == 0
    with Registry(live.home, read_only=True) as registry:
        labels = {p.feedback for p in registry.predictions(TEXT_MODEL, limit=10_000)}
    assert PLOT in labels
