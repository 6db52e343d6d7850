"""The engine's model features (ONNX export, compression, explanations, continual update) on
task versions: what applies to anomaly detection, forecasting and generation, measured with
the task's own metric, and a one-line refusal (:class:`~neuroplast.errors.ConfigError`,
exit 2) naming what is supported instead where it does not apply.

What applies:

- ``export-onnx``: anomaly and forecasting versions hold their ONNX graph (the anomaly
  scorer, the forecaster) since training, a GPT its decoder step; the command runs it in
  ONNX Runtime against PyTorch on the version's held-out data (largest difference, and the
  task metric from each: AUROC, MASE, the step's logits), with ``int8`` also an ONNX Runtime
  int8 copy, and with ``output`` writes a serving folder. No version is registered: the
  version already holds its graph. The LSTM language model has no ONNX step.
- ``compress --quantize dynamic``: int8 Linear / LSTM layers (``torch.ao``) of any task
  model, a new version (fp32 weights stored, quantized again when it loads; parent: the
  version), judged by the task's metric on the same held-out data (AUROC, MASE, test
  perplexity). Static quantization, pruning and distillation are for classifiers.
- ``explain`` and ``continual update`` are for classifiers (see :data:`REFUSALS`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from neuroplast.errors import ConfigError
from neuroplast.tasks import TaskResult, is_task_module_task

if TYPE_CHECKING:
    from torch import nn

    from neuroplast.registry import Registry, VersionRecord
    from neuroplast.tasks.measure import HeldOut, Measured

__all__ = [
    "REFUSALS",
    "check_feature",
    "compress_task",
    "export_task",
    "is_task_version",
    "refuse",
]

_WHERE = {
    "anomaly_detection": "test split scores",
    "forecasting": "rolling-origin folds",
    "generation": "test split (max |diff|: the first window's logits)",
}

#: feature -> task -> why it does not apply and what to use instead (one line each).
REFUSALS: dict[str, dict[str, str]] = {
    "explain": {
        "anomaly_detection": "an anomaly score has no class to attribute; `neuroplast "
        "predict` gives each input's score and is_anomaly, `evaluate` the AUROC",
        "forecasting": "a forecast has no class to attribute; `neuroplast predict --horizon` "
        "gives the values with their intervals and a plot",
        "generation": "a language model has no class to attribute; `neuroplast generate` "
        "writes text and `evaluate` gives its perplexity",
    },
    "continual update": {
        "anomaly_detection": "re-train on the new normal rows (`neuroplast train` with the "
        "version's config and data.path) so that the scaling and threshold are refitted",
        "forecasting": "re-train on the longer series (`neuroplast train`), so that the "
        "scaling, intervals and stored tail are refitted",
        "generation": "continue training on more text with `generation.init_from: "
        "NAME:VERSION` in the config",
    },
    "compress": {
        "*": "task models take `--quantize dynamic` (int8 Linear / LSTM layers); static "
        "quantization, pruning and distillation are for classifiers",
    },
    "export-onnx": {
        "lstm": "the LSTM language model has no ONNX decoder step (the gpt has one); it "
        "runs in torch",
    },
}

_LIMITED = {
    "explain": "explain covers classifiers",
    "continual update": "continual update teaches classifiers labelled data",
    "compress": "this compression applies to classifiers",
    "export-onnx": "ONNX export of language models covers the gpt",
}


def is_task_version(version: VersionRecord) -> bool:
    """True for anomaly detection, forecasting and generation versions."""
    return is_task_module_task(version.task)


def refuse(feature: str, version: VersionRecord, key: str | None = None) -> None:
    """Raise the one-line ConfigError of ``feature`` on ``version`` (``key``: the task, an
    architecture or ``*``; default the version's task)."""
    reasons = REFUSALS[feature]
    why = reasons.get(key or str(version.task)) or reasons.get("*", "")
    raise ConfigError(
        f"{version.ref} ({version.task}, {version.architecture}): {_LIMITED[feature]}; {why}"
    )


def check_feature(feature: str, version: VersionRecord, **options: Any) -> None:
    """Refuse ``feature`` with ``options`` on a task version where it does not apply."""
    if not is_task_version(version):
        return
    if feature in ("explain", "continual update"):
        refuse(feature, version)
    if feature == "compress":
        others = {k for k, v in options.items() if v not in (None, False, 0)} - {"quantize"}
        if others or options.get("quantize") not in ("dynamic",):
            refuse(feature, version, "*")
    if feature == "export-onnx" and version.task == "generation" and version.architecture != "gpt":
        refuse(feature, version, version.architecture)


def _rows(held: HeldOut, runs: dict[str, tuple[Measured, int]]) -> list[dict[str, Any]]:
    """One row a stand-in: its metric, change against torch, largest output difference."""
    import numpy as np

    from neuroplast.tasks.measure import HEADLINE

    name = HEADLINE[held.task][0]
    base = runs["torch"][0]
    rows = []
    for backend, (m, size) in runs.items():
        diff = np.abs(m.outputs - base.outputs)
        rows.append(
            {
                "backend": backend,
                "size_mb": round(size / 1e6, 4),
                name: _round(m.headline(held.task)),
                f"{name}_change": _change(m.headline(held.task), base.headline(held.task)),
                "max_abs_diff": float(diff.max()) if diff.size else 0.0,
                "max_rel_diff": float((diff / (np.abs(base.outputs) + 1e-6)).max()),
                "f1_at_threshold": m.metrics.get("f1"),  # anomaly detection; else None
                "metrics": m.metrics,
            }
        )
    return rows


def _lines(title: str, task: str, rows: list[dict[str, Any]]) -> list[str]:
    from neuroplast.tasks.measure import HEADLINE

    name = HEADLINE[task][0]
    out = [title]
    for r in rows:
        figure = "n/a (no labelled anomaly)" if r[name] is None else f"{r[name]:.6g}"
        change = "" if r[f"{name}_change"] is None else f" ({r[f'{name}_change']:+.3g})"
        f1 = "" if r["f1_at_threshold"] is None else f"  F1 {r['f1_at_threshold']:.4f}"
        out.append(
            f"{r['backend']:<12} {r['size_mb']:9.3f} MB  {name} {figure}{change}{f1}  "
            f"max |diff| vs torch {r['max_abs_diff']:.3g}"
        )
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _change(value: float | None, base: float | None) -> float | None:
    return None if value is None or base is None else round(value - base, 6)


def _graph(held: HeldOut) -> bytes:
    from neuroplast.model_meta import ONNX
    from neuroplast.registry.artifacts import read_verified
    from neuroplast.tasks.generation.versions import ONNX_STEP

    name = ONNX_STEP if held.task == "generation" else ONNX
    artifact = held.version.artifacts.get(name)
    if artifact is None:
        raise ConfigError(
            f"{held.version.ref} holds no {name} (a compressed version, or one trained with "
            "generation.export_onnx: false); export its parent, or re-train it"
        )
    return read_verified(artifact.path, artifact.sha256)


def _stand_in(held: HeldOut, graph: bytes) -> nn.Module:
    from neuroplast.tasks.measure import OnnxNet, OnnxStep

    return OnnxStep(graph, held.module) if held.task == "generation" else OnnxNet(graph)


def _graph_name(held: HeldOut) -> str:
    from neuroplast.model_meta import ONNX
    from neuroplast.tasks.generation.versions import ONNX_STEP

    return ONNX_STEP if held.task == "generation" else ONNX


def _check_output(output: Path, force: bool) -> None:
    """Refuse a file, or a folder holding an earlier export unless ``force``."""
    if output.exists() and not output.is_dir():
        raise ConfigError(f"--output {output} is a file; give a new path or a folder")
    if output.is_dir() and any(output.iterdir()) and not force:
        raise ConfigError(
            f"--output {output} is not empty; pass --force to replace its files, or give "
            "a new folder"
        )


def _write_folder(held: HeldOut, files: dict[str, bytes], output: Path) -> Path:
    """The graph(s) and what a runtime needs to use them: model.json and task.json (the
    scaling, threshold, windows) or tokenizer.json."""
    from neuroplast.registry.artifacts import atomic_write_bytes, read_verified

    output.mkdir(parents=True, exist_ok=True)
    for name in ("model.json", "task.json", "tokenizer.json"):
        artifact = held.version.artifacts.get(name)
        if artifact is not None:
            files[name] = read_verified(artifact.path, artifact.sha256)
    for name, data in files.items():
        atomic_write_bytes(output / name, data)
    return output


def export_task(
    registry: Registry,
    model: str,
    *,
    int8: bool = False,
    output: Path | None = None,
    force: bool = False,
) -> TaskResult:
    """The version's ONNX graph in ONNX Runtime against PyTorch on its held-out data
    (``int8``: also ONNX Runtime's dynamic int8 copy); ``output``: a serving folder."""
    version = registry.resolve(model)
    check_feature("export-onnx", version)
    if output is not None:
        _check_output(output, force)
    from neuroplast.compression.candidate import state_bytes
    from neuroplast.tasks.measure import held_out

    held = held_out(registry, version.ref)
    graph = _graph(held)
    runs = {"torch": (held.measure(held.module), state_bytes(held.module))}
    runs["onnx"] = (held.measure(_stand_in(held, graph)), len(graph))
    files = {_graph_name(held): graph}
    if int8:
        from neuroplast.inference.onnx_export import quantize_onnx_int8

        small = quantize_onnx_int8(graph)
        runs["onnx-int8"] = (held.measure(_stand_in(held, small)), len(small))
        files[_graph_name(held).replace(".onnx", ".int8.onnx")] = small
    rows = _rows(held, runs)
    title = f"{held.version.ref} ({held.version.architecture}) ONNX against PyTorch"
    lines = _lines(f"{title}, {_WHERE[held.task]}", held.task, rows)
    written = None if output is None else _write_folder(held, files, output)
    if written is not None:
        lines.append(f"serving folder: {written}")
    lines.append(f"no version registered: {held.version.ref} already holds its ONNX graph")
    document = {
        "command": "export",
        "version": held.version.ref,
        "task": held.task,
        "files": sorted(files),
        "output": None if written is None else str(written),
        "rows": rows,
    }
    return TaskResult(held.version, {r["backend"]: r for r in rows}, document, lines)


def compress_task(registry: Registry, model: str, *, quantize: str | None) -> TaskResult:
    """Dynamic int8 (Linear and LSTM layers) of a task model as a new version, judged by
    the task's metric on the version's held-out data against the fp32 model."""
    from neuroplast.compression.candidate import state_bytes
    from neuroplast.inference.quantize import dynamic_int8
    from neuroplast.tasks.measure import held_out

    version = registry.resolve(model)
    check_feature("compress", version, quantize=quantize)
    held = held_out(registry, version.ref)
    small = dynamic_int8(held.module)
    runs = {"torch": (held.measure(held.module), state_bytes(held.module))}
    state = None if held.retune is None else held.retune(small)  # its own threshold
    runs["torch-int8"] = (held.measure(small), state_bytes(small))
    rows = _rows(held, runs)
    summary = {
        "technique": "dynamic int8",
        "parent": held.version.ref,
        **{k: v for k, v in rows[1].items() if k not in ("backend", "metrics")},
        "compression_table": rows,
    }
    record = _register_int8(registry, held.version, summary, state)
    title = f"compression of {held.version.ref} ({held.version.architecture})"
    lines = _lines(f"{title}, {_WHERE[held.task]}", held.task, rows)
    lines.append(f"registered {record.ref} (dynamic int8, parent {held.version.ref})")
    document = {
        "command": "compress",
        "parent": held.version.ref,
        "registered": [record.ref],
        "task": held.task,
        "rows": rows,
    }
    return TaskResult(record, summary, document, lines)


def _register_int8(
    registry: Registry, parent: VersionRecord, metrics: dict[str, Any], state: Any
) -> Any:
    """A new version of ``parent``'s model: its files again (fp32 weights, no ONNX graph)
    with ``model.json``'s compression set to dynamic int8 (applied when it loads), and
    ``state`` as its ``task.json`` (an anomaly model's threshold chosen for the int8
    scores) or the parent's."""
    from dataclasses import replace

    from neuroplast.workflows.register import reserve_version

    int8 = {"quantization": "dynamic"}
    if parent.task == "generation":
        from neuroplast.tasks.generation.versions import load_lm, write_lm

        lm = load_lm(registry, parent.ref)
        meta = replace(lm.meta, compression=int8)
        draft = reserve_version(
            registry, meta, config=parent.config, source="compress", parent_id=parent.id
        )
        write_lm(draft, lm.model, lm.tokenizer, onnx=False)
        return draft.finalize(lm.model, metrics=metrics)
    from neuroplast.tasks._store import TASK_STATE, load_task_version, task_factory

    stored = load_task_version(registry, parent.ref, str(parent.task))
    net = stored.build(task_factory(str(parent.task)))
    meta = replace(stored.meta, compression=int8)
    draft = reserve_version(
        registry, meta, config=parent.config, source="compress", parent_id=parent.id
    )
    draft.save_model(net, None)
    draft.add_json(TASK_STATE, stored.state if state is None else state)
    return draft.finalize(net, metrics=metrics)
