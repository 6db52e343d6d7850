"""The language models: causal masking, KV cache = no cache, tied weights, ONNX step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroplast.tasks.generation.models import GPT, create_lm
from neuroplast.tasks.generation.onnx_step import empty_past, export_decoder_step
from neuroplast.tasks.generation.sampling import Sampler, generate

V = 37


def _gpt(positions: str = "learned", context: int = 16) -> torch.nn.Module:
    torch.manual_seed(0)
    options = dict(vocab_size=V, context=context, d_model=32, n_layers=2, n_heads=4)
    return create_lm("gpt", {**options, "positions": positions}).eval()


def _lstm() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_lm("lstm-lm", dict(vocab_size=V, embedding_dim=16, hidden_dim=24)).eval()


MODELS = {"gpt-learned": _gpt, "gpt-sinusoidal": lambda: _gpt("sinusoidal"), "lstm": _lstm}


@pytest.mark.parametrize("name", list(MODELS))
def test_changing_a_future_token_never_changes_a_past_output(name: str) -> None:
    model = MODELS[name]()
    ids = torch.randint(1, V, (2, 12), generator=torch.Generator().manual_seed(1))
    base = model(ids)
    for j in (3, 7, 11):
        changed = ids.clone()
        changed[:, j] = (changed[:, j] + 5) % V
        out = model(changed)
        torch.testing.assert_close(out[:, :j], base[:, :j], rtol=0, atol=1e-6)
        assert (out[:, j:] - base[:, j:]).abs().max() > 1e-4  # the change is seen from j on


@pytest.mark.parametrize("name", list(MODELS))
def test_the_cache_gives_the_logits_of_a_full_pass(name: str) -> None:
    model = MODELS[name]()
    ids = torch.randint(1, V, (1, 10), generator=torch.Generator().manual_seed(2))
    full = model(ids)
    logits, cache = model.step(ids[:, :6], None)
    steps = [logits]
    for i in range(6, 10):
        logits, cache = model.step(ids[:, i : i + 1], cache)
        steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", list(MODELS))
def test_generation_with_and_without_the_cache_is_the_same(name: str) -> None:
    """40 tokens with a context of 16: the GPT's window restarts twice on the way."""
    model = MODELS[name]()
    for sampler in (Sampler(temperature=0.0), Sampler(temperature=1.0, top_k=10, seed=3)):
        kwargs = dict(max_tokens=40, sampler=sampler, stop_token=None)
        cached = list(generate(model, [0, 5, 6], use_cache=True, **kwargs))
        plain = list(generate(model, [0, 5, 6], use_cache=False, **kwargs))
        assert cached == plain and len(cached) == 40


def test_output_weights_are_the_embedding() -> None:
    model = _gpt()
    shaped_like_output = [n for n, t in model.state_dict().items() if t.shape == (V, 32)]
    assert shaped_like_output == ["tokens.weight"]  # no separate output matrix
    ids = torch.tensor([[1, 2, 3]])
    before = model(ids)
    with torch.no_grad():
        model.tokens.weight[7] += torch.linspace(
            -1, 1, 32
        )  # token 7 is not in the input: only its output moves
    after = model(ids)
    assert (after[..., 7] - before[..., 7]).abs().min() > 1e-3
    torch.testing.assert_close(after[..., :7], before[..., :7])


def test_the_onnx_decoder_step_matches_torch() -> None:
    import onnxruntime as ort

    model = _gpt()
    assert isinstance(model, GPT)
    session = ort.InferenceSession(export_decoder_step(model))
    ids = torch.randint(1, V, (1, 7), generator=torch.Generator().manual_seed(4))
    full = model(ids).detach().numpy()
    past = empty_past(model).numpy()
    logits, keys, values = session.run(
        None, {"input_ids": ids[:, :5].numpy(), "past_keys": past, "past_values": past}
    )
    np.testing.assert_allclose(logits, full[:, :5], atol=1e-4)
    for i in (5, 6):  # then one token at a time with the cache
        logits, keys, values = session.run(
            None, {"input_ids": ids[:, i : i + 1].numpy(), "past_keys": keys, "past_values": values}
        )
        np.testing.assert_allclose(logits[:, 0], full[:, i], atol=1e-4)
    assert keys.shape[3] == 7
