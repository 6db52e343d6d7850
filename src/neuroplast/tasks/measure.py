"""A task model's outputs and headline metric on the version's own held-out data, for any
stand-in of the model: the PyTorch module, its dynamic int8 copy, or its ONNX graph run in
ONNX Runtime. ``export-onnx`` and ``compress`` on task versions compare these.

- anomaly detection: the scores of the test split, AUROC (and AUPRC, F1 at the stored
  threshold);
- forecasting: the forecasts of the rolling-origin folds, MASE (and MAE, RMSE, sMAPE);
- generation: the test split's perplexity (``outputs``: the logits of its first window).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from neuroplast.config import parse_run_config
from neuroplast.errors import ConfigError
from neuroplast.registry import Registry, VersionRecord
from neuroplast.tasks._store import API_SOURCE, StoredTask, load_task_version

__all__ = ["HEADLINE", "HeldOut", "Measured", "OnnxNet", "OnnxStep", "held_out"]

#: The metric each task is judged by, and whether higher is better.
HEADLINE: dict[str, tuple[str, bool]] = {
    "anomaly_detection": ("auroc", True),
    "forecasting": ("mase", False),
    "generation": ("perplexity", False),
}


@dataclass
class Measured:
    """What a stand-in produced (``outputs``, flat) and the task's metrics from them."""

    outputs: np.ndarray
    metrics: dict[str, Any]

    def headline(self, task: str) -> float | None:
        """The task's metric; None where the data cannot give it (e.g. no labelled
        anomaly in an anomaly model's test split: no AUROC)."""
        value = self.metrics.get(HEADLINE[task][0])
        return None if value is None else float(value)


class OnnxNet(nn.Module):
    """An ONNX graph with input ``input`` and output ``output`` in ONNX Runtime (one
    thread), called like the module it was exported from."""

    def __init__(self, graph: bytes) -> None:
        super().__init__()
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])

    def forward(self, x: Tensor) -> Tensor:
        feed = {"input": x.detach().cpu().numpy().astype(np.float32)}
        return torch.from_numpy(np.asarray(self.session.run(["output"], feed)[0]))


@dataclass
class HeldOut:
    """A task version's model and held-out data; :meth:`measure` runs a stand-in on it.

    ``module`` is the fp32 PyTorch model; ``graph_input`` says what the version's ONNX graph
    computes (``scores``: the anomaly scorer, ``model``: the module itself)."""

    version: VersionRecord
    module: nn.Module
    measure: Callable[[nn.Module], Measured]
    graph_output: str
    #: Anomaly detection: re-choose the threshold for another scorer (an int8 copy) on the
    #: validation part by the version's rule; later :attr:`measure` calls use it. Returns
    #: the version's ``task.json`` state with that threshold.
    retune: Callable[[nn.Module], dict[str, Any]] | None = None

    @property
    def task(self) -> str:
        return str(self.version.task)


def _config(stored: StoredTask) -> Any:
    ref = stored.version.ref
    if stored.version.config.get("data", {}).get("path") == API_SOURCE:
        raise ConfigError(
            f"{ref} was trained on Python loaders (windows, not a series): it has no "
            "rolling-origin folds to measure on; train it from a config to compress or export it"
        )
    return parse_run_config(stored.version.config, where=f"{ref}'s config")


def _anomaly(registry: Registry, model: str) -> HeldOut:
    from neuroplast.tasks.anomaly.config import AnomalyConfig
    from neuroplast.tasks.anomaly.evaluation import anomaly_splits
    from neuroplast.tasks.anomaly.metrics import anomaly_metrics, choose_threshold
    from neuroplast.tasks.anomaly.models import Scorer, build_model
    from neuroplast.tasks.anomaly.state import AnomalyState

    stored = load_task_version(registry, model, "anomaly_detection")
    state = AnomalyState.from_json(stored.state)
    config = parse_run_config(stored.version.config, where=f"{stored.version.ref}'s config")
    splits = anomaly_splits(stored, state, config)
    x = state.tensor(splits.test)

    def measure(scorer: nn.Module) -> Measured:
        with torch.no_grad():
            scores = torch.cat([scorer(x[i : i + 1024]) for i in range(0, len(x), 1024)])
        values = scores.numpy().astype(np.float64)
        return Measured(values, anomaly_metrics(values, splits.test_labels, state.cut))

    def retune(scorer: nn.Module) -> dict[str, Any]:
        rule = str(state.threshold.get("rule", "f1"))
        target = float(state.threshold.get("target_fpr", 0.01))
        cfg = AnomalyConfig(threshold=rule, target_fpr=target)
        with torch.no_grad():
            scores = scorer(state.tensor(splits.val)).numpy().astype(np.float64)
        state.threshold = choose_threshold(scores, splits.val_labels, cfg)
        return {**stored.state, **state.to_json()}

    net = stored.build(build_model)
    return HeldOut(stored.version, Scorer(net).eval(), measure, "scores", retune)


def _forecast(registry: Registry, model: str) -> HeldOut:
    from neuroplast.tasks.forecasting.config import ForecastConfig
    from neuroplast.tasks.forecasting.data import fold_origins, load_series
    from neuroplast.tasks.forecasting.evaluation import rolling_origin
    from neuroplast.tasks.forecasting.models import build_model
    from neuroplast.tasks.forecasting.state import ForecastState, forecast

    stored = load_task_version(registry, model, "forecasting")
    state = ForecastState.from_json(stored.state)
    config = _config(stored)
    cfg = config.forecast or ForecastConfig()
    series = load_series(config.data, cfg)
    folds = fold_origins(len(series), cfg, config.data.val_fraction)

    def measure(net: nn.Module) -> Measured:
        points = [forecast(net, state, series.values[:o]) for o in folds.origins]
        metrics = rolling_origin(net, state, series, folds, ())["model"]
        return Measured(np.concatenate(points), metrics)

    return HeldOut(stored.version, stored.build(build_model), measure, "model")


def _generation(registry: Registry, model: str) -> HeldOut:
    from neuroplast.tasks.generation.data import prepare_lm_data
    from neuroplast.tasks.generation.perplexity import model_perplexity
    from neuroplast.tasks.generation.versions import load_lm

    lm = load_lm(registry, model)
    data = prepare_lm_data(lm.data, lm.generation, lm.tokenizer.to_json())
    stream, chars = data.streams["test"], data.chars("test")
    first = torch.tensor([stream[: lm.generation.context]])

    def measure(net: nn.Module) -> Measured:
        ppl = model_perplexity(net, stream, context=lm.generation.context, chars=chars)
        with torch.no_grad():
            logits = net(first)
        return Measured(logits.numpy().ravel(), ppl.summary())

    return HeldOut(lm.version, lm.model, measure, "step")


def held_out(registry: Registry, model: str) -> HeldOut:
    """The version ``model``'s fp32 model and its held-out measurement."""
    task = registry.resolve(model).task
    makers = {"anomaly_detection": _anomaly, "forecasting": _forecast, "generation": _generation}
    if task not in makers:
        raise ConfigError(f"{model} is a {task} model, not an anomaly, forecasting or LM one")
    return makers[str(task)](registry, model)


class OnnxStep(nn.Module):
    """A GPT's ONNX decoder step (``decoder_step.onnx``) with an empty cache: token ids
    ``[B, T]`` in, logits ``[B, T, V]`` out, like the GPT's forward."""

    def __init__(self, graph: bytes, gpt: nn.Module) -> None:
        super().__init__()
        from neuroplast.tasks.generation.models import GPT

        if not isinstance(gpt, GPT):
            raise ConfigError("only the gpt architecture has an ONNX decoder step")
        self.net = OnnxNet(graph)
        cfg = gpt.config
        self.cache = (cfg.n_layers, cfg.n_heads, cfg.d_model // cfg.n_heads)

    def forward(self, idx: Tensor) -> Tensor:
        layers, heads, width = self.cache
        past = np.zeros((layers, idx.shape[0], heads, 0, width), np.float32)
        feed = {"input_ids": idx.cpu().numpy().astype(np.int64), "past_keys": past}
        feed["past_values"] = past
        return torch.from_numpy(np.asarray(self.net.session.run(["logits"], feed)[0]))
