"""The `kit` command: course tooling for authors and instructors."""

from __future__ import annotations

import argparse
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
    return main_parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `kit` console script."""
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
