"""The streaming detector of ``neuroplast monitor`` on river's annotated change-point series.

``neuroplast monitor`` feeds river's ADWIN (``delta`` 0.002) the 0/1 errors of the answers
users gave feedback on. river ships seven real series with change points marked by five
human annotators each (``river.drift.datasets``, from the Turing change-point data set):
this runs ADWIN at the monitor's setting, and Page-Hinkley (river's defaults) for
comparison, on each series (one number per step, scaled to [0, 1] with the series' own
range, as ADWIN's bound assumes bounded values), and scores the alarms as the Turing
benchmark does: an alarm within ``--margin`` steps of a marked change is a hit; precision
against the union of the annotators' marks, recall averaged over annotators, F1 of the two.
The delay is the mean number of steps from a marked change to the first alarm after it
(within ``--horizon`` steps). A detector that never alarms scores precision 1, recall 0
(only the trivial change at step 0 that the Turing benchmark adds counts, which is left
out here).

    .venv/bin/python benchmarks/drift_river.py [--margin 5] [--json out.json]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from _common import console, print_table, write_json

#: The column a series' value is read from when its target is a dict of several.
_COLUMN = {"Apple": "Close", "Occupancy": "V1", "RunLog": "Pace"}


def series(name: str) -> tuple[np.ndarray, dict[str, list[int]]]:
    """The values of river's drift data set ``name`` and its annotators' change points."""
    import river.drift.datasets as datasets

    dataset = getattr(datasets, name)()
    values = []
    for _, y in dataset:
        values.append(float(y[_COLUMN[name]] if isinstance(y, dict) else y))
    return np.asarray(values), {k: list(v) for k, v in dataset.annotations.items()}


def alarms(values: np.ndarray, detector: Any) -> list[int]:
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low or 1.0)
    found = []
    for i, v in enumerate(scaled):
        detector.update(float(v))
        if detector.drift_detected:
            found.append(i)
    return found


def score(
    found: list[int], marks: dict[str, list[int]], margin: int, horizon: int
) -> dict[str, Any]:
    union = sorted({p for points in marks.values() for p in points})
    hits = [a for a in found if any(abs(a - p) <= margin for p in union)]
    precision = len(hits) / len(found) if found else 1.0
    recalls = []
    for points in marks.values():
        if points:
            caught = [p for p in points if any(abs(a - p) <= margin for a in found)]
            recalls.append(len(caught) / len(points))
    recall = float(np.mean(recalls)) if recalls else 1.0
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    delays = []
    for p in union:
        after = [a - p for a in found if 0 <= a - p <= horizon]
        if after:
            delays.append(after[0])
    return {
        "changes": len(union),
        "alarms": len(found),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "mean_delay": float(np.mean(delays)) if delays else None,
        "changes_followed_by_an_alarm": len(delays),
    }


def main() -> None:
    from river import drift

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--margin", type=int, default=5)
    parser.add_argument("--horizon", type=int, default=100)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    names = ["AirlinePassengers", "Apple", "Bitcoin", "BrentSpotPrice", "Occupancy", "RunLog"]
    names.append("UKCoalEmploy")
    detectors = {
        "ADWIN (delta 0.002, monitor's)": lambda: drift.ADWIN(delta=0.002),
        "Page-Hinkley (river's defaults)": drift.PageHinkley,
    }
    rows = []
    for name in names:
        values, marks = series(name)
        for label, make in detectors.items():
            found = alarms(values, make())
            rows.append(
                {"series": name, "steps": len(values), "detector": label}
                | score(found, marks, args.margin, args.horizon)
            )
            console.print(rows[-1])
    print_table(
        f"river's annotated change-point series: alarms within {args.margin} steps of a mark",
        [
            "series",
            "steps",
            "detector",
            "marked changes",
            "alarms",
            "precision",
            "recall",
            "F1",
            "mean delay (steps)",
        ],
        [
            [
                r["series"],
                str(r["steps"]),
                r["detector"],
                str(r["changes"]),
                str(r["alarms"]),
                f"{r['precision']:.2f}",
                f"{r['recall']:.2f}",
                f"{r['f1']:.2f}",
                "-" if r["mean_delay"] is None else f"{r['mean_delay']:.0f}",
            ]
            for r in rows
        ],
    )
    if args.json:
        write_json(args.json, {"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows})


if __name__ == "__main__":
    main()
