"""The seed engine's explainability API, by model id: ``engine.explainer``.

>>> engine.explainer.get_attention_weights("rt-lstm", "a gorgeous, witty film")  # +SKIP
>>> engine.explainer.compute_feature_importance("rt-cnn", ids, target_class=1)   # +SKIP
>>> engine.explainer.layer_activations("rt-cnn", ["a tedious mess"])               # +SKIP

``input_data`` is, for text models, a text, a list of texts, or token ids (PAD = 0): a
tensor or array ``[B, T]`` / ``[T]``, a list of ids or a list of id lists (rows of different
lengths are padded). Models trained through the Python API on the caller's token ids have
no vocabulary and take token ids only. For image models it is uint8 images ``[N, C, H, W]``
(numpy or torch) or a float tensor already normalised as in training.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from neuroplast.errors import DataError
from neuroplast.explain.attention import attention_maps, require_attention
from neuroplast.explain.image import ImageExplainer
from neuroplast.explain.text import TextExplainer, resolve_target
from neuroplast.inference import LoadedModel

__all__ = ["ActivationStats", "Explainer", "InputData"]

InputData = str | Sequence[str] | Sequence[int] | Sequence[Sequence[int]] | Tensor | np.ndarray


@dataclass(frozen=True)
class ActivationStats:
    """Statistics of one layer's output over a batch."""

    layer: str
    kind: str
    shape: tuple[int, ...]
    mean: float
    std: float
    min: float
    max: float
    zero_fraction: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "kind": self.kind,
            "shape": list(self.shape),
            "mean": self.mean,
            "std": self.std,
            "min": self.min,
            "max": self.max,
            "zero_fraction": self.zero_fraction,
        }


def _pad(rows: Sequence[Sequence[int]]) -> Tensor:
    width = max(len(r) for r in rows)
    batch = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        batch[i, : len(r)] = torch.as_tensor(list(r), dtype=torch.long)
    return batch


def _is_id(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _id_lists(input_data: object) -> tuple[list[list[int]], bool] | None:
    """Rows of a list of token ids (one input) or of a list of id lists, and whether one
    input was given; None when ``input_data`` is not such a list (texts, tensors)."""
    if isinstance(input_data, str | Tensor | np.ndarray) or not isinstance(input_data, Sequence):
        return None
    items = list(input_data)
    if items and all(_is_id(t) for t in items):
        return [[int(t) for t in items]], True
    if items and all(
        isinstance(r, Sequence | np.ndarray | Tensor) and not isinstance(r, str) for r in items
    ):
        rows = [list(r.tolist() if isinstance(r, Tensor | np.ndarray) else r) for r in items]
        if all(row and all(_is_id(t) for t in row) for row in rows):
            return [[int(t) for t in row] for row in rows], False
    return None


def _rows(ids: Tensor) -> list[list[int]]:
    """Token id rows without their trailing padding (at least one id each)."""
    out = []
    for row in ids.tolist():
        end = max((i + 1 for i, t in enumerate(row) if t != 0), default=1)
        out.append([int(t) for t in row[:end]])
    return out


class Explainer:
    """Attention, feature importance and activations of registered models, by id."""

    def __init__(self, load: Callable[[str], LoadedModel]) -> None:
        self._load = load

    # ---- inputs ------------------------------------------------------------------------
    def _token_ids(self, explainer: TextExplainer, input_data: InputData) -> tuple[Tensor, bool]:
        """Padded ids ``[B, T]`` and whether the caller gave a single input."""
        if isinstance(input_data, str):
            return _pad(explainer.tokenize([input_data])[1]), True
        lists = _id_lists(input_data)
        if lists is not None:
            rows, single = lists
            ids, _ = self._token_ids(explainer, _pad(rows))
            return ids, single
        if isinstance(input_data, Tensor | np.ndarray):
            ids = torch.as_tensor(input_data)
            if ids.dtype.is_floating_point or ids.dim() not in (1, 2) or ids.numel() == 0:
                raise DataError(
                    f"text models take token ids of shape [batch, seq_len] (integers, PAD = 0), "
                    f"got {ids.dtype} of shape {tuple(ids.shape)}"
                )
            vocab_size = explainer.embedding.num_embeddings
            if int(ids.min()) < 0 or int(ids.max()) >= vocab_size:
                raise DataError(
                    f"token ids must lie in [0, {vocab_size}) for this model, got "
                    f"{int(ids.min())}..{int(ids.max())}"
                )
            return (ids.unsqueeze(0), True) if ids.dim() == 1 else (ids.long(), False)
        return _pad(explainer.tokenize([str(t) for t in input_data])[1]), False

    def _images(self, explainer: ImageExplainer, input_data: InputData) -> tuple[Tensor, bool]:
        """Normalised model inputs ``[N, C, H, W]`` and whether one image was given."""
        if isinstance(input_data, str) or not isinstance(input_data, Tensor | np.ndarray):
            raise DataError(
                "image models take images: a uint8 array [N, C, H, W] (or [C, H, W]), or a "
                "float tensor normalised as in training; load files with "
                "neuroplast.inference.load_image_files"
            )
        single = input_data.ndim == 3
        batch = input_data[None] if single else input_data
        if isinstance(batch, Tensor) and batch.dtype.is_floating_point:
            return batch.float(), single
        array = batch.numpy() if isinstance(batch, Tensor) else np.asarray(batch)
        if array.dtype != np.uint8:
            raise DataError(f"image arrays must be uint8 (0..255), got {array.dtype}")
        return explainer.normalize(array), single

    # ---- the seed API ------------------------------------------------------------------
    def get_attention_weights(self, model_id: str, input_data: InputData) -> list[Tensor]:
        """The model's attention for ``input_data``: per layer ``[B, heads, T, T]``
        (transformer) or the attention pooling weights ``[B, T]`` (lstm, hybrid).

        Raises :class:`~neuroplast.errors.ConfigError` for architectures without attention.
        """
        loaded = self._load(model_id)
        require_attention(loaded.model, loaded.meta.architecture)
        ids, _ = self._token_ids(TextExplainer(loaded), input_data)
        return attention_maps(loaded.model, ids, architecture=loaded.meta.architecture)

    def compute_feature_importance(
        self,
        model_id: str,
        input_data: InputData,
        target_class: int | str | None = None,
        *,
        method: str = "ig",
    ) -> Tensor:
        """Per-token ``[B, T]`` or per-pixel ``[N, H, W]`` importance for ``target_class``
        (default: each input's predicted class); one input gives ``[T]`` / ``[H, W]``.

        ``method``: ``ig`` (integrated gradients), ``saliency``, ``input_x_gradient``,
        ``occlusion`` or ``attention`` for texts; ``gradcam``, ``guided_gradcam`` or the gradient
        methods for images.
        """
        loaded = self._load(model_id)
        target = resolve_target(target_class, loaded.meta.label_names)
        if loaded.meta.modality == "image":
            images = ImageExplainer(loaded)
            x, single = self._images(images, input_data)
            images.check_method(method)
            with torch.no_grad():
                predicted = images.forward(x).argmax(dim=1)
            targets = predicted if target is None else torch.full_like(predicted, target)
            heat = torch.cat(
                [
                    images.heat_tensor(x[s : s + 64], targets[s : s + 64], method).detach()
                    for s in range(0, len(x), 64)
                ]
            )
            return heat[0] if single else heat
        texts = TextExplainer(loaded)
        ids, single = self._token_ids(texts, input_data)
        rows = _rows(ids)
        if target is None:
            targets = [int(t) for t in texts.predict_proba(rows).argmax(axis=1)]
        else:
            targets = [target] * len(rows)
        scores, _, _ = texts.attribute(rows, targets, method)
        out = torch.zeros(ids.shape, dtype=torch.float32)
        for i, s in enumerate(scores):
            out[i, : len(s)] = torch.from_numpy(s).float()
        return out[0] if single else out

    def layer_activations(self, model_id: str, input_data: InputData) -> dict[str, ActivationStats]:
        """Output statistics of every leaf layer (convolutions, linear, norms, activations...)
        over ``input_data``, in execution order; ``zero_fraction`` shows dead ReLU units."""
        loaded = self._load(model_id)
        model = loaded.model.eval()
        if loaded.meta.modality == "image":
            x, _ = self._images(ImageExplainer(loaded), input_data)
        else:
            x, _ = self._token_ids(TextExplainer(loaded), input_data)
        stats: dict[str, ActivationStats] = {}

        def hook(name: str) -> Callable[[nn.Module, Any, Any], None]:
            def record(module: nn.Module, _inputs: Any, output: Any) -> None:
                tensor = output[0] if isinstance(output, tuple) else output
                tensor = getattr(tensor, "data", tensor)  # PackedSequence -> its data
                if not isinstance(tensor, Tensor) or not tensor.is_floating_point():
                    return
                t = tensor.detach().float()
                stats[name] = ActivationStats(
                    layer=name,
                    kind=type(module).__name__,
                    shape=tuple(t.shape),
                    mean=float(t.mean()),
                    std=float(t.std()) if t.numel() > 1 else 0.0,
                    min=float(t.min()),
                    max=float(t.max()),
                    zero_fraction=float((t == 0).float().mean()),
                )

            return record

        handles = [
            module.register_forward_hook(hook(name))
            for name, module in model.named_modules()
            if name and not list(module.children())
        ]
        try:
            with torch.no_grad():
                model(x)
        finally:
            for handle in handles:
                handle.remove()
        return stats
