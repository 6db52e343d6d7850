"""The served forms of a language model (a prompt -> generated text, whole or piece by
piece) and of a neuromorphic learner (texts or images -> label, confidence, abstention and
evidence). Both call the owning packages' public functions: ``load_lm``, ``sampler_from``
and ``stream_text`` of the generation task; ``load_learner`` and ``answer_batch`` of the
neuromorphic package.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from neuroplast.serving._loading import InputSpec
from neuroplast.serving._task_kinds import NEUROMORPHIC, TaskModel
from neuroplast.serving.task_schemas import MAX_NEW_TOKENS

if TYPE_CHECKING:
    from neuroplast.registry import Registry
    from neuroplast.tasks.generation.sampling import Sampler

__all__ = ["GenerationJob", "GenerationModel", "NeuroModel"]


@dataclass(frozen=True)
class GenerationJob:
    """One prompt with its sampler and token budget, checked."""

    prompt: str
    sampler: Sampler
    max_tokens: int


class GenerationModel(TaskModel):
    """A language model version: text after a prompt, sampled with the request's options
    (the version's own sampling defaults for those left out)."""

    task = "generation"
    max_batch = 1  # one prompt at a time: generation is a sequential loop

    def __init__(self, registry: Registry, ref: str) -> None:
        from neuroplast.tasks.generation.versions import load_lm

        self.lm = load_lm(registry, ref)
        self.ref = self.lm.version.ref
        self.label_names = []
        self.spec = InputSpec("text")  # a longer prompt is read through a sliding window

    def details(self) -> dict[str, Any]:
        d = self.lm.generation.sampling
        return {
            "architecture": self.lm.meta.architecture,
            "tokenizer": self.lm.generation.tokenizer,
            "context": self.lm.context,
            "max_tokens_limit": MAX_NEW_TOKENS,
            "defaults": {
                "max_tokens": min(d.max_tokens, MAX_NEW_TOKENS),
                "temperature": d.temperature,
                "top_k": d.top_k,
                "top_p": d.top_p,
            },
        }

    def job(self, prompt: str, options: dict[str, Any]) -> GenerationJob:
        """The request's prompt and sampling options checked (a ConfigError or DataError
        names the bad one); the version's default budget is capped at MAX_NEW_TOKENS."""
        from neuroplast.tasks.generation.handler import sampler_from

        sampler, max_tokens = sampler_from(self.lm.generation, options)
        if options.get("max_tokens") is None:
            max_tokens = min(max_tokens, MAX_NEW_TOKENS)
        return GenerationJob(prompt, sampler, max_tokens)

    def check_prompt(self, prompt: str) -> None:
        """A DataError now (before any work) for a prompt the model cannot read."""
        from neuroplast.tasks.generation.stream import prompt_ids

        prompt_ids(self.lm.tokenizer, prompt)

    def pieces(self, job: GenerationJob) -> Iterator[str]:
        """The generated text as it comes; a prompt the model cannot read fails here,
        before the first piece."""
        from neuroplast.tasks.generation.stream import stream_text

        return stream_text(self.lm, job.prompt, max_tokens=job.max_tokens, sampler=job.sampler)

    def run(self, items: list[Any]) -> list[str]:
        return ["".join(self.pieces(job)) for job in items]


class NeuroModel(TaskModel):
    """A neuromorphic learner version: each answer is a label with its confidence, whether
    the learner abstains, the class probabilities and the evidence behind it."""

    task = NEUROMORPHIC

    def __init__(self, registry: Registry, ref: str) -> None:
        from neuroplast.continual.neuromorphic.infer import load_learner

        self.learner, version = load_learner(registry, ref)
        self.ref = version.ref
        self.modality = str(version.modality)
        self.label_names = list(self.learner.class_names)
        if self.modality == "text":
            self.spec = InputSpec("text")
        else:
            channels, height, _ = self.learner.preprocessing["input_shape"]
            self.spec = InputSpec("image", channels=int(channels), size=int(height))

    def details(self) -> dict[str, Any]:
        return {
            "abstain_below": self.learner.threshold,
            "prototypes": self.learner.num_prototypes,
            "encoder": self.learner.config.concept_encoder.encoder_type,
        }

    def run(self, items: list[Any]) -> list[dict[str, Any]]:
        """Texts, or uint8 images ``[C, H, W]`` (as the server decodes uploads), answered by
        the package's ``answer_batch`` (which scales them like the training stream)."""
        from neuroplast.continual.neuromorphic.infer import answer_batch

        if self.modality != "text":  # answer_batch reads H x W (grey) or H x W x C arrays
            items = [x[0] if x.shape[0] == 1 else x.transpose(1, 2, 0) for x in items]
        answers = answer_batch(self.learner, self.modality, items)
        for answer in answers:
            answer.pop("input", None)
        return answers
