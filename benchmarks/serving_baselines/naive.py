"""The naive baseline: a FastAPI app that runs the model once per request.

No queue and no batching: every request calls the same Predictor ``neuroplast serve`` uses
(same version, backend and warm-up) on its own inputs, in a plain ``def`` endpoint, so
FastAPI runs it on its thread pool, as most hand-written model servers do.

    python benchmarks/serving_baselines/naive.py --home HOME --model rt-cnn --port 8101
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _shared import answer, decode_images, load
from fastapi import FastAPI, File, UploadFile
from pydantic import BaseModel


class TextBody(BaseModel):
    inputs: str | list[str]
    top_k: int = 1


def build_app(loaded: Any) -> FastAPI:
    """Endpoints are built per model (JSON texts, or multipart image uploads); FastAPI reads
    their annotations from this module's globals, hence the module-level imports."""
    app = FastAPI(title="naive baseline")
    path = f"/v1/models/{loaded.model}/predict"

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    if loaded.modality == "text":

        @app.post(path)
        def predict_text(body: TextBody) -> dict[str, Any]:
            texts = [body.inputs] if isinstance(body.inputs, str) else body.inputs
            return answer(loaded, loaded.predictor.predict(texts, top_k=body.top_k))

    else:

        @app.post(path)
        def predict_image(file: list[UploadFile] = File(...)) -> dict[str, Any]:
            images = decode_images(
                [f.file.read() for f in file], channels=loaded.channels, size=loaded.size
            )
            return answer(loaded, loaded.predictor.predict(images))

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backend", default="onnx")
    parser.add_argument("--max-batch", type=int, default=64, help="the Predictor's batch size")
    args = parser.parse_args()
    import uvicorn

    loaded = load(args.home, args.model, backend=args.backend, max_batch=args.max_batch)
    uvicorn.run(
        build_app(loaded), host="127.0.0.1", port=args.port, log_level="warning", access_log=False
    )


if __name__ == "__main__":
    main()
