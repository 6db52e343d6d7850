"""``neuroplast models``: what the registry holds and the lifecycle of its versions.

``list`` / ``show`` / ``versions`` read it; ``promote`` / ``rollback`` / ``history`` move
versions between stages and show the audit trail; ``delete`` removes versions;
``export-bundle`` / ``import`` move a version between registries as a tar bundle
(``export`` is the former name of ``export-bundle``, kept and not listed in the help).
None of them imports torch.
"""

from __future__ import annotations

from pathlib import Path

import typer

from neuroplast.cli._common import MODEL_HELP, HomeOption, JsonOption, console, print_json
from neuroplast.cli._model_tables import (
    events_table,
    how_made,
    info_tables,
    models_table,
    versions_table,
)

__all__ = ["app"]

app = typer.Typer(help="Models and versions in the registry.", no_args_is_help=True)


@app.command("list")
def list_models(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Every model with its newest version, its production version and test metrics.

    ``--json``: ``{"home": ..., "models": [{name, versions, latest, production}]}`` where
    ``latest`` is a version summary (ref, uid, stage, metrics, ...) and ``production`` is the
    production version's ref or null.
    """
    from neuroplast.engine import Engine
    from neuroplast.errors import ModelNotFoundError

    with Engine(home) as engine:
        summaries = engine.registry.list_models()
        where = engine.home
        production: dict[str, str | None] = {}
        for s in summaries:
            try:
                production[s.name] = engine.registry.resolve(f"{s.name}@production").ref
            except ModelNotFoundError:
                production[s.name] = None
    if as_json:
        models = [
            {
                "name": s.name,
                "versions": s.versions,
                "latest": None if s.latest is None else s.latest.summary(),
                "production": production[s.name],
            }
            for s in summaries
        ]
        print_json({"home": str(where), "models": models})
    elif not summaries:
        console.print(f"no models in {where} yet: train one with `neuroplast train CONFIG`")
    else:
        console.print(models_table(summaries, production, where))


@app.command("show")
def show(
    model: str = typer.Argument(..., help=MODEL_HELP),
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Everything the registry knows about one model version."""
    from neuroplast.engine import Engine

    with Engine(home) as engine:
        info = engine.get_model_info(model)
    if as_json:
        print_json(info)
        return
    for table in info_tables(info):
        console.print(table)


@app.command("versions")
def versions(
    model: str = typer.Argument(..., help="Model name."),
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every version of a model: how it was made, its stage, test metrics and size.

    ``--json``: a list of version summaries (ref, uid, stage, source, parent, metrics, ...),
    oldest first, each with ``made_by`` as in the table.
    """
    from neuroplast.engine import Engine

    with Engine(home) as engine:
        name = engine.registry.resolve(model).model_name
        rows = engine.versions(name)
    if as_json:
        print_json([{**v.summary(), "made_by": how_made(v)} for v in rows])
        return
    console.print(versions_table(name, rows))


@app.command("promote")
def promote(
    model: str = typer.Argument(..., help=MODEL_HELP),
    stage: str = typer.Option("production", "--stage", help="candidate | production | archived"),
    reason: str = typer.Option("", "--reason", help="Why (kept in the history)."),
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move a version to a stage; a new production version archives the previous one.

    ``--json``: the version's summary after the move.
    """
    from neuroplast.engine import Engine

    with Engine(home) as engine:
        version = engine.promote(model, stage, reason=reason)
    if as_json:
        print_json(version.summary())
        return
    console.print(f"{version.ref} is now [bold]{version.stage}[/]")


@app.command("rollback")
def rollback(
    model: str = typer.Argument(..., help="Model name."),
    reason: str = typer.Option("", "--reason", help="Why (kept in the history)."),
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Put the previous production version back in production.

    ``--json``: the summary of the version that is production again.
    """
    from neuroplast.engine import Engine

    with Engine(home) as engine:
        version = engine.rollback(model, reason=reason)
    if as_json:
        print_json(version.summary())
        return
    console.print(f"rolled back: {version.ref} is production again")


@app.command("history")
def history(
    model: str = typer.Argument(..., help="Model name."),
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """The audit trail: who did what to which version, when and why.

    ``--json``: a list of ``{at, user, action, version, stage_from, stage_to, reason}``.
    """
    from neuroplast.engine import Engine

    with Engine(home) as engine:
        events = engine.history(model)
    if as_json:
        print_json(events)
        return
    console.print(events_table(model, events))
    from neuroplast.cli.loop import print_event_details

    print_event_details(events)  # the numbers of decisions (closed loop, drift)


@app.command("delete")
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

    with Engine(home) as engine:
        if ":" in model or "@" in model:
            refs = [engine.registry.resolve(model).ref]
        else:
            refs = [v.ref for v in engine.versions(model)]
        if not yes and not typer.confirm(f"delete {', '.join(refs)} and their files?"):
            typer.echo("nothing deleted", err=True)
            raise typer.Exit(1)
        for ref in refs:
            engine.delete(ref, force=force, reason=reason)
            if not as_json:
                console.print(f"deleted {ref}")
    if as_json:
        print_json({"deleted": refs})


def export_bundle(
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
    `neuroplast models import` registers it in another registry; for ONNX and a serving
    folder, see `neuroplast export-onnx`.

    ``--json``: ``{"ref", "path", "bytes"}``.
    """
    from neuroplast.engine import Engine

    with Engine(home) as engine:
        path = engine.export_bundle(model, output, force=force)
        ref = engine.registry.resolve(model).ref
    if as_json:
        print_json({"ref": ref, "path": str(path), "bytes": path.stat().st_size})
        return
    console.print(f"exported {ref} to {path} ({path.stat().st_size / 1e6:.2f} MB)")


app.command("export-bundle")(export_bundle)
app.command("export", hidden=True)(export_bundle)  # its former name


@app.command("import")
def import_(
    bundle: Path = typer.Argument(..., help="A tar written by `neuroplast models export-bundle`."),
    name: str | None = typer.Option(None, "--name", help="Register under this name instead."),
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a bundle as a new version, after checking every file's sha256.

    ``--json``: the new version's summary.
    """
    from neuroplast.engine import Engine

    with Engine(home) as engine:
        version = engine.import_bundle(bundle, name=name)
    if as_json:
        print_json(version.summary())
        return
    console.print(f"imported {bundle} as {version.ref} ({version.metrics.get('imported_from')})")
