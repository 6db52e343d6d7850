"""Heat maps for image models: Captum's LayerGradCam and pixel attributions, in batches.

GradCAM weighs the feature maps of the model's ``gradcam_layer`` (the last conv block of
``image_cnn``) by their mean gradient for the class, keeps the positive part and upsamples it
bilinearly to the image size. Guided GradCAM (``guided_gradcam``, Captum's GuidedGradCam)
multiplies that map, upsampled, by guided backpropagation: a signed, pixel-sharp map.
Integrated gradients (from a black image), saliency and input x gradient attribute to the
pixels directly, summed over channels.

:func:`gradcam_check` measures where the positive heat falls and compares it with two
references: a uniform map (the share of object pixels) and the same method on a copy of the
architecture with random weights. A method that scores as high on random weights shows the
image, not what the model learned (guided backpropagation is known to do so: Adebayo et al.,
"Sanity checks for saliency maps", 2018), so it does not pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from neuroplast.errors import ConfigError, DataError
from neuroplast.explain._methods import ExplainMethod, get_method, list_methods
from neuroplast.explain._results import ImageExplanation, heat_on_object
from neuroplast.explain.text import resolve_target
from neuroplast.inference import LoadedModel
from neuroplast.models import create_model, logits_of

__all__ = ["HeatCheck", "ImageExplainer", "gradcam_check"]


class _Logits(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return logits_of(self.model(x))


class ImageExplainer:
    """Heat maps for a loaded image model: one verb, :meth:`explain` (or :meth:`heat`)."""

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        batch_size: int = 64,
        ig_steps: int = 32,
        device: torch.device | None = None,
    ) -> None:
        if loaded.meta.modality != "image":
            raise ConfigError(
                f"{loaded.meta.name or 'this model'} takes texts; GradCAM and pixel heat maps "
                "need an image model (use --method ig, saliency or occlusion for texts)"
            )
        self.loaded = loaded
        self.architecture = loaded.meta.architecture
        self.device = device or torch.device("cpu")
        self.model = loaded.model.to(self.device).eval()
        self.forward = _Logits(self.model)
        self.batch_size = batch_size
        self.ig_steps = ig_steps
        self.label_names = list(loaded.meta.label_names)
        pre = loaded.meta.preprocessing
        self.mean, self.std = float(pre.get("mean", 0.5)), float(pre.get("std", 0.5))
        shape = pre.get("image_shape") or [1, 28, 28]
        self.image_shape = (int(shape[0]), int(shape[1]), int(shape[2]))

    @property
    def methods(self) -> tuple[str, ...]:
        """The registered image methods this model supports."""
        return tuple(m for m in list_methods("image") if get_method(m, "image").supports(self))

    def check_method(self, method: str) -> ExplainMethod:
        """The registered method ``method``, checked against this model."""
        spec = get_method(method, "image", known=self.methods)
        spec.check(self)
        return spec

    def with_random_weights(self, seed: int = 0) -> ImageExplainer:
        """The same explainer on a fresh copy of the architecture (random weights, seeded):
        the model-randomisation reference of :func:`gradcam_check`."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = create_model(self.architecture, dict(self.loaded.meta.arch_config))
        loaded = LoadedModel(model=model, meta=self.loaded.meta, vocab=None)
        return ImageExplainer(
            loaded, batch_size=self.batch_size, ig_steps=self.ig_steps, device=self.device
        )

    def normalize(self, images: np.ndarray) -> Tensor:
        """uint8 ``[N, C, H, W]`` to the float tensor the model was trained on."""
        array = np.asarray(images)
        if array.ndim != 4 or tuple(array.shape[1:]) != self.image_shape:
            raise DataError(
                f"images of shape {tuple(array.shape)} do not fit this model, which takes "
                f"[N, {', '.join(map(str, self.image_shape))}] uint8 images; load files with "
                "neuroplast.inference.load_image_files"
            )
        x = torch.from_numpy(np.ascontiguousarray(array)).float() / 255.0
        return ((x - self.mean) / self.std).to(self.device)

    @torch.no_grad()
    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        out = [
            torch.softmax(self.forward(self.normalize(images[s : s + 256])), dim=1).cpu().numpy()
            for s in range(0, len(images), 256)
        ]
        return np.concatenate(out) if out else np.empty((0, len(self.label_names)))

    def heat(self, images: np.ndarray, targets: Sequence[int], method: str) -> np.ndarray:
        """Heat maps ``[N, H, W]`` of uint8 images ``[N, C, H, W]`` for their targets."""
        self.check_method(method)
        maps = []
        for start in range(0, len(images), self.batch_size):
            x = self.normalize(images[start : start + self.batch_size])
            target = torch.as_tensor(list(targets[start : start + len(x)]), device=self.device)
            maps.append(self.heat_tensor(x, target, method).detach().cpu().numpy())
        if not maps:
            return np.empty((0, *self.image_shape[1:]))
        return np.concatenate(maps).astype(np.float64)

    def heat_tensor(self, x: Tensor, target: Tensor, method: str) -> Tensor:
        """Heat ``[B, H, W]`` of normalised model inputs ``x[B, C, H, W]`` for ``target[B]``."""
        spec = self.check_method(method)
        return spec.image(self, x.clone().requires_grad_(), target)

    def explain(
        self,
        images: np.ndarray,
        *,
        method: str = "gradcam",
        target: int | str | None = None,
        sources: Sequence[str] | None = None,
    ) -> list[ImageExplanation]:
        """Explain each image's predicted class (or ``target``) with ``method``."""
        self.check_method(method)
        fixed = resolve_target(target, self.label_names)
        if len(images) == 0:
            raise DataError("nothing to explain: give at least one image")
        probs = self.predict_proba(images)
        predicted = probs.argmax(axis=1)
        targets = [int(p) if fixed is None else fixed for p in predicted]
        maps = self.heat(images, targets, method)
        names = list(sources or [f"image {i + 1}" for i in range(len(images))])
        return [
            ImageExplanation(
                source=names[i],
                image=np.asarray(images[i]),
                heat=maps[i],
                method=method,
                target=targets[i],
                target_label=self.label_names[targets[i]],
                probability=float(probs[i, targets[i]]),
                predicted_label=self.label_names[int(predicted[i])],
            )
            for i in range(len(images))
        ]


@dataclass(frozen=True)
class HeatCheck:
    """Where the positive heat of ``method`` falls, over ``n`` images.

    ``object_pixels`` is the mean share of object pixels: what a uniform heat map would score.
    ``random_weights`` is what the same method scores on the architecture with random weights
    (NaN when not measured); a method passes only if it reaches ``threshold`` and beats it.
    """

    method: str
    n: int
    mean_on_object: float
    median_on_object: float
    images_at_least: float
    threshold: float
    seconds: float
    object_pixels: float = float("nan")
    random_weights: float = float("nan")

    @property
    def passed(self) -> bool:
        return self.mean_on_object >= self.threshold and not (
            self.mean_on_object <= self.random_weights
        )

    @property
    def verdict(self) -> str:
        """``passed``, or why not."""
        if self.mean_on_object < self.threshold:
            return "FAILED"
        if self.mean_on_object <= self.random_weights:
            return "FAILED (random weights score as high)"
        return "passed"


def _shares(explainer: ImageExplainer, images: np.ndarray, method: str) -> np.ndarray:
    targets = explainer.predict_proba(images).argmax(axis=1)
    maps = explainer.heat(images, [int(t) for t in targets], method)
    shares = np.array([heat_on_object(m, img) for m, img in zip(maps, images, strict=True)])
    return shares[~np.isnan(shares)]


def gradcam_check(
    explainer: ImageExplainer,
    images: np.ndarray,
    *,
    method: str = "gradcam",
    threshold: float = 0.8,
    random_reference: bool = True,
) -> HeatCheck:
    """Share of the positive heat on object pixels (value > 0), for the predicted classes,
    with the uniform-map and (``random_reference``) random-weights references."""
    import time

    start = time.perf_counter()
    shares = _shares(explainer, images, method)
    seconds = time.perf_counter() - start
    if not len(shares):
        raise DataError(f"{method} gave no positive heat on any of the {len(images)} images")
    random_weights = float("nan")
    if random_reference:
        reference = _shares(explainer.with_random_weights(), images, method)
        random_weights = float(reference.mean()) if len(reference) else float("nan")
    return HeatCheck(
        method=method,
        n=len(shares),
        mean_on_object=float(shares.mean()),
        median_on_object=float(np.median(shares)),
        images_at_least=float((shares >= threshold).mean()),
        threshold=threshold,
        seconds=seconds,
        object_pixels=float((np.asarray(images) > 0).any(axis=1).mean()),
        random_weights=random_weights,
    )
