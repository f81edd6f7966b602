"""The `kit` command: course tooling for authors and instructors."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console

console = Console()


def cmd_sync(args: argparse.Namespace) -> int:
    """Regenerate exercises/ from solutions/, or with --check report drift."""
    from grader.sync import sync

    drift = sync(write=not args.check)
    for chapter, diff in drift.items():
        console.print(f"[red]exercises/{chapter}.py differs from what solutions/ generates[/]")
        console.print(diff, markup=False, highlight=False)
    if drift:
        console.print("Run `nox -s sync` (or `kit sync`) and commit the result.")
        return 1
    console.print("exercises/ is in sync with solutions/" if args.check else "exercises/ written")
    return 0


def cmd_course(args: argparse.Namespace) -> int:
    """Build an nbgrader course directory from solutions/ and release it."""
    from grader.course import build_course

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
    """`15GB` (10^9), `15GiB` (2^30), `16000MB`, or a plain number of bytes."""
    units = {"tib": 2**40, "gib": 2**30, "mib": 2**20, "tb": 10**12, "gb": 10**9, "mb": 10**6}
    lowered = text.strip().lower()
    for unit, size in units.items():
        if lowered.endswith(unit):
            return int(float(lowered.removesuffix(unit)) * size)
    return int(float(lowered))


def cmd_memory(args: argparse.Namespace) -> int:
    """Print what training (and inference) of a model needs, and whether it fits."""
    import json

    import torch

    from grader.memory_report import memory_table

    impl = load_impl(args.impl, "memory")
    from grader.presets import HF_CONFIGS, META_PARAMS, hf_config

    if args.model in HF_CONFIGS:
        name, config = args.model, hf_config(args.model)
        meta = META_PARAMS[args.model]
    else:
        values = json.loads(Path(args.model).read_text())
        name, meta = Path(args.model).name, None
        if "dim" in values:  # Meta's params.json
            config = impl.config_from_meta_params(values, args.vocab_size or values["vocab_size"])
        else:
            from grader.presets import llama_config

            config = llama_config({k: values[k] for k in CONFIG_KEYS if k in values})
    dtype = args.dtype if args.dtype == "4bit" else getattr(torch, args.dtype)
    lora = {"r": args.lora_r, "target_modules": args.lora_targets} if args.lora_r else None
    table, fits = memory_table(impl, name, config, dtype, lora, args, meta)
    console.print(table)
    console.print(fits)
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    """Grade submissions in sandboxed workers; write gradebook, CSV, feedback and a summary."""
    from grader.autograde.grade import grade_folder

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
    return summary(outcomes, isolation)


def cmd_demo(args: argparse.Namespace) -> int:
    """Grade the kit's sample submissions: correct, partly wrong, stub and hostile."""
    from grader.autograde.demo import write_samples
    from grader.autograde.grade import grade_folder

    out = Path(args.out)
    samples = write_samples(out / "submissions")
    console.print(f"sample submissions written to {samples}; grading them as `kit grade` would")
    outcomes, isolation = grade_folder(
        samples, out=out / "grades", jobs=args.jobs, force=True, timeout=15, console=console
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

    from grader.autograde.cohort import item_stats, summary_tables
    from grader.autograde.grade import FLAGGED, GRADED

    table = Table(title=f"kit grade ({isolation.describe()})")
    for column in ("student", "chapter", "score", "status", "reason"):
        table.add_column(column)
    for o in outcomes:
        style = {GRADED: "", FLAGGED: "yellow"}.get(o.status, "red")
        score = f"{o.score:g} / {o.max_score}"
        table.add_row(o.student, o.chapter, score, o.status, o.reason, style=style)
    console.print(table)
    console.print(*summary_tables(item_stats(outcomes)))
    failed = [o for o in outcomes if o.status not in (GRADED, FLAGGED)]
    if failed:
        console.print(f"[red]{len(failed)} submission(s) could not be graded: see the table[/]")
    return 1 if failed else 0


CONFIG_KEYS = (  # the fields of a config.json that decide a model's size
    "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "vocab_size", "tie_word_embeddings", "rope_theta",
)  # fmt: skip


def load_impl(name: str, chapter: str):
    """The implementation of a chapter: solutions (the default), exercises, or a folder."""
    from grader.chapters import ROOT, load_chapter

    impl = load_chapter(ROOT / name if name in ("solutions", "exercises") else Path(name), chapter)
    if impl.error:
        raise SystemExit(impl.error)
    return impl


def parser() -> argparse.ArgumentParser:
    """The command line."""
    main_parser = argparse.ArgumentParser(prog="kit", description=__doc__)
    commands = main_parser.add_subparsers(required=True, metavar="COMMAND")

    sync = commands.add_parser("sync", help="generate exercises/ from solutions/")
    sync.add_argument("--check", action="store_true", help="only report drift; exit 1 if any")
    sync.set_defaults(run=cmd_sync)

    course = commands.add_parser("course", help="build and release an nbgrader course")
    course.add_argument("directory", help="course directory to create or update")
    course.add_argument("chapters", nargs="*", help="chapters to include (default: all)")
    course.set_defaults(run=cmd_course)

    snapshots = commands.add_parser("snapshots", help="check the oracle against its snapshots")
    snapshots.add_argument("--update", action="store_true", help="rewrite the snapshots")
    snapshots.set_defaults(run=cmd_snapshots)

    grade = commands.add_parser("grade", help="autograde submissions in a sandbox")
    grade.add_argument(
        "submissions", help="an nbgrader submitted/ folder, student folders, or LMS zips"
    )
    grade.add_argument("--out", help="results folder (default: <course>/kit, or ./kit-grades)")
    grade.add_argument("--db-url", help="nbgrader gradebook URL (default: sqlite in the course)")
    grade.add_argument("--jobs", type=int, default=os.cpu_count(), help="parallel workers")
    grade.add_argument("--force", action="store_true", help="regrade unchanged submissions too")
    grade.add_argument("--examples", type=int, default=25, help="drawn cases per item")
    grade.add_argument("--timeout", type=float, default=120, help="seconds per submission")
    grade.add_argument("--zip-regexp", default=None, help="zip_collect file name pattern")
    grade.add_argument("--no-bwrap", action="store_true", help="never use bubblewrap")
    grade.add_argument(
        "--names", action="store_true", help="name students in the cohort report (report.html)"
    )
    grade.set_defaults(run=cmd_grade)

    demo = commands.add_parser("demo", help="grade the kit's sample submissions")
    demo.add_argument("--out", default="kit-demo", help="where to write samples and grades")
    demo.add_argument("--jobs", type=int, default=os.cpu_count())
    demo.set_defaults(run=cmd_demo)

    memory = commands.add_parser(
        "memory", help="what a model needs to train and to run, and whether it fits a GPU"
    )
    from grader.presets import HF_CONFIGS

    memory.add_argument("model", help=f"a preset ({', '.join(HF_CONFIGS)}) or a JSON config")
    memory.add_argument(
        "--dtype", default="bfloat16", choices=["float32", "bfloat16", "float16", "4bit"]
    )
    memory.add_argument("--lora-r", type=int, default=0, help="LoRA rank (0: full fine-tuning)")
    memory.add_argument(
        "--lora-targets", nargs="+", default=["q_proj", "k_proj", "v_proj", "o_proj"]
    )
    memory.add_argument("--batch-size", type=int, default=1)
    memory.add_argument("--seq-len", type=int, default=512)
    memory.add_argument(
        "--gpu", type=parse_bytes, default=parse_bytes("15GB"), help="e.g. 15GB, 24GiB"
    )
    memory.add_argument("--vocab-size", type=int, help="for a params.json whose vocab_size is -1")
    memory.add_argument("--impl", default="solutions", help="whose memory chapter computes it")
    memory.set_defaults(run=cmd_memory)
    return main_parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `kit` console script."""
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
