"""Core commands: index, search, similar, status, folders, failures."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from engine.commands import Context, ProgressLine
from engine.library import Filters
from engine.progress import format_eta


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("index", parents=[common], help="register folders and index them (no path: re-scan all)")
    p.add_argument("paths", nargs="*", metavar="PATH")
    p.add_argument("--json", action="store_true", help="print one JSON object when done")
    p.set_defaults(handler=cmd_index)

    for name, helptext in (("search", "find photos by a text (or combined) query"), ("similar", "photos most like a given photo")):
        p = sub.add_parser(name, parents=[common], help=helptext)
        if name == "search":
            p.add_argument("query", nargs="+", metavar="QUERY", help='e.g. "2:beach" + sunset - people')
        else:
            p.add_argument("path", metavar="PATH")
        p.add_argument("--limit", type=_positive_int, default=20)
        p.add_argument("--folder", help="only photos inside this folder")
        p.add_argument("--after", type=_date, help="taken on or after YYYY-MM-DD")
        p.add_argument("--before", type=_date, help="taken on or before YYYY-MM-DD")
        p.add_argument("--min-score", type=float, help="minimum cosine similarity")
        p.add_argument("--camera", help="camera make or model contains this text")
        p.add_argument("--json", action="store_true")
        p.set_defaults(handler=cmd_search if name == "search" else cmd_similar)

    p = sub.add_parser("status", parents=[common], help="what is in the library")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser("folders", parents=[common], help="list or remove registered folders")
    fsub = p.add_subparsers(dest="folders_command", required=True, metavar="{list,remove}")
    lp = fsub.add_parser("list", parents=[common], help="registered folders with photo counts")
    lp.add_argument("--json", action="store_true")
    lp.set_defaults(handler=cmd_folders_list)
    rp = fsub.add_parser("remove", parents=[common], help="forget a folder (files on disk are untouched)")
    rp.add_argument("path", metavar="PATH")
    rp.set_defaults(handler=cmd_folders_remove)

    p = sub.add_parser("failures", parents=[common], help="files that could not be indexed, and why")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_failures)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


@contextmanager
def cancel_on_interrupt(*signums: signal.Signals) -> Iterator[threading.Event]:
    """Ctrl-C (and any of `signums`, e.g. a service manager's SIGTERM) asks the running job
    to stop after its batch: the event is set. A second Ctrl-C aborts at once."""
    cancel = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in {signal.SIGINT, *signums}}

    def handler(signum, frame):  # noqa: ANN001, ANN202
        if cancel.is_set() and signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        cancel.set()

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield cancel
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def cmd_index(args: argparse.Namespace, ctx: Context) -> int:
    library = ctx.library
    line = ProgressLine(ctx.stderr)
    report = None
    with cancel_on_interrupt() as cancel:
        for event in library.index_folders(args.paths or None, cancel):
            if event.report is not None:
                report = event.report
            elif event.phase == "embedding" and event.total:
                line.show(
                    f"{event.done}/{event.total} photos  {event.rate:.1f}/s  eta {format_eta(event.eta_s)}",
                    event.done,
                    event.total,
                )
            elif line.tty:
                line.show(event.message or event.phase)
    line.end()
    assert report is not None
    if args.json:
        ctx.print_json(report.as_dict())
    else:
        r = report
        ctx.stdout.write(
            f"added {r.added}, updated {r.updated}, moved {r.moved}, removed {r.removed}, "
            f"unchanged {r.unchanged}, failed {r.failed} in {r.seconds:.1f}s\n"
        )
        for folder in r.offline:
            ctx.stdout.write(f"offline (not found, nothing deleted): {folder}\n")
        if r.failed:
            ctx.stdout.write("see `failures` for the files that could not be read\n")
    if report.cancelled:
        ctx.stderr.write("cancelled: what was indexed is kept; run `index` again to finish\n")
        return 130
    return 0


def _filters(args: argparse.Namespace) -> Filters:
    return Filters(folder=args.folder, after=args.after, before=args.before, min_score=args.min_score, camera=args.camera)


def _print_results(results, args: argparse.Namespace, ctx: Context) -> int:  # noqa: ANN001
    if args.json:
        ctx.print_json([r.as_dict() for r in results])
        return 0
    if not results:
        ctx.stdout.write("no matching photos\n")
    for r in results:
        flag = "" if r.available else "  (offline)"
        ctx.stdout.write(f"{r.score:.3f}  {r.path}{flag}\n")
    return 0


def cmd_search(args: argparse.Namespace, ctx: Context) -> int:
    results = ctx.library.search(" ".join(args.query), _filters(args), args.limit)
    return _print_results(results, args, ctx)


def cmd_similar(args: argparse.Namespace, ctx: Context) -> int:
    results = ctx.library.similar(args.path, _filters(args), args.limit)
    return _print_results(results, args, ctx)


def cmd_status(args: argparse.Namespace, ctx: Context) -> int:
    status = ctx.library.status()
    if args.json:
        ctx.print_json(status)
        return 0
    ctx.stdout.write(
        f"{status['photos']} photos in {status['folders']} folders"
        f" ({status['offline_folders']} offline), {status['failures']} failures\n"
        f"model {status['model']}  space {status['space']}  text tower {status['text_tower']}\n"
        f"vector index: {status['index']['kind']}, {status['index']['count']} vectors\n"
        f"data home: {status['home']}\n"
    )
    return 0


def cmd_folders_list(args: argparse.Namespace, ctx: Context) -> int:
    folders = ctx.library.folders()
    if args.json:
        ctx.print_json(
            [{"path": f.path, "photos": f.photos, "online": f.online, "last_scan_at": f.last_scan_at} for f in folders]
        )
        return 0
    if not folders:
        ctx.stdout.write("no folders yet: add one with `index PATH`\n")
    for f in folders:
        state = "" if f.online else "  (offline)"
        ctx.stdout.write(f"{f.photos:8d}  {f.path}{state}\n")
    return 0


def cmd_folders_remove(args: argparse.Namespace, ctx: Context) -> int:
    removed = ctx.library.remove_folder(args.path)
    ctx.stdout.write(f"removed {args.path} from the library ({removed} photos); files on disk are untouched\n")
    return 0


def cmd_failures(args: argparse.Namespace, ctx: Context) -> int:
    failures = ctx.library.failures()
    if args.json:
        ctx.print_json([{"path": f.path, "reason": f.reason, "at": f.at} for f in failures])
        return 0
    if not failures:
        ctx.stdout.write("no failures\n")
    for f in failures:
        ctx.stdout.write(f"{f.path}: {f.reason}\n")
    return 0
