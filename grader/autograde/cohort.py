"""The cohort report: which items the class failed, and why.

From the outcomes of one `kit grade` run: `items.csv` (per item, how many passed, the mean
points, the most frequent diagnosed mistakes), `report.html` (one self-contained page: pass
rates per item and chapter, the distribution of chapter scores; charts with matplotlib when it
is installed, tables always), and the tables the summary prints. A mistake is the key of the
chapter's `HINTS` whose text the failure message contains, as the zoo tests match them.
Students are not named unless asked (`--names`); everything shown is HTML-escaped.
"""

from __future__ import annotations

import base64
import csv
import importlib
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from html import escape
from pathlib import Path

from grader import registry
from grader.chapters import CHAPTERS

NOT_WRITTEN = "not written"  # the probe hit a NotImplementedError
RAISED = "raised an error"
UNDIAGNOSED = "not diagnosed"
TOP = 3  # mistakes per item in items.csv
BINS = 10  # chapter score histogram: 0-10 %, ..., 90-100 %
ITEMS_HEADER = (
    "assignment", "grade_id", "title", "submissions", "passed", "pass_rate",
    "mean_points", "max_points", "top_mistakes",
)  # fmt: skip


@dataclass
class ItemStats:
    """One item across the cohort."""

    chapter: str
    grade_id: str
    title: str
    max_points: int
    submissions: int = 0
    passed: int = 0
    points: float = 0.0
    mistakes: Counter[str] = field(default_factory=Counter)
    makers: dict[str, set[str]] = field(default_factory=dict)  # mistake -> students who made it

    @property
    def pass_rate(self) -> float:
        """Share of submissions that earned the item."""
        return self.passed / self.submissions if self.submissions else 0.0

    @property
    def mean_points(self) -> float:
        """Mean points over the submissions of its chapter."""
        return self.points / self.submissions if self.submissions else 0.0


@cache
def hints(chapter: str) -> dict[str, str]:
    """The chapter's hint texts by key (empty when its check module has none)."""
    return getattr(importlib.import_module(f"grader.checks.{chapter}"), "HINTS", {})


def mistake(chapter: str, message: str) -> str:
    """The hint key a failure message names; else what kind of failure it was."""
    named = [key for key, text in hints(chapter).items() if text in message]
    if named:  # the longest text is the most specific one
        return max(named, key=lambda key: len(hints(chapter)[key]))
    if "is not written yet" in message:
        return NOT_WRITTEN
    return RAISED if " raised " in message else UNDIAGNOSED


def item_stats(outcomes: Iterable) -> list[ItemStats]:
    """Per item, in chapter order; a submission with no item results fails every item."""
    stats = {
        item.grade_id: ItemStats(item.chapter, item.grade_id, item.title, item.points)
        for chapter in CHAPTERS
        for item in registry.items(chapter)
    }
    for outcome in outcomes:
        if outcome.chapter not in CHAPTERS:
            continue
        results = {result.grade_id: result for result in outcome.items}
        for item in registry.items(outcome.chapter):
            entry, result = stats[item.grade_id], results.get(item.grade_id)
            entry.submissions += 1
            if result is None:  # timed out, unreadable: its status is the mistake
                key = outcome.status
            elif result.message:
                key = result.mistake or mistake(outcome.chapter, result.message)
            else:
                entry.passed += 1
                key = None
            if key is not None:
                entry.mistakes[key] += 1
                entry.makers.setdefault(key, set()).add(outcome.student)
            entry.points += result.points if result else 0
    return [entry for entry in stats.values() if entry.submissions]


def write_items_csv(path: Path, stats: list[ItemStats]) -> None:
    """One row per item: submissions, passed, pass rate, mean points, top mistakes."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(ITEMS_HEADER)
        for s in stats:
            top = "; ".join(f"{key} ({count})" for key, count in s.mistakes.most_common(TOP))
            rate, mean = f"{s.pass_rate:.3f}", f"{s.mean_points:.3f}"
            writer.writerow(
                [
                    s.chapter,
                    s.grade_id,
                    s.title,
                    s.submissions,
                    s.passed,
                    rate,
                    mean,
                    s.max_points,
                    top,
                ]
            )


def chapter_scores(outcomes: Iterable) -> dict[str, list[float]]:
    """Each chapter's scores as fractions of its maximum, in chapter order."""
    scores: dict[str, list[float]] = {}
    graded = [o for o in outcomes if o.chapter in CHAPTERS and o.max_score]
    for o in sorted(graded, key=lambda o: CHAPTERS.index(o.chapter)):
        scores.setdefault(o.chapter, []).append(o.score / o.max_score)
    return scores


def top_mistakes(stats: list[ItemStats], count: int = 5) -> list[tuple[str, str, int]]:
    """The most frequent diagnosed mistakes over all items: (chapter, hint key, submissions).

    A submission that makes one mistake in several items counts once.
    """
    makers: dict[tuple[str, str], set[str]] = {}
    for s in stats:
        for key, students in s.makers.items():
            if key in hints(s.chapter):
                makers.setdefault((s.chapter, key), set()).update(students)
    ranked = sorted(makers.items(), key=lambda pair: -len(pair[1]))  # stable: first seen first
    return [(chapter, key, len(students)) for (chapter, key), students in ranked[:count]]


def summary_tables(stats: list[ItemStats], count: int = 5) -> list:
    """Rich tables for the summary: the worst items and the top mistakes."""
    from rich.table import Table

    worst = Table(title="items the class failed most")
    for column in ("item", "passed", "mean points", "top mistakes"):
        worst.add_column(column)
    for s in sorted(stats, key=lambda s: s.pass_rate)[:count]:
        top = ", ".join(f"{key} ({n})" for key, n in s.mistakes.most_common(TOP))
        passed = f"{s.passed} / {s.submissions}"
        worst.add_row(s.grade_id, passed, f"{s.mean_points:.2f} / {s.max_points}", top)
    mistakes = Table(title="most frequent mistakes")
    for column in ("chapter", "mistake", "submissions", "hint"):
        mistakes.add_column(column)
    for chapter, key, n in top_mistakes(stats, count):
        mistakes.add_row(chapter, key, str(n), hints(chapter)[key])
    return [worst, mistakes]


def write_report(path: Path, outcomes: list, stats: list[ItemStats], names: bool = False) -> None:
    """The self-contained HTML report: charts (if matplotlib is installed) and tables."""
    scores = chapter_scores(outcomes)
    chapters = {c: [s for s in stats if s.chapter == c] for c in scores}
    full = {c: sum(x == 1.0 for x in xs) / len(xs) for c, xs in scores.items()}
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>kit grade: cohort report</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}table{border-collapse:"
        "collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}</style>",
        f"</head><body><h1>Cohort report</h1><p>{len(outcomes)} submissions.</p>",
    ]
    charts = draw_charts(stats, full, scores)
    for alt, png in charts:
        parts.append(f"<img alt='{escape(alt)}' src='data:image/png;base64,{png}'>")
    if not charts:
        parts.append("<p>Charts need matplotlib: <code>pip install llama-kit[report]</code>.</p>")
    parts.append("<h2>Chapters</h2>")
    rows = [
        [c, len(xs), f"{full[c]:.0%}", f"{sum(xs) / len(xs):.0%}", histogram_text(xs)]
        for c, xs in scores.items()
    ]
    header = ["chapter", "submissions", "full marks", "mean score", "scores per 10 % bin"]
    parts.append(html_table(header, rows))
    parts.append("<h2>Items</h2>")
    rows = [
        [s.chapter, s.grade_id, s.title, f"{s.passed} / {s.submissions}", f"{s.pass_rate:.0%}",
         f"{s.mean_points:.2f} / {s.max_points}", describe_mistakes(s)]
        for c in chapters
        for s in chapters[c]
    ]  # fmt: skip
    header = ["chapter", "item", "title", "passed", "pass rate", "mean points", "mistakes"]
    parts.append(html_table(header, rows))
    if names:  # only on request: this part names students
        parts.append("<h2>Students</h2>")
        rows = [[o.student, o.chapter, f"{o.score:g} / {o.max_score}", o.status] for o in outcomes]
        parts.append(html_table(["student", "chapter", "score", "status"], rows))
    parts.append("</body></html>")
    path.write_text("\n".join(parts) + "\n")


def describe_mistakes(s: ItemStats) -> str:
    """`key (count): hint text` for each mistake of an item, most frequent first."""
    lines = []
    for key, n in s.mistakes.most_common():
        text = hints(s.chapter).get(key)
        lines.append(f"{key} ({n})" + (f": {text}" if text else ""))
    return "\n".join(lines)


def histogram(fractions: list[float]) -> list[int]:
    """Counts of scores in BINS equal bins of 0..1 (a full score in the last one)."""
    counts = [0] * BINS
    for x in fractions:
        counts[min(int(x * BINS), BINS - 1)] += 1
    return counts


def histogram_text(fractions: list[float]) -> str:
    """The histogram's counts, as text."""
    return " ".join(map(str, histogram(fractions)))


def html_table(header: list[str], rows: list[list]) -> str:
    """An HTML table; every cell escaped (student names and statuses may come from anyone)."""
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    cell = lambda value: escape(str(value)).replace("\n", "<br>")  # noqa: E731
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def draw_charts(
    stats: list[ItemStats], full: dict[str, float], scores: dict[str, list[float]]
) -> list[tuple[str, str]]:
    """(alt text, base64 PNG) of the three charts; none without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display, and no GUI toolkit to import
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    if not scores:
        return []
    figures = []
    fig, ax = plt.subplots(figsize=(8, 0.25 * len(stats) + 1))
    ax.barh([s.grade_id for s in stats][::-1], [100 * s.pass_rate for s in stats][::-1])
    ax.set(xlabel="submissions that passed (%)", xlim=(0, 100), title="Pass rate per item")
    figures.append(("pass rate per item", fig))
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.bar(list(full), [100 * v for v in full.values()])
    ax.set(ylabel="full marks (%)", ylim=(0, 100), title="Pass rate per chapter (full marks)")
    figures.append(("pass rate per chapter", fig))
    size = (2 * len(scores), 2.5)
    fig, axes = plt.subplots(1, len(scores), figsize=size, sharey=True, squeeze=False)
    for ax, (chapter, fractions) in zip(axes[0], scores.items(), strict=True):
        ax.hist([100 * x for x in fractions], bins=BINS, range=(0, 100))
        ax.set(title=chapter, xlabel="score (%)")
    axes[0][0].set_ylabel("submissions")
    figures.append(("distribution of chapter scores", fig))
    charts = []
    for alt, fig in figures:
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80)
        plt.close(fig)
        charts.append((alt, base64.b64encode(buffer.getvalue()).decode()))
    return charts


def write_cohort(directory: Path, outcomes: list, names: bool = False) -> list[ItemStats]:
    """Write items.csv and report.html next to grades.csv; the stats, for the summary."""
    stats = item_stats(outcomes)
    write_items_csv(directory / "items.csv", stats)
    write_report(directory / "report.html", outcomes, stats, names)
    return stats
