"""ModelManager: create, hold, save and load models by id (``name:version``)."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from torch import nn

from neuroplast.errors import ConfigError, ModelNotFoundError, RegistryError
from neuroplast.inference.bundle import LoadedModel, ModelMeta, load_bundle
from neuroplast.inference.inputs import INPUTS
from neuroplast.models import count_parameters, create_model, get_spec, validate_config
from neuroplast.registry import Registry
from neuroplast.types import ModelType, TaskType
from neuroplast.workflows.register import Draft, bundle_preprocessing, reserve_version
from neuroplast.workflows.report import load_registered

__all__ = ["ModelManager"]

logger = logging.getLogger(__name__)


class ModelManager:
    """Models of the session, backed by the registry.

    ``create_model`` reserves the next version of a name and returns its id; the version
    becomes visible to ``models list`` once ``save_model`` has written its artifacts.
    """

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._loaded: dict[str, LoadedModel] = {}
        self._drafts: dict[str, Draft] = {}

    def create_model(
        self,
        model_name: str,
        model_type: ModelType | str,
        task_type: TaskType | str,
        config: dict[str, Any],
        *,
        label_names: list[str] | None = None,
    ) -> str:
        """Build an untrained model from ``config`` (the architecture's keys) and return its id.

        ``model_type`` is any registered architecture (``list_models()``); the seed
        engine's :class:`ModelType` names are some of them."""
        arch = str(model_type)
        try:
            spec = get_spec(arch)
        except ConfigError as e:  # the seed API raised ValueError for an unknown model type
            raise ValueError(str(e)) from e
        task = TaskType(task_type)
        arch_config = validate_config(arch, config).model_dump(mode="json")
        model = create_model(arch, arch_config)
        k = int(arch_config["num_classes"])
        names = list(label_names) if label_names else [str(i) for i in range(k)]
        if len(names) != k:
            raise RegistryError(f"label_names has {len(names)} names for {k} classes")
        preprocessing = bundle_preprocessing(
            spec.modality,
            max_length=arch_config.get("max_seq_length", 512),
            # a text CNN needs at least its widest filter's length of ids
            min_length=max([1, *arch_config.get("filter_sizes", [])]),
        )
        meta = ModelMeta(
            architecture=arch,
            modality=spec.modality,
            task=task.value,
            arch_config=arch_config,
            label_names=names,
            preprocessing=preprocessing,
            name=model_name,
        )
        config = {"api": True, "model": {"architecture": arch, **arch_config}}
        draft = reserve_version(self.registry, meta, config=config, source="api")
        ref = draft.record.ref
        self._drafts[ref] = draft
        self._loaded[ref] = LoadedModel(model=model, meta=draft.meta, vocab=None)
        logger.info("created %s (%s, %d parameters)", ref, arch, count_parameters(model))
        return ref

    def get_model(self, model_id: str) -> nn.Module:
        """The ``torch.nn.Module`` of ``model_id`` (held in this session or loaded)."""
        return self.get_loaded(model_id).model

    def get_loaded(self, model_id: str) -> LoadedModel:
        if model_id in self._loaded:
            return self._loaded[model_id]
        version, loaded = load_registered(self.registry, model_id)
        self._loaded[version.ref] = loaded
        return loaded

    def save_model(
        self,
        model_id: str,
        checkpoint_name: str = "final",
        *,
        run_id: int | None = None,
        metrics: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
    ) -> bool:
        """Write the weights of a created model as its registry version's artifacts.

        ``inputs`` is what training recorded of its batches (shape, dtype, a few token id
        rows), stored in ``model.json``'s ``preprocessing["inputs"]``: compression, ONNX
        export and explanations build inputs shaped like the model's own from it."""
        draft = self._drafts.get(model_id)
        if draft is None:
            if model_id in self._loaded:
                raise RegistryError(
                    f"{model_id} is already saved and versions are immutable; "
                    "create_model() a new version to save changed weights"
                )
            raise ModelNotFoundError(f"{model_id} was not created in this session")
        loaded = self._loaded[model_id]
        if inputs is not None:
            meta = replace(loaded.meta, preprocessing={**loaded.meta.preprocessing, INPUTS: inputs})
            loaded = self._loaded[model_id] = LoadedModel(loaded.model, meta, loaded.vocab)
            draft.meta = meta
        draft.save_model(loaded.model, loaded.vocab)
        draft.finalize(
            loaded.model, metrics={"checkpoint": checkpoint_name, **(metrics or {})}, run_id=run_id
        )
        del self._drafts[model_id]
        return True

    def load_model(self, checkpoint_path: str | Path) -> str:
        """Load a saved bundle directory (or a registry id) and return the model id."""
        path = Path(checkpoint_path)
        if not path.exists():
            version, loaded = load_registered(self.registry, str(checkpoint_path))
            self._loaded[version.ref] = loaded
            return version.ref
        loaded = load_bundle(path if path.is_dir() else path.parent)
        model_id = f"{loaded.meta.name or path.name}:{loaded.meta.version}"
        self._loaded[model_id] = loaded
        return model_id
