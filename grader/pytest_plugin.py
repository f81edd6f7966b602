"""pytest integration: `--impl`, chapter markers, Hypothesis profiles and the points summary.

Loaded by its `pytest11` entry point (wherever pytest runs) and by `addopts` in pyproject.toml.
"""

from __future__ import annotations

import re
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
        default=None,
        help="folder of chapter files to check: exercises (default), solutions, or any path",
    )


@pytest.hookimpl(trylast=True)  # after every plugin has registered its markers
def pytest_configure(config: pytest.Config) -> None:
    """Register a marker per chapter and pick the Hypothesis profile (ci where CI is set)."""
    for chapter in CHAPTERS:
        config.addinivalue_line("markers", f"{chapter}: the graded items of chapter {chapter}")
    check_markers(config)
    if not config.getoption("hypothesis_profile", default=None):
        from hypothesis import settings

        settings.load_profile(default_profile())


def check_markers(config: pytest.Config) -> None:
    """`-m rmsnrom` deselected every item in silence: name the chapters instead."""
    expression = config.getoption("markexpr", default="") or ""
    expression = re.sub(r"\([^()]*\)", "", expression)  # a marker's arguments are not names
    known = {line.split(":")[0].split("(")[0].strip() for line in config.getini("markers")}
    names = set(re.findall(r"[A-Za-z_]\w*", expression)) - {"and", "or", "not"}
    unknown = sorted(names - known - {"hypothesis"})
    if unknown:
        raise pytest.UsageError(
            f"-m {', '.join(unknown)}: no such chapter; the chapters are {', '.join(CHAPTERS)} "
            "(`pytest -m rmsnorm`)"
        )


def impl_directory(config: pytest.Config) -> Path:
    """The folder named by --impl; `exercises` and `solutions` are the repository's own."""
    value = config.getoption("impl")
    if value is None:
        return EXERCISES
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

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.outcomes: dict[str, bool] = {}
        self.collected = 0
        self.deselected = 0

    @pytest.hookimpl
    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected += len(items)

    @pytest.hookimpl
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.collected = len(session.items)

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        grade_id = dict(report.user_properties).get(GRADE_ID)
        if grade_id and (report.when == "call" or report.failed):
            self.outcomes[grade_id] = self.outcomes.get(grade_id, True) and report.passed

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter) -> None:
        advice = self.nothing_ran()
        if advice:
            terminalreporter.write_line(advice, yellow=True, bold=True)
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
        for chapter, (_, run, _, _) in totals.items():
            if warning := kit_grade_warning(impl_directory(self.config), chapter):
                terminalreporter.write_line(warning, yellow=True)
            count = len(registry.items(chapter))
            if run < count:
                terminalreporter.write_line(
                    f"{chapter}: {run} of {count} items run, so not the chapter's points; "
                    f"`pytest -m {chapter}` runs all of them.",
                    yellow=True,
                )

    def nothing_ran(self) -> str:
        """What to do when no test was selected, where pytest only says what happened."""
        if self.collected:
            return ""
        if self.deselected:
            return (
                f"No test matched -k/-m. The chapters are {', '.join(CHAPTERS)} "
                "(`pytest -m rmsnorm`); items are named chapter_part (`pytest -k rmsnorm_float32`)."
            )
        here = self.config.invocation_params.dir.resolve()
        if here == ROOT or (ROOT not in here.parents and self.config.getoption("impl") is None):
            return ""  # another project's pytest, with this plugin installed in its environment
        return f"No checks were collected: run pytest from the repository root, `cd {ROOT}`."


def kit_grade_warning(directory: Path, chapter: str) -> str:
    """What `kit grade` will make of the learner's imports of transformers, peft or the kit
    that the chapter does not give them ("" when there are none): a verdict that differs from
    this run's is said here, not discovered in the grades."""
    from grader.autograde.parse import scan
    from grader.autograde.submissions import allowed_imports

    path = directory / f"{chapter}.py"
    try:
        flags = scan(path.read_text(), allowed_imports(chapter))
    except (OSError, UnicodeDecodeError):
        return ""
    if not flags:
        return ""
    verdict = (
        "kit grade flags this file for an instructor to review, and runs it without "
        "transformers (but a plain LlamaConfig), peft or the kit's checks: there, such an "
        "import fails, and so does what needs it"
    )
    return f"{chapter}: your file {'; '.join(flags[:3])}. {verdict}. Write the part with torch."


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
    session.config.pluginmanager.register(Summary(session.config), "llama-kit-summary")
