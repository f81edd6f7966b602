"""Build an nbgrader course directory from solutions/ and release it with nbgrader itself.

One assignment per chapter, holding one notebook of the same name, so that an instructor can
release chapters one at a time. The source notebooks are the solution chapters with jupytext's
metadata removed; `nbgrader generate_assignment` clears the solutions for the release.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat

from grader.chapters import CHAPTERS, SOLUTIONS
from grader.sync import read_chapter

COURSE_ID = "llama-kit"

# Written once; an instructor's later edits to the file are kept.
NBGRADER_CONFIG = f'''\
"""nbgrader configuration for the llama-kit course (written by `kit course`)."""

c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "{COURSE_ID}"

# nbgrader's traps, avoided:
# - the per-cell timeout is Execute.timeout (it overrides ExecutePreprocessor.timeout);
c.Execute.timeout = 300
# - a deleted graded cell must come back and be graded, not leave a silent NULL score;
c.OverwriteCells.add_missing_cells = True
# - the graded cells filter warnings themselves: any stderr output in a graded cell scores 0.
'''


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    """Run an nbgrader command in the course directory; raise with its log if it fails."""
    run = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{run.stdout}\n{run.stderr}")
    return run


def build_course(course: Path, chapters: list[str] | None = None) -> list[Path]:
    """Write source notebooks and config, run `nbgrader generate_assignment`; return releases."""
    course.mkdir(parents=True, exist_ok=True)
    config = course / "nbgrader_config.py"
    if not config.exists():
        config.write_text(NBGRADER_CONFIG)
    released = []
    for chapter in chapters or CHAPTERS:
        source = course / "source" / chapter / f"{chapter}.ipynb"
        source.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(read_chapter(SOLUTIONS / f"{chapter}.py"), source)
        nbgrader(course, "generate_assignment", chapter, "--force")
        released.append(course / "release" / chapter / f"{chapter}.ipynb")
    return released
