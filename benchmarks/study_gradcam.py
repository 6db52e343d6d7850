"""Where GradCAM's heat falls on Fashion-MNIST, for variants of the image CNN.

The issue's goal is that 80 % of the positive GradCAM heat lies on garment pixels (value > 0).
The template CNN scores about 57 %. This study trains variants of the architecture with the
same recipe (12,000 training images, 3 epochs, AdamW 2e-3 one-cycle, batch 128, seed 0, one
thread) and measures, on the first 200 test images and their predicted classes:

* ``heat``: the share of the positive heat (Captum LayerGradCam on the last block, bilinear
  upsampling) on garment pixels, the figure of ``neuroplast explain --faithfulness``;
* ``<=1px`` .. ``<=3px``: the share within 1, 2, 3 pixels of the garment;
* ``ceiling``: what a perfect map at the layer's resolution would score (the garment mask
  average-pooled to the map's size, then upsampled the same way).

Variants: ``base`` (the template: inputs scaled to [-1, 1], conv-BN-ReLU, 7x7 last map),
``zb`` (inputs in [0, 1], so the background is 0 like the padding), ``nobn`` (no batch norm,
convolutions with bias), ``nobias`` (no batch norm, no bias: a blank patch gives exactly zero
features), ``dil`` (last stage dilated instead of pooled: 14x14 last map), ``rf10`` /
``rf6`` (14x14 last map whose features see only 10 / 6 pixels)::

    .venv/bin/python benchmarks/study_gradcam.py base zb zb-nobn zb-nobn-nobias zb-dil \\
        zb-nobn-nobias-dil zb-rf10 zb-rf6
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy.ndimage import binary_dilation
from torch import nn


def block(variant: str, cin: int, cout: int, kernel: int = 3, dilation: int = 1) -> list[nn.Module]:
    bn = "nobn" not in variant
    bias = not bn and "nobias" not in variant
    pad = dilation * (kernel // 2)
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, padding=pad, dilation=dilation, bias=bias)
    ]
    if bn:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.ReLU())
    return layers


def build(variant: str) -> tuple[nn.Module, nn.Module]:
    """(model, its GradCAM layer)."""
    stage0 = nn.Sequential(*block(variant, 1, 32), *block(variant, 32, 32), nn.MaxPool2d(2))
    if "rf10" in variant:
        stage1 = nn.Sequential(*block(variant, 32, 64), *block(variant, 64, 64, kernel=1))
        last = nn.Sequential(*block(variant, 64, 128, kernel=1), *block(variant, 128, 128, 1))
    elif "rf6" in variant:
        stage1 = nn.Sequential(*block(variant, 32, 64, 1), *block(variant, 64, 64, 1))
        last = nn.Sequential(*block(variant, 64, 128, 1), *block(variant, 128, 128, 1))
    elif "dil" in variant:
        stage1 = nn.Sequential(*block(variant, 32, 64), *block(variant, 64, 64))
        last = nn.Sequential(
            *block(variant, 64, 128, dilation=2), *block(variant, 128, 128, dilation=2)
        )
    else:
        stage1 = nn.Sequential(*block(variant, 32, 64), *block(variant, 64, 64), nn.MaxPool2d(2))
        last = nn.Sequential(*block(variant, 64, 128), *block(variant, 128, 128))
    model = nn.Sequential(
        stage0,
        stage1,
        last,
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(128, 10),
    )
    return model, last


def study(variant: str, images: np.ndarray, labels: np.ndarray, test: np.ndarray) -> str:
    from captum.attr import LayerAttribution, LayerGradCam

    mean, std = (0.0, 1.0) if variant.startswith("zb") else (0.5, 0.5)

    def prep(index: np.ndarray) -> torch.Tensor:
        return (torch.from_numpy(images[index]).float() / 255 - mean) / std

    train_index = np.random.default_rng(0).permutation(np.flatnonzero(~test))[:12000]
    test_index = np.flatnonzero(test)
    torch.manual_seed(0)
    model, layer = build(variant)
    epochs, batch = 3, 128
    optimizer = torch.optim.AdamW(model.parameters(), 2e-3, weight_decay=0.01)
    steps = epochs * (len(train_index) // batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 2e-3, total_steps=steps)
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = np.random.default_rng(epoch).permutation(train_index)
        for s in range(0, len(order) - batch + 1, batch):
            index = order[s : s + batch]
            target = torch.from_numpy(labels[index]).long()
            loss = nn.functional.cross_entropy(model(prep(index)), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()
    with torch.no_grad():
        predicted = torch.cat(
            [model(prep(test_index[s : s + 500])).argmax(1) for s in range(0, len(test_index), 500)]
        )
    accuracy = float((predicted.numpy() == labels[test_index]).mean())

    index = test_index[:200]
    cam = LayerGradCam(model, layer).attribute(
        prep(index).requires_grad_(), target=predicted[:200], relu_attributions=True
    )
    heat = LayerAttribution.interpolate(cam, (28, 28), interpolate_mode="bilinear")
    positive = np.clip(heat.sum(1).detach().numpy(), 0, None)
    garment = images[index][:, 0] > 0
    keep = positive.reshape(len(index), -1).sum(1) > 0

    def share(mask: np.ndarray, heat_map: np.ndarray = positive) -> float:
        on = (heat_map * mask).reshape(len(index), -1).sum(1)
        return float((on / np.maximum(heat_map.reshape(len(index), -1).sum(1), 1e-12))[keep].mean())

    halo = [share(np.stack([binary_dilation(g, iterations=r) for g in garment])) for r in (1, 2, 3)]
    size = cam.shape[-1]
    pooled = nn.functional.adaptive_avg_pool2d(
        torch.from_numpy(garment[:, None].astype(np.float32)), size
    )
    perfect = nn.functional.interpolate(pooled, (28, 28), mode="bilinear").numpy()[:, 0]
    return (
        f"| {variant} | {size}x{size} | {100 * accuracy:.1f} % | {100 * share(garment):.1f} % | "
        + " | ".join(f"{100 * h:.1f} %" for h in halo)
        + f" | {100 * share(garment, perfect):.1f} % | {time.perf_counter() - start:.0f} s |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("variants", nargs="+")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from neuroplast.data.builtin import load_builtin

    data = load_builtin("fashion_mnist")
    images, labels, test = data.images, np.asarray(data.labels), np.asarray(data.test_mask)
    print(
        "| variant | last map | accuracy | heat on garment | <=1px | <=2px | <=3px | ceiling"
        " | time |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for variant in args.variants:
        print(study(variant, images, labels, test), flush=True)


if __name__ == "__main__":
    main()
