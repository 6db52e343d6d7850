"""The whitened similarity: streaming statistics equal the batch ones, the map whitens,
the state round-trips, and bad input is refused."""

from __future__ import annotations

import pytest
import torch

from neuroplast.continual.neuromorphic.metric import Whitening
from neuroplast.errors import ArtifactError, DataError


def _data(n: int = 400, dim: int = 6) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    mix = torch.randn(dim, dim, generator=g) * torch.tensor([5.0, 2.0, 1.0, 0.5, 0.2, 0.1])
    return torch.randn(n, dim, generator=g, dtype=torch.float64) @ mix.double() + 3.0


def test_streaming_statistics_equal_the_batch_ones() -> None:
    x = _data()
    w = Whitening(6, 0.1)
    for chunk in (x[:7], x[7:150], x[150:151], x[151:]):
        w.update(chunk)
    assert w.count == 400
    torch.testing.assert_close(w.mean, x.mean(0))
    torch.testing.assert_close(w.scatter / 399, torch.cov(x.T))


def test_the_map_whitens_up_to_the_shrinkage() -> None:
    x = _data()
    w = Whitening(6, 1e-6)
    w.update(x)
    mean, m = w._whitener()
    z = (x.float() - mean) @ m
    torch.testing.assert_close(
        torch.cov(z.T.double()), torch.eye(6, dtype=torch.float64), atol=1e-2, rtol=0
    )  # fmt: skip (float32 map)
    shrunk = Whitening(6, 1.0)  # full shrinkage: C -> mean variance * I, a scaled identity
    shrunk.update(x)
    _, m1 = shrunk._whitener()
    scale = float(m1[0, 0])
    torch.testing.assert_close(m1, torch.eye(6) * scale)
    assert scale == pytest.approx(float(torch.cov(x.T).diagonal().mean()) ** -0.5, rel=1e-5)
    unit = w.transform(x[:5])
    torch.testing.assert_close(unit.norm(dim=1), torch.ones(5))


def test_the_state_round_trips_and_bad_input_is_refused() -> None:
    w = Whitening(6, 0.1)
    w.update(_data())
    again = Whitening.from_state(w.state_dict(), w.meta())
    torch.testing.assert_close(again.scatter, w.scatter.float().double())
    x = _data(5).float()
    torch.testing.assert_close(again.transform(x), w.transform(x), atol=1e-4, rtol=1e-4)
    assert w.nbytes == 8 + 6 * 4 + 21 * 4  # count, mean, the upper triangle
    with pytest.raises(ArtifactError, match="not readable"):
        Whitening.from_state({"mean": torch.zeros(6)}, w.meta())
    with pytest.raises(DataError, match=r"concepts \[n, 6\]"):
        w.update(torch.zeros(3, 5))
    with pytest.raises(DataError, match="at least 2 concepts"):
        Whitening(6, 0.1).transform(x)
    with pytest.raises(DataError, match="shrinkage"):
        Whitening(6, 0.0)
