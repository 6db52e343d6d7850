"""``neuroplast compare``: architectures trained on one split with one budget and the same
seeds, measured through the Predictor, tabulated (mean ± std over seeds) with a
recommendation. Importing this package imports no torch."""

from neuroplast._lazy import lazy_exports

_HOMES = {
    "TEMPLATE_OF": "neuroplast.comparison.runner",
    "Measurement": "neuroplast.comparison.runner",
    "arch_config": "neuroplast.comparison.runner",
    "run_compare": "neuroplast.comparison.runner",
    "Comparison": "neuroplast.comparison.table",
}
__all__ = sorted(_HOMES)
__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)
