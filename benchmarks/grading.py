"""kit grade against plain `nbgrader autograde`, on the same submissions, in one run.

Builds a course from solutions/, hands in one notebook per chapter for each of four students
(correct, partly wrong, stub, correct again), then grades the 32 notebooks twice: with
`kit grade` (its own results folder and gradebook) and with `nbgrader autograde`, one
assignment at a time. Prints both wall times, their ratio, submissions per minute per core,
and where kit grade's time went, phase by phase (timers wrapped around its functions here).

    python benchmarks/grading.py [--students N] [--jobs J] [--kit-only]
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests/kit/test_nbgrader.py's helpers hand the notebooks in

from grader.autograde import cohort, grade, gradebook, submissions, wire  # noqa: E402
from grader.autograde.demo import WRONG  # noqa: E402
from grader.autograde.sandbox import Worker  # noqa: E402
from grader.autograde.tripwire import Tripwire  # noqa: E402
from grader.autograde.worker import probe_all  # noqa: E402
from grader.chapters import CHAPTERS, SOLUTIONS  # noqa: E402
from grader.course import build_course, nbgrader  # noqa: E402
from grader.zoo import ZOO  # noqa: E402
from tests.kit.test_nbgrader import solution_sources, submit  # noqa: E402

SECONDS: dict[str, float] = defaultdict(float)  # phase -> seconds, summed over threads
CALLS: dict[str, int] = defaultdict(int)
LOCK = threading.Lock()
START = "worker start (bwrap, imports; while the cases are drawn)"
WAIT = "  waiting for a worker's start, at its first submission"


def timed(phase: str, function: Callable) -> Callable:
    """`function`, adding its wall time to `phase`."""

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            with LOCK:
                SECONDS[phase] += time.perf_counter() - start
                CALLS[phase] += 1

    return wrapper


def instrument() -> None:
    """Wrap kit grade's phases in timers (this process only)."""
    submissions.collect = timed("collect (read, split notebooks)", submissions.collect)
    grade.Grader.prepare = timed("draw cases (or load them)", grade.Grader.prepare)
    Worker._wait_until_ready = timed(START, Worker._wait_until_ready)
    Worker._warmed = timed(WAIT, Worker._warmed)
    Worker.grade = timed("sandbox round trip", Worker.grade)
    grade.Grader.grade = timed("whole submission", grade.Grader.grade)
    grade.score = timed("compare (verdicts)", grade.score)
    grade.verify = timed("  of which verify on a new output", grade.verify)
    gradebook.write_gradebook = timed("gradebook write", gradebook.write_gradebook)
    gradebook.write_autograded = timed("autograded notebooks", gradebook.write_autograded)
    cohort.write_cohort = timed("items.csv and report.html", cohort.write_cohort)


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


def probe_seconds(out: Path, tripwire: bool = True) -> float:
    """Seconds the probes of a correct submission take per chapter, here, outside any sandbox.

    Each chapter is probed in a forked child, as in a worker: the tripwire it installs (hooks
    that cannot be removed) dies with the child instead of slowing the next chapter down.
    Without `tripwire`, the child runs the probes unwatched: what the tripwire costs.
    """
    total = 0.0
    torch.set_num_threads(1)  # as in a worker
    with tempfile.TemporaryDirectory() as work:
        for chapter in CHAPTERS:
            (Path(work) / f"{chapter}.py").write_text((SOLUTIONS / f"{chapter}.py").read_text())
            (blob,) = (out / "cases").glob(f"{chapter}-*.safetensors")
            cases = wire.decode(blob.read_bytes())  # the request: cases, probes, children
            read_end, write_end = os.pipe()
            if os.fork() == 0:
                if not tripwire:
                    Tripwire.install = lambda self: None
                start = time.perf_counter()
                probe_all(chapter, Path(work), cases)
                os.write(write_end, struct.pack("d", time.perf_counter() - start))
                os._exit(0)
            os.close(write_end)
            total += struct.unpack("d", os.read(read_end, 8))[0]
            os.close(read_end)
            os.wait()
    return total / len(CHAPTERS)


def breakdown(count: int, wall: float, probes: float, unwatched: float) -> None:
    """Print where kit grade's time went; `probes`: seconds of the non-stub submissions' probes,
    `unwatched`: the same without the tripwire."""
    SECONDS["decode, digest, bookkeeping"] = (
        SECONDS.pop("whole submission") - SECONDS["sandbox round trip"]
    ) - SECONDS["compare (verdicts)"]
    SECONDS["sandbox round trip"] -= SECONDS[WAIT]  # a round trip waits for its worker's start
    SECONDS["  of which the probes, run in process"] = probes
    SECONDS["    of which the tripwire (the same probes unwatched)"] = probes - unwatched
    print(f"\nwhere kit grade's {wall:.1f} s went (summed over workers; per submission):")
    for phase, seconds in SECONDS.items():
        calls = f"{CALLS[phase]:4d} calls" if CALLS.get(phase) else " " * 10
        print(f"  {phase:<55} {seconds:7.2f} s {calls} {seconds / count:7.3f} s/submission")
    print("  (sandbox round trip = send, fork, import the submission, run its probes, return;")
    print("   compare = hash each output, look its verdict up or verify it, waiting for the lock)")


def main() -> None:
    """Grade the same submissions both ways and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--kit-only", action="store_true", help="skip nbgrader (no ratio)")
    args = parser.parse_args()
    instrument()
    with tempfile.TemporaryDirectory() as scratch:
        course = Path(scratch) / "course"
        build_course(course)
        count = hand_in(course, args.students)
        print(f"{count} submissions ({args.students} students x {len(CHAPTERS)} chapters)")

        timings = []
        for run in ("first run", "rerun with --force (cases cached)"):
            start = time.perf_counter()
            outcomes, isolation = grade.grade_folder(
                course / "submitted",
                out=Path(scratch) / "kit",
                db_url=f"sqlite:///{scratch}/kit.db",
                jobs=args.jobs,
                force=True,
            )
            timings.append((run, time.perf_counter() - start))
            assert all(o.status == "graded" for o in outcomes), "kit grade could not grade some"
            if run == "first run":  # the stubs' probes stop at once: count the others'
                written = sum(n % 3 != 2 for n in range(args.students)) * len(CHAPTERS)
                cases = Path(scratch) / "kit"
                watched, unwatched = probe_seconds(cases), probe_seconds(cases, tripwire=False)
                breakdown(count, timings[0][1], written * watched, written * unwatched)
                SECONDS.clear()
                CALLS.clear()

        plain = None
        if not args.kit_only:
            start = time.perf_counter()
            for chapter in CHAPTERS:
                nbgrader(course, "autograde", chapter, "--force")
            plain = time.perf_counter() - start

    print(f"\n{args.jobs} jobs on {os.cpu_count()} cores, isolation: {isolation.name}")
    for run, seconds in timings:
        rate = 60 * count / seconds / args.jobs
        print(f"kit grade, {run}: {seconds:7.1f} s  {rate:6.1f} per minute per core")
    if plain is not None:
        print(f"nbgrader autograde: {plain:7.1f} s  {60 * count / plain:6.1f} per minute (1 core)")
        print(f"kit grade is {plain / timings[0][1]:.1f}x faster (first run)")


if __name__ == "__main__":
    main()
