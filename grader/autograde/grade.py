"""`kit grade`: grade submissions in sandboxed workers; compare in this, the trusted, process.

The grader draws each item's cases once per assignment (its examples, then Hypothesis with a
seed derived from a secret that stays in the output directory; kept in `cases/` with the kit
fingerprint, so that a rerun does not draw them again), sends them to the workers, and gets
back what the student's code returned, as plain data. It rebuilds plain tensors, checks them
and runs the items' `verify`, which computes the Hugging Face reference here: once per case and
distinct output, since a verdict depends on nothing else (identical answers are common), and
references that a check marks `per_case` (grader/compare.py) once per case.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import secrets
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from queue import Queue

from hypothesis import HealthCheck, Phase, given, seed, settings

from grader import registry
from grader.autograde import wire
from grader.autograde.sandbox import Isolation, Limits, Worker
from grader.autograde.submissions import Submission
from grader.chapters import CHAPTERS
from grader.compare import remembering
from grader.registry import CheckFailed, Item
from grader.runner import plain, quiet_transformers

# A submission's statuses; every one but `graded` and `flagged` makes `kit grade` exit 1.
GRADED, FLAGGED = "graded", "flagged for review"
UNREADABLE, TIMED_OUT, CRASHED = "unreadable", "timed out", "crashed"


@dataclass
class ItemResult:
    """One item of one submission."""

    grade_id: str
    points: float
    max_points: int
    message: str = ""  # the hint, when it failed


@dataclass
class Outcome:
    """What became of one submission."""

    student: str
    chapter: str
    status: str
    reason: str = ""
    items: list[ItemResult] = field(default_factory=list)
    digest: str = ""

    @property
    def score(self) -> float:
        """Points earned."""
        return sum(item.points for item in self.items)

    @property
    def max_score(self) -> int:
        """Points available in the chapter."""
        return sum(item.points for item in registry.items(self.chapter))


def secret(directory: Path) -> int:
    """The assignment's secret seed: made once, kept (mode 600) where only the grader reads it."""
    path = directory / "secret"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(str(secrets.randbits(64)))
    return int(path.read_text())


def draw_cases(item: Item, key: int, examples: int) -> list:
    """The item's fixed examples, then `examples` Hypothesis cases seeded from the secret."""
    cases = list(item.examples())
    if item.strategy is None:
        return cases
    budget = min(examples, item.max_examples or examples)
    digest = hashlib.sha256(f"{key}:{item.grade_id}".encode()).digest()

    @seed(int.from_bytes(digest[:8], "little"))
    @settings(
        max_examples=budget,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(item.strategy)
    def draw(case):
        cases.append(case)

    draw()
    return cases


Verdict = Callable[[Item, int, object], str]  # (item, case number, output) -> hint or ""


def score(chapter: str, report, verdict: Verdict) -> list[ItemResult]:
    """Check what a submission's probes returned against the references: all or nothing."""
    items = report.get("items") if isinstance(report, dict) else None
    items = items if isinstance(items, dict) else {}
    results = []
    for item in registry.items(chapter):
        hint = check_item(item, items.get(item.grade_id), verdict)
        results.append(ItemResult(item.grade_id, 0 if hint else item.points, item.points, hint))
    return results


def check_item(item: Item, sent, verdict: Verdict) -> str:
    """The hint for the first failing case, or "" when every case passes."""
    if not isinstance(sent, dict) or not isinstance(sent.get("outputs"), list):
        return "no result came back for this item"
    outputs = sent["outputs"]
    for number in range(len(verdict.cases(item))):
        if number >= len(outputs):
            return str(sent.get("error") or "no result came back for this item")
        hint = verdict(item, number, outputs[number])
        if hint:
            return hint
    return ""


def verify(item: Item, case, output) -> str:
    """Run the item's verify on one output: "" if it passes, else the first line of the hint."""
    try:
        if not isinstance(output, dict):
            raise CheckFailed("the probe's result is not a dict")
        item.verify(case, plain(output))
    except CheckFailed as failure:
        return str(failure).splitlines()[0]
    except Exception as error:  # a forged or mangled output, not a bug of the kit's
        return f"the result could not be checked ({type(error).__name__})"
    return ""


class Verdicts:
    """Verdicts per item, case and distinct output, computed once; verify runs one at a time."""

    def __init__(self, cases: dict[str, dict[str, list]]):
        self.drawn = cases  # by chapter, then grade_id: the grader's, filled by its prepare
        self.known: dict[tuple[str, int, bytes], str] = {}
        self.references: dict = {}  # what the checks' `per_case` references computed
        self.lock = threading.Lock()  # verify seeds torch's global RNG: one at a time
        self.computed = 0  # verify calls, for the benchmark's breakdown

    def cases(self, item: Item) -> list:
        """The item's cases."""
        return self.drawn[item.chapter][item.grade_id]

    def __call__(self, item: Item, number: int, output) -> str:
        """The verdict on this output for the item's case `number`."""
        try:  # identical outputs (tensors bit for bit) get the same verdict
            key = (item.grade_id, number, hashlib.sha256(wire.encode(output)).digest())
        except wire.WireError:
            key = None
        if key in self.known:
            return self.known[key]
        with self.lock, warnings.catch_warnings(), quiet_transformers():
            warnings.simplefilter("ignore")
            if key not in self.known:
                self.computed += 1
                with remembering(self.references):
                    hint = verify(item, self.cases(item)[number], output)
                if key is None:
                    return hint
                self.known[key] = hint
        return self.known[key]


class Grader:
    """Grades submissions with a pool of workers; verdicts are shared between submissions."""

    def __init__(
        self, directory: Path, isolation: Isolation, limits: Limits, jobs: int, examples: int
    ):
        self.key = secret(directory)
        self.directory = directory
        self.examples = examples
        self.cases: dict[str, dict[str, list]] = {}
        self.blobs: dict[str, bytes] = {}
        self.verdicts = Verdicts(self.cases)
        self.workers: Queue[Worker] = Queue()
        for number in range(jobs):
            self.workers.put(Worker(isolation, limits, directory / f"worker-{number}.log"))
        self.jobs = jobs

    def prepare(self, chapters: set[str]) -> None:
        """The cases of these chapters: from `cases/` if this kit drew them already, else drawn."""
        for chapter in sorted(chapters - set(self.cases), key=CHAPTERS.index):
            parts = (kit_fingerprint(), self.key, self.examples, chapter)
            name = hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:16]
            path = self.directory / "cases" / f"{chapter}-{name}.safetensors"
            if path.exists():
                blob = path.read_bytes()
            else:
                with warnings.catch_warnings(), quiet_transformers():
                    warnings.simplefilter("ignore")
                    drawn = {
                        item.grade_id: draw_cases(item, self.key, self.examples)
                        for item in registry.items(chapter)
                    }
                blob = wire.encode({"kind": "cases", "chapter": chapter, "cases": drawn})
                path.parent.mkdir(exist_ok=True)
                path.with_suffix(".tmp").write_bytes(blob)
                os.replace(path.with_suffix(".tmp"), path)
            # The grader checks the very cases the workers get: decoded from the same bytes.
            self.cases[chapter] = wire.decode(blob)["cases"]
            self.blobs[chapter] = blob

    def grade(self, submission: Submission) -> Outcome:
        """Run one submission in a worker and score it."""
        outcome = Outcome(submission.student, submission.chapter, GRADED)
        outcome.digest = self.digest(submission)
        if submission.problem:
            outcome.status, outcome.reason = UNREADABLE, submission.problem
            return outcome
        worker = self.workers.get()
        try:
            files = {f"{submission.chapter}.py": submission.source}
            blob = self.blobs[submission.chapter]
            status, message = worker.grade(submission.chapter, files, blob)
        finally:
            self.workers.put(worker)
        if status.get("status") != "done":
            outcome.status = TIMED_OUT if status.get("status") == TIMED_OUT else CRASHED
            outcome.reason = str(status.get("detail", ""))
            return outcome
        try:
            report = wire.decode(message)
            crash = str(report.get("crash", ""))[:300] if isinstance(report, dict) else "bad result"
        except wire.WireError:
            report, crash = None, "its result was not a valid message"
        outcome.items = score(submission.chapter, report, self.verdicts)
        if crash:
            outcome.status, outcome.reason = CRASHED, crash
        elif submission.flags:
            outcome.status, outcome.reason = FLAGGED, "; ".join(submission.flags)
        return outcome

    def digest(self, submission: Submission) -> str:
        """Same source, same kit, same secret and budget: same grade (so it need not rerun)."""
        parts = (submission.digest, kit_fingerprint(), self.key, self.examples, submission.chapter)
        text = ":".join(map(str, parts))
        return hashlib.sha256(text.encode()).hexdigest()

    def close(self) -> None:
        """Stop every worker."""
        while not self.workers.empty():
            self.workers.get().stop()


@cache
def kit_fingerprint() -> str:
    """A hash of the kit's grading code: a new kit version regrades everything."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.parent.rglob("*.py")):  # all of grader/
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def run(
    submissions: list[Submission],
    grader: Grader,
    previous: dict[str, dict],
    force: bool,
    progress: Callable[[int], object] = lambda advance: None,
) -> list[Outcome]:
    """Grade what is new or changed (everything, with `force`); reuse the rest."""
    outcomes: dict[int, Outcome] = {}
    todo = []
    for number, submission in enumerate(submissions):
        key = f"{submission.student}/{submission.chapter}"
        old = previous.get(key)
        if not force and old and old["digest"] == grader.digest(submission):
            outcomes[number] = outcome_from_dict(old)
        else:
            todo.append((number, submission))
    grader.prepare({s.chapter for _, s in todo if s.chapter in CHAPTERS})
    progress(len(outcomes))  # the reused ones
    with ThreadPoolExecutor(grader.jobs) as pool:
        futures = {number: pool.submit(grader.grade, s) for number, s in todo}
        for number, future in futures.items():
            outcomes[number] = future.result()
            progress(1)
    return [outcomes[number] for number in range(len(submissions))]


def outcome_from_dict(data: dict) -> Outcome:
    """An Outcome from the state file."""
    items = [ItemResult(**item) for item in data.get("items", [])]
    return Outcome(**{**data, "items": items})


def load_state(directory: Path) -> dict[str, dict]:
    """The outcomes of the previous run, by `student/chapter`."""
    path = directory / "state.json"
    return json.loads(path.read_text()) if path.exists() else {}


def save_state(directory: Path, outcomes: list[Outcome]) -> None:
    """Keep the outcomes so that a rerun grades only new or changed submissions."""
    state = {f"{o.student}/{o.chapter}": asdict(o) for o in outcomes}
    tmp = directory / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=1))
    os.replace(tmp, directory / "state.json")


def write_csv(path: Path, outcomes: list[Outcome]) -> None:
    """One row per submission: score, status and why."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student_id", "assignment", "score", "max_score", "status", "reason"])
        for o in outcomes:
            writer.writerow([o.student, o.chapter, o.score, o.max_score, o.status, o.reason])


def write_feedback(directory: Path, outcomes: list[Outcome]) -> list[Path]:
    """Per student and chapter, a Markdown page: each item's points and the hint if it failed."""
    written = []
    for o in outcomes:
        if o.chapter not in CHAPTERS:
            continue
        path = directory / "feedback" / o.student / f"{o.chapter}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        titles = {item.grade_id: item.title for item in registry.items(o.chapter)}
        lines = [f"# {o.chapter}: {o.score:g} / {o.max_score}", ""]
        if o.status != GRADED:
            lines += [f"Status: {o.status}. {o.reason}", ""]
        for item in o.items:
            mark = "✓" if not item.message else "✗"
            lines.append(f"- {mark} {titles[item.grade_id]} ({item.points:g}/{item.max_points})")
            if item.message:
                lines.append(f"  - {item.message}")
        path.write_text("\n".join(lines) + "\n")
        written.append(path)
    return written


def grade_folder(
    submissions: Path,
    out: Path | None = None,
    db_url: str | None = None,
    jobs: int | None = None,
    force: bool = False,
    examples: int = 25,
    timeout: float = 120,
    zip_regexp: str | None = None,
    allow_bwrap: bool = True,
    console=None,
    names: bool = False,
) -> tuple[list[Outcome], Isolation]:
    """Everything `kit grade` does, short of printing the summary."""
    from rich.progress import Progress

    from grader.autograde.cohort import write_cohort
    from grader.autograde.gradebook import write_autograded, write_gradebook
    from grader.autograde.sandbox import isolation as best_isolation
    from grader.autograde.submissions import ZIP_REGEXP, collect

    course = course_of(submissions)
    out = out or (course / "kit" if course else Path("kit-grades"))
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)  # the secret and the state are the grader's alone
    db_url = db_url or f"sqlite:///{(course or out).resolve() / 'gradebook.db'}"
    limits = Limits(wall=timeout, cpu=int(timeout))
    isolation = best_isolation(limits, allow_bwrap)
    found = collect(submissions, zip_regexp or ZIP_REGEXP, scratch=out / "extracted")
    grader = Grader(out, isolation, limits, jobs or os.cpu_count() or 1, examples)
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("grading", total=len(found))

            def advance(done: int) -> None:
                progress.update(task, advance=done)

            outcomes = run(found, grader, load_state(out), force, advance)
    finally:
        grader.close()
    save_state(out, outcomes)
    write_gradebook(db_url, outcomes)
    write_csv(out / "grades.csv", outcomes)
    write_feedback(out, outcomes)
    if course:
        for submission, outcome in zip(found, outcomes, strict=True):
            if outcome.status in (GRADED, FLAGGED) and submission.path.suffix == ".ipynb":
                write_autograded(course, submission, outcome)
    write_cohort(out, outcomes, names)  # items.csv and report.html, next to grades.csv
    return outcomes, isolation


def course_of(submissions: Path) -> Path | None:
    """The nbgrader course that holds this `submitted/` folder, if it is one."""
    parent = submissions.resolve().parent
    if submissions.name == "submitted" and (parent / "nbgrader_config.py").exists():
        return parent
    return None
