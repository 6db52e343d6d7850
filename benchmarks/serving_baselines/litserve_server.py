"""The LitServe baseline: the same Predictor behind LitServe's own dynamic batching.

LitServe (PyPI ``litserve``) runs an HTTP front process and an inference worker process; the
worker collects up to ``max_batch_size`` requests or waits ``batch_timeout`` seconds, then
calls ``predict`` once on the batch. Here ``predict`` runs the same Predictor
``neuroplast serve`` uses (same version, backend and warm-up) on every input of the batch at
once. It runs from its own virtual environment (LitServe brings uvloop and its own pins),
which sees the project's packages through a ``.pth`` file:

    .venv/bin/python -m venv .venv-bench && .venv-bench/bin/pip install litserve
    echo "import site; site.addsitedir('$PWD/.venv/lib/python3.11/site-packages')" \
        > .venv-bench/lib/python3.11/site-packages/zz_main_venv.pth
    .venv-bench/bin/python benchmarks/serving_baselines/litserve_server.py \
        --home HOME --model rt-cnn --port 8102 --max-batch 64 --max-wait-ms 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import litserve as ls
from _shared import answer, decode_images, load


class PredictorAPI(ls.LitAPI):
    """One request = one or more inputs; a batch = the requests LitServe collected."""

    def __init__(self, home: Path, model: str, backend: str, **options: Any) -> None:
        super().__init__(**options)
        self.home, self.model, self.backend = home, model, backend

    def setup(self, device: str) -> None:
        self.loaded = load(
            self.home, self.model, backend=self.backend, max_batch=self.max_batch_size
        )

    # no annotation on `request`: LitServe then hands over the parsed JSON body or form
    def decode_request(self, request) -> tuple[Any, int]:  # type: ignore[no-untyped-def]
        if self.loaded.modality == "text":
            inputs = request["inputs"]
            texts = [inputs] if isinstance(inputs, str) else list(inputs)
            return texts, int(request.get("top_k", 1))
        blobs = [part.file.read() for part in request.getlist("file")]
        return decode_images(blobs, channels=self.loaded.channels, size=self.loaded.size), 1

    def batch(self, inputs: list[tuple[Any, int]]) -> list[tuple[Any, int]]:
        return inputs  # kept per request; predict joins them

    def predict(self, batch: list[tuple[Any, int]]) -> list[list[Any]]:
        import numpy as np

        counts = [len(x) for x, _ in batch]
        top_k = max(k for _, k in batch)
        if self.loaded.modality == "text":
            joined: Any = [t for x, _ in batch for t in x]
        else:
            joined = np.concatenate([x for x, _ in batch])
        predictions = self.loaded.predictor.predict(joined, top_k=top_k)
        out, start = [], 0
        for n in counts:
            out.append(predictions[start : start + n])
            start += n
        return out

    def unbatch(self, output: list[list[Any]]) -> list[list[Any]]:
        return output

    def encode_response(self, output: list[Any]) -> dict[str, Any]:
        return answer(self.loaded, output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backend", default="onnx")
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--max-wait-ms", type=float, default=2.0)
    args = parser.parse_args()
    api = PredictorAPI(
        args.home,
        args.model,
        args.backend,
        max_batch_size=args.max_batch,
        batch_timeout=args.max_wait_ms / 1000.0,
        api_path=f"/v1/models/{args.model}/predict",
    )
    server = ls.LitServer(api, accelerator="cpu", devices=1, workers_per_device=1, timeout=30)
    server.run(host="127.0.0.1", port=args.port, log_level="warning", generate_client_file=False)


if __name__ == "__main__":
    main()
