"""The dashboard: server-rendered HTML pages over a registry (models, versions and their
lineage, A/B state and shadows, live traffic, drift, the audit trail, runs and their metric
curves, evaluations and plots, compression tables, continual results).

``neuroplast serve`` mounts it at ``/ui``; ``neuroplast ui`` serves it alone (no model
loaded, no torch imported). Pages need no JavaScript, load nothing from another origin, and
escape every value they show.
"""

from __future__ import annotations

from neuroplast.ui.app import MOUNT, dashboard_app, standalone_app

__all__ = ["MOUNT", "dashboard_app", "standalone_app"]
