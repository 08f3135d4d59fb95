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

from engine.commands import Context
from engine.commands import categories as categories_commands
from engine.commands import core as core_commands
from engine.commands import sync as sync_commands
from trainer import commands as trainer_commands

COMMAND_MODULES = (core_commands, sync_commands, categories_commands, trainer_commands)

PROG = "litphotos"


def common_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Global options; accepted before the command and after it (`suppress` for the copies)."""
    default = (lambda value: argparse.SUPPRESS) if suppress else (lambda value: value)
    parser.add_argument("--home", type=Path, default=default(None), help="data folder (default: $LITPHOTOS_HOME or the user data folder)")
    parser.add_argument("--model", default=default(None), help="model key from resources/models.json (default: the library's, else the curated default)")
    parser.add_argument("--weights", type=Path, default=default(None), help="a local weights file instead of downloading")
    parser.add_argument("--offline", action="store_true", default=default(False), help="never download model weights")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Find photos on your own disk by what they show.")
    common_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    common_options(common, suppress=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub, common)
    return parser


def compose(args: argparse.Namespace):  # noqa: ANN201 - engine.library.Library
    """Build the library from the options: paths, catalog, model facade."""
    from engine.catalog import Catalog
    from engine.encoder import Encoder
    from engine.library import Library
    from engine.paths import Paths, default_home
    from engine.specs import load_model_list
    from engine.towers import TextTowers

    paths = Paths(args.home.expanduser() if args.home else default_home()).ensure()
    catalog = Catalog(paths.catalog)
    models = load_model_list()
    # The library remembers its model: without --model, keep using the one it was indexed with.
    key = args.model or catalog.get_setting("model") or models.default
    spec = models.get(key)
    weights = args.weights
    if weights is None and not args.model:
        remembered = catalog.get_setting("weights")
        weights = Path(remembered) if remembered else None
    encoder = Encoder(spec, paths.models, weights_file=weights, allow_download=not args.offline)
    catalog.set_setting("model", spec.key)
    catalog.set_setting("weights", str(weights.resolve()) if weights else None)
    library = Library(paths, catalog, encoder)
    TextTowers.of(library).apply_active()  # the text-tower version chosen last time (applied when the model loads)
    return library


def _expected_errors() -> tuple[type[BaseException], ...]:
    from engine.catalog import CatalogLocked, CatalogTooNew
    from engine.images import UnreadableImage
    from engine.library import FolderError
    from engine.query import QueryError
    from engine.specs import UnknownModel
    from engine.weights import WeightsUnavailable

    return (CatalogLocked, CatalogTooNew, UnreadableImage, FolderError, QueryError, UnknownModel, WeightsUnavailable, FileNotFoundError)


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
    except _expected_errors() as exc:
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
        if ctx._library is not None:
            ctx._library.close()


def _write_crash_log(args: argparse.Namespace) -> str:
    from engine.paths import Paths, default_home

    try:
        logs = Paths(args.home or default_home()).logs
        logs.mkdir(parents=True, exist_ok=True)
        path = logs / f"crash-{os.getpid()}.log"
        path.write_text(traceback.format_exc())
        return str(path)
    except OSError:
        traceback.print_exc()
        return "stderr"


if __name__ == "__main__":
    sys.exit(main())
