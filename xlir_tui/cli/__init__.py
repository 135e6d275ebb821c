"""The ``xlir-tui`` command line: a thin Typer layer over the core.

Data goes to stdout (tables, or JSON with ``--json``); progress and diagnostics go to stderr.
Every :class:`~xlir_tui.errors.XlirError` becomes one line ``xlir-tui: error: ...`` and exit
status 1; a command line that does not parse (an unknown command or option, a missing argument
or option, a value that is not a number where one is expected) is one line and exit status 2.
Nothing here does work the core could do.

Text from data (passages, questions, language codes, collection and file names, paths) reaches
the terminal only as :func:`~xlir_tui.safe_text.inert_text` (a ``Text``, never parsed as
markup, its control characters made visible) or, with ``--json``, through
:func:`~xlir_tui.safe_text.json_dumps`, which keeps it exact.

This module holds the application and registers the commands; each command group lives in a
module of its own (:mod:`.data`, :mod:`.cache`, :mod:`.index`, :mod:`.search`, :mod:`.report`,
:mod:`.explore`, :mod:`.translate`, :mod:`.train`), the options they share in :mod:`.options`,
what they print in :mod:`.output`.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Annotated

import typer

from .. import __version__
from ..errors import XlirError
from . import output
from .cache import cache_list, cache_prune
from .data import data_get, data_stats
from .explore import explore_cmd
from .index import index_cmd
from .options import Group, Typer
from .report import bias_report_cmd
from .search import search_cmd
from .train import TrainCommand, train_cmd
from .translate import translate_cmd

app = Typer(
    cls=Group,
    name="xlir-tui",
    help="Explore, measure and reduce language bias in multilingual dense retrieval.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
data_app = Typer(cls=Group, help="Get collections and inspect them.", no_args_is_help=True)
app.add_typer(data_app, name="data")
cache_app = Typer(
    cls=Group,
    help="See and reclaim what xlir-tui keeps in its cache folder.",
    no_args_is_help=True,
)
app.add_typer(cache_app, name="cache")


def _version(value: bool) -> None:
    if value:
        output.out.print(f"xlir-tui {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Explore, measure and reduce language bias in multilingual dense retrieval.

    Typical session: [bold]xlir-tui data get xquad-r[/bold], then
    [bold]xlir-tui index data/xquad-r --model default --out idx[/bold], then
    [bold]xlir-tui search idx "Where is the Eiffel tower?" --lang de,zh[/bold].
    """


data_app.command("get")(data_get)
data_app.command("stats")(data_stats)
cache_app.command("list")(cache_list)
cache_app.command("prune")(cache_prune)
app.command("index")(index_cmd)
app.command("search")(search_cmd)
app.command("bias-report")(bias_report_cmd)
app.command("explore")(explore_cmd)
app.command("translate")(translate_cmd)
app.command("train", cls=TrainCommand)(train_cmd)


def main() -> None:
    """Console-script entry point: one-line errors, exit status 1 (2 for a mistake in the
    command line itself, as every Unix tool; 130 on Ctrl-C)."""
    try:  # typer carries its own copy of click; its UsageError is not click's
        from typer._click.exceptions import UsageError
    except ImportError:  # pragma: no cover - a typer that uses click itself
        from click import UsageError

    try:
        code = app(standalone_mode=False)
    except XlirError as e:
        if getattr(e, "quiet", False):  # another rank's failure, which rank 0 prints
            sys.exit(0)
        output.say(f"xlir-tui: error: {e}")
        sys.exit(1)
    except UsageError as e:
        # click's own form is a boxed paragraph; one line, with where to look, like the rest
        path = e.ctx.command_path if e.ctx is not None else "xlir-tui"
        message = " ".join(e.format_message().split())
        output.say(f"{path}: error: {message} (see {path} --help)")  # it quotes the command line
        sys.exit(2)
    except (KeyboardInterrupt, typer.Abort):
        with contextlib.suppress(OSError, ValueError):
            output.err.print("xlir-tui: interrupted", highlight=False)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
