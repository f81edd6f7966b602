"""The kill matrix: which graded item fails each zoo entry, and with which hint.

`tests/kit/test_zoo.py` runs every zoo file over its own chapter's items once; when
`KIT_KILL_MATRIX` names a folder, it also writes there one JSON row per file (`record`), so the
table comes from that same pass, never from a second run. `python -m grader.zoo.matrix ROWS`
then renders `docs/kill-matrix.md` and the hit-rate block of the README (`--write`), or fails
when they are stale or when the zoo shows a gap (`--check`): a bug not caught with its own hint,
a correct alternative that fails, an item that catches no bug.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from grader.chapters import CHAPTERS, ROOT

TABLE = ROOT / "docs" / "kill-matrix.md"
README = ROOT / "README.md"
BEGIN, END = "<!-- kill-matrix: begin -->", "<!-- kill-matrix: end -->"


@dataclass(frozen=True)
class Row:
    """One zoo file's outcome on every item of its chapter."""

    chapter: str
    entry: str  # the file's stem: bug_* or ok_*
    about: str  # the first line of its docstring
    hint: str | None  # the HINTS key it must get (None for ok_*)
    outcomes: dict[str, str | None]  # grade_id -> "" (passed), a HINTS key, or None (no hint)

    @property
    def is_bug(self) -> bool:
        """bug_* files must be caught; ok_* files must pass."""
        return self.entry.startswith("bug_")

    def failed(self) -> dict[str, str | None]:
        """The failing items and the hint each gave."""
        return {item: got for item, got in self.outcomes.items() if got != ""}

    def hit_rate(self) -> tuple[int, int]:
        """(failing messages that name this bug's mistake, failing messages)."""
        failed = self.failed()
        return sum(got == self.hint for got in failed.values()), len(failed)


def hint_key(message: str, hints: Mapping[str, str]) -> str | None:
    """The key of the first hint whose text the message contains, or None."""
    return next((key for key, text in hints.items() if text in message), None)


def record(
    directory: Path,
    chapter: str,
    path: Path,
    hint: str | None,
    results: Iterable[tuple[str, bool, str]],
    hints: Mapping[str, str],
) -> None:
    """Write one zoo file's row: each item's (grade_id, passed, message), reduced to a hint key."""
    docstring = compile(path.read_text(), str(path), "exec").co_consts[0]
    about = docstring.strip().splitlines()[0] if isinstance(docstring, str) else ""
    row = {
        "chapter": chapter,
        "entry": path.stem,
        "about": about,
        "hint": hint,
        "outcomes": {
            grade_id: "" if passed else hint_key(message, hints)
            for grade_id, passed, message in results
        },
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{chapter}.{path.stem}.json").write_text(json.dumps(row, indent=1) + "\n")


def load(directory: Path) -> list[Row]:
    """Every row in the folder, in teaching order, bugs before correct alternatives."""
    rows = [Row(**json.loads(path.read_text())) for path in directory.glob("*.json")]
    return sorted(rows, key=lambda r: (CHAPTERS.index(r.chapter), not r.is_bug, r.entry))


def problems(rows: list[Row]) -> list[str]:
    """Every gap the zoo shows, one line each; empty when the zoo holds."""
    found = []
    for row in rows:
        where = f"{row.chapter}/{row.entry}"
        if row.is_bug and row.hint not in row.failed().values():
            found.append(f"{where}: no item fails it with its own hint {row.hint!r}")
        if not row.is_bug and row.failed():
            found.append(f"{where}: a correct alternative fails {sorted(row.failed())}")
    for chapter, items in catches(rows).items():
        found += [
            f"{chapter}: item {item} catches no zoo bug (add a bug it catches, or drop it)"
            for item, bugs in items.items()
            if not bugs
        ]
    return found


def catches(rows: list[Row]) -> dict[str, dict[str, list[str]]]:
    """For each chapter and item, the bugs it fails."""
    table: dict[str, dict[str, list[str]]] = {}
    for row in rows:
        items = table.setdefault(row.chapter, {item: [] for item in row.outcomes})
        for item in row.failed() if row.is_bug else ():
            items.setdefault(item, []).append(row.entry)
    return table


def rates(rows: list[Row]) -> dict[str, tuple[int, int, int, int]]:
    """Per chapter: (bugs caught with their own hint, bugs, own-hint messages, failing messages)."""
    summary: dict[str, tuple[int, int, int, int]] = {}
    for row in rows:
        if not row.is_bug:
            continue
        own, bugs, hits, messages = summary.get(row.chapter, (0, 0, 0, 0))
        row_hits, row_messages = row.hit_rate()
        summary[row.chapter] = (
            own + (row_hits > 0),
            bugs + 1,
            hits + row_hits,
            messages + row_messages,
        )
    return summary


def percent(part: int, whole: int) -> str:
    """`part/whole (pp%)`, or a dash when there is nothing to divide."""
    return f"{part}/{whole} ({100 * part / whole:.0f}%)" if whole else "–"


def hit_rate_lines(rows: list[Row]) -> str:
    """The README's block: one line per chapter with its hint hit-rate."""
    lines = [
        "| chapter | bugs caught with their own hint | hint hit-rate (failing messages that "
        "name the bug's mistake) |",
        "|---|---|---|",
    ]
    for chapter, (own, bugs, hits, messages) in rates(rows).items():
        lines.append(f"| {chapter} | {percent(own, bugs)} | {percent(hits, messages)} |")
    return "\n".join(lines)


def cell(row: Row, got: str | None) -> str:
    """· passed; **key** failed with its own hint; key another hint; ✗ failed, no hint."""
    if got == "":
        return "·"
    if got is None:
        return "✗"
    return f"**{got}**" if got == row.hint else got


def render(rows: list[Row]) -> str:
    """docs/kill-matrix.md."""
    out = [
        "# The kill matrix",
        "",
        "Generated by `nox -s kill-matrix` from one pass of `tests/kit/test_zoo.py` over the bug",
        "zoo (`grader/zoo/<chapter>/`), with the learner's Hypothesis profile (the cases of a",
        "learner's first run: 25 per item, from the item's own seed); `nox -s zoo` fails when",
        "this file is stale. Each zoo file is a one-change mistake (`bug_*`) or a correct",
        "implementation written differently (`ok_*`), run over the solution. A column is a",
        "graded item: the bugs it catches are why it exists.",
        "",
        "Cells: `·` passed; **key** failed with the bug's own hint; `key` failed with another",
        "hint (`grader/checks/<chapter>.py`, `HINTS`); `✗` failed saying what differs, without",
        "naming a mistake. Hit-rate: the share of a bug's failing messages that name its mistake.",
        "",
        hit_rate_lines(rows),
    ]
    caught = catches(rows)
    for chapter in CHAPTERS:
        chapter_rows = [row for row in rows if row.chapter == chapter]
        if not chapter_rows:
            continue
        items = list(chapter_rows[0].outcomes)
        names = [item.removeprefix(f"{chapter}_") for item in items]
        out += [
            "",
            f"## {chapter}",
            "",
            "| entry | hint | " + " | ".join(names) + " | hit-rate | what it does |",
            "|---|---|" + "---|" * len(items) + "---|---|",
        ]
        for row in chapter_rows:
            cells = " | ".join(cell(row, row.outcomes.get(item, "")) for item in items)
            rate = percent(*row.hit_rate()) if row.is_bug else "–"
            about = row.about.replace("|", "\\|")
            out.append(f"| `{row.entry}` | {row.hint or '–'} | {cells} | {rate} | {about} |")
        counts = " | ".join(
            str(len(caught[chapter][item]))
            if caught[chapter][item]
            else "**0**: untested or redundant"
            for item in items
        )
        out.append(f"| bugs caught | | {counts} | | |")
    return "\n".join(out) + "\n"


def with_block(readme: str, block: str) -> str:
    """The README with the text between the kill-matrix markers replaced by `block`."""
    head, found, rest = readme.partition(BEGIN)
    _, found_end, tail = rest.partition(END)
    if not (found and found_end):
        raise SystemExit(f"README.md lacks the markers {BEGIN} ... {END}")
    return f"{head}{BEGIN}\n{block}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    """Render the table (--write) or check it (--check, the default) from a folder of rows."""
    parser = argparse.ArgumentParser(prog="python -m grader.zoo.matrix", description=__doc__)
    parser.add_argument("rows", type=Path, help="folder of rows written by tests/kit/test_zoo.py")
    parser.add_argument(
        "--write", action="store_true", help="write docs/kill-matrix.md and the README's block"
    )
    args = parser.parse_args(argv)
    rows = load(args.rows) if args.rows.is_dir() else []
    if not rows:
        print(f"error: no rows in {args.rows}: run tests/kit/test_zoo.py with KIT_KILL_MATRIX set")
        return 2
    table, readme = render(rows), with_block(README.read_text(), hit_rate_lines(rows))
    stale = [
        path.relative_to(ROOT)
        for path, text in ((TABLE, table), (README, readme))
        if not path.exists() or path.read_text() != text
    ]
    if args.write:
        TABLE.write_text(table)
        README.write_text(readme)
        print(f"wrote {TABLE.relative_to(ROOT)} and the README's hit-rate block")
    elif stale:
        print(f"{', '.join(map(str, stale))} stale: regenerate with `nox -s kill-matrix`")
        return 1
    gaps = problems(rows)
    for line in gaps:
        print(line)
    return 1 if gaps else 0


if __name__ == "__main__":
    sys.exit(main())
