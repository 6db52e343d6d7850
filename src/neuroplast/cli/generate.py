"""``neuroplast generate``: sample from a registered generative model, streamed as it comes.

The command dispatches on the version's task: the task's handler (see
:func:`neuroplast.tasks.task_handler`) must have a ``stream(registry, model, **options)``
verb returning ``(loaded, pieces)``; text generation has one, and other generative tasks
can add theirs without a change here. Image generators (task: image_generation) have no
stream: their handler's ``generate`` writes a PNG grid and a ``.npy`` array (``--n``,
``-o``, ``--class``, ``--steps``).
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
    n: int | None = typer.Option(None, "--n", help="Images: how many (default 64)."),
    output: str | None = typer.Option(
        None, "--output", "-o", help="Images: the PNG grid (the .npy array goes beside it)."
    ),
    class_index: int | None = typer.Option(
        None, "--class", help="Images: the class to draw (class-conditional models)."
    ),
    steps: int | None = typer.Option(
        None, "--steps", help="Images, diffusion models: DDIM steps (default: the version's)."
    ),
    home: HomeOption = None,
    as_json: JsonOption = False,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Write text with a generation model, printing each token as it is sampled; or draw
    images with an image generator (``--n``, ``-o``, ``--class``, ``--steps``).

    ``--json``: ``{version, prompt, text, seconds}`` once the text is complete; for images
    ``{version, n, class, seed, steps, png, array, seconds}``.
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
        image_options = dict(n=n, output=output, class_index=class_index, steps=steps)
        if handler is not None and stream is None and hasattr(handler, "generate"):
            if (
                prompt
                or no_cache
                or any(v is not None for v in (max_tokens, temperature, top_k, top_p))
            ):
                raise ConfigError(
                    f"{version.ref} draws images: --prompt, --max-tokens, --temperature, "
                    "--top-k, --top-p and --no-cache are for text models"
                )
            done = handler.generate(registry, version.ref, seed=seed, **image_options)
            if as_json:
                print_json(done.document)
            else:
                typer.echo("\n".join(done.lines))
            return
        if stream is not None and any(v is not None for v in image_options.values()):
            raise ConfigError(
                f"{version.ref} writes text: --n, -o, --class and --steps are for image "
                "generators (task: image_generation)"
            )
        if stream is None:
            raise ConfigError(
                f"{version.ref} is a {version.task} model: `neuroplast generate` needs a "
                "generative one (task: generation or image_generation; see `neuroplast init "
                "--template textgen-gpt` or `--template image-vae`)"
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
