"""``xlir-tui train``: fine-tune an encoder (the work is :mod:`xlir_tui.training.trainer`'s).

The command's options are made from :class:`~xlir_tui.training.trainer.TrainConfig`'s fields,
not declared here: one place holds each setting's name, type, default and help, for the
command line, the TOML config file and the run's own record alike.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
from pathlib import Path
from typing import Annotated, Any

import typer

from ..safe_text import inert
from ..training.config import TrainConfig
from .options import Command
from .output import say, train_progress


def _train_parameters() -> list[inspect.Parameter]:
    """The ``train`` command's arguments, made from :class:`TrainConfig`'s fields: one place
    holds each setting's name, type, default and help. Every option defaults to None (not
    given), so that a config file, and on ``--resume`` the run's own settings, show through."""
    from ..training.config import RENAMED, setting_type, shown_default

    params = [inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)]
    for f in dataclasses.fields(TrainConfig):
        meta = f.metadata
        kind, _ = setting_type(f.name)
        if meta.get("path"):  # a file or folder: typed as one, given to TrainConfig as text
            kind = list[Path] if kind == list[str] else Path
        shown = shown_default(f.name) if not meta.get("required") else None
        help_text = meta["help"] + (f" (default: {shown})" if shown else "")
        if meta.get("argument"):
            info: Any = typer.Argument(
                help=meta["help"], show_default=False, metavar=meta.get("metavar")
            )
        else:
            dashed = "--" + f.name.replace("_", "-")
            if "flags" in meta:
                flags = meta["flags"]
            elif kind is bool and not meta.get("switch"):
                flags = (f"{dashed}/--no-{dashed[2:]}",)
            else:
                flags = (dashed,)
            info = typer.Option(*flags, help=help_text, show_default=False)
        params.append(_keyword(f.name, Annotated[kind | None, info]))
    for old, new in RENAMED.items():  # accepted, not shown: the setting's old name
        kind, _ = setting_type(new)
        hidden = typer.Option(f"--{old.replace('_', '-')}", hidden=True)
        params.append(_keyword(old, Annotated[kind | None, hidden]))
    config = typer.Option(
        "--config",
        help="TOML file with any of these settings (keys named like the options, "
        "with underscores); the command line wins.",
    )
    params.append(_keyword("config", Annotated[Path | None, config]))
    return params


def _keyword(name: str, annotation: Any) -> inspect.Parameter:
    """An option of ``train``, None when not given."""
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation
    )


def _as_text(value: Any) -> Any:
    """A path option's value as TrainConfig holds it (text, as TOML does)."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list):
        return [_as_text(x) for x in value]
    return value


def _missing(ctx: typer.Context, name: str) -> Exception:
    """click's own error for a missing argument or option (exit status 2, like every command's),
    raised by ``train`` itself: its collections and ``--out`` may come from ``--config``."""
    try:
        from typer._click.exceptions import MissingParameter
    except ImportError:  # pragma: no cover - a typer that uses click itself
        from click import MissingParameter
    param = next(p for p in ctx.command.params if p.name == name)
    return MissingParameter(ctx=ctx, param=param)


def train_cmd(**values: Any) -> None:
    """Fine-tune an encoder with mono, cross or hybrid batches (hybrid batch training)."""
    from ..storage.files import Terminated
    from ..training.events import describe_event, exit_status
    from ..training.trainer import train

    ctx = values.pop("ctx")
    config = values.pop("config")
    values = {k: _as_text(v) for k, v in values.items()}
    cfg = TrainConfig.merged(TrainConfig.from_toml(config) if config else {}, values, file=config)
    if not cfg.collections:
        raise _missing(ctx, "collections")
    if not cfg.out:
        raise _missing(ctx, "out")
    ended: dict[str, Any] = {}
    with train_progress() as bar:
        task = bar.add_task("training", total=None, info="")

        def on_event(e: dict) -> None:
            kind = e["event"]
            if kind in ("done", "stopped"):
                ended.update(e)
            line = inert(describe_event(e))  # it names paths and collections
            # a closed terminal (SIGHUP) must not turn the saving of a stopped run into an error
            with contextlib.suppress(OSError, ValueError):
                if kind == "start":
                    bar.update(task, total=e["total_steps"], completed=e["resumed_from_step"])
                elif kind == "step":
                    bar.update(task, completed=e["step"], info=line)
                    if bar.disable and (e["step"] % 10 == 0 or e["step"] == 1):
                        say(line)
                    return
                if kind != "failed":  # a failure is the one error line main() prints
                    say(line)

        try:
            train(cfg, on_event=on_event)
        except (KeyboardInterrupt, Terminated) as e:
            if not ended:
                raise
            # the stopped line said what was kept: the shell's status for the signal, no more
            raise typer.Exit(130 if isinstance(e, KeyboardInterrupt) else e.code) from None
    # saved and resumable, but not the run asked for: the status of the signal that stopped it
    code = exit_status(ended)
    if code:
        raise typer.Exit(code)


class TrainCommand(Command):
    """``train``'s help page: its collections and ``--out`` shown required, though a config
    file may give them."""

    shown_required = tuple(
        f.name for f in dataclasses.fields(TrainConfig) if f.metadata.get("required")
    )


train_cmd.__signature__ = inspect.Signature(_train_parameters())  # type: ignore[attr-defined]
