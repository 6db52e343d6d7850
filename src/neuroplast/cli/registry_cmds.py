"""``neuroplast models delete`` and ``neuroplast registry verify | gc``."""

from __future__ import annotations

from pathlib import Path

import typer

from neuroplast.cli._common import MODEL_HELP, HomeOption, JsonOption, console, print_json
from neuroplast.cli.models import app as models_app

app = typer.Typer(help="The registry's files and database.", no_args_is_help=True)


@models_app.command("delete")
def delete(
    model: str = typer.Argument(..., help="NAME:VERSION (one version) or NAME (every version)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    force: bool = typer.Option(
        False, "--force", help="Also delete a production version, an A/B arm or a shadow."
    ),
    reason: str = typer.Option("", "--reason", help="Why (kept in the history)."),
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remove versions: their rows and artifact files, for good. Answering no exits 1.

    ``--json``: ``{"deleted": [refs]}``.
    """
    from neuroplast.engine import Engine
    from neuroplast.registry.maintenance import delete_version

    with Engine(home) as engine:
        if ":" in model or "@" in model:
            refs = [engine.registry.resolve(model).ref]
        else:
            refs = [
                v.ref for v in engine.registry.versions(engine.registry.resolve(model).model_name)
            ]
        if not yes and not typer.confirm(f"delete {', '.join(refs)} and their files?"):
            typer.echo("nothing deleted", err=True)
            raise typer.Exit(1)
        for ref in refs:
            delete_version(engine.registry, ref, force=force, reason=reason)
            if not as_json:
                console.print(f"deleted {ref}")
    if as_json:
        print_json({"deleted": refs})


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


@models_app.command("export")
def export(
    model: str = typer.Argument(..., help=MODEL_HELP),
    output: Path = typer.Option(
        ...,
        "--output",
        "-o",
        help="The .tar file to write: a new path, or an existing file with --force.",
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing file at --output."),
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write one version (weights, config, vocabulary, labels, metrics, lineage) to a tar.

    --output must be a new path or a regular file (replaced only with --force); a directory,
    device, FIFO or socket (or a symlink to one) is refused before anything is written.

    ``--json``: ``{"ref", "path", "bytes"}``.
    """
    from neuroplast._output_paths import check_output_file
    from neuroplast.engine import Engine
    from neuroplast.registry.transfer import export_version

    check_output_file(output, force=force)  # before the registry is opened
    with Engine(home) as engine:
        ref = engine.registry.resolve(model).ref
        path = export_version(engine.registry, ref, output, force=force)
    if as_json:
        print_json({"ref": ref, "path": str(path), "bytes": path.stat().st_size})
        return
    console.print(f"exported {ref} to {path} ({path.stat().st_size / 1e6:.2f} MB)")


@models_app.command("import")
def import_(
    bundle: Path = typer.Argument(..., help="A tar written by `neuroplast models export`."),
    name: str | None = typer.Option(None, "--name", help="Register under this name instead."),
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a bundle as a new version, after checking every file's sha256.

    ``--json``: the new version's summary.
    """
    from neuroplast.engine import Engine
    from neuroplast.registry.transfer import import_bundle

    with Engine(home) as engine:
        version = import_bundle(engine.registry, bundle, name=name)
    if as_json:
        print_json(version.summary())
        return
    console.print(f"imported {bundle} as {version.ref} ({version.metrics.get('imported_from')})")
