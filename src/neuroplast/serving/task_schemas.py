"""The request and response bodies of the task routes: anomaly scores
(``/v1/models/NAME/score``), forecasts (``/forecast``) and generated text (``/generate``).
Like :mod:`neuroplast.serving.schemas` they are the OpenAPI document: every request body
refuses unknown keys, and numbers are strict (a number written as text is refused, not read).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from neuroplast.serving.schemas import _Request

__all__ = [
    "MAX_NEW_TOKENS",
    "AnomalyOut",
    "ForecastInterval",
    "ForecastPoint",
    "ForecastRequest",
    "ForecastResponse",
    "GenerateRequest",
    "GenerateResponse",
    "ScoreRequest",
    "ScoreResponse",
]

#: The most tokens one request may ask a language model for.
MAX_NEW_TOKENS = 1024

Number = Annotated[float, Field(strict=True)]
_KEY = Field(
    None,
    max_length=256,
    description="Sticky key for A/B routing (the X-Neuroplast-Key header does the same).",
)


class ScoreRequest(_Request):
    """An anomaly model's inputs: rows of a tabular model or windows of a series model
    (``inputs``), or a whole series cut into the model's windows (``series``). Image models
    take multipart uploads, one ``file`` part each."""

    inputs: list[list[Number] | dict[str, Number]] | None = Field(
        None,
        min_length=1,
        description="Rows (numbers in column order, or objects keyed by column) or windows "
        "(``window`` numbers each); GET /v1/models/NAME lists the columns and the window.",
    )
    series: list[Number] | None = Field(
        None,
        min_length=1,
        description="Series models: a whole series, scored window by window (the stored "
        "window and stride).",
    )
    key: str | None = _KEY


class AnomalyOut(BaseModel):
    score: float = Field(description="Reconstruction error; higher is more unusual.")
    is_anomaly: bool = Field(description="score > the version's stored threshold.")
    start: int | None = Field(None, description="Series: the window's first point.")
    end: int | None = Field(None, description="Series: one past the window's last point.")


class ScoreResponse(BaseModel):
    request_id: str
    model: str
    version: str = Field(description="The version that answered, as name:N.")
    threshold: float = Field(description="The threshold stored with the version.")
    results: list[AnomalyOut]
    latency_ms: float


class ForecastRequest(_Request):
    """What to forecast: the next ``horizon`` values after the end of the model's training
    series (no ``history``), or after the ``history`` sent."""

    horizon: int | None = Field(
        None, ge=1, description="Points to forecast (default and most: the model's horizon)."
    )
    history: list[Number] | list[list[Number]] | None = Field(
        None,
        min_length=1,
        description="The series' latest points, oldest first (at least the model's lookback): "
        "numbers, or rows [target, covariates...] for a model with covariates.",
    )
    last_date: str | None = Field(
        None, max_length=64, description="With history: the date of its last point."
    )
    key: str | None = _KEY


class ForecastPoint(BaseModel):
    step: int
    date: str | None = None
    value: float
    lower: float
    upper: float


class ForecastInterval(BaseModel):
    method: str = Field(description="How the intervals were made, e.g. residual_bootstrap.")
    level: float = Field(description="Their nominal coverage, e.g. 0.9.")


class ForecastResponse(BaseModel):
    request_id: str
    model: str
    version: str = Field(description="The version that answered, as name:N.")
    source: Literal["stored", "request"] = Field(
        description="Forecast after the stored end of the training series, or after the "
        "request's history."
    )
    interval: ForecastInterval
    forecast: list[ForecastPoint]
    latency_ms: float


class GenerateRequest(_Request):
    """A prompt and how to sample; an option left out takes the version's default."""

    prompt: str = Field(min_length=1, description="The text to continue.")
    max_tokens: int | None = Field(None, ge=1, le=MAX_NEW_TOKENS)
    temperature: float | None = Field(None, ge=0.0, le=100.0, description="0 = greedy.")
    top_k: int | None = Field(None, ge=1, le=1_000_000)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    seed: int = Field(0, ge=0, le=2**63 - 1, description="The same seed, the same text.")
    stream: bool = Field(
        False, description="Send the text as Server-Sent Events, piece by piece, as it comes."
    )
    key: str | None = _KEY

    @field_validator("prompt")
    @classmethod
    def _has_text(cls, prompt: str) -> str:
        if not prompt.strip():
            raise ValueError("the prompt is blank; give the text to continue")
        return prompt


class GenerateResponse(BaseModel):
    request_id: str
    model: str
    version: str = Field(description="The version that answered, as name:N.")
    prompt: str
    text: str = Field(description="The generated continuation (the prompt not repeated).")
    latency_ms: float
