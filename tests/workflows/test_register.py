"""The one registration path: a draft is reserved with a lease, filled and finalized; a
failure part-way leaves the draft (live, for `registry gc` once its lease is gone)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from neuroplast.inference.bundle import ModelMeta, load_bundle
from neuroplast.registry import Registry
from neuroplast.registry._litter import in_progress
from neuroplast.workflows.register import bundle_preprocessing, reserve_version


def _meta(name: str = "reg") -> ModelMeta:
    return ModelMeta(
        architecture="image_mlp",
        modality="image",
        task="image_classification",
        arch_config={"image_size": 4, "in_channels": 1, "num_classes": 3, "hidden_dim": 8},
        label_names=["a", "b", "c"],
        preprocessing=bundle_preprocessing("image", image_shape=(1, 4, 4)),
        name=name,
    )


def test_bundle_preprocessing_of_each_modality() -> None:
    assert bundle_preprocessing("text", max_length=64, min_length=5) == {
        "max_length": 64,
        "min_length": 5,
    }
    assert bundle_preprocessing("image") == {"mean": 0.5, "std": 0.5}
    assert bundle_preprocessing("image", image_shape=(1, 28, 28)) == {
        "mean": 0.5,
        "std": 0.5,
        "image_shape": [1, 28, 28],
    }


def test_a_draft_is_filled_and_finalized(tmp_path: Path) -> None:
    from neuroplast.models import create_model

    meta = _meta()
    torch.manual_seed(0)
    model = create_model(meta.architecture, meta.arch_config)
    with Registry(tmp_path) as registry:
        draft = reserve_version(registry, meta, config={"x": 1}, source="api")
        assert draft.meta.version == draft.record.version == 1
        draft.save_model(model, None)
        draft.add_json("extra.json", {"rows": [1, 2]})
        draft.add_bytes("blob.bin", b"\x00\x01")
        version = draft.finalize(model, metrics={"acc": 0.5})
        assert version.status == "ready"
        assert version.metrics == {"acc": 0.5}
        assert {"model.json", "weights.safetensors", "extra.json", "blob.bin"} <= set(
            version.artifacts
        )
        hashes = {k: a.sha256 for k, a in version.artifacts.items() if k in draft.files}
        loaded = load_bundle(Path(version.artifact_dir), hashes)
        assert loaded.meta.version == 1 and loaded.meta.name == "reg"
        for a, b in zip(
            loaded.model.state_dict().values(), model.state_dict().values(), strict=True
        ):
            assert torch.equal(a, b)


def test_a_failed_registration_leaves_its_draft_leased(tmp_path: Path) -> None:
    class Broken(nn.Module):
        def state_dict(self, *args: object, **kwargs: object) -> dict[str, torch.Tensor]:  # type: ignore[override]
            raise RuntimeError("disk full")

    with Registry(tmp_path) as registry:
        draft = reserve_version(registry, _meta(), config={})
        with pytest.raises(RuntimeError, match="disk full"):
            draft.save_model(Broken(), None)
        drafts, _ = in_progress(registry)
        assert [(d.live, d.ref) for d in drafts] == [(True, draft.record.ref)]
