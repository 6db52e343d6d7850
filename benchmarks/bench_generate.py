"""Text generation (issue 20): perplexity against the n-gram baseline, samples, and the KV
cache's speed-up.

- ``quality``: each ``--models`` version (e.g. fortunes-gpt, fortunes-lstm) scored on its
  test split (the fortunes documents held out by the split seed) beside interpolated
  Kneser-Ney fitted in the same run on the same training tokens; perplexity per token of
  the versions' tokenisation, and bits per character. Then ``--samples`` texts of the first
  model (seeds 1..N, temperature 0.8, top-k 40).
- ``speed``: tokens/s generating ``--tokens`` (256) new tokens after the prompt "A friend"
  with the KV cache and without it (the whole window again every token), the median of
  ``--repeats`` runs each, the same sampler and seed (so the same tokens); the ratio is the
  figure (goal >= 3x). With ``--models`` the first version's GPT; without, an untrained GPT
  of the textgen-gpt template's size (speed does not depend on the weights).

``--recorded`` takes the quality figures the training runs stored (computed the same way at
the end of training, Kneser-Ney fitted in that run) instead of recomputing them. Each
version's learning curve (train and validation loss per epoch) is read from its run.

    python benchmarks/bench_generate.py --home H --models fortunes-gpt,fortunes-lstm
        --parts quality,speed --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from _common import console, environment, print_environment, print_table, write_json
from neuroplast.config import template_text
from neuroplast.registry import Registry
from neuroplast.tasks.generation.breakdown import loss_breakdown
from neuroplast.tasks.generation.data import LMData, prepare_lm_data
from neuroplast.tasks.generation.models import create_lm
from neuroplast.tasks.generation.ngram import KneserNey
from neuroplast.tasks.generation.perplexity import (
    Perplexity,
    baseline_perplexity,
    model_perplexity,
    token_losses,
)
from neuroplast.tasks.generation.sampling import Sampler, generate
from neuroplast.tasks.generation.stream import prompt_ids, stream_text
from neuroplast.tasks.generation.versions import LoadedLM, load_lm
from neuroplast.tasks.generation.workflow import LMScores

PROMPTS = ["A friend", "The best way to", "Never", "Love is", "In the beginning"]


_SHARED: dict[str, tuple[LMData, Perplexity, KneserNey]] = {}


def _shared(lm: LoadedLM) -> tuple[LMData, Perplexity, KneserNey]:
    """The test stream and the Kneser-Ney fit of a version's data and tokens. Versions with
    the same data, split and tokenizer share them (the same tokens for all)."""
    gen = lm.generation
    key = json.dumps([lm.data, lm.tokenizer.to_json(), gen.document_separator, gen.ngram_order])
    if key not in _SHARED:
        data = prepare_lm_data(lm.data, gen, lm.tokenizer.to_json())
        baseline, ngram = baseline_perplexity(
            data.streams["train"],
            data.streams["test"],
            order=gen.ngram_order,
            vocab_size=data.tokenizer.vocab_size,
            chars=data.chars("test"),
        )
        _SHARED[key] = data, baseline, ngram
    return _SHARED[key]


def _evaluate(registry: Registry, ref: str) -> tuple[LoadedLM, LMScores]:
    """A version's test perplexity beside Kneser-Ney on the same tokens."""
    lm = load_lm(registry, ref)
    data, baseline, _ = _shared(lm)
    model = model_perplexity(
        lm.model, data.streams["test"], context=lm.generation.context, chars=data.chars("test")
    )
    return lm, LMScores(model, baseline, lm.generation.ngram_order, data.tokenizer.kind)


def _scores(registry: Registry, ref: str, recorded: bool) -> dict[str, Any]:
    """A version's test figures: recomputed now (the model and a Kneser-Ney fitted now), or
    with ``recorded`` the ones its training run computed the same way and stored."""
    if recorded:
        v = registry.resolve(ref)
        m = v.metrics
        return {
            "ref": v.ref,
            "architecture": v.architecture,
            "parameters": v.params_count,
            "tokenizer": m["tokenizer"],
            "ngram_order": m["ngram_order"],
            "model": {
                "perplexity": m["test_perplexity"],
                "bits_per_char": m["test_bits_per_char"],
                "tokens": m["tokens"],
            },
            "baseline": {
                "perplexity": m["baseline_test_perplexity"],
                "bits_per_char": m["baseline_test_bits_per_char"],
            },
            "train_seconds": m["train_seconds"],
        }
    lm, scores = _evaluate(registry, ref)
    return {
        "ref": lm.version.ref,
        "architecture": lm.meta.architecture,
        "parameters": lm.version.params_count,
        "tokenizer": scores.kind,
        "ngram_order": scores.order,
        "model": scores.model.summary(),
        "baseline": scores.baseline.summary(),
        "train_seconds": lm.version.metrics.get("train_seconds"),
    }


def learning_curve(registry: Registry, ref: str) -> list[dict[str, Any]]:
    """The training run's epochs of a version (train and validation loss per token), printed."""
    v = registry.resolve(ref)
    epochs = registry.epoch_metrics(v.run_id) if v.run_id is not None else []
    curve = [
        {
            "epoch": m.epoch,
            "train_loss": m.train_loss,
            "val_loss": m.val_loss,
            "seconds": m.seconds,
            "learning_rate": m.learning_rate,
        }
        for m in epochs
    ]
    print_table(
        f"{v.ref}: learning curve (mean cross-entropy per token, nats)",
        ["epoch", "train loss", "val loss", "seconds", "mean lr"],
        [
            [
                str(c["epoch"]),
                f"{c['train_loss']:.4f}",
                "-" if c["val_loss"] is None else f"{c['val_loss']:.4f}",
                "-" if c["seconds"] is None else f"{c['seconds']:.0f}",
                "-" if c["learning_rate"] is None else f"{c['learning_rate']:.2e}",
            ]
            for c in curve
        ],
    )
    return curve


def quality(registry: Registry, refs: list[str], samples: int, recorded: bool) -> dict[str, Any]:
    rows, out = [], {}
    for ref in refs:
        s = _scores(registry, ref, recorded)
        s["learning_curve"] = learning_curve(registry, ref)
        out[s["ref"]] = s
        m, b = s["model"], s["baseline"]
        rows.append(
            [
                f"{s['ref']} ({s['architecture']}, {s['parameters']:,} params)",
                s["tokenizer"],
                f"{m['tokens']:,}",
                f"{m['perplexity']:.2f}",
                f"{m['bits_per_char']:.3f}",
                f"{b['perplexity']:.2f}",
                f"{b['bits_per_char']:.3f}",
            ]
        )
    print_table(
        "Test perplexity (per token) beside interpolated Kneser-Ney on the same tokens",
        ["version", "tokens", "test tokens", "ppl", "bits/char", "KN ppl", "KN bits/char"],
        rows,
    )
    lm = load_lm(registry, refs[0])
    texts = []
    for seed in range(1, samples + 1):
        prompt = PROMPTS[(seed - 1) % len(PROMPTS)]
        sampler = Sampler(temperature=0.8, top_k=40, seed=seed)
        text = prompt + "".join(stream_text(lm, prompt, max_tokens=80, sampler=sampler))
        texts.append({"seed": seed, "prompt": prompt, "text": text})
        console.print(f"[bold]seed {seed}[/bold]: {text}")
    return {"versions": out, "samples": texts}


def analysis(registry: Registry, refs: list[str]) -> dict[str, Any]:
    """Where the loss goes: each version's and Kneser-Ney's mean loss per test token, by the
    token's place in its document and by its count in the training split (versions whose
    data or tokenizer differ from the first one's are skipped: their tokens differ)."""
    losses: dict[str, list[float]] = {}
    first: tuple[LMData, KneserNey] | None = None
    for ref in refs:
        lm = load_lm(registry, ref)
        data, _, ngram = _shared(lm)
        if first is None:
            first = data, ngram
            losses[f"Kneser-Ney {ngram.order}-gram"] = ngram.token_nll(data.streams["test"])
        elif first[0] is not data:
            console.print(f"analysis: {ref} skipped (other data or tokens than {refs[0]})")
            continue
        stream = data.streams["test"]
        losses[lm.version.ref] = token_losses(
            lm.model, stream, context=lm.generation.context
        ).tolist()
    if first is None:
        raise SystemExit("analysis needs --models")
    data = first[0]
    groups = loss_breakdown(data.streams["test"], data.streams["train"], losses)
    out: dict[str, Any] = {}
    for title, rows in groups.items():
        print_table(
            f"Mean loss per test token (nats) by {title}",
            ["group", "tokens", "share", *losses],
            [
                [
                    g.name,
                    f"{g.tokens:,}",
                    f"{g.share:.1%}",
                    *(f"{v:.3f}" for v in g.mean_loss.values()),
                ]
                for g in rows
            ],
        )
        out[title] = [g.__dict__ for g in rows]
    return out


def _template_gpt() -> torch.nn.Module:
    raw = yaml.safe_load(template_text("textgen-gpt"))
    options = {k: v for k, v in raw["model"].items() if k != "architecture"}
    gen = raw["generation"]
    torch.manual_seed(0)
    return create_lm("gpt", {**options, "vocab_size": gen["vocab_size"], "context": gen["context"]})


def speed(model: torch.nn.Module, prompt: list[int], tokens: int, repeats: int) -> dict[str, Any]:
    sampler = Sampler(temperature=0.8, top_k=40, seed=1)
    runs: dict[str, list[float]] = {"cache": [], "no cache": []}
    outputs: dict[str, list[int]] = {}
    for _ in range(repeats):
        for name, use_cache in (("cache", True), ("no cache", False)):
            started = time.perf_counter()
            out = list(
                generate(
                    model,
                    prompt,
                    max_tokens=tokens,
                    sampler=sampler,
                    use_cache=use_cache,
                    stop_token=None,
                )
            )
            runs[name].append(tokens / (time.perf_counter() - started))
            outputs[name] = out
    median = {name: statistics.median(v) for name, v in runs.items()}
    ratio = median["cache"] / median["no cache"]
    print_table(
        f"Generating {tokens} tokens (context {getattr(model, 'context', None)}), median of "
        f"{repeats}",
        ["", "tokens/s", "runs"],
        [[n, f"{median[n]:.1f}", " ".join(f"{x:.0f}" for x in runs[n])] for n in runs],
    )
    console.print(
        f"KV cache speed-up: {ratio:.2f}x (goal >= 3x); same tokens: "
        f"{outputs['cache'] == outputs['no cache']}"
    )
    return {
        "tokens": tokens,
        "repeats": repeats,
        "tokens_per_s": median,
        "runs": runs,
        "ratio": ratio,
        "same_tokens": outputs["cache"] == outputs["no cache"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--home", type=Path, help="the registry holding --models (default: the usual home)"
    )
    parser.add_argument("--models", default="", help="comma-separated version refs")
    parser.add_argument("--parts", default="quality,speed")
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument(
        "--recorded",
        action="store_true",
        help="quality: the test figures each training run stored (no re-evaluation)",
    )
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    env = environment()
    print_environment(env)
    refs = [r for r in args.models.split(",") if r]
    registry = Registry(args.home) if args.home or refs else None  # default: NEUROPLAST_HOME
    result: dict[str, Any] = {"environment": env}
    parts = set(args.parts.split(","))
    if "quality" in parts:
        if registry is None:
            parser.error("quality needs --models")
        result["quality"] = quality(registry, refs, args.samples, args.recorded)
    if "analysis" in parts:
        if registry is None:
            parser.error("analysis needs --models")
        result["analysis"] = analysis(registry, refs)
    if "speed" in parts:
        if registry is not None and refs:
            lm = load_lm(registry, refs[0])
            model, prompt = lm.model, prompt_ids(lm.tokenizer, "A friend")
        else:
            model, prompt = _template_gpt(), [0, 5, 6, 7]
        result["speed"] = speed(model, prompt, args.tokens, args.repeats)
    if args.json:
        write_json(args.json, result)


if __name__ == "__main__":
    main()
