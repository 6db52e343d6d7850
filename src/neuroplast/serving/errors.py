"""The serving runtime's errors: each carries the HTTP status and the stable code the server
answers with. Problems with a request's inputs stay :class:`~neuroplast.errors.DataError`
(422); these are the server's own conditions."""

from __future__ import annotations

from typing import Any

from neuroplast.errors import NeuroplastError

__all__ = ["ModelNotServed", "NotReady", "QueueFull", "ServingError", "WrongRoute"]


class ServingError(NeuroplastError):
    """A request the server cannot answer now; ``status`` and ``code`` go into the reply."""

    status: int = 500
    code: str = "serving_error"

    def __init__(self, message: str, *, detail: Any = None) -> None:
        super().__init__(message)
        self.detail = detail


class QueueFull(ServingError):
    """A version's queue holds ``max_queue`` inputs already; retry after ``retry_after`` s."""

    status = 503
    code = "queue_full"

    def __init__(self, message: str, *, retry_after: float, detail: Any = None) -> None:
        super().__init__(message, detail=detail)
        self.retry_after = retry_after


class ModelNotServed(ServingError):
    """The request names a model this server does not serve."""

    status = 404
    code = "model_not_served"


class NotReady(ServingError):
    """The server is still loading its models, or is shutting down."""

    status = 503
    code = "not_ready"


class WrongRoute(ServingError):
    """The request was sent to a route that does not serve this kind of model (a forecast
    asked of a classifier, a prediction of a language model)."""

    status = 400
    code = "wrong_route"
