"""``neuroplast init``: print a commented run config to start from."""

from __future__ import annotations

import typer

from neuroplast.config import OTHER_TEMPLATES, TEMPLATES, template_text


def init(
    template: str = typer.Option(
        "text-cnn", "--template", "-t", help=f"One of: {', '.join(TEMPLATES + OTHER_TEMPLATES)}."
    ),
) -> None:
    """Print a run config template (redirect it to a file: `> cfg.yaml`)."""
    typer.echo(template_text(template), nl=False)
