"""``python -m xlir_tui.cli``: the command line, as ``xlir-tui`` runs it."""

from . import main

main()
