"""LiT Photos: `python main.py` opens the app; `python main.py COMMAND` runs the command line.

This module composes: it builds paths, catalog, model facade and library from the options
and hands them to whoever runs. Nothing else reaches for globals.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import NoReturn

from engine.commands import Context
from engine.commands import categories as categories_commands
from engine.commands import core as core_commands
from engine.commands import sync as sync_commands
from engine.errors import expected_errors
from trainer import commands as trainer_commands

COMMAND_MODULES = (core_commands, sync_commands, categories_commands, trainer_commands)

PROG = "litphotos"
BUILDERS = (None, "spaces", "watch")  # the app and these commands build a requested space themselves


class OneLineParser(argparse.ArgumentParser):
    """Usage errors in one line (exit 2), with where to look, instead of the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def common_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Global options; accepted before the command and after it (`suppress` for the copies)."""
    default = (lambda value: argparse.SUPPRESS) if suppress else (lambda value: value)
    parser.add_argument("--home", type=Path, default=default(None), help="data folder (default: $LITPHOTOS_HOME or the user data folder)")
    parser.add_argument("--model", default=default(None), help="model key from resources/models.json (default: the library's, else the curated default)")
    parser.add_argument("--weights", type=Path, default=default(None), help="a local weights file instead of downloading")
    parser.add_argument("--offline", action="store_true", default=default(False), help="never download model weights")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description="Find photos on your own disk by what they show.")
    common_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    common_options(common, suppress=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub, common)
    return parser


def compose(args: argparse.Namespace):  # noqa: ANN201 - engine.library.Library
    """Build the library from the options: paths, catalog, serving model and any pending switch.

    The library remembers its model. `--model`/`--weights` that differ from it ask for a
    switch: instant when that space is complete, else it is built in the background while
    searches keep using the remembered model (see engine/spaces.py).
    """
    from engine import spaces
    from engine.catalog import Catalog
    from engine.library import Library
    from engine.paths import Paths, default_home
    from engine.specs import UnknownModel, load_model_list
    from engine.towers import TextTowers

    paths = Paths(args.home.expanduser() if args.home else default_home()).ensure()
    catalog = Catalog(paths.catalog)
    models = load_model_list()
    allow_download = not args.offline
    serving = spaces.serving_choice(catalog)
    requested = spaces.requested_choice(args.model, args.weights, serving)
    if serving is None:  # a new library: what was asked for (or the default) simply serves
        serving = requested or spaces.ModelChoice(models.default, args.weights.resolve() if args.weights else None)
        encoder = spaces.open_encoder(serving, models, paths, allow_download)
        with catalog.writing() as s:
            spaces.set_serving(s, serving, encoder.space_id)
        requested = None
    else:
        encoder = spaces.open_encoder(serving, models, paths, allow_download)
    target = None
    pending = spaces.target_choice(catalog)
    if pending is not None:
        try:
            target = spaces.open_encoder(pending, models, paths, allow_download)
        except (UnknownModel, OSError) as exc:  # e.g. its weights file was deleted meanwhile
            logging.getLogger(__name__).warning("dropping the pending switch to %s: %s", pending.key, exc)
            spaces.set_target(catalog, None)
    library = Library(paths, catalog, encoder, target=target, models=models)
    if requested is not None and library.request_model(requested) == "building" and args.command not in BUILDERS:
        print(
            f"{PROG}: note: {requested.key} is a new embedding space; searches use {serving.key} until "
            f"`{PROG} spaces build` (or the app, or `watch`) has embedded every photo with it",
            file=sys.stderr,
        )
    TextTowers.of(library).apply_active()  # the text-tower version chosen last time (applied when the model loads)
    return library


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    for stream in (sys.stdout, sys.stderr):  # odd file names must never crash printing
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    if args.command is None:
        from app import run_app

        return run_app(lambda: compose(args))
    ctx = Context(open_library=lambda: compose(args))
    try:
        return int(args.handler(args, ctx) or 0)
    except BrokenPipeError:  # `... | head`: the reader left (caught before OSError, its base)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141
    except expected_errors() as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line here, the traceback in the log
        log = _write_crash_log(args)
        print(f"{PROG}: internal error: {exc!r} (details in {log})", file=sys.stderr)
        return 1
    finally:
        ctx.close()


def _write_crash_log(args: argparse.Namespace) -> str:
    from engine.paths import Paths, default_home

    try:
        logs = Paths(args.home.expanduser() if args.home else default_home()).logs
        logs.mkdir(parents=True, exist_ok=True)
        path = logs / f"crash-{os.getpid()}.log"
        path.write_text(traceback.format_exc())
        return str(path)
    except OSError:
        traceback.print_exc()
        return "stderr"


if __name__ == "__main__":
    sys.exit(main())
