"""Category commands: `categories add/edit/list/remove/pin/exclude/unpin`, `sort`, `export`, `undo`."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable

from engine.categories import UNSORTED, Categories, CategoryDraft, CategoryError
from engine.commands import Context, ProgressLine
from engine.commands.core import cancel_on_interrupt
from engine.export import MODES, Exporter, ExportError, Plan, plan_categories, plan_lines


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add this area's commands to the parser."""
    p = sub.add_parser("categories", parents=[common], help="name categories that `sort` files photos into")
    csub = p.add_subparsers(dest="categories_command", required=True, metavar="{add,edit,list,remove,pin,exclude,unpin}")

    for name, helptext in (("add", "a new category"), ("edit", "change a category (what is given replaces what was)")):
        cp = csub.add_parser(name, parents=[common], help=helptext)
        cp.add_argument("name", metavar="NAME")
        if name == "edit":
            cp.add_argument("--rename", metavar="NEW", help="a new name")
        cp.add_argument("--prompt", action="append", default=None, metavar="TEXT", help="words for it (repeatable; default: the name)")
        cp.add_argument("--example", action="append", default=None, metavar="PATH", help="an indexed photo that shows it (repeatable)")
        cp.add_argument("--negative", action="append", default=None, metavar="PATH", help="an indexed photo that does not (repeatable)")
        cp.add_argument("--threshold", type=_threshold, default=None, metavar="T", help="minimum similarity, -1..1, or 'auto' (default)")
        cp.set_defaults(handler=_guard(cmd_add if name == "add" else cmd_edit))

    lp = csub.add_parser("list", parents=[common], help="categories with their photo counts")
    lp.add_argument("--json", action="store_true")
    lp.set_defaults(handler=_guard(cmd_list))

    rp = csub.add_parser("remove", parents=[common], help="delete a category (photos are untouched)")
    rp.add_argument("name", metavar="NAME")
    rp.set_defaults(handler=_guard(cmd_remove))

    for name, helptext in (
        ("pin", "always put these photos in the category"),
        ("exclude", "never put these photos in the category"),
        ("unpin", "forget pins and excludes of these photos"),
    ):
        pp = csub.add_parser(name, parents=[common], help=helptext)
        pp.add_argument("name", metavar="NAME")
        pp.add_argument("paths", nargs="+", metavar="PATH")
        pp.set_defaults(handler=_guard(cmd_correct), correction=name)

    p = sub.add_parser("sort", parents=[common], help="which photos go in which category")
    p.add_argument("--multi", action="store_true", help="a photo goes in every category it passes (default: its best one)")
    p.add_argument("--json", action="store_true", help='one object: category -> [{"path", "score"}], plus "Unsorted"')
    p.set_defaults(handler=_guard(cmd_sort))

    p = sub.add_parser("export", parents=[common], help="write the sorted library to DEST, one folder per category")
    p.add_argument("dest", metavar="DEST")
    p.add_argument("--mode", choices=MODES, default="copy")
    p.add_argument("--category", action="append", default=None, metavar="NAME", help=f"only this category (repeatable; '{UNSORTED}' too)")
    p.add_argument("--multi", action="store_true", help="copy or link a photo into every category it passes (not with move)")
    p.add_argument("--dry-run", action="store_true", help="list exactly what would be done, and do nothing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_guard(cmd_export))

    p = sub.add_parser("undo", parents=[common], help="reverse the last export (also after a crash)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_guard(cmd_undo))


def _threshold(text: str) -> float | str:
    if text.lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number or 'auto': {text!r}") from None


def _guard(handler: Callable[[argparse.Namespace, Context], int]) -> Callable[[argparse.Namespace, Context], int]:
    """Expected failures of this area become one line on stderr and exit code 1."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace, ctx: Context) -> int:
        try:
            return handler(args, ctx)
        except (CategoryError, ExportError) as exc:
            ctx.stderr.write(f"litphotos: error: {exc}\n")
            return 1

    return run


def cmd_add(args: argparse.Namespace, ctx: Context) -> int:
    threshold = None if args.threshold in (None, "auto") else args.threshold
    draft = CategoryDraft(args.name, tuple(args.prompt or ()), tuple(args.example or ()), tuple(args.negative or ()), threshold)
    info = Categories(ctx.library).add(draft)
    ctx.stdout.write(f"added {info.name!r}: prompts {list(info.prompts)}, {len(info.examples)} examples, {len(info.negatives)} negatives\n")
    return 0


def cmd_edit(args: argparse.Namespace, ctx: Context) -> int:
    categories = Categories(ctx.library)
    old = categories.get(args.name)
    threshold = old.threshold if args.threshold is None else (None if args.threshold == "auto" else args.threshold)
    draft = CategoryDraft(
        args.rename or old.name,
        tuple(args.prompt) if args.prompt is not None else old.prompts,
        tuple(args.example) if args.example is not None else old.examples,
        tuple(args.negative) if args.negative is not None else old.negatives,
        threshold,
    )
    info = categories.update(old.name, draft)
    ctx.stdout.write(f"changed {info.name!r}\n")
    return 0


def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    categories = Categories(ctx.library)
    infos = categories.all()
    assignment = categories.assignment()
    counts = assignment.counts()
    rows = []
    for info in infos:
        c = assignment.index_of(info.name)
        rows.append({
            **info.as_dict(),
            "photos": counts[info.name],
            "effective_threshold": round(float(assignment.thresholds[c]), 6),
            "suggested_threshold": round(float(assignment.suggested[c]), 6),
        })
    if args.json:
        ctx.print_json(rows)
        return 0
    if not rows:
        ctx.stdout.write("no categories yet: add one with `categories add NAME`\n")
    for row in rows:
        threshold = "auto" if row["threshold"] is None else f"{row['threshold']:.3f}"
        ctx.stdout.write(
            f"{row['photos']:8d}  {row['name']}  (threshold {threshold}, suggested {row['suggested_threshold']:.3f}; "
            f"{len(row['prompts'])} prompts, {len(row['examples'])} examples, {row['pinned']} pinned, {row['excluded']} excluded)\n"
        )
    if rows:
        ctx.stdout.write(f"{counts[UNSORTED]:8d}  {UNSORTED}\n")
    return 0


def cmd_remove(args: argparse.Namespace, ctx: Context) -> int:
    Categories(ctx.library).remove(args.name)
    ctx.stdout.write(f"removed category {args.name!r}; no photo was touched\n")
    return 0


def cmd_correct(args: argparse.Namespace, ctx: Context) -> int:
    categories = Categories(ctx.library)
    action = {"pin": categories.pin, "exclude": categories.exclude, "unpin": categories.clear}[args.correction]
    count = action(args.name, args.paths)
    ctx.stdout.write(f"{args.correction}: {count} photos, category {args.name!r}\n")
    return 0


def cmd_sort(args: argparse.Namespace, ctx: Context) -> int:
    groups = Categories(ctx.library).groups(multi=args.multi)
    if args.json:
        ctx.print_json({name: [{"path": path, "score": round(score, 6)} for _, path, score in members] for name, members in groups.items()})
        return 0
    for name, members in groups.items():
        ctx.stdout.write(f"{name} ({len(members)})\n")
        for _, path, score in members:
            ctx.stdout.write(f"  {score:.3f}  {path}\n")
    return 0


def cmd_export(args: argparse.Namespace, ctx: Context) -> int:
    if args.multi and args.mode == "move":
        raise ExportError("a photo can be moved into one folder only: use --mode copy, hardlink or symlink with --multi")
    plan = plan_categories(Categories(ctx.library), args.dest, args.mode, args.multi, args.category)
    if args.dry_run:
        if args.json:
            ctx.print_json({"dry_run": True, **plan.as_dict()})
        else:
            _print_plan(plan, ctx)
        return 0
    line = ProgressLine(ctx.stderr)
    report = None
    with cancel_on_interrupt() as cancel:
        for event in Exporter(ctx.library).run(plan, cancel):
            if event.report is not None:
                report = event.report
            else:
                line.show(f"{event.done}/{event.total}  {event.message}", event.done, event.total)
    line.end()
    if args.json:
        ctx.print_json(report.as_dict())
    else:
        ctx.stdout.write(
            f"{plan.mode}: {len(report.done)} photos into {plan.dest}, {len(plan.skipped)} skipped, {len(report.failed)} failed"
            f" (journal {report.journal}; `undo` reverses it)\n"
        )
        for s in [*plan.skipped, *report.failed]:
            ctx.stdout.write(f"  not exported: {s.source}: {s.reason}\n")
    return 130 if report.cancelled else (1 if report.failed else 0)


def _print_plan(plan: Plan, ctx: Context) -> None:
    ctx.stdout.write(f"dry run: nothing is written. {plan.mode} {len(plan.operations)} photos into {plan.dest}\n")
    for line in plan_lines(plan):
        ctx.stdout.write(line + "\n")


def cmd_undo(args: argparse.Namespace, ctx: Context) -> int:
    report = None
    with cancel_on_interrupt() as cancel:
        for event in Exporter(ctx.library).undo(cancel):
            report = event.report or report
    if args.json:
        ctx.print_json(report.as_dict())
    else:
        ctx.stdout.write(
            f"undone: {len(report.restored)} moved back, {len(report.removed)} copies or links removed, "
            f"{len(report.folders_removed)} folders removed\n"
        )
        for kept in report.kept:
            ctx.stdout.write(f"  left alone: {kept}\n")
    return 130 if report.cancelled else 0
