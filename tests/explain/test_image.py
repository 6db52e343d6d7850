"""GradCAM and pixel attributions on a small CNN trained on real Fashion-MNIST images."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from neuroplast.errors import ConfigError, DataError
from neuroplast.explain import (
    HeatCheck,
    ImageExplainer,
    TextExplainer,
    gradcam_check,
    heat_on_object,
    overlay_array,
    overlay_png,
)
from neuroplast.inference import LoadedModel, ModelMeta
from neuroplast.models import create_model
from tests.explain._data import split_images
from tests.explain.conftest import load


@pytest.fixture()
def explainer(explain_home: Path, image_model: str) -> ImageExplainer:
    return ImageExplainer(load(explain_home, image_model))


def test_heat_on_object_counts_positive_heat_on_nonzero_pixels() -> None:
    image = np.zeros((1, 4, 4), dtype=np.uint8)
    image[0, :2, :] = 200  # the top half is the object
    heat = np.zeros((4, 4))
    heat[0, 0], heat[3, 3], heat[2, 0] = 3.0, 1.0, -5.0  # negative heat is ignored
    assert heat_on_object(heat, image) == pytest.approx(0.75)
    assert np.isnan(heat_on_object(-np.ones((4, 4)), image))


def test_gradcam_heat_falls_on_the_garment_more_than_chance(explainer: ImageExplainer) -> None:
    images, _ = split_images(explainer.loaded, 60)
    check = gradcam_check(explainer, images)
    foreground = float((images > 0).mean())  # where uniform heat would fall
    assert check.n == 60
    assert check.mean_on_object > foreground, (check, foreground)
    assert 0.0 <= check.images_at_least <= 1.0


def test_the_check_needs_the_threshold_and_to_beat_random_weights() -> None:
    def check(mean: float, random_weights: float) -> HeatCheck:
        return HeatCheck("m", 10, mean, mean, 0.5, 0.8, 0.1, 0.5, random_weights)

    assert check(0.85, 0.60).verdict == "passed" and check(0.85, float("nan")).passed
    assert check(0.79, 0.10).verdict == "FAILED"
    assert check(0.95, 0.95).verdict == "FAILED (random weights score as high)"
    assert not check(0.95, 0.99).passed


def test_a_method_that_shows_the_image_fails_the_random_weights_reference(
    explainer: ImageExplainer,
) -> None:
    images, _ = split_images(explainer.loaded, 20)
    # integrated gradients from a black image are exactly 0 on black pixels: all positive heat
    # is on the garment whatever the weights, so the 80 % bar alone would call it faithful
    ig = gradcam_check(explainer, images, method="ig")
    assert ig.mean_on_object == 1.0 and ig.random_weights == 1.0
    assert ig.verdict == "FAILED (random weights score as high)"
    # guided backpropagation, too, draws the garment without any training: on random weights
    # it clears the 80 % bar by itself (what the trained model adds is the difference)
    guided = gradcam_check(explainer, images, method="guided_gradcam")
    assert guided.random_weights > 0.8 and guided.mean_on_object > 0.8
    plain = gradcam_check(explainer, images)
    assert 0.0 < plain.random_weights < 1.0 and plain.mean_on_object < 0.8
    assert not plain.passed


def test_random_weights_are_a_seeded_fresh_model(explainer: ImageExplainer) -> None:
    images, _ = split_images(explainer.loaded, 4)
    first, again = explainer.with_random_weights(), explainer.with_random_weights()
    trained = explainer.model.state_dict()
    fresh = first.model.state_dict()
    assert fresh.keys() == trained.keys()
    assert not torch.equal(fresh["classifier.weight"], trained["classifier.weight"])
    targets = [0, 1, 2, 3]
    np.testing.assert_array_equal(
        first.heat(images, targets, "gradcam"), again.heat(images, targets, "gradcam")
    )


@pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU")
def test_guided_gradcam_is_guided_backprop_times_upsampled_gradcam(
    explainer: ImageExplainer,
) -> None:
    from captum.attr import GuidedBackprop, LayerAttribution, LayerGradCam

    images, _ = split_images(explainer.loaded, 6)
    targets = [int(t) for t in explainer.predict_proba(images).argmax(axis=1)]
    heat = explainer.heat(images, targets, "guided_gradcam")
    x = explainer.normalize(images).requires_grad_()
    target = torch.tensor(targets)
    layer = explainer.model.get_submodule(explainer.model.gradcam_layer)
    cam = LayerGradCam(explainer.forward, layer).attribute(x, target=target, relu_attributions=True)
    up = LayerAttribution.interpolate(cam, (28, 28), interpolate_mode="bilinear")
    guided = GuidedBackprop(explainer.forward).attribute(x, target=target)
    expected = (guided * up).sum(dim=1).detach().numpy()
    np.testing.assert_allclose(heat, expected, rtol=1e-4, atol=1e-7)
    assert (heat < 0).any() and (heat > 0).any()  # signed, unlike GradCAM


def test_gradcam_maps_are_positive_and_image_sized(explainer: ImageExplainer) -> None:
    images, _labels = split_images(explainer.loaded, 8)
    explanations = explainer.explain(images, method="gradcam")
    for e in explanations:
        assert e.heat.shape == (28, 28) and (e.heat >= 0).all() and e.heat.max() > 0
    probs = explainer.predict_proba(images)
    assert [e.predicted_label for e in explanations] == [
        explainer.label_names[i] for i in probs.argmax(axis=1)
    ]
    # integrated gradients from a black image give exactly 0 on black pixels
    ig = explainer.explain(images[:2], method="ig")[0]
    assert np.all(ig.heat[images[0, 0] == 0] == 0)


def test_overlay_png_shows_the_image_beside_its_heat(explainer: ImageExplainer) -> None:
    images, _ = split_images(explainer.loaded, 1)
    (e,) = explainer.explain(images, method="gradcam")
    picture = Image.open(io.BytesIO(overlay_png(e, scale=4)))
    assert picture.format == "PNG" and picture.size == (2 * 28 * 4, 28 * 4)
    pixels = np.asarray(picture.convert("RGB"))
    left = pixels[::4, : 28 * 4 : 4, 0]  # the plain image, one pixel per input pixel
    np.testing.assert_array_equal(left, images[0, 0])
    # the hottest pixel is coloured (jet red), a zero-heat pixel keeps the image grey
    array = overlay_array(e.image, e.heat, scale=1)
    hot = np.unravel_index(np.argmax(e.heat), e.heat.shape)
    r, _g, b = array[hot[0], 28 + hot[1]].astype(int)
    assert r > b
    cold = np.argwhere(e.heat == 0)
    if len(cold):
        y, x = cold[0]
        assert len(set(array[y, 28 + x].tolist())) == 1


def test_image_bad_inputs(
    explainer: ImageExplainer, explain_home: Path, text_models: dict[str, str]
) -> None:
    images, _ = split_images(explainer.loaded, 2)
    with pytest.raises(ConfigError, match="unknown method 'occlusion' for an image model"):
        explainer.explain(images, method="occlusion")
    with pytest.raises(DataError, match=r"do not fit this model, which takes \[N, 1, 28, 28\]"):
        explainer.explain(images[:, :, :20, :20])
    with pytest.raises(DataError, match="target class 10 is out of range"):
        explainer.explain(images, target=10)
    with pytest.raises(ConfigError, match="need a text model"):
        TextExplainer(explainer.loaded)
    with pytest.raises(ConfigError, match="need an image model"):
        ImageExplainer(load(explain_home, text_models["cnn"]))


def test_gradcam_needs_a_convolutional_model() -> None:
    config = {"image_size": 28, "in_channels": 1, "num_classes": 10, "hidden_dim": 16}
    meta = ModelMeta(
        architecture="image_mlp",
        modality="image",
        task="image_classification",
        arch_config=config,
        label_names=[str(i) for i in range(10)],
        preprocessing={"mean": 0.5, "std": 0.5, "image_shape": [1, 28, 28]},
    )
    mlp = ImageExplainer(
        LoadedModel(model=create_model("image_mlp", config), meta=meta, vocab=None)
    )
    assert "gradcam" not in mlp.methods and "ig" in mlp.methods
    images = np.zeros((1, 1, 28, 28), dtype=np.uint8)
    with pytest.raises(ConfigError, match="a image_mlp model has no convolutional layer"):
        mlp.explain(images, method="gradcam")
    assert mlp.explain(images, method="saliency")[0].heat.shape == (28, 28)
