"""``neuroplast generate``: sample from a registered generative model, streamed as it comes.

The command dispatches on the version's task: the task's handler (see
:func:`neuroplast.tasks.task_handler`) must have a ``stream(registry, model, **options)``
verb returning ``(loaded, pieces)``; text generation has one, and other generative tasks
can add theirs without a change here.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import typer

from neuroplast.cli._common import MODEL_HELP, HomeOption, JsonOption, print_json, setup_logging


def generate(
    model: str = typer.Argument(..., help=MODEL_HELP),
    prompt: str = typer.Option("", "--prompt", "-p", help="Text to continue (empty: a new one)."),
    max_tokens: int | None = typer.Option(
        None, "--max-tokens", min=1, help="Tokens to write at most (default: the version's)."
    ),
    temperature: float | None = typer.Option(
        None, "--temperature", min=0.0, help="Sampling temperature; 0 = greedy."
    ),
    top_k: int | None = typer.Option(
        None, "--top-k", min=1, help="Sample among the k likeliest tokens only."
    ),
    top_p: float | None = typer.Option(
        None,
        "--top-p",
        help="Nucleus sampling: keep the likeliest tokens holding this mass, (0, 1].",
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed, the same text (CPU)."),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Recompute the whole window every token (no KV cache)."
    ),
    home: HomeOption = None,
    as_json: JsonOption = False,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Write text with a generation model, printing each token as it is sampled.

    ``--json``: ``{version, prompt, text, seconds}`` once the text is complete.
    """
    setup_logging(verbose)
    from neuroplast.engine import Engine
    from neuroplast.errors import ConfigError
    from neuroplast.tasks import is_task_module_task, task_handler

    with Engine(home) as engine:
        registry = engine.registry
        version = registry.resolve(model)
        handler = task_handler(version.task) if is_task_module_task(version.task) else None
        stream = getattr(handler, "stream", None)
        if stream is None:
            raise ConfigError(
                f"{version.ref} is a {version.task} model: `neuroplast generate` needs a "
                "generative one (task: generation; see `neuroplast init --template textgen-gpt`)"
            )
        started = time.perf_counter()
        options = dict(max_tokens=max_tokens, temperature=temperature, top_k=top_k, top_p=top_p)
        _, pieces = stream(
            registry, version.ref, prompt=prompt, seed=seed, use_cache=not no_cache, **options
        )
        if as_json:
            text = "".join(pieces)
            seconds = round(time.perf_counter() - started, 3)
            print_json({"version": version.ref, "prompt": prompt, "text": text, "seconds": seconds})
        else:
            _stream_to_terminal(prompt, pieces)


def _stream_to_terminal(prompt: str, pieces: Iterator[str]) -> None:
    """The prompt, then each piece as soon as it is sampled."""
    sys.stdout.write(prompt)
    for piece in pieces:
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
