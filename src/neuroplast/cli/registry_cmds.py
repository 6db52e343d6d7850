"""``neuroplast registry verify | gc``: the registry's files and database."""

from __future__ import annotations

import typer

from neuroplast.cli._common import HomeOption, JsonOption, console, print_json

app = typer.Typer(help="The registry's files and database.", no_args_is_help=True)


@app.command("verify")
def verify(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Check every artifact against its sha256, list files no version refers to, and
    report what interrupted runs and registrations left behind.

    Exits 7 when an artifact is missing or damaged (a version cannot be read). Orphaned
    files, interrupted writes, stale drafts (registrations whose process died) and stale
    runs (marked running, but their process stopped renewing its lease) are reported and
    exit 0: nothing readable is damaged, and `neuroplast registry gc` cleans them up (a
    stale run can also be continued with `neuroplast train CONFIG --resume`). Works on a
    read-only home.

    ``--json``: ``{checked, problems, orphans, partial_writes, stale_drafts, stale_runs,
    in_progress, clean}`` (lists of strings).
    """
    from neuroplast.engine import Engine
    from neuroplast.registry.maintenance import verify as run_verify

    with Engine(home) as engine:
        report = run_verify(engine.registry)
    if as_json:
        print_json({**report.__dict__, "clean": report.clean})
        if not report.clean:
            raise typer.Exit(7)
        return
    for problem in report.problems:
        console.print(f"[red]problem[/] {problem}")
    for orphan in report.orphans:
        console.print(f"orphan {orphan}", markup=False)
    for partial in report.partial_writes:
        console.print(f"interrupted write {partial} (never visible to readers)", markup=False)
    for draft in report.stale_drafts:
        console.print(f"stale draft {draft}", markup=False)
    for run in report.stale_runs:
        console.print(f"stale run {run}", markup=False)
    for item in report.in_progress:
        console.print(f"in progress {item}", markup=False)
    litter = (
        len(report.orphans)
        + len(report.partial_writes)
        + len(report.stale_drafts)
        + len(report.stale_runs)
    )
    console.print(
        f"{report.checked} artifacts checked, {len(report.problems)} problems, "
        f"{len(report.orphans)} orphaned files, {len(report.partial_writes)} interrupted "
        f"writes, {len(report.stale_drafts)} stale drafts, {len(report.stale_runs)} stale runs"
        + ("" if report.clean else "; restore the files or delete those versions")
        + ("" if not litter else "; `neuroplast registry gc` cleans up the leftovers"),
        markup=False,
    )
    if not report.clean:
        raise typer.Exit(7)


@app.command("gc")
def gc(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Delete artifact files that no version refers to, leftovers of interrupted writes and
    stale drafts, and mark stale runs interrupted (their checkpoints stay, for --resume).

    Never touches what a live run or registration owns (a lease its process renews; expired
    after NEUROPLAST_LEASE_SECONDS, default 600, without a heartbeat), nor temporary files
    of writes younger than that: those are listed as skipped, with the reason. Refuses (exit 5,
    nothing deleted) when most recorded artifacts are missing: a moved home or an
    unreachable artifact store.

    ``--json``: ``{"removed": [paths], "skipped": [{"item", "reason"}], "discarded_drafts":
    [refs], "interrupted_runs": [uids], "completed_runs": [uids]}``.
    """
    from neuroplast.engine import Engine
    from neuroplast.registry.maintenance import collect_garbage

    with Engine(home) as engine:
        report = collect_garbage(engine.registry)
    if as_json:
        print_json(
            {
                "removed": report.removed,
                "skipped": [{"item": s.item, "reason": s.reason} for s in report.skipped],
                "discarded_drafts": report.discarded_drafts,
                "interrupted_runs": report.interrupted_runs,
                "completed_runs": report.completed_runs,
            }
        )
        return
    for path in report.removed:
        console.print(f"removed {path}", markup=False)
    for ref in report.discarded_drafts:
        console.print(f"discarded the unfinished registration {ref}", markup=False)
    for uid in report.interrupted_runs:
        console.print(f"marked run {uid} interrupted (resume it with train --resume)", markup=False)
    for uid in report.completed_runs:
        console.print(f"marked run {uid} completed (its version was registered)", markup=False)
    for skipped in report.skipped:
        console.print(f"skipped {skipped.item}: {skipped.reason}", markup=False)
    orphans = len(report.removed) - len(report.discarded_files)
    console.print(
        f"{orphans} orphaned or partial files removed, {len(report.discarded_drafts)} stale "
        f"drafts discarded ({len(report.discarded_files)} files), "
        f"{len(report.interrupted_runs) + len(report.completed_runs)} stale runs settled, "
        f"{len(report.skipped)} items skipped",
        markup=False,
    )
