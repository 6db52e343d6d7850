"""One-cycle schedules of very few optimizer steps: torch's OneCycleLR divides by the warm-up
length minus one, so a warm-up of one step (10 steps at pct_start 0.1) raised
ZeroDivisionError in the middle of training."""

from __future__ import annotations

import pytest
import torch

from neuroplast.config import SchedulerConfig
from neuroplast.training.optim import build_scheduler


@pytest.mark.parametrize("steps", [1, 3, 4, 5, 10, 11, 19, 200])
def test_a_short_one_cycle_runs_every_step(steps: int) -> None:
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    cfg = SchedulerConfig(name="onecycle", pct_start=0.1)
    scheduler = build_scheduler(optimizer, cfg, total_steps=steps, lr=1e-3)
    rates = []
    for _ in range(steps):
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        rates.append(optimizer.param_groups[0]["lr"])
    if steps < 4:
        assert scheduler is None and rates == [1e-3] * steps
    else:  # it warms up to the peak and anneals below where it started
        assert max(rates) == pytest.approx(1e-3, rel=0.05)
        assert rates[-1] < rates[0]
