"""exercises/ is exactly what nbgrader and jupytext generate from solutions/."""

import shutil

import jupytext

from grader import registry
from grader.chapters import CHAPTERS, EXERCISES, SOLUTIONS
from grader.sync import sync


def test_exercises_are_in_sync():
    drift = sync()
    assert not drift, "exercises/ drifted; run `nox -s sync`:\n" + "\n".join(drift.values())


def test_an_edited_solution_without_resync_is_caught(tmp_path):
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    shutil.copytree(SOLUTIONS, solutions)
    shutil.copytree(EXERCISES, exercises)
    assert sync(solutions, exercises) == {}
    chapter = solutions / f"{CHAPTERS[0]}.py"
    chapter.write_text(chapter.read_text().replace("# # Chapter", "# # Edited chapter", 1))
    assert set(sync(solutions, exercises)) == {CHAPTERS[0]}
    sync(solutions, exercises, write=True)
    assert sync(solutions, exercises) == {}


def graded_cells(chapter: str) -> dict[str, int]:
    notebook = jupytext.read(SOLUTIONS / f"{chapter}.py")
    return {
        cell.metadata.nbgrader["grade_id"]: cell.metadata.nbgrader["points"]
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    }


def test_graded_cells_match_the_registry():
    """Each chapter's graded cells and the registry agree on grade_ids and points."""
    for chapter in CHAPTERS:
        registered = {item.grade_id: item.points for item in registry.items(chapter)}
        assert graded_cells(chapter) == registered


def test_every_solution_region_sits_in_a_solution_cell():
    for chapter in CHAPTERS:
        for cell in jupytext.read(SOLUTIONS / f"{chapter}.py").cells:
            if "### BEGIN SOLUTION" in cell.source:
                assert cell.metadata["nbgrader"]["solution"], cell.source[:80]
