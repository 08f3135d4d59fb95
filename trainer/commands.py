"""Commands of the trainer: captions in, text-tower versions out.

    caption PATH... --text TEXT
    captions import FILE | captions import-metadata [--folder PATH] | captions list [--json]
    train [--epochs N] [--unlocked-blocks K] [--json]
    towers list [--json] | towers use VERSION|base | towers rollback
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from pathlib import Path

from engine.captions import (
    CaptionError,
    add_captions,
    import_category_corrections,
    import_file,
    import_folder_names,
    import_metadata,
    list_captions,
    photo_ids_for_paths,
)
from engine.commands import Context, ProgressLine
from engine.commands.core import cancel_on_interrupt
from engine.progress import format_eta
from engine.towers import BASE, TextTowers, TowerError


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add this area's commands to the parser."""
    p = sub.add_parser("caption", parents=[common], help="attach a caption to photos (shared by all of them)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--text", required=True, help='the words, e.g. "Rex asleep on the sofa"')
    p.set_defaults(handler=cmd_caption)

    p = sub.add_parser("captions", parents=[common], help="import or list captions (the trainer's data)")
    csub = p.add_subparsers(dest="captions_command", required=True, metavar="{import,import-metadata,list}")
    ip = csub.add_parser("import", parents=[common], help="captions from a CSV or JSON-lines file of path,caption")
    ip.add_argument("file", type=Path, metavar="FILE")
    ip.add_argument("--json", action="store_true")
    ip.set_defaults(handler=cmd_captions_import)
    mp = csub.add_parser("import-metadata", parents=[common], help="captions from XMP/IPTC/EXIF and .xmp sidecars")
    mp.add_argument("--folder", type=Path, help="only photos inside this folder")
    mp.add_argument("--folder-names", action="store_true", help="also caption photos with their folder (album) name")
    mp.add_argument("--categories", action="store_true", help="also caption photos pinned into a category as pinning does (its first prompt), dropping captions of undone pins")
    mp.add_argument("--json", action="store_true")
    mp.set_defaults(handler=cmd_captions_import_metadata)
    lp = csub.add_parser("list", parents=[common], help="every caption with its photo, source and split")
    lp.add_argument("--json", action="store_true")
    lp.set_defaults(handler=cmd_captions_list)

    p = sub.add_parser("train", parents=[common], help="teach the text tower the captions (image vectors stay as they are)")
    p.add_argument("--epochs", type=_positive_int, help="passes over the training captions")
    p.add_argument("--unlocked-blocks", type=_positive_int, help="top text blocks to train (default 2)")
    p.add_argument("--no-guard", action="store_true", help="no distillation on anchor prompts, no interpolation")
    p.add_argument("--no-activate", action="store_true", help="keep the active version; use `towers use` later")
    p.add_argument("--json", action="store_true", help="print the version id and before/after metrics as JSON")
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser("towers", parents=[common], help="text-tower versions: list, use, roll back")
    tsub = p.add_subparsers(dest="towers_command", required=True, metavar="{list,use,rollback}")
    tl = tsub.add_parser("list", parents=[common], help="versions of this library's model, newest first")
    tl.add_argument("--json", action="store_true")
    tl.set_defaults(handler=cmd_towers_list)
    tu = tsub.add_parser("use", parents=[common], help="activate a version (or 'base')")
    tu.add_argument("version", metavar="VERSION|base")
    tu.set_defaults(handler=cmd_towers_use)
    tr = tsub.add_parser("rollback", parents=[common], help="go back to the previously active version")
    tr.set_defaults(handler=cmd_towers_rollback)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _fail(ctx: Context, message: str) -> int:
    ctx.stderr.write(f"error: {message}\n")
    return 1


def cmd_caption(args: argparse.Namespace, ctx: Context) -> int:
    try:
        ids, unknown = photo_ids_for_paths(ctx.library.catalog, args.paths)
        if unknown:
            return _fail(ctx, f"not in the library (index it first): {', '.join(unknown[:5])}")
        report = add_captions(ctx.library.catalog, ids, args.text)
    except CaptionError as exc:
        return _fail(ctx, str(exc))
    ctx.stdout.write(f"captioned {report.added} photos" + (f" ({report.existing} already had it)" if report.existing else "") + "\n")
    return 0


def _print_import(report, args: argparse.Namespace, ctx: Context) -> None:  # noqa: ANN001
    if args.json:
        ctx.print_json(report.as_dict())
        return
    ctx.stdout.write(f"added {report.added} captions to {report.photos} photos ({report.existing} already there)\n")
    if report.unknown:
        ctx.stdout.write(f"{len(report.unknown)} paths are not in the library, e.g. {report.unknown[0]}\n")
    for problem in report.problems[:10]:
        ctx.stdout.write(f"skipped: {problem}\n")


def cmd_captions_import(args: argparse.Namespace, ctx: Context) -> int:
    try:
        report = import_file(ctx.library.catalog, args.file)
    except CaptionError as exc:
        return _fail(ctx, str(exc))
    _print_import(report, args, ctx)
    return 0


def cmd_captions_import_metadata(args: argparse.Namespace, ctx: Context) -> int:
    catalog = ctx.library.catalog
    with cancel_on_interrupt() as cancel:
        report = import_metadata(catalog, args.folder, cancel)
    for wanted, extra in ((args.folder_names, lambda: import_folder_names(catalog, args.folder)), (args.categories, lambda: import_category_corrections(catalog))):
        if wanted:
            more = extra()
            report.added, report.existing, report.photos = report.added + more.added, report.existing + more.existing, report.photos + more.photos
    _print_import(report, args, ctx)
    return 130 if report.cancelled else 0


def cmd_captions_list(args: argparse.Namespace, ctx: Context) -> int:
    captions = list_captions(ctx.library.catalog)
    if args.json:
        ctx.print_json([c.as_dict() for c in captions])
        return 0
    if not captions:
        ctx.stdout.write("no captions yet: add one with `caption PATH --text TEXT`\n")
    for c in captions:
        split = "held-out" if c.held_out else "train"
        ctx.stdout.write(f"{c.id:6d}  {c.source:8s} {split:8s} {c.text}  <- {c.path}\n")
    return 0


def _format_metrics(metrics: dict) -> str:
    parts = []
    for key, value in metrics.items():
        parts.append(f"{key} " + ("n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"))
    return ", ".join(parts)


def cmd_train(args: argparse.Namespace, ctx: Context) -> int:
    from trainer.train import TrainConfig, TrainError, train

    changes = {}
    if args.epochs:
        changes["epochs"] = args.epochs
    if args.unlocked_blocks:
        changes["unlocked_blocks"] = args.unlocked_blocks
    if args.no_guard:
        changes["guard"] = False
    config = dataclasses.replace(TrainConfig(), **changes)
    line = ProgressLine(ctx.stderr)
    result = None
    try:
        with cancel_on_interrupt() as cancel:
            for event in train(ctx.library, config, cancel, activate=not args.no_activate):
                if event.result is not None:
                    result = event.result
                elif event.phase == "training":
                    line.show(f"step {event.step}/{event.total}  loss {event.loss:.4f}  eta {format_eta(event.eta_s)}", event.step, event.total)
                else:
                    line.show(event.message or event.phase, force=True)
    except TrainError as exc:
        line.end()
        return _fail(ctx, str(exc))
    line.end()
    assert result is not None
    if args.json:
        ctx.print_json(result.as_dict())
    elif not result.cancelled:
        d = result.as_dict()
        ctx.stdout.write(f"version {result.version}: {result.steps} steps in {result.seconds:.1f}s on {result.device}\n")
        ctx.stdout.write(f"  before: {_format_metrics(d['before'])}\n  after:  {_format_metrics(d['after'])}\n")
        ctx.stdout.write(f"  interpolation weight {result.alpha:g} (chosen by recall on {result.counts['held_out_captions']} held-out captions, then fit on the training ones)\n")
        if result.activated:
            ctx.stdout.write("now active; `towers rollback` goes back\n")
    if result.cancelled:
        ctx.stderr.write("cancelled: the active text tower is unchanged\n")
        return 130
    return 0


def cmd_towers_list(args: argparse.Namespace, ctx: Context) -> int:
    towers = TextTowers.of(ctx.library)
    versions = towers.versions()
    if args.json:
        ctx.print_json({"active": towers.active(), "versions": [v.as_dict() for v in versions]})
        return 0
    mark = "*" if towers.active() == BASE else " "
    ctx.stdout.write(f"{mark} base  (the pretrained text tower)\n")
    for v in versions:
        mark = "*" if v.active else " "
        after = v.record.get("after", {})
        ctx.stdout.write(f"{mark} {v.id}  {v.created_at:%Y-%m-%d %H:%M}  {_format_metrics(after)}\n")
    return 0


def cmd_towers_use(args: argparse.Namespace, ctx: Context) -> int:
    try:
        version = TextTowers.of(ctx.library).use(args.version)
    except TowerError as exc:
        return _fail(ctx, str(exc))
    ctx.stdout.write(f"text tower: {version}\n")
    return 0


def cmd_towers_rollback(args: argparse.Namespace, ctx: Context) -> int:
    try:
        version = TextTowers.of(ctx.library).rollback()
    except TowerError as exc:
        return _fail(ctx, str(exc))
    ctx.stdout.write(f"text tower: {version}\n")
    return 0
