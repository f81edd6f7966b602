"""kit grade against plain `nbgrader autograde`, on the same submissions, in one run.

Builds a course from solutions/, hands in one notebook per chapter for each of four students
(correct, partly wrong, stub, correct again), then grades the 32 notebooks twice: with
`kit grade` (its own results folder and gradebook) and with `nbgrader autograde`, one
assignment at a time. Prints both wall times, their ratio and submissions per minute.

    python benchmarks/grading.py [--students N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests/kit/test_nbgrader.py's helpers hand the notebooks in

from grader.autograde.demo import WRONG  # noqa: E402
from grader.autograde.grade import grade_folder  # noqa: E402
from grader.chapters import CHAPTERS  # noqa: E402
from grader.course import build_course, nbgrader  # noqa: E402
from grader.zoo import ZOO  # noqa: E402
from tests.kit.test_nbgrader import solution_sources, submit  # noqa: E402


def hand_in(course: Path, students: int) -> int:
    """Submit every chapter for `students` students, cycling correct / wrong / stub."""
    count = 0
    for chapter in CHAPTERS:
        solutions = solution_sources(chapter)
        last = list(solutions)[-1]
        patch = (ZOO / chapter / f"{WRONG[chapter]}.py").read_text()
        kinds = [solutions, {**solutions, last: f"{solutions[last]}\n\n{patch}"}, {}]
        for number in range(students):
            submit(course, f"student{number:02d}", chapter, kinds[number % len(kinds)])
            count += 1
    return count


def main() -> None:
    """Grade the same submissions both ways and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        course = Path(scratch) / "course"
        build_course(course)
        count = hand_in(course, args.students)
        print(f"{count} submissions ({args.students} students x {len(CHAPTERS)} chapters)")

        start = time.perf_counter()
        outcomes, isolation = grade_folder(
            course / "submitted",
            out=Path(scratch) / "kit",
            db_url=f"sqlite:///{scratch}/kit.db",
            force=True,
        )
        kit = time.perf_counter() - start
        assert all(o.status == "graded" for o in outcomes), "kit grade could not grade some"

        start = time.perf_counter()
        for chapter in CHAPTERS:
            nbgrader(course, "autograde", chapter, "--force")
        plain = time.perf_counter() - start

    print(f"kit grade ({isolation.name}): {kit:7.1f} s  {60 * count / kit:6.1f} per minute")
    print(f"nbgrader autograde: {plain:7.1f} s  {60 * count / plain:6.1f} per minute")
    print(f"kit grade is {plain / kit:.1f}x faster")


if __name__ == "__main__":
    main()
