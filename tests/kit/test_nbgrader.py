"""The classic path end to end: build a course, autograde three submissions, export the CSV;
then `kit grade` on the same submitted/ folder agrees, and nbgrader's tools read its gradebook."""

import csv
import html

import jupytext
import nbformat
import pytest

from grader import registry
from grader.autograde.demo import WRONG
from grader.autograde.grade import grade_folder
from grader.chapters import CHAPTERS, SOLUTIONS, load_chapter
from grader.course import build_course, nbgrader
from grader.runner import run_item
from grader.zoo import ZOO

pytestmark = pytest.mark.slow


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


@pytest.fixture(scope="module")
def submitted(course):
    """Hand in correct, wrong and stub notebooks for every chapter; the points each deserves."""
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
    return expected


def is_solution(cell) -> bool:
    return bool(cell.metadata.get("nbgrader", {}).get("solution"))


def exported(course) -> dict:
    """nbgrader export's scores, by (student, assignment)."""
    nbgrader(course, "export", "--to", "grades.csv")
    with open(course / "grades.csv") as f:
        return {
            (row["student_id"], row["assignment"]): float(row["score"]) for row in csv.DictReader(f)
        }


def test_autograde_and_export(course, submitted):
    for chapter in CHAPTERS:
        nbgrader(course, "autograde", chapter, "--force")
    assert exported(course) == submitted


def test_kit_grade_agrees_and_feeds_nbgrader(course, submitted):
    """kit grade on the same submissions: same scores, through export and generate_feedback.

    Two more students show that only solution cells count: `edited` changed a locked cell to
    defeat the checks, moved cells and repeated a solution cell's grade_id; `deleted` removed
    the solution cell.
    """
    solutions = solution_sources("rmsnorm")
    submit(course, "edited", "rmsnorm", solutions)
    path = course / "submitted" / "edited" / "rmsnorm" / "rmsnorm.ipynb"
    notebook = nbformat.read(path, 4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "rmsnorm_imports":
            cell.source += "\ntorch.allclose = lambda *a, **k: True"
    duplicate = next(c for c in notebook.cells if is_solution(c))
    notebook.cells = [*notebook.cells[::-1], nbformat.from_dict({**duplicate, "source": "1/0"})]
    nbformat.write(notebook, path)
    submit(course, "deleted", "rmsnorm", {})
    path = course / "submitted" / "deleted" / "rmsnorm" / "rmsnorm.ipynb"
    notebook = nbformat.read(path, 4)
    notebook.cells = [c for c in notebook.cells if not is_solution(c)]
    nbformat.write(notebook, path)

    outcomes, _ = grade_folder(course / "submitted", jobs=2)
    kit = {(o.student, o.chapter): o.score for o in outcomes}
    assert {o.status for o in outcomes} == {"graded"}
    assert kit == {**submitted, ("edited", "rmsnorm"): 11, ("deleted", "rmsnorm"): 0}
    # export lists every student for every assignment: the ones not handed in score 0
    assert exported(course) == {**dict.fromkeys(exported(course), 0), **kit}
    nbgrader(course, "generate_feedback", "rmsnorm", "--force")
    feedback = (course / "feedback" / "wrong" / "rmsnorm" / "rmsnorm.html").read_text()
    wrong = next(o for o in outcomes if (o.student, o.chapter) == ("wrong", "rmsnorm"))
    hint = next(item.message for item in wrong.items if item.message)
    assert html.escape(hint, quote=False)[:60] in feedback
