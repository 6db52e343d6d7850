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
    force: bool = typer.Option(False, "--force", help="Also delete a production version."),
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
    """Check every artifact against its sha256 and list files no version refers to.
    Exits 7 when an artifact is missing or damaged.

    ``--json``: ``{checked, problems, orphans, partial_writes, clean}``.
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
        console.print(f"orphan {orphan}")
    for partial in report.partial_writes:
        console.print(f"interrupted write {partial} (never visible to readers)")
    console.print(
        f"{report.checked} artifacts checked, {len(report.problems)} problems, "
        f"{len(report.orphans)} orphaned files, {len(report.partial_writes)} interrupted writes"
        + ("" if report.clean else "; restore the files or delete those versions")
    )
    if not report.clean:
        raise typer.Exit(7)


@app.command("gc")
def gc(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Delete artifact files that no version refers to, and leftovers of interrupted writes.

    ``--json``: ``{"removed": [paths]}``.
    """
    from neuroplast.engine import Engine
    from neuroplast.registry.maintenance import gc as run_gc

    with Engine(home) as engine:
        removed = run_gc(engine.registry)
    if as_json:
        print_json({"removed": removed})
        return
    for path in removed:
        console.print(f"removed {path}")
    console.print(f"{len(removed)} orphaned or partial files removed")


@models_app.command("export")
def export(
    model: str = typer.Argument(..., help=MODEL_HELP),
    output: Path = typer.Option(..., "--output", "-o", help="The .tar file to write."),
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write one version (weights, config, vocabulary, labels, metrics, lineage) to a tar.

    ``--json``: ``{"ref", "path", "bytes"}``.
    """
    from neuroplast.engine import Engine
    from neuroplast.registry.transfer import export_version

    with Engine(home) as engine:
        ref = engine.registry.resolve(model).ref
        path = export_version(engine.registry, ref, output)
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
