"""Drift detection on served traffic: ``neuroplast monitor`` and :meth:`Engine.monitor`.

A version's logged traffic (the prediction log of ``neuroplast serve``) is compared,
window by window, with a reference sample of one of the version's own splits: the model's
pooled features, input statistics, predicted-class mix and confidence (scipy's tests; and,
on request, the texts' MiniLM sentence vectors), and
the accuracy on the answers users gave feedback on (river's ADWIN). scipy and river are
imported on first use (``pip install 'neuroplast[monitor]'``).
"""

from __future__ import annotations

from neuroplast.monitoring.detectors import (
    ChiSquareTest,
    KSTest,
    ProjectedKSTest,
    StreamingAccuracy,
    TestResult,
)
from neuroplast.monitoring.embeddings import (
    EmbeddingSample,
    check_encoder,
    embedding_sample,
    embedding_test_name,
)
from neuroplast.monitoring.features import (
    FeatureExtractor,
    InputFeatures,
    classifier_head,
    decode_thumbnails,
    pixel_statistics,
    text_statistics,
)
from neuroplast.monitoring.html import render_html, write_html
from neuroplast.monitoring.monitor import (
    MAX_WINDOWS,
    MonitorReport,
    WindowReport,
    monitor_traffic,
    run_windows,
)
from neuroplast.monitoring.reference import (
    MAX_REFERENCE,
    REFERENCE_SPLITS,
    SCHEMA_VERSION,
    Reference,
    ReferenceSplit,
    load_or_build_reference,
    reference_artifact,
    reference_inputs,
)

__all__ = [
    "MAX_REFERENCE",
    "MAX_WINDOWS",
    "REFERENCE_SPLITS",
    "SCHEMA_VERSION",
    "ChiSquareTest",
    "EmbeddingSample",
    "FeatureExtractor",
    "InputFeatures",
    "KSTest",
    "MonitorReport",
    "ProjectedKSTest",
    "Reference",
    "ReferenceSplit",
    "StreamingAccuracy",
    "TestResult",
    "WindowReport",
    "check_encoder",
    "classifier_head",
    "decode_thumbnails",
    "embedding_sample",
    "embedding_test_name",
    "load_or_build_reference",
    "monitor_traffic",
    "pixel_statistics",
    "reference_artifact",
    "reference_inputs",
    "render_html",
    "run_windows",
    "text_statistics",
    "write_html",
]
