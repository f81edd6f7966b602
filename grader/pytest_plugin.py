"""pytest integration: `--impl`, chapter markers, Hypothesis profiles and the points summary.

Loaded for every run of this repository's tests through `addopts` in pyproject.toml.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from grader.chapters import CHAPTERS, EXERCISES, ROOT, Impl, load_chapter
from grader.profiles import default_profile  # registered before Hypothesis' plugin loads one

GRADE_ID = "grade_id"  # the user property that ties a test report to a graded item


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--impl`: which implementation the chapter tests check."""
    parser.addoption(
        "--impl",
        default=str(EXERCISES),
        help="folder of chapter files to check: exercises (default), solutions, or any path",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register a marker per chapter and pick the Hypothesis profile (ci where CI is set)."""
    for chapter in CHAPTERS:
        config.addinivalue_line("markers", f"{chapter}: the graded items of chapter {chapter}")
    if not config.getoption("hypothesis_profile", default=None):
        from hypothesis import settings

        settings.load_profile(default_profile())


def impl_directory(config: pytest.Config) -> Path:
    """The folder named by --impl; `exercises` and `solutions` are the repository's own."""
    value = config.getoption("impl")
    if value in ("exercises", "solutions"):
        return ROOT / value
    return Path(value)


@pytest.fixture(scope="session")
def implementation(request: pytest.FixtureRequest):
    """A function from a chapter name to the loaded implementation (loaded once per run)."""
    directory = impl_directory(request.config)
    cache: dict[str, Impl] = {}

    def load(chapter: str) -> Impl:
        if chapter not in cache:
            cache[chapter] = load_chapter(directory, chapter)
        return cache[chapter]

    return load


class Summary:
    """Collects the outcome of each graded item and prints points per chapter at the end."""

    def __init__(self) -> None:
        self.outcomes: dict[str, bool] = {}

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        grade_id = dict(report.user_properties).get(GRADE_ID)
        if grade_id and (report.when == "call" or report.failed):
            self.outcomes[grade_id] = self.outcomes.get(grade_id, True) and report.passed

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.outcomes:
            return
        from grader import registry

        totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for grade_id, passed in self.outcomes.items():
            item = registry.get(grade_id)
            row = totals[item.chapter]
            row[0] += passed
            row[1] += 1
            row[2] += item.points * passed
            row[3] += item.points
        terminalreporter.write_sep("=", "points per chapter")
        terminalreporter.write_line(render_summary(totals))


def render_summary(totals: dict[str, list[int]]) -> str:
    """A rich table of items passed and points earned per chapter, as text."""
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("chapter", "items passed", "points"):
        table.add_column(column, justify="left" if column == "chapter" else "right")
    for chapter in sorted(totals, key=CHAPTERS.index):
        passed, count, earned, possible = totals[chapter]
        style = "green" if earned == possible else "red" if earned == 0 else "yellow"
        table.add_row(chapter, f"{passed}/{count}", f"[{style}]{earned}/{possible}[/]")
    console = Console(width=80, force_terminal=False, color_system=None)
    with console.capture() as captured:
        console.print(table)
    return captured.get().rstrip()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Attach the summary collector."""
    session.config.pluginmanager.register(Summary(), "llama-kit-summary")
