"""``distill``: a small student trained on a teacher's soft labels, beside the same student
trained alone on the hard labels (measured for the comparison, never registered); same
architecture, data, batches, epochs and seed (:mod:`neuroplast.compression.distill` has the
loss)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from neuroplast.compression._registry import (
    CompressionTechnique,
    CompressJob,
    TechniqueOptions,
    register_technique,
)
from neuroplast.compression.candidate import Candidate, fit, run_config_of, state_bytes
from neuroplast.errors import ConfigError

if TYPE_CHECKING:
    from neuroplast.config import TrainConfig
    from neuroplast.data.prepare import PreparedData
    from neuroplast.inference.bundle import LoadedModel

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_TEMPERATURE",
    "Distill",
    "DistillOptions",
    "check_distillation_settings",
    "distill_student",
]

DEFAULT_TEMPERATURE = 4.0
DEFAULT_ALPHA = 0.7
TEACHER_DATA = (
    "training data to distill a student on (train the teacher from a run config with Engine.train)"
)


def check_distillation_settings(temperature: float, alpha: float) -> None:
    """Raise :class:`ConfigError` unless ``temperature > 0`` and ``0 <= alpha <= 1``."""
    if not temperature > 0:
        raise ConfigError(
            f"distillation temperature must be > 0, got {temperature}; try --temperature 4"
        )
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(
            f"distillation alpha (weight of the teacher's soft labels) must be in [0, 1], "
            f"got {alpha}; try --alpha 0.7"
        )


class DistillOptions(TechniqueOptions):
    #: The teacher's reference (``--distill-from``).
    teacher: str | None = None
    #: The student's model options (a run config's ``model`` section, or its keys; default:
    #: the compressed model's own).
    student_config: dict[str, Any] | None = None
    epochs: int = 3
    #: Softens both distributions.
    temperature: float = DEFAULT_TEMPERATURE
    #: The weight of the soft-label term (``1 - alpha`` goes to the hard labels).
    alpha: float = DEFAULT_ALPHA


def _student_options(
    student_config: dict[str, Any] | None, default: dict[str, Any]
) -> dict[str, Any]:
    options = dict(student_config or default)
    options = dict(options.get("model", options))  # a run config's model section, or the keys
    if "architecture" not in options:
        raise ConfigError("the student config needs an 'architecture' key (see neuroplast init)")
    options.pop("pretrained_embeddings", None)
    return options


def _student_candidate(
    student: LoadedModel, options: dict[str, Any], settings: dict[str, Any], history: list[Any]
) -> Candidate:
    from neuroplast.inference.predictor import Predictor

    distilled = "temperature" in settings
    label = "distilled student" if distilled else "student alone (hard labels)"
    return Candidate(
        technique=f"{label} ({student.meta.architecture})",
        model=student.model,
        predictor=Predictor(student),
        size_bytes=state_bytes(student.model),
        options={"student": {"architecture": student.meta.architecture, **options}, **settings},
        arch_config=student.meta.arch_config,
        source="distill",
        metrics={"epochs_run": len(history)},
        loaded=student,
        compared_only=None if distilled else "trained without teacher",
    )


def distill_student(
    teacher: LoadedModel,
    data: PreparedData,
    train: TrainConfig,
    *,
    student_config: dict[str, Any] | None,
    default_student: dict[str, Any],
    epochs: int,
    temperature: float = DEFAULT_TEMPERATURE,
    alpha: float = DEFAULT_ALPHA,
) -> tuple[Candidate, Candidate]:
    """(student trained alone on hard labels, student trained on the teacher's soft labels),
    same architecture, data, batches, epochs and seed."""
    import copy
    from dataclasses import replace

    import torch

    from neuroplast.compression.distill import DistillationLoss
    from neuroplast.inference.bundle import LoadedModel
    from neuroplast.models import create_model
    from neuroplast.workflows.train import complete_arch_config

    options = _student_options(student_config, default_student)
    architecture = str(options.pop("architecture"))
    arch_config = complete_arch_config(architecture, options, data)
    # Both arms see batches padded for the teacher too (a CNN teacher needs its widest filter).
    teacher_min = int(teacher.meta.preprocessing.get("min_length", 1))
    min_length = max([teacher_min, *arch_config.get("filter_sizes", [])])
    config = train.model_copy(update={"epochs": epochs})
    preprocessing = dict(teacher.meta.preprocessing)
    if teacher.meta.modality == "text":
        preprocessing["min_length"] = min_length
    student_meta = replace(
        teacher.meta,
        architecture=architecture,
        arch_config=arch_config,
        preprocessing=preprocessing,
    )
    results = []
    for distilled in (False, True):
        torch.manual_seed(config.seed)
        student = create_model(architecture, arch_config)
        callbacks: list[Any] = []
        settings: dict[str, Any] = {"epochs": epochs, "seed": config.seed}
        if distilled:
            callbacks.append(
                DistillationLoss(
                    student, copy.deepcopy(teacher.model), temperature=temperature, alpha=alpha
                )
            )
            settings.update(temperature=temperature, alpha=alpha)
        history = fit(student, data, config, min_length=min_length, callbacks=callbacks)
        loaded = LoadedModel(model=student, meta=student_meta, vocab=teacher.vocab)
        results.append(_student_candidate(loaded, options, settings, history))
    return results[0], results[1]


@register_technique(
    "distill", rank=4, options=DistillOptions, help="a student trained on a teacher's soft labels"
)
class Distill(CompressionTechnique):
    def check(self, options: DistillOptions) -> None:
        if options.teacher is not None:
            check_distillation_settings(options.temperature, options.alpha)

    def skipped(self, job: CompressJob, options: DistillOptions) -> str | None:
        if options.teacher is None:
            return "distillation skipped: give --distill-from TEACHER"
        return None

    def candidates(self, job: CompressJob, options: DistillOptions) -> list[Candidate]:
        from neuroplast.inference.inputs import model_data
        from neuroplast.inference.registered import load_registered

        if options.teacher is None:
            raise ConfigError("distillation needs a teacher: give --distill-from TEACHER")
        run = run_config_of(job.version.config)
        _, teacher = load_registered(job.registry, options.teacher)
        teacher_data = model_data(teacher.meta, teacher.vocab, needed_for=TEACHER_DATA)
        pair = distill_student(
            teacher,
            teacher_data,
            run.train,
            student_config=options.student_config,
            default_student=dict(run.model),
            epochs=options.epochs,
            temperature=options.temperature,
            alpha=options.alpha,
        )
        for candidate in pair:
            candidate.options["teacher"] = options.teacher
        return list(pair)
