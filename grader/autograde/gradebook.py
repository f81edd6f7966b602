"""Write `kit grade`'s scores where nbgrader keeps them, so that its own tools keep working.

Scores go into nbgrader's gradebook through its `Gradebook` API (any database URL nbgrader
accepts), one auto score per graded cell; flagged submissions are marked as needing a manual
grade. In an nbgrader course the autograded notebook is written too, with each graded cell's
output set to the check's verdict, which `nbgrader generate_feedback` renders.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat

from grader import registry
from grader.autograde.grade import FLAGGED, GRADED, Outcome
from grader.autograde.submissions import Submission
from grader.course import COURSE_ID


def write_gradebook(db_url: str, outcomes: list[Outcome]) -> int:
    """Record every graded outcome; returns how many submissions were written."""
    from nbgrader.api import Gradebook, MissingEntry

    written = 0
    with (
        own_scripts_on_path(),
        Gradebook(db_url, course_id=COURSE_ID) as gradebook,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")  # SQLAlchemy's autoflush notes from inside nbgrader
        for chapter in sorted({o.chapter for o in outcomes if o.status in (GRADED, FLAGGED)}):
            gradebook.update_or_create_assignment(chapter)
            try:
                gradebook.find_notebook(chapter, chapter)
            except MissingEntry:  # not an nbgrader course: describe the chapter's cells
                gradebook.update_or_create_notebook(chapter, chapter)
            for item in registry.items(chapter):
                try:
                    gradebook.find_grade_cell(item.grade_id, chapter, chapter)
                except MissingEntry:
                    gradebook.update_or_create_grade_cell(
                        item.grade_id, chapter, chapter, max_score=item.points, cell_type="code"
                    )
        for outcome in outcomes:
            if outcome.status not in (GRADED, FLAGGED):
                continue  # no score is better than a silent 0: the CSV and summary say why
            gradebook.update_or_create_student(outcome.student)
            gradebook.update_or_create_submission(outcome.chapter, outcome.student)
            for item in outcome.items:
                grade = gradebook.find_grade(
                    item.grade_id, outcome.chapter, outcome.chapter, outcome.student
                )
                grade.auto_score = item.points
                grade.needs_manual_grade = outcome.status == FLAGGED
            gradebook.db.commit()
            written += 1
    return written


@contextmanager
def own_scripts_on_path() -> Iterator[None]:
    """Put this interpreter's scripts (its `alembic`) first on PATH for the block."""
    # nbgrader runs `alembic` from PATH, which lacks the virtualenv's bin/ when
    # `.venv/bin/kit` runs without the virtualenv activated (pipx, scripts, cron).
    before = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), before])
    try:
        yield
    finally:
        os.environ["PATH"] = before


def write_autograded(course: Path, submission: Submission, outcome: Outcome) -> Path:
    """The release notebook with the student's solution cells and each check's verdict."""
    chapter = submission.chapter
    notebook = nbformat.read(course / "release" / chapter / f"{chapter}.ipynb", as_version=4)
    results = {item.grade_id: item for item in outcome.items}
    titles = {item.grade_id: item.title for item in registry.items(chapter)}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if meta.get("solution") and grade_id in submission.solution_cells:
            cell.source = submission.solution_cells[grade_id]
        if cell.cell_type == "code" and meta.get("grade") and grade_id in results:
            result = results[grade_id]
            cell.outputs = [
                nbformat.v4.new_output(
                    "error",
                    ename="CheckFailed",
                    evalue=result.message,
                    traceback=[f"CheckFailed: {result.message}"],
                )
                if result.message
                else nbformat.v4.new_output(
                    "stream", name="stdout", text=f"✓ {grade_id}: {titles[grade_id]}\n"
                )
            ]
    target = course / "autograded" / outcome.student / chapter / f"{chapter}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    return target
