"""The `kit` command: for learners, instructors and (marked so) the kit's contributors."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from rich.console import Console

from grader.chapters import CHAPTERS, one_line
from grader.presets import LINEARS

console = Console()


def cmd_sync(args: argparse.Namespace) -> int:
    """Regenerate exercises/ from solutions/ (keeping changed files); --check reports drift."""
    from grader.sync import sync

    drift = sync(write=not args.check, force=args.force)
    if args.check:
        for chapter, diff in drift.items():
            console.print(f"[red]exercises/{chapter}.py differs from what solutions/ generates[/]")
            console.print(diff, markup=False, highlight=False)
        if drift:
            console.print("Run `nox -s sync` (or `kit sync`) and commit the result.")
            return 1
        console.print("exercises/ is in sync with solutions/")
        return 0
    for chapter in drift:
        console.print(
            f"[yellow]kept exercises/{chapter}.py[/]: it is not what `kit sync` last wrote "
            "(your work?); `kit sync --force` replaces it with the stub"
        )
    written = len(CHAPTERS) - len(drift)
    console.print(f"exercises/: {written} of {len(CHAPTERS)} files generated from solutions/")
    return 1 if drift else 0


def cmd_explain(args: argparse.Namespace) -> int:
    """Replay one case of one item alone, and show what differs."""
    from grader import registry
    from grader.explain import explain, load_case

    try:
        item = registry.get(args.item)
    except KeyError:
        raise UsageError(
            f"no graded item {args.item!r}: pytest's failure line names it (e.g. rmsnorm_float32)"
        ) from None
    try:
        case = load_case(item, args.case)
    except ValueError as error:
        raise UsageError(str(error)) from None
    print(explain(item, load_impl(args.impl, item.chapter), case))
    return 0


def cmd_notebook(args: argparse.Namespace) -> int:
    """Pair exercises/CHAPTER.py with a notebook, so that pytest sees what the notebook saves."""
    from grader.notebook import pair

    chapter_file = Path(args.folder) / f"{args.chapter}.py"
    if not chapter_file.is_file():
        raise UsageError(f"{chapter_file} does not exist: run this from the repository root")
    try:
        notebook = pair(chapter_file)
    except FileExistsError as error:
        raise UsageError(str(error)) from None
    console.print(
        f"{notebook} is paired with {chapter_file}: open it in Jupyter (`jupyter lab "
        f"{notebook}`); each save updates {chapter_file}, which pytest checks. After editing "
        f"the .py elsewhere, run `jupytext --sync {notebook}`.",
        soft_wrap=True,
    )
    return 0


def cmd_course(args: argparse.Namespace) -> int:
    """Build an nbgrader course directory from solutions/ and release it."""
    from grader.course import build_course

    unknown = [chapter for chapter in args.chapters if chapter not in CHAPTERS]
    if unknown:  # before anything is written: a typo left an empty source/<typo>/ behind
        raise UsageError(f"no chapter {', '.join(unknown)}; the chapters are {', '.join(CHAPTERS)}")
    release = build_course(Path(args.directory), chapters=args.chapters or None)
    for notebook in release:
        console.print(f"released {notebook}")
    return 0


def cmd_snapshots(args: argparse.Namespace) -> int:
    """Compare live Hugging Face outputs with the frozen snapshots, or rewrite them."""
    from grader.snapshots import compare_snapshots, write_snapshots

    if args.update:
        for path in write_snapshots():
            console.print(f"wrote {path}")
        return 0
    changes = compare_snapshots()
    for change in changes:
        console.print(f"[red]{change}[/]")
    if not changes:
        console.print("live Hugging Face outputs match the snapshots")
    return 1 if changes else 0


def parse_bytes(text: str) -> int:
    """`15GB` (10^9 bytes), `15GiB` (2^30), `16000MB`, `1.5TB`: a size needs its unit."""
    units = {"tib": 2**40, "gib": 2**30, "mib": 2**20, "tb": 10**12, "gb": 10**9, "mb": 10**6}
    lowered = text.strip().lower()
    for unit, size in units.items():
        number = lowered.removesuffix(unit)
        if number != lowered:
            try:
                value = float(number) * size
            except ValueError:
                break
            if math.isfinite(value) and value >= 1:
                return int(value)
            raise argparse.ArgumentTypeError(f"{text!r} is not a positive size")
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a size with a unit: write e.g. 15GB (10^9 bytes) or 16GiB (2^30)"
    )


LORA_TARGETS = (*LINEARS, "lm_head")  # what kit memory's --lora-targets may name


def count(least: int):
    """An argparse type: a whole number of at least `least` (a count of jobs, tokens, ...)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < least:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least {least}")
        return value

    return parse


def seconds(text: str) -> float:
    """An argparse type: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


class UsageError(Exception):
    """Bad input to a command: `main` prints the message as one line and exits with status 2."""


def cmd_memory(args: argparse.Namespace) -> int:
    """Print what training (and inference) of a model needs, and whether it fits a GPU."""
    from grader.memory_report import DTYPES, dtype_table, memory_table, read_model

    impl = load_impl(args.impl, "memory")
    lora = {"r": args.lora_r, "target_modules": args.lora_targets} if args.lora_r else None
    try:
        name, config = read_model(args.model, impl, args.vocab_size)
        if args.dtype is None:
            console.print(dtype_table(impl, name, config, lora, args))
            return 0
        table, verdict = memory_table(
            impl, name, config, DTYPES.get(args.dtype, args.dtype), lora, args
        )
    except ValueError as error:
        raise UsageError(str(error)) from None
    except Exception as error:
        if args.impl == "solutions":
            raise  # the kit's own chapter failed: a bug to see with its traceback
        raise UsageError(
            f"{impl.origin} failed ({one_line(error)}): finish the memory chapter, "
            "or leave out --impl to use the solutions"
        ) from None
    console.print(table)
    if verdict:
        console.print(verdict)
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    """Grade submissions in sandboxed workers; write gradebook, CSV, feedback and a summary."""
    from grader.autograde.grade import OutputError, UsageError, grade_folder

    try:
        outcomes, isolation = grade_folder(
            Path(args.submissions),
            out=Path(args.out) if args.out else None,
            db_url=args.db_url,
            jobs=args.jobs,
            force=args.force,
            examples=args.examples,
            timeout=args.timeout,
            zip_regexp=args.zip_regexp,
            allow_bwrap=not args.no_bwrap,
            console=console,
            names=args.names,
        )
    except UsageError as error:
        console.print(f"kit grade: {error}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except OutputError as error:
        summary(error.outcomes, error.isolation)
        console.print(f"kit grade: {error}", markup=False, highlight=False, soft_wrap=True)
        return 1
    return summary(outcomes, isolation)


def cmd_demo(args: argparse.Namespace) -> int:
    """Grade the kit's sample submissions: correct, partly wrong, stub and hostile."""
    from grader.autograde.demo import write_samples
    from grader.autograde.grade import UsageError, grade_folder, writable_folder

    out = Path(args.out)
    try:
        writable_folder(out, "--out")
    except UsageError as error:
        console.print(f"kit demo: {error}", markup=False, highlight=False, soft_wrap=True)
        return 2
    samples = write_samples(out / "submissions")
    console.print(f"sample submissions written to {samples}; grading them as `kit grade` would")
    # A correct llama chapter takes about 11 s here (the tripwire profiles every call): 60 s
    # leave room on a loaded machine, and mallory's infinite loop shows what a timeout costs.
    outcomes, isolation = grade_folder(
        samples, out=out / "grades", jobs=args.jobs, force=True, timeout=60, console=console
    )
    summary(outcomes, isolation)
    console.print(
        f"Gradebook, grades.csv, items.csv, report.html and feedback/ are in {out / 'grades'}. "
        "`kit grade` exits 1 when a submission could not be graded (mallory's); "
        "the demo itself succeeded."
    )
    return 0


def summary(outcomes, isolation) -> int:
    """Print the table of outcomes; 1 if any submission could not be graded."""
    from rich.table import Table
    from rich.text import Text

    from grader.autograde.cohort import item_stats, summary_tables
    from grader.autograde.grade import FLAGGED, GRADED, clip

    table = Table(title=f"kit grade ({isolation.describe()})")
    for column in ("student", "chapter", "score", "status", "reason"):
        table.add_column(column)
    for o in outcomes:
        style = {GRADED: "", FLAGGED: "yellow"}.get(o.status, "red")
        score = f"{o.score:g} / {o.max_score}"
        cells = (o.student, o.chapter, score, o.status, clip(o.reason))
        table.add_row(*map(Text, cells), style=style)  # Text: a student's `[/]` is no markup
    console.print(table)
    reused = [f"{o.student}/{o.chapter}" for o in outcomes if o.reused]
    if reused:
        shown = ", ".join(reused[:10]) + (
            f" and {len(reused) - 10} more" if len(reused) > 10 else ""
        )
        console.print(
            Text(f"skipped {len(reused)} unchanged since the last run (--force regrades): {shown}")
        )
    console.print(*summary_tables(item_stats(outcomes)))
    failed = [o for o in outcomes if o.status not in (GRADED, FLAGGED)]
    if failed:
        console.print(f"[red]{len(failed)} submission(s) could not be graded: see the table[/]")
    return 1 if failed else 0


def load_impl(name: str, chapter: str):
    """The implementation of a chapter: solutions (the default), exercises, or a folder."""
    from grader.chapters import ROOT, load_chapter

    impl = load_chapter(ROOT / name if name in ("solutions", "exercises") else Path(name), chapter)
    if impl.error:
        raise UsageError(f"{impl.error}: fix it, or choose another --impl")
    return impl


class Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line: the problem, then where the usage is."""

    def error(self, message: str):
        """Print `kit COMMAND: error: ...` and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def parser() -> argparse.ArgumentParser:
    """The command line."""
    main_parser = Parser(prog="kit", description=__doc__)
    commands = main_parser.add_subparsers(required=True, metavar="COMMAND")

    explain = commands.add_parser(
        "explain", help="replay the case an item failed on, and show what differs"
    )
    explain.add_argument("item", help="the item's id, e.g. rmsnorm_float32")
    explain.add_argument("--case", required=True, help="the case id pytest printed")
    explain.add_argument(
        "--impl", default="exercises", help="the chapter files: exercises (default) or a folder"
    )
    explain.set_defaults(run=cmd_explain)

    notebook = commands.add_parser(
        "notebook", help="work on a chapter in Jupyter: a notebook paired with its .py"
    )
    notebook.add_argument("chapter", choices=CHAPTERS, help=f"one of {', '.join(CHAPTERS)}")
    notebook.add_argument(
        "--folder", default="exercises", help="where the chapter files are (default: exercises)"
    )
    notebook.set_defaults(run=cmd_notebook)

    course = commands.add_parser(
        "course", help="(instructors) build and release an nbgrader course"
    )
    course.add_argument("directory", help="course directory to create or update")
    course.add_argument(
        "chapters",
        nargs="*",
        metavar="CHAPTER",
        help=f"chapters to include (default: all): {', '.join(CHAPTERS)}",
    )
    course.set_defaults(run=cmd_course)

    grade = commands.add_parser("grade", help="autograde submissions in a sandbox")
    grade.add_argument(
        "submissions", help="an nbgrader submitted/ folder, student folders, or LMS zips"
    )
    grade.add_argument("--out", help="results folder (default: <course>/kit, or ./kit-grades)")
    grade.add_argument("--db-url", help="nbgrader gradebook URL (default: sqlite in the course)")
    grade.add_argument("--jobs", type=count(1), default=os.cpu_count(), help="parallel workers")
    grade.add_argument("--force", action="store_true", help="regrade unchanged submissions too")
    grade.add_argument("--examples", type=count(1), default=25, help="drawn cases per item")
    grade.add_argument("--timeout", type=seconds, default=120, help="seconds per submission")
    grade.add_argument("--zip-regexp", default=None, help="zip_collect file name pattern")
    grade.add_argument("--no-bwrap", action="store_true", help="never use bubblewrap")
    grade.add_argument(
        "--names", action="store_true", help="name students in the cohort report (report.html)"
    )
    grade.set_defaults(run=cmd_grade)

    demo = commands.add_parser("demo", help="grade the kit's sample submissions")
    demo.add_argument("--out", default="kit-demo", help="where to write samples and grades")
    demo.add_argument("--jobs", type=count(1), default=os.cpu_count())
    demo.set_defaults(run=cmd_demo)

    memory = commands.add_parser(
        "memory", help="what a model needs to train and to run, and whether it fits a GPU"
    )
    from grader.presets import HF_CONFIGS

    memory.add_argument(
        "model", help=f"a preset ({', '.join(HF_CONFIGS)}), a config.json or a params.json"
    )
    memory.add_argument(
        "--dtype",
        choices=["float32", "bfloat16", "float16", "4bit"],
        help="the weights' dtype, for a full breakdown (default: compare float32, bfloat16, 4bit)",
    )
    memory.add_argument(
        "--lora-r", type=count(0), default=0, help="LoRA rank (0: full fine-tuning)"
    )
    memory.add_argument(
        "--lora-targets",
        nargs="+",
        default=["q_proj", "k_proj", "v_proj", "o_proj"],
        choices=LORA_TARGETS,
        metavar="MODULE",
        help=f"modules LoRA adapts, of {' '.join(LORA_TARGETS)} (default: q_proj k_proj v_proj "
        "o_proj)",
    )
    memory.add_argument(
        "--batch-size", type=count(1), default=1, help="sequences per step (default 1)"
    )
    memory.add_argument(
        "--seq-len", type=count(1), default=512, help="tokens per sequence (default 512)"
    )
    memory.add_argument(
        "--gpu",
        type=parse_bytes,
        help="GPU memory with its unit, e.g. 15GB (10^9 bytes) or 16GiB (2^30): adds a verdict",
    )
    memory.add_argument(
        "--vocab-size", type=count(1), help="for a params.json whose vocab_size is -1"
    )
    memory.add_argument(
        "--impl",
        default="solutions",
        help="whose memory chapter computes it: solutions (default), exercises, or a folder",
    )
    memory.set_defaults(run=cmd_memory)

    # Contributors' commands come last: `kit sync` once replaced a learner's work with stubs.
    sync = commands.add_parser(
        "sync",
        help="(contributors) regenerate exercises/ from solutions/; keeps files you changed",
    )
    sync.add_argument("--check", action="store_true", help="only report drift; exit 1 if any")
    sync.add_argument(
        "--force", action="store_true", help="also replace exercises you changed with the stubs"
    )
    sync.set_defaults(run=cmd_sync)

    snapshots = commands.add_parser(
        "snapshots", help="(contributors) check the oracle against its snapshots"
    )
    snapshots.add_argument("--update", action="store_true", help="rewrite the snapshots")
    snapshots.set_defaults(run=cmd_snapshots)
    return main_parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `kit` console script."""
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except UsageError as error:
        print(f"kit: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
