"""Forecasting end to end on the real CO2 series (trimmed): train, rolling-origin evaluation
beside seasonal-naive and ETS, predict with dates, intervals and a plot, the registry round
trip and the scaling the version stores; and series files with gaps or text."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
import torch

from neuroplast.engine import Engine
from neuroplast.errors import DataError
from neuroplast.tasks import TaskResult
from neuroplast.tasks._store import load_task_version
from neuroplast.tasks.forecasting.baselines import forecast_errors, mase_scale, seasonal_naive
from neuroplast.tasks.forecasting.config import ForecastConfig
from neuroplast.tasks.forecasting.data import fold_origins, load_series, series_from_frame
from neuroplast.tasks.forecasting.models import build_model
from tests.conftest import Result
from tests.tasks.conftest import FORECAST_SMALL, task_json, template_config

Cli = Callable[..., Result]
SMALL = FORECAST_SMALL


def test_scaling_is_fitted_on_the_training_part_and_stored(co2: tuple[Path, TaskResult]) -> None:
    _, result = co2
    state = task_json(result)
    config = template_config("forecast", *SMALL)
    series = load_series(config.data, config.forecast or ForecastConfig())
    folds = fold_origins(len(series), config.forecast or ForecastConfig(), 0.15)
    train = series.values[: folds.cut_val, 0]
    assert state["scaling"]["offset"] == pytest.approx([train.mean()])
    assert state["scaling"]["scale"] == pytest.approx([train.std()])
    assert state["season"] == 12 and state["horizon"] == 12 and len(state["tail"]) == 24
    assert state["interval"]["method"] == "residual_bootstrap"
    assert len(state["interval"]["lower"]) == 12
    assert np.all(np.array(state["interval"]["lower"]) <= np.array(state["interval"]["upper"]))


def test_evaluate_puts_the_model_beside_seasonal_naive_and_ets(
    co2: tuple[Path, TaskResult], cli: Cli
) -> None:
    home, result = co2
    out = cli("evaluate", result.version.ref, "--home", str(home), "--json")
    assert out.code == 0, out.err
    doc = json.loads(out.out)
    assert set(doc["baselines"]) == {"seasonal_naive", "ets"}
    assert len(doc["origins"]) == 2 and doc["horizon"] == 12
    for figures in [doc["metrics"], *doc["baselines"].values()]:
        assert {"mae", "rmse", "mape", "smape", "mase"} <= set(figures)
    # the same folds as at training time: the model's figures are the same
    assert doc["metrics"]["mase"] == pytest.approx(result.metrics["mase"], rel=1e-6)


def test_predict_gives_dated_values_with_intervals_and_a_plot(
    co2: tuple[Path, TaskResult], cli: Cli, tmp_path: Path
) -> None:
    home, _ = co2
    plot = tmp_path / "f.png"
    out = cli(
        "predict", "co2-lstm", "--horizon", "6", "--plot", str(plot), "--home", str(home), "--json"
    )
    assert out.code == 0, out.err
    rows = json.loads(out.out)["forecast"]
    assert [r["date"][:10] for r in rows[:2]] == ["2002-01-01", "2002-02-01"]
    assert all(r["lower"] <= r["value"] <= r["upper"] for r in rows) and len(rows) == 6
    assert 340 < rows[0]["value"] < 400  # ppm, in the range of the series' end
    assert plot.read_bytes()[:4] == b"\x89PNG"
    too_far = cli("predict", "co2-lstm", "--horizon", "13", "--home", str(home))
    assert too_far.code != 0 and "forecasts 1 to 12 points" in too_far.err


def test_the_onnx_graph_matches_torch(co2: tuple[Path, TaskResult]) -> None:
    home, result = co2
    with Engine(home) as engine:
        stored = load_task_version(engine.registry, result.version.ref, "forecasting")
    net = stored.build(build_model)
    x = torch.randn(3, 24, 1)
    session = ort.InferenceSession(str(stored.version.artifacts["model.onnx"].path))
    onnx_out = session.run(["output"], {"input": x.numpy()})[0]
    np.testing.assert_allclose(onnx_out, net(x).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_tcn_forecaster_shapes_and_trend_following() -> None:
    net = build_model("tcn_forecaster", {"features": 2, "horizon": 5, "levels": 2})
    x = torch.zeros(4, 16, 2)
    shifted = x.clone()
    shifted[:, :, 0] += 3.0  # the same window, 3 units higher
    out, out_shifted = net(x), net(shifted)
    assert out.shape == (4, 5)
    torch.testing.assert_close(out_shifted, out + 3.0)  # forecasts relative to the last value


def test_metrics_and_seasonal_naive_are_exact_on_a_known_series() -> None:
    season = np.tile([1.0, 2.0, 3.0, 4.0], 5)
    np.testing.assert_array_equal(seasonal_naive(season, 6, 4), [1, 2, 3, 4, 1, 2])
    scale = mase_scale(np.arange(10.0), None)  # in-sample naive error 1
    errors = forecast_errors(np.array([10.0, 20.0]), np.array([12.0, 18.0]), scale)
    assert errors == pytest.approx(
        {"mae": 2.0, "rmse": 2.0, "mape": 15.0, "smape": 100 * (4 / 22 + 4 / 38) / 2, "mase": 2.0}
    )


def _frame(dates: list[str], values: list[object]) -> pd.DataFrame:
    return pd.DataFrame({"day": dates, "value": values})


DAYS = [f"2024-01-{d:02d}" for d in range(1, 11)]


def test_a_gap_in_the_dates_is_an_error_unless_filling_is_allowed() -> None:
    gappy = _frame(DAYS[:4] + DAYS[7:], list(range(7)))
    cfg = ForecastConfig(date_column="day")
    with pytest.raises(DataError, match=r"gap of 3 missing points after data row 4.*max_gap_fill"):
        series_from_frame(gappy, cfg, "s.csv")
    filled = series_from_frame(gappy, cfg.model_copy(update={"max_gap_fill": 3}), "s.csv")
    assert len(filled) == 10 and filled.filled == 3
    np.testing.assert_allclose(filled.values[3:8, 0], [3.0, 3.25, 3.5, 3.75, 4.0])


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([1, 2, "n/a", 4, 5, 6, 7, 8, 9, 10], r"column 'value' holds text.*data row 3 is 'n/a'"),
        ([1, 2, None, None, 5, 6, 7, 8, 9, 10], r"gap of 2 empty points \(from data row 3\)"),
    ],
)
def test_text_or_empty_cells_in_the_series_are_clear_errors(values: list, message: str) -> None:
    with pytest.raises(DataError, match=message):
        series_from_frame(_frame(DAYS, values), ForecastConfig(date_column="day"), "s.csv")


def test_dates_out_of_order_and_an_empty_file_are_clear_errors(tmp_path: Path, cli: Cli) -> None:
    shuffled = _frame([DAYS[1], DAYS[0], *DAYS[2:]], list(range(10)))
    with pytest.raises(DataError, match=r"data row 2 .*goes back in time; sort the rows"):
        series_from_frame(shuffled, ForecastConfig(date_column="day"), "s.csv")
    empty = tmp_path / "series.csv"
    empty.write_text("")
    config = tmp_path / "f.yaml"
    config.write_text(
        "name: s\ntask: forecasting\ndata: {path: " + str(empty) + "}\n"
        "model: {architecture: lstm_forecaster}\n"
    )
    out = cli("train", str(config), "--home", str(tmp_path / "home"))
    assert out.code != 0 and re.search(r"series.csv is empty", out.err), out.err
