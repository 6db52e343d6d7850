"""``python -m neuroplast`` is the ``neuroplast`` command."""

from neuroplast.cli import main

main()
