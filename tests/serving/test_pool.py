"""The model pool on a real registry (tests/serving/conftest.py's template home: rt-serve:1
in production, rt-serve:2 a candidate, fm-serve:1 where Fashion-MNIST is installed)."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import io
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from neuroplast.errors import ConfigError, DataError
from neuroplast.registry import Registry, promote, rollback
from neuroplast.serving import ModelNotServed, ModelPool, ServeSettings
from tests.conftest import load_debian_data
from tests.serving.fixtures import IMAGE_MODEL, TEXT_MODEL, copy_home

TEXTS = [
    "a gorgeous, witty, seductive film",
    "a tedious, lifeless mess",
    "the plot meanders but the actors are fine",
    "one of the best films of the year",
]


@pytest.fixture()
def home(serving_template: Path, tmp_path: Path) -> Path:
    return copy_home(serving_template, tmp_path / "home")


def settings(**options: Any) -> ServeSettings:
    return ServeSettings(**{"max_batch": 8, "poll_seconds": 0.05, **options})


def expected(registry: Registry, ref: str, backend: str = "onnx") -> np.ndarray:
    """What ``ref`` answers for TEXTS, computed without the pool."""
    from neuroplast.serving._loading import load_predictor

    predictor = load_predictor(registry, ref, backend=backend, max_batch=8, threads=1)
    return np.asarray(predictor.predict_proba(TEXTS))


def served(pool: ModelPool, name: str = TEXT_MODEL) -> Any:
    return next(m for m in pool.models() if m.name == name)


def rid() -> str:
    return uuid.uuid4().hex


def test_predict_answers_with_the_production_version_and_logs_it(home: Path) -> None:
    registry = Registry(home)
    want = expected(registry, f"{TEXT_MODEL}:1")

    async def main() -> None:
        pool = ModelPool(registry, [TEXT_MODEL], settings(threads=1))
        assert not pool.ready
        await pool.start()
        assert pool.ready
        [served] = pool.models()
        assert (served.name, served.production, served.modality) == (
            TEXT_MODEL,
            f"{TEXT_MODEL}:1",
            "text",
        )
        assert served.input.max_length == 40 and served.label_names == ["rotten", "fresh"]
        answer = await pool.predict(TEXT_MODEL, TEXTS, top_k=2, request_id="req-1")
        assert answer.version == f"{TEXT_MODEL}:1" and answer.request_id == "req-1"
        assert answer.backend == served.backend
        for row, prediction in zip(want, answer.predictions, strict=True):
            best = int(row.argmax())
            assert prediction.label == served.label_names[best]
            assert prediction.probability == pytest.approx(float(row[best]), abs=1e-5)
            assert [label for label, _ in prediction.top_k] == [
                served.label_names[best],
                served.label_names[1 - best],
            ]
        one = await pool.predict(TEXT_MODEL, TEXTS[1], request_id="req-2")
        assert (
            len(one.predictions) == 1 and one.predictions[0].top_k[0][0] == one.predictions[0].label
        )

        with pytest.raises(ModelNotServed, match="served models: rt-serve") as missing:
            await pool.predict("nope", TEXTS, request_id=rid())
        assert missing.value.status == 404
        with pytest.raises(DataError, match="input 2 is an empty text"):
            await pool.predict(TEXT_MODEL, ["fine", "  "], request_id=rid())
        with pytest.raises(DataError, match="top_k must be between 1 and the number of classes"):
            await pool.predict(TEXT_MODEL, TEXTS, top_k=3, request_id=rid())
        with pytest.raises(DataError, match="text model: send texts, not images"):
            await pool.predict(TEXT_MODEL, np.zeros((1, 1, 28, 28), np.uint8), request_id=rid())
        await pool.flush_log()
        await pool.stop()
        assert not pool.ready

    asyncio.run(main())
    rows = registry.predictions(TEXT_MODEL)
    logged = sorted((r.request_id, r.item) for r in rows)
    assert logged == [("req-1", i) for i in range(4)] + [("req-2", 0)]
    first = {r.item: r for r in rows if r.request_id == "req-1"}
    assert (
        first[0].input_text == TEXTS[0] and first[0].version == 1 and first[0].arm == "production"
    )
    assert first[1].probability == pytest.approx(float(want[1].max()), abs=1e-5)


def test_promote_and_rollback_under_traffic_fail_no_request(home: Path) -> None:
    registry = Registry(home)
    want = {v: expected(registry, f"{TEXT_MODEL}:{v}") for v in (1, 2)}
    assert not np.allclose(want[1], want[2], atol=1e-4)  # the versions can be told apart
    swaps: list[tuple[str, str, str]] = []

    class Observer:
        def on_swap(self, model: str, old: str, new: str) -> None:
            swaps.append((model, old, new))

    async def main() -> list[Any]:
        pool = ModelPool(registry, None, settings(), observer=Observer())
        await pool.start()
        answers: list[Any] = []
        failures: list[BaseException] = []
        stop = asyncio.Event()

        async def client(n: int) -> None:
            i = 0
            while not stop.is_set():
                i += 1
                size = 1 + (i + n) % len(TEXTS)
                try:
                    answers.append(
                        (size, await pool.predict(TEXT_MODEL, TEXTS[:size], request_id=rid()))
                    )
                except Exception as e:
                    failures.append(e)
                await asyncio.sleep(0)

        async def serving(version: int) -> None:
            while served(pool).production != f"{TEXT_MODEL}:{version}":
                await asyncio.sleep(0.01)
            seen = len(answers)
            while len(answers) < seen + 20:  # traffic on the new version
                await asyncio.sleep(0.01)

        clients = [asyncio.create_task(client(n)) for n in range(4)]
        await asyncio.wait_for(serving(1), 60)
        for _ in range(2):
            await asyncio.to_thread(promote, registry, f"{TEXT_MODEL}:2", "production")
            await asyncio.wait_for(serving(2), 60)
            await asyncio.to_thread(rollback, registry, TEXT_MODEL)
            await asyncio.wait_for(serving(1), 60)
        stop.set()
        await asyncio.gather(*clients)
        await pool.stop()
        assert not failures, failures[:3]
        return answers

    answers = asyncio.run(main())
    by_version: dict[str, int] = {}
    for size, answer in answers:
        version = int(answer.version.rpartition(":")[2])
        by_version[answer.version] = by_version.get(answer.version, 0) + 1
        probs = [p.probability for p in answer.predictions]
        assert probs == pytest.approx(want[version][:size].max(axis=1).tolist(), abs=1e-5)
    assert set(by_version) == {f"{TEXT_MODEL}:1", f"{TEXT_MODEL}:2"}
    text_swaps = [s for s in swaps if s[0] == TEXT_MODEL]
    assert (
        text_swaps
        == [
            (TEXT_MODEL, f"{TEXT_MODEL}:1", f"{TEXT_MODEL}:2"),
            (TEXT_MODEL, f"{TEXT_MODEL}:2", f"{TEXT_MODEL}:1"),
        ]
        * 2
    )


def test_a_shadow_gets_a_copy_compared_and_logged_never_answers(home: Path) -> None:
    registry = Registry(home)
    want = {v: expected(registry, f"{TEXT_MODEL}:{v}") for v in (1, 2)}
    agree = int((want[1].argmax(axis=1) == want[2].argmax(axis=1)).sum())

    async def main() -> list[str]:
        pool = ModelPool(registry, [TEXT_MODEL], settings(poll_seconds=3600))  # no poll
        await pool.start()
        assert not await pool.refresh()  # nothing changed
        await asyncio.to_thread(registry.add_shadow, f"{TEXT_MODEL}:2")
        assert await pool.refresh()
        assert pool.models()[0].shadows == [f"{TEXT_MODEL}:2"]
        ids = [rid() for _ in range(10)]
        for request_id in ids:
            answer = await pool.predict(TEXT_MODEL, TEXTS, request_id=request_id)
            assert answer.version == f"{TEXT_MODEL}:1"
        await pool.stop()  # waits for the shadow copies
        assert pool.shadow_agreement[f"{TEXT_MODEL}:2"] == (10 * agree, 10 * len(TEXTS))
        return ids

    ids = asyncio.run(main())
    rows = registry.predictions(TEXT_MODEL, include_shadow=True)
    shadow = [r for r in rows if r.arm == "shadow"]
    assert {r.request_id for r in shadow} == set(ids) and len(shadow) == 10 * len(TEXTS)
    assert {r.version for r in shadow} == {2}
    assert all(r.arm == "production" and r.version == 1 for r in rows if r.arm != "shadow")


def test_an_ab_split_routes_by_sticky_key(home: Path) -> None:
    registry = Registry(home)
    registry.start_ab(TEXT_MODEL, {1: 0.5, 2: 0.5}, sticky_key="user")

    async def main() -> dict[str, set[str]]:
        pool = ModelPool(registry, [TEXT_MODEL], settings())
        await pool.start()
        assert pool.models()[0].arms == {f"{TEXT_MODEL}:1": 0.5, f"{TEXT_MODEL}:2": 0.5}
        seen: dict[str, set[str]] = {}
        for user in range(30):
            for _ in range(3):
                answer = await pool.predict(
                    TEXT_MODEL, TEXTS[:1], key=f"user-{user}", request_id=rid()
                )
                seen.setdefault(f"user-{user}", set()).add(answer.version)
        await pool.stop()
        return seen

    seen = asyncio.run(main())
    assert all(len(versions) == 1 for versions in seen.values())
    assert set().union(*seen.values()) == {f"{TEXT_MODEL}:1", f"{TEXT_MODEL}:2"}
    arms = {r.version: r.arm for r in registry.predictions(TEXT_MODEL)}
    assert arms == {1: "ab", 2: "ab"}  # both arms of the running test


def test_log_sample_keeps_the_requests_its_hash_chooses(home: Path) -> None:
    registry = Registry(home)

    async def main() -> tuple[list[str], ModelPool]:
        pool = ModelPool(registry, [TEXT_MODEL], settings(log_sample=0.3))
        await pool.start()
        ids = [f"sample-{i}" for i in range(200)]
        await asyncio.gather(*(pool.predict(TEXT_MODEL, TEXTS[:1], request_id=i) for i in ids))
        await pool.stop()
        return ids, pool

    ids, pool = asyncio.run(main())
    chosen = {i for i in ids if pool.log.sampled(i)}
    assert 40 <= len(chosen) <= 80
    assert {r.request_id for r in registry.predictions(TEXT_MODEL)} == chosen
    assert pool.log.written == len(chosen) and pool.log.dropped == 0


def test_images_are_predicted_and_logged_as_hash_and_thumbnail(home: Path) -> None:
    registry = Registry(home)
    raw = load_debian_data("fashion_mnist", limit=20)
    images = np.asarray(raw.images[:5], dtype=np.uint8)
    if images.ndim == 3:
        images = images[:, None]

    async def main() -> Any:
        pool = ModelPool(registry, [IMAGE_MODEL], settings())
        await pool.start()
        assert pool.models()[0].input.channels == 1 and pool.models()[0].input.size == 28
        answer = await pool.predict(IMAGE_MODEL, images, request_id="img-1")
        with pytest.raises(DataError, match=r"images must be uint8 \[N, 1, 28, 28\]"):
            await pool.predict(IMAGE_MODEL, images[:, :, :20], request_id=rid())
        await pool.stop()
        return answer

    answer = asyncio.run(main())
    assert answer.version == f"{IMAGE_MODEL}:1" and len(answer.predictions) == 5
    rows = sorted(registry.predictions(IMAGE_MODEL), key=lambda r: r.item)
    assert [r.label for r in rows] == [p.label for p in answer.predictions]
    assert rows[0].input_text is None and len(rows[0].input_sha256 or "") == 64
    assert (rows[0].thumbnail or "").startswith("data:image/png;base64,")


def test_explain_a_text_loads_torch_only_then(home: Path) -> None:
    registry = Registry(home)

    async def main() -> dict[str, Any]:
        pool = ModelPool(registry, [TEXT_MODEL], settings())
        await pool.start()
        assert pool.explanations.loaded() == []
        out = await pool.explain(TEXT_MODEL, TEXTS[0], method=None, request_id="e-1")
        with pytest.raises(ConfigError, match="nope"):
            await pool.explain(TEXT_MODEL, TEXTS[0], method="nope", request_id="e-2")
        with pytest.raises(DataError, match="empty"):
            await pool.explain(TEXT_MODEL, " ", method=None, request_id="e-3")
        assert pool.explanations.loaded() == [f"{TEXT_MODEL}:1"]
        await pool.stop()
        return out

    out = asyncio.run(main())
    assert out["version"] == f"{TEXT_MODEL}:1" and out["method"] == "ig"
    assert len(out["tokens"]) == len(out["attributions"]) > 3
    assert out["label"] in ("rotten", "fresh") and 0.5 <= out["probability"] <= 1.0


def test_bad_settings_say_what_is_wrong() -> None:
    with pytest.raises(ConfigError, match="unknown backend 'tpu'"):
        ServeSettings(backend="tpu")
    with pytest.raises(ConfigError, match=r"max_queue .* must be at least --max-batch"):
        ServeSettings(max_batch=64, max_queue=10)
    with pytest.raises(ConfigError, match="log_sample must be between 0 and 1"):
        ServeSettings(log_sample=1.5)


def test_a_model_without_versions_is_a_clear_error(home: Path) -> None:
    from neuroplast.errors import ModelNotFoundError

    async def main() -> None:
        pool = ModelPool(Registry(home), ["no-such-model"], settings())
        await pool.start()

    with pytest.raises(ModelNotFoundError, match="no model version matches 'no-such-model'"):
        asyncio.run(main())


PORTABLE = importlib.util.find_spec("neuroplast.inference.portable") is not None

SERVE_ONNX = """
import asyncio, json, sys
from neuroplast.registry import Registry
from neuroplast.serving import ModelPool, ServeSettings

async def main():
    pool = ModelPool(Registry(sys.argv[1]), [sys.argv[2]], ServeSettings(backend="onnx"))
    await pool.start()
    answer = await pool.predict(sys.argv[2], ["a gorgeous, witty film"], request_id="x")
    await pool.stop()
    return answer

answer = asyncio.run(main())
print(json.dumps({"torch": "torch" in sys.modules, "backend": answer.backend,
                  "version": answer.version}))
"""


@pytest.mark.skipif(not PORTABLE, reason="the torch-free ONNX path has not landed yet")
def test_a_pool_serving_an_onnx_text_model_imports_no_torch(home: Path) -> None:
    registry = Registry(home)
    # the first serve exports the graph (with torch) and stores it; later ones need no torch
    asyncio.run(ModelPool(registry, [TEXT_MODEL], settings()).start())
    done = subprocess.run(
        [sys.executable, "-c", SERVE_ONNX, str(home), TEXT_MODEL],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == {"torch": False, "backend": "onnx", "version": f"{TEXT_MODEL}:1"}


def test_explain_an_image_gives_a_gradcam_overlay(home: Path) -> None:
    from PIL import Image

    image = np.asarray(load_debian_data("fashion_mnist", limit=20).images[:1], dtype=np.uint8)

    async def main() -> dict[str, Any]:
        pool = ModelPool(Registry(home), [IMAGE_MODEL], settings())
        await pool.start()
        out = await pool.explain(IMAGE_MODEL, image, method=None, request_id="e-img")
        with pytest.raises(DataError, match=r"must be uint8 \[1, 28, 28\]"):
            await pool.explain(IMAGE_MODEL, image[:, :, :10], method=None, request_id="e-bad")
        await pool.stop()
        return out

    out = asyncio.run(main())
    assert out["method"] == "gradcam" and out["version"] == f"{IMAGE_MODEL}:1"
    with Image.open(io.BytesIO(base64.b64decode(out["overlay_png"]))) as overlay:
        assert overlay.format == "PNG" and overlay.size[0] == 2 * overlay.size[1]


def test_a_version_that_fails_to_load_is_not_swapped_in(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry = Registry(home)
    broken = registry.resolve(f"{TEXT_MODEL}:2")
    for artifact in broken.artifacts.values():  # every file of v2 damaged on disk
        if artifact.name.startswith("model"):
            artifact.path.write_bytes(b"not a model")

    async def main() -> None:
        pool = ModelPool(registry, [TEXT_MODEL], settings(poll_seconds=3600))
        await pool.start()
        await asyncio.to_thread(promote, registry, f"{TEXT_MODEL}:2", "production")
        assert not await pool.refresh()
        answer = await pool.predict(TEXT_MODEL, TEXTS, request_id=rid())
        assert answer.version == f"{TEXT_MODEL}:1"
        await asyncio.to_thread(rollback, registry, TEXT_MODEL)
        await pool.refresh()
        assert served(pool).production == f"{TEXT_MODEL}:1"
        await pool.stop()

    asyncio.run(main())
    assert f"cannot load {TEXT_MODEL}:2; {TEXT_MODEL} keeps its current versions" in caplog.text


def test_a_stuck_shadow_never_delays_or_changes_the_answer(home: Path) -> None:
    import threading

    registry = Registry(home)
    registry.add_shadow(f"{TEXT_MODEL}:2")
    gate = threading.Event()

    async def main() -> None:
        pool = ModelPool(registry, [TEXT_MODEL], settings())
        await pool.start()
        shadow = pool._versions[f"{TEXT_MODEL}:2"].batcher
        run = shadow.run
        shadow.run = lambda items: gate.wait(60) and run(items)  # the shadow hangs
        answers = [await pool.predict(TEXT_MODEL, TEXTS, request_id=rid()) for _ in range(5)]
        assert {a.version for a in answers} == {f"{TEXT_MODEL}:1"}
        assert f"{TEXT_MODEL}:2" not in pool.shadow_agreement  # still stuck, answers went out
        gate.set()
        await pool.stop()
        assert pool.shadow_agreement[f"{TEXT_MODEL}:2"][1] == 5 * len(TEXTS)

    asyncio.run(main())
