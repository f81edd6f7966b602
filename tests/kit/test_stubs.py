"""On the untouched exercises every item fails with one short line naming what to write."""

import re
import subprocess
import sys

import pytest

from grader import registry
from grader.chapters import CHAPTERS, EXERCISES, ROOT, load_chapter
from grader.runner import run_item


@pytest.mark.parametrize("item", registry.items(), ids=lambda item: item.grade_id)
def test_stub_fails_naming_the_function(item):
    result = run_item(item, load_chapter(EXERCISES, item.chapter))
    assert not result.passed
    assert re.fullmatch(r"\w+(\.\w+)? is not written yet .+", result.message), result.message
    assert "\n" not in result.message and len(result.message) < 160


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_pytest_output_is_one_line_per_failure(chapter):
    """What a learner sees: no traceback, no collection error, one line under each header."""
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", chapter, "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1, run.stdout + run.stderr  # tests failed; not a usage error
    failures = run.stdout.split("= FAILURES =")[1].split("= points per chapter =")[0]
    sections = re.split(r"_{3,} test_item\[\w+\] _{3,}\n", failures)[1:]
    assert len(sections) == len(registry.items(chapter))
    for section in sections:
        lines = [line for line in section.splitlines() if line.strip("= ")]
        assert len(lines) == 1 and "is not written yet" in lines[0], section
    assert "Traceback" not in run.stdout and "site-packages" not in run.stdout
