"""The classic path end to end: build a course, autograde three submissions, export the CSV."""

import csv

import jupytext
import nbformat
import pytest

from grader import registry
from grader.chapters import CHAPTERS, SOLUTIONS, load_chapter
from grader.course import build_course, nbgrader
from grader.runner import run_item
from grader.zoo import ZOO

pytestmark = pytest.mark.slow
# The zoo patch each chapter's "wrong" student hands in, on top of the solution.
WRONG = {
    "rmsnorm": "bug_no_upcast",
    "attention": "bug_repeat_not_interleave",
    "llama": "bug_post_norm",
    "memory": "bug_no_gqa",
    "lora": "bug_merge_twice",
    "sampling": "bug_top_p_drops_crossing",
    "generate": "bug_eos_ignored",
    "tokenizer": "bug_bos_missing",
}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    directory = tmp_path_factory.mktemp("course")
    build_course(directory)
    return directory


def solution_sources(chapter: str) -> dict[str, str]:
    """The source of every solution cell of a chapter, by grade_id."""
    return {
        cell.metadata.nbgrader["grade_id"]: cell.source
        for cell in jupytext.read(SOLUTIONS / f"{chapter}.py").cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }


def solution_lines(chapter: str) -> set[str]:
    """Every non-trivial line inside a `### BEGIN SOLUTION` region of the chapter."""
    lines, inside = set(), False
    for line in (SOLUTIONS / f"{chapter}.py").read_text().splitlines():
        if "### BEGIN SOLUTION" in line or "### END SOLUTION" in line:
            inside = "BEGIN" in line
        elif inside and len(line.strip()) > 8:
            lines.add(line.strip())
    return lines


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_solution_code_reaches_the_release(course, chapter):
    release = (course / "release" / chapter / f"{chapter}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in release
    leaked = {line for line in solution_lines(chapter) if line in release}
    assert not leaked
    assert "jupytext" not in nbformat.reads(release, 4).metadata


def submit(course, student: str, chapter: str, sources: dict[str, str]) -> None:
    """Hand in the release notebook with the given solution cells filled in."""
    notebook = nbformat.read(course / "release" / chapter / f"{chapter}.ipynb", 4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in sources:
            cell.source = sources[grade_id]
    target = course / "submitted" / student / chapter / f"{chapter}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)


def expected_points(chapter: str, zoo_entry: str) -> int:
    """What the kit's checks give a zoo patch in-process: the notebook must agree."""
    impl = load_chapter(SOLUTIONS, chapter, patch=ZOO / chapter / f"{zoo_entry}.py")
    return sum(run_item(item, impl).points for item in registry.items(chapter))


def test_autograde_and_export(course):
    expected = {}
    for chapter in CHAPTERS:
        total = sum(item.points for item in registry.items(chapter))
        solutions = solution_sources(chapter)
        last = list(solutions)[-1]  # the patch goes at the end of the last solution cell
        patch = (ZOO / chapter / f"{WRONG[chapter]}.py").read_text()
        submit(course, "correct", chapter, solutions)
        submit(course, "wrong", chapter, {**solutions, last: f"{solutions[last]}\n\n{patch}"})
        submit(course, "stub", chapter, {})
        wrong = expected_points(chapter, WRONG[chapter])
        assert 0 < wrong < total
        expected |= {("correct", chapter): total, ("wrong", chapter): wrong, ("stub", chapter): 0}
    for chapter in CHAPTERS:
        nbgrader(course, "autograde", chapter, "--force")
    nbgrader(course, "export", "--to", "grades.csv")
    with open(course / "grades.csv") as f:
        scores = {
            (row["student_id"], row["assignment"]): float(row["score"]) for row in csv.DictReader(f)
        }
    assert scores == expected
