"""``neuroplast init``: print (or write) a commented run config to start from."""

from __future__ import annotations

from pathlib import Path

import typer

from neuroplast.config import OTHER_TEMPLATES, TEMPLATES, template_text
from neuroplast.errors import ConfigError


def init(
    template: str = typer.Option(
        "text-cnn",
        "--template",
        "-t",
        help=f"One of: {', '.join(TEMPLATES + OTHER_TEMPLATES)}, loop.",
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the config to this file instead of printing it."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --output file."),
) -> None:
    """Print a run config template, or write it with `-o cfg.yaml`."""
    if template == "loop":  # the closed loop's policy, not a run config
        from neuroplast.loop.policy import policy_template

        text = policy_template()
    else:
        text = template_text(template)
    if output is None:
        typer.echo(text, nl=False)
        return
    if output.is_dir():
        raise ConfigError(f"--output {output} is a directory; give a file name such as cfg.yaml")
    if output.exists() and not force:
        raise ConfigError(f"{output} already exists; choose another name or add --force")
    from neuroplast.registry.artifacts import atomic_write_bytes

    atomic_write_bytes(output, text.encode("utf-8"))
    typer.echo(f"wrote the {template} template to {output}", err=True)
