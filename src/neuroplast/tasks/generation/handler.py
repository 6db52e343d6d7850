"""The generation task's handler: the verbs ``neuroplast train / evaluate / predict /
generate`` call through :func:`neuroplast.tasks.task_handler`.

Its top level imports no torch: :meth:`GenerationHandler.check_config` runs while a YAML
file is loaded; the other verbs import the workflow when called.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neuroplast.errors import ConfigError
from neuroplast.tasks.generation.config import GenerationConfig, validate_lm_config

if TYPE_CHECKING:
    from neuroplast.config import RunConfig
    from neuroplast.registry import Registry
    from neuroplast.tasks import TaskResult
    from neuroplast.tasks.generation.sampling import Sampler
    from neuroplast.tasks.generation.versions import LoadedLM
    from neuroplast.types import ModelMetrics

__all__ = ["GenerationHandler", "sampler_from"]

_SAMPLING_KEYS = ("prompt", "max_tokens", "temperature", "top_k", "top_p", "seed", "use_cache")


def sampler_from(gen: GenerationConfig, options: dict[str, Any]) -> tuple[Sampler, int]:
    """The sampler and token budget of ``options`` (None = the version's defaults)."""
    from neuroplast.tasks.generation.sampling import Sampler

    unknown = sorted(set(options) - set(_SAMPLING_KEYS))
    if unknown:
        raise ConfigError(
            f"generation models take {', '.join(_SAMPLING_KEYS)}; not {', '.join(unknown)}"
        )
    d = gen.sampling

    def pick(key: str, default: Any) -> Any:
        return default if options.get(key) is None else options[key]

    sampler = Sampler(
        temperature=float(pick("temperature", d.temperature)),
        top_k=pick("top_k", d.top_k),
        top_p=pick("top_p", d.top_p),
        seed=int(pick("seed", 0)),
    )
    max_tokens = int(pick("max_tokens", d.max_tokens))
    if max_tokens < 1:
        raise ConfigError(f"--max-tokens {max_tokens}: must be 1 or more")
    return sampler, max_tokens


class GenerationHandler:
    """Language models (``task: generation``): LSTM and GPT on a text file or fortunes."""

    task = "generation"

    def check_config(self, config: RunConfig, where: str) -> None:
        gen = getattr(config, "generation", None) or GenerationConfig()
        if config.data.dataset not in (None, "fortunes"):
            raise ConfigError(
                f"{where}: data.dataset={config.data.dataset!r} is not a text-generation data "
                "set; use `fortunes` (Debian's fortunes) or data.path: a text file"
            )
        probe = {**config.arch_options, "vocab_size": 2}
        if config.architecture == "gpt":
            probe.setdefault("context", gen.context)
        try:
            validate_lm_config(config.architecture, probe)
        except ConfigError as e:
            raise ConfigError(f"{where}: {e}") from e

    def train(
        self,
        config: RunConfig,
        registry: Registry,
        *,
        progress: Callable[[str, int, int], None] | None = None,
        on_epoch: Callable[[ModelMetrics], None] | None = None,
    ) -> TaskResult:
        from neuroplast.tasks import TaskResult
        from neuroplast.tasks.generation.workflow import train_lm

        self.check_config(config, "config")
        version, scores, history, seconds = train_lm(
            config, registry, progress=progress, on_epoch=on_epoch
        )
        document = {
            "version": version.summary(),
            "home": str(registry.home),
            "train_seconds": round(seconds, 2),
            "history": [m.to_dict() for m in history],
            "test": scores.model.summary(),
            "baseline": {"kneser_ney_order": scores.order, **scores.baseline.summary()},
        }
        title = f"{version.ref} ({version.architecture}, {version.params_count:,} parameters)"
        return TaskResult(
            version, dict(version.metrics), document, scores.lines(f"{title} on test")
        )

    def evaluate(
        self, registry: Registry, model: str, *, split: str = "test", data: str | None = None
    ) -> TaskResult:
        from neuroplast.tasks import TaskResult
        from neuroplast.tasks.generation.workflow import evaluate_lm

        lm, scores, where = evaluate_lm(registry, model, split=split, data=data)
        document = {
            "version": lm.version.ref,
            "split": where,
            "tokenizer": scores.kind,
            "metrics": scores.model.summary(),
            "baseline": {"kneser_ney_order": scores.order, **scores.baseline.summary()},
        }
        lines = scores.lines(f"{lm.version.ref} on {where}")
        return TaskResult(lm.version, scores.metrics(where), document, lines)

    def stream(
        self, registry: Registry, model: str, **options: Any
    ) -> tuple[LoadedLM, Iterator[str]]:
        """The loaded model and an iterator of generated text pieces (``neuroplast
        generate`` prints them as they come)."""
        from neuroplast.tasks.generation.stream import stream_text
        from neuroplast.tasks.generation.versions import load_lm

        lm = load_lm(registry, model)
        sampler, max_tokens = sampler_from(lm.generation, options)
        pieces = stream_text(
            lm,
            str(options.get("prompt") or ""),
            max_tokens=max_tokens,
            sampler=sampler,
            use_cache=bool(options.get("use_cache", True)),
        )
        return lm, pieces

    def generate(self, registry: Registry, model: str, **options: Any) -> TaskResult:
        """One text from ``prompt`` (default: empty) with the sampling options of
        :meth:`stream`; ``document`` is ``{version, prompt, text, seconds}``, the ``--json``
        of ``neuroplast generate``."""
        from neuroplast.tasks import TaskResult

        started = time.perf_counter()
        lm, pieces = self.stream(registry, model, **options)
        prompt, text = str(options.get("prompt") or ""), "".join(pieces)
        document = {
            "version": lm.version.ref,
            "prompt": prompt,
            "text": text,
            "seconds": round(time.perf_counter() - started, 3),
        }
        return TaskResult(lm.version, {"characters": len(text)}, document, [prompt + text])

    def predict(self, registry: Registry, model: str, **options: Any) -> TaskResult:
        """Text for each prompt: ``prompt=``, or ``inputs=`` / ``images=`` (the positional
        inputs of ``neuroplast predict``), or ``file=`` (one prompt a line); the sampling
        options as for :meth:`stream`, the seed the same for every prompt."""
        from neuroplast.tasks import TaskResult

        prompts = _prompts(options)
        if options.pop("backend", "torch") != "torch":
            raise ConfigError("generation models run on the torch backend only (drop --backend)")
        started = time.perf_counter()
        outputs, lm = [], None
        for prompt in prompts:
            lm, pieces = self.stream(registry, model, prompt=prompt, **options)
            outputs.append({"prompt": prompt, "text": "".join(pieces)})
        if lm is None:  # _prompts refuses an empty list; this keeps the type checker honest
            raise ConfigError("give at least one prompt (prompt=, inputs= or file=)")
        document = {
            "version": lm.version.ref,
            "outputs": outputs,
            "seconds": round(time.perf_counter() - started, 3),
        }
        lines = [o["prompt"] + o["text"] for o in outputs]
        return TaskResult(lm.version, {"prompts": len(outputs)}, document, lines)


def _prompts(options: dict[str, Any]) -> list[str]:
    """The prompts of ``predict``'s options (removed from ``options``)."""
    given = [options.pop(k, None) for k in ("prompt", "inputs", "images", "file")]
    prompt, inputs, images, file = given
    if sum(x is not None for x in given) > 1:
        raise ConfigError("give the prompts one way: a prompt, inputs or a file")
    if file is not None:
        from neuroplast.errors import DataError

        path = Path(file)
        if not path.is_file():
            raise DataError(f"prompt file {path} not found (one prompt a line)")
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if inputs is not None or images is not None:
        return [str(x) for x in (inputs if inputs is not None else images)] or [""]
    return [str(prompt or "")]
