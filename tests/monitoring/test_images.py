"""Images from the log: read back from the thumbnails the server stores (lossless PNG, whole
for images of at most 64 pixels a side), tested on pooled features and pixel statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from neuroplast.engine import Engine
from neuroplast.monitoring import decode_thumbnails, pixel_statistics
from neuroplast.serving.predlog import thumbnail_data_url
from tests.conftest import small_image_config


def test_thumbnails_of_small_images_decode_to_the_served_pixels() -> None:
    images = np.random.default_rng(0).integers(0, 256, size=(3, 1, 28, 28), dtype=np.uint8)
    urls = [thumbnail_data_url(image) for image in images]
    np.testing.assert_array_equal(decode_thumbnails(urls, channels=1, size=28), images)
    stats = pixel_statistics(images)
    flat = images.reshape(3, -1).astype(np.float64)
    np.testing.assert_allclose(stats["pixel_mean"], flat.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(stats["pixel_std"], flat.std(axis=1), rtol=1e-5)


@pytest.mark.slow  # about 20 s on a busy 2-core machine
def test_inverted_digits_in_the_log_raise_the_alarm(tmp_path: Path) -> None:
    from neuroplast.data import load_builtin

    engine = Engine(tmp_path / "home")
    engine.train(small_image_config("digits-mon"))
    digits = load_builtin("digits")
    order = np.random.default_rng(1).permutation(len(digits.labels))[:300]
    images = digits.images[order].copy()
    images[150:] = 255 - images[150:]  # the second window: inverted contrast
    predictions = engine.predictor("digits-mon").predict(images, top_k=1)
    start = datetime.now(UTC) - timedelta(hours=1)
    rows: list[dict[str, Any]] = [
        {
            "request_id": f"i{i}",
            "item": 0,
            "model": "digits-mon",
            "version": 1,
            "arm": "production",
            "at": start + timedelta(seconds=i),
            "label": p.label,
            "probability": p.probability,
            "top_k": p.top_k,
            "latency_ms": 1.0,
            "input_sha256": "0" * 64,
            "thumbnail": thumbnail_data_url(image),
        }
        for i, (image, p) in enumerate(zip(images, predictions, strict=True))
    ]
    engine.registry.log_predictions(rows)
    report = engine.monitor("digits-mon", window=150, reference="test")
    assert [w.alarm for w in report.windows] == [False, True]
    names = {r.name for r in report.windows[1].results if r.alarm}
    assert {"pixel mean (KS)", "pooled features (PCA-KS)"} <= names
    assert any("thumbnails" in note for note in report.notes)
