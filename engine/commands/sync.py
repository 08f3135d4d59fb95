"""Keeping the library in sync: `watch` (headless watcher) and `spaces` (embedding spaces)."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import TYPE_CHECKING

from engine.commands import Context, ProgressLine
from engine.commands.core import cancel_on_interrupt
from engine.progress import format_eta

if TYPE_CHECKING:
    from engine.library import Library
    from engine.watcher import Watcher


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add this area's commands to the parser."""
    p = sub.add_parser(
        "watch", parents=[common], help="keep the library in sync with its folders until Ctrl-C (for a home server)"
    )
    p.add_argument("--debounce", type=_seconds, default=2.0, metavar="S", help="quiet time before a batch (default 2)")
    p.add_argument("--poll", type=_seconds, default=5.0, metavar="S", help="how often missing drives are checked (default 5)")
    p.add_argument("--no-reconcile", action="store_true", help="skip the start-up scan for changes made while not watching")
    p.add_argument(
        "--polling", type=_seconds, default=None, metavar="S",
        help="for network shares that send no change events: look for changes every S seconds (stat only)",
    )
    p.set_defaults(handler=cmd_watch)

    p = sub.add_parser("spaces", parents=[common], help="embedding spaces (one per image model): list, build, delete")
    ssub = p.add_subparsers(dest="spaces_command", required=True, metavar="{list,build,delete}")
    lp = ssub.add_parser("list", parents=[common], help="every space, with how complete it is")
    lp.add_argument("--json", action="store_true")
    lp.set_defaults(handler=cmd_spaces_list)
    bp = ssub.add_parser(
        "build", parents=[common], help="embed the library with the model asked for (--model), then switch to it"
    )
    bp.set_defaults(handler=cmd_spaces_build)
    dp = ssub.add_parser("delete", parents=[common], help="delete a space that searches do not use (frees its vectors)")
    dp.add_argument("space", metavar="ID")
    dp.set_defaults(handler=cmd_spaces_delete)


def _seconds(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def make_watcher(args: argparse.Namespace, library: Library) -> Watcher:
    """The watcher `watch` runs, as its options ask."""
    from engine.watcher import Watcher, observer_for

    return Watcher(library, debounce_s=args.debounce, poll_s=args.poll, observer_factory=observer_for(args.polling))


def cmd_watch(args: argparse.Namespace, ctx: Context) -> int:
    from engine.watcher import Batch

    library = ctx.library
    watcher = make_watcher(args, library)
    with cancel_on_interrupt(signal.SIGTERM) as stop:  # a service manager stops it with SIGTERM
        builder = None

        def build() -> threading.Thread | None:
            """A pending model switch runs alongside (again, once a drive it waits for is back)."""
            if library.target is None or (builder is not None and builder.is_alive()):
                return builder
            thread = threading.Thread(target=_build_quietly, args=(library, stop, ctx), name="space-builder", daemon=True)
            thread.start()
            return thread

        builder = build()
        for event in watcher.run(stop, reconcile=not args.no_reconcile):
            if isinstance(event, Batch):
                ctx.stdout.write(event.summary() + "\n")
                ctx.stdout.flush()
                if event.folders_back:
                    builder = build()
            elif event.phase == "watching":
                ctx.stderr.write(f"{event.message}; Ctrl-C stops\n")
                ctx.stderr.flush()
        if builder is not None:
            builder.join()
    ctx.stderr.write("stopped; the library is saved\n")
    return 0


def _build_quietly(library, stop: threading.Event, ctx: Context) -> None:  # noqa: ANN001
    """Build the pending space next to the watcher, with a line now and then."""
    line = ProgressLine(ctx.stderr, interval_s=30.0)
    last = None
    for event in library.build_space(stop):
        last = event
        if event.phase == "embedding" and event.total:
            line.show(f"{event.message}  {event.rate:.1f}/s  eta {format_eta(event.eta_s)}", event.done, event.total)
    line.end()
    if last is not None:
        ctx.stdout.write(last.message + "\n")
        ctx.stdout.flush()


def cmd_spaces_list(args: argparse.Namespace, ctx: Context) -> int:
    infos = ctx.library.spaces()
    if args.json:
        ctx.print_json([i.as_dict() for i in infos])
        return 0
    if not infos:
        ctx.stdout.write("no embedding spaces yet: index a folder first\n")
    for i in infos:
        role = "serving" if i.serving else "building" if i.building else "complete" if i.complete else "incomplete"
        size = i.bytes_on_disk / 1e6
        ctx.stdout.write(
            f"{role:10s}  {i.id}  {i.embedded} photos"
            + (f", {i.missing} missing" if i.missing else "")
            + f", index {size:.1f} MB\n"
        )
    return 0


def cmd_spaces_build(args: argparse.Namespace, ctx: Context) -> int:
    library = ctx.library
    if library.target is None:
        ctx.stdout.write(f"nothing to build: searches use {library.encoder.spec.key} (ask for another with --model)\n")
        return 0
    line = ProgressLine(ctx.stderr)
    last = None
    with cancel_on_interrupt() as cancel:
        for event in library.build_space(cancel):
            last = event
            if event.phase == "embedding" and event.total:
                line.show(f"{event.message}  {event.rate:.1f}/s  eta {format_eta(event.eta_s)}", event.done, event.total)
    line.end()
    assert last is not None
    ctx.stdout.write(last.message + "\n")
    return 130 if cancel.is_set() else 0


def cmd_spaces_delete(args: argparse.Namespace, ctx: Context) -> int:
    freed = ctx.library.delete_space(args.space)
    ctx.stdout.write(f"deleted space {args.space} ({freed} vectors); photos and other spaces are untouched\n")
    return 0
