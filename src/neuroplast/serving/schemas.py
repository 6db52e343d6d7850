"""The HTTP server's request and response bodies: they are its OpenAPI document, so every
field here is what a client sends or gets back, and every error is :class:`ErrorResponse`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ABStartRequest",
    "ErrorBody",
    "ErrorResponse",
    "EvidenceOut",
    "ExampleOut",
    "ExplainRequest",
    "ExplainResponse",
    "FeedbackRequest",
    "FeedbackResponse",
    "HealthResponse",
    "InputSpec",
    "LabelProbability",
    "ModelInfo",
    "ModelList",
    "PredictRequest",
    "PredictResponse",
    "PredictionOut",
    "ReadyResponse",
    "ReloadResponse",
    "RoutingOut",
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PredictRequest(_Request):
    """A text model's inputs (image models take multipart uploads, one ``file`` part each)."""

    inputs: str | list[str] = Field(description="One text or a list of texts.")
    top_k: int = Field(1, ge=1, le=1000, description="How many labels to list per input.")
    key: str | None = Field(
        None,
        max_length=256,
        description="Sticky key for A/B routing (the X-Neuroplast-Key header does the same).",
    )


class ExplainRequest(_Request):
    """One text to explain (image models take one multipart ``file`` part)."""

    input: str = Field(description="The text to explain.")
    method: str | None = Field(None, max_length=64, description="Attribution method name.")


class FeedbackRequest(_Request):
    """The true label of one input of an answered request."""

    request_id: str = Field(min_length=1, max_length=64)
    label: str = Field(min_length=1, max_length=256)
    item: int = Field(0, ge=0, le=1_000_000, description="Which input of the request.")
    new_class: bool = Field(
        False,
        description="The label is a class the model does not have yet and should learn "
        "(the closed loop can add it); without this an unknown label is refused as a typo.",
    )


class ABStartRequest(_Request):
    """A weighted split between versions (version number -> weight; weights sum to 1)."""

    split: dict[str, float] = Field(description='Version -> weight, e.g. {"3": 0.9, "4": 0.1}.')
    sticky_key: str | None = Field(None, max_length=256)
    reason: str = Field("", max_length=1000)


class LabelProbability(BaseModel):
    label: str
    probability: float


class ExampleOut(BaseModel):
    ref: int = Field(description="The stored training example's position in its stream.")
    input: str | None = Field(None, description="Its text, or where the image came from.")


class EvidenceOut(BaseModel):
    prototype: int
    label: str
    activity: float = Field(description="The prototype's settled activity for this input.")
    similarity: float | None = Field(None, description="Cosine similarity to the input.")
    examples: list[ExampleOut] = Field(description="Stored examples nearest the prototype.")


class PredictionOut(BaseModel):
    label: str
    probability: float = Field(description="The label's probability (learners: confidence).")
    top_k: list[LabelProbability]
    abstained: bool | None = Field(
        None, description="Neuromorphic learners: confidence is below the calibrated threshold."
    )
    evidence: list[EvidenceOut] | None = Field(
        None, description="Neuromorphic learners: the top prototypes behind the answer."
    )


class PredictResponse(BaseModel):
    request_id: str
    model: str
    version: str = Field(description="The version that answered, as name:N.")
    backend: str
    predictions: list[PredictionOut]
    latency_ms: float


class ExplainResponse(BaseModel):
    request_id: str
    model: str
    version: str = Field(description="The version explained, as name:N.")
    label: str
    probability: float
    method: str
    tokens: list[str] | None = Field(None, description="Text models: the tokens.")
    attributions: list[float] | None = Field(None, description="Text models: one per token.")
    overlay_png: str | None = Field(None, description="Image models: base64 PNG overlay.")


class FeedbackResponse(BaseModel):
    request_id: str
    item: int
    label: str
    version: str = Field(description="The version that answered, as name:N.")
    predicted: str = Field(description="The label it answered with.")
    correct: bool
    new_class: bool = Field(False, description="The label is one the version lacks.")


class InputSpec(BaseModel):
    kind: Literal["text", "image", "tabular", "series"]
    max_length: int | None = None
    channels: int | None = None
    size: int | None = None


class ModelInfo(BaseModel):
    name: str
    modality: str
    version: str = Field(description="The production version, as name:N.")
    backend: str
    labels: list[str]
    input: InputSpec
    arms: dict[str, float] = Field(description="A/B split: version ref -> weight.")
    shadows: list[str]
    task: str = Field(
        "classification",
        description="classification, neuromorphic, anomaly_detection, forecasting or generation.",
    )
    route: str = Field(description="The route that answers, e.g. /v1/models/NAME/forecast.")
    details: dict[str, Any] = Field(
        default_factory=dict,
        description="Task models: threshold and columns, horizon and lookback, sampling limits.",
    )


class ModelList(BaseModel):
    models: list[ModelInfo]


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"
    neuroplast: str
    ready: bool
    torch_loaded: bool = Field(description="Whether this process has imported torch.")


class ReadyResponse(BaseModel):
    ready: Literal[True] = True
    models: list[str]


class ReloadResponse(BaseModel):
    changed: bool
    models: list[ModelInfo]


class RoutingOut(BaseModel):
    model: str
    split: dict[str, float]
    sticky_key: str | None
    shadows: list[int]
    revision: int


class ErrorBody(BaseModel):
    code: str = Field(description="A stable machine-readable code, e.g. queue_full.")
    message: str = Field(description="What was wrong and how to fix it.")
    detail: Any = None


class ErrorResponse(BaseModel):
    error: ErrorBody
