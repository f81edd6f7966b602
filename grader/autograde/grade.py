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
import html
import json
import math
import os
import re
import secrets
import tempfile
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
from grader.autograde.channel import split
from grader.autograde.cohort import mistake
from grader.autograde.sandbox import Isolation, Limits, Worker
from grader.autograde.submissions import Submission, cell_at
from grader.chapters import CHAPTERS
from grader.compare import remembering
from grader.registry import CheckFailed, Item
from grader.runner import learner_cases, plain, quiet_transformers

# A submission's statuses; every one but `graded` and `flagged` makes `kit grade` exit 1.
GRADED, FLAGGED = "graded", "flagged for review"
UNREADABLE, TIMED_OUT, CRASHED = "unreadable", "timed out", "crashed"
MAX_TEXT = 300  # characters of any text a student controls (reasons, echoed errors)


@dataclass
class ItemResult:
    """One item of one submission."""

    grade_id: str
    points: float
    max_points: int
    message: str = ""  # the hint, when it failed
    mistake: str = ""  # the HINTS key the whole message names (it is clipped for the reports)


@dataclass
class Outcome:
    """What became of one submission."""

    student: str
    chapter: str
    status: str
    reason: str = ""
    items: list[ItemResult] = field(default_factory=list)
    digest: str = ""
    reused: bool = False  # unchanged since the last run: not graded again

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
    """The cases a learner's pytest run checks, then `examples` cases seeded from the secret."""
    cases = learner_cases(item)  # so that pytest and kit grade agree on every case pytest ran
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


def merged(children: list, count, message: bytes) -> tuple[dict, list[str], str]:
    """The items, tripwire flags and first crash of a submission's children's reports.

    A child's report counts for its own group's items only: a child that holds the MLP (lent
    to the decoder-layer item) cannot answer the MLP item. A message that is not `count`
    valid reports, one per group, is a crash.
    """
    try:
        if count != len(children):
            raise ValueError(f"{count} results for {len(children)} groups of items")
        reports = [wire.decode(body) for body in split(message, count)]
    except ValueError:  # WireError too
        return {}, [], "its result was not a valid message"
    items, flags, crashes = {}, [], []
    for (grade_ids, _lent), report in zip(children, reports, strict=True):
        if not isinstance(report, dict):
            crashes.append("bad result")
            continue
        crashes.append(str(report.get("crash") or "")[:300])
        sent = report.get("items")
        if isinstance(sent, dict):
            items.update({i: sent[i] for i in grade_ids if i in sent})
        tripped = report.get("flags")
        flags += [str(f)[:200] for f in tripped[:5]] if isinstance(tripped, list) else []
    return items, flags[:5], next(filter(None, crashes), "")


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
        self.children: dict[str, list] = {}  # by chapter: [grade_ids, lent parts] per child
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
                blob = self.draw(chapter)
                path.parent.mkdir(exist_ok=True)
                path.with_suffix(".tmp").write_bytes(blob)
                os.replace(path.with_suffix(".tmp"), path)
            # The grader checks the very cases the workers get: decoded from the same bytes.
            request = wire.decode(blob)
            self.cases[chapter], self.children[chapter] = request["cases"], request["children"]
            self.blobs[chapter] = blob

    def draw(self, chapter: str) -> bytes:
        """The chapter's request to the workers: its cases, where its probes are, which items
        run together in a child with which parts lent, and the packages its children keep."""
        items = registry.items(chapter)
        with warnings.catch_warnings(), quiet_transformers():
            warnings.simplefilter("ignore")
            drawn = {item.grade_id: draw_cases(item, self.key, self.examples) for item in items}
        probes = registry.probe_locations(chapter)
        request = {"kind": "cases", "chapter": chapter, "cases": drawn, "probes": probes}
        children, kept = registry.children(chapter), registry.packages_kept(chapter)
        request |= {"children": children, "kept": kept}
        return wire.encode(request)

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
        children = self.children[submission.chapter]
        items, tripped, crash = merged(children, status.get("children"), message)
        outcome.items = score(submission.chapter, {"items": items}, self.verdicts)
        if crash:
            outcome.status, outcome.reason = CRASHED, crash
        elif flags := submission.flags + tripped:
            outcome.status, outcome.reason = FLAGGED, "; ".join(flags)
        return outcome

    def digest(self, submission: Submission) -> str:
        """Same source, same kit, same secret and budget: same grade (so it need not rerun)."""
        parts = (submission.digest, kit_fingerprint(), self.key, self.examples, submission.chapter)
        text = ":".join(map(str, parts))
        return hashlib.sha256(text.encode()).hexdigest()

    def warm(self) -> None:
        """Start every worker in the background."""
        for worker in self.workers.queue:
            worker.warm()

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


def grade_safely(grader: Grader, submission: Submission) -> Outcome:
    """Grade one submission; whatever goes wrong becomes its status, never the whole run's."""
    try:
        outcome = grader.grade(submission)
    except Exception as error:  # a bug or a surprise: it must not cost the other students
        outcome = Outcome(submission.student, submission.chapter, CRASHED)
        outcome.reason = f"the grader failed on {submission.path.name}: {describe(error)}"
    outcome.reason = clip("; ".join(filter(None, [outcome.reason, submission.note])))
    for item in outcome.items:
        if item.message:  # named before the message is clipped, which may cut the hint off
            item.mistake = mistake(outcome.chapter, item.message)
        item.message = clip(in_notebook(submission, item.message))
    return outcome


NOT_WRITTEN = re.compile(r"(?P<name>\S+) is not written yet \(it raises NotImplementedError\)")
NOT_IMPORTED = re.compile(r"\S+\.py could not be imported \(line (?P<line>\d+)\)")


def in_notebook(submission: Submission, message: str) -> str:
    """A hint that points into the notebook handed in, not at a `.py` the student never saw."""
    if submission.path.suffix != ".ipynb":
        return message
    if imported := NOT_IMPORTED.match(message):
        cell, line = cell_at(submission.chapter, submission.solution_cells, int(imported["line"]))
        where = f"solution cell {cell}, line {line}" if cell else "a locked cell"
        place = f"{submission.path.name} could not be imported ({where})"
        return place + message[imported.end() :]
    found = NOT_WRITTEN.match(message)
    if not found:
        return message
    defines = re.compile(rf"^\s*(def|class) {re.escape(found['name'].split('.')[0])}\b", re.M)
    cells = [
        grade_id for grade_id, code in submission.solution_cells.items() if defines.search(code)
    ]
    cell = f"the solution cell {cells[0]} of " if cells else ""
    return f"{found[0]}: write it in {cell}{submission.path.name}"


def describe(error: BaseException) -> str:
    """`Type: message`, on one line."""
    return clip(f"{type(error).__name__}: {error}")


def clip(text: object, limit: int = MAX_TEXT) -> str:
    """One line of at most `limit` characters: control characters become spaces."""
    line = "".join(c if c.isprintable() else " " for c in str(text))
    return line if len(line) <= limit else line[: limit - 1] + "…"


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
    if todo:
        grader.warm()  # the workers import torch while the cases are drawn
    grader.prepare({s.chapter for _, s in todo if s.chapter in CHAPTERS})
    progress(len(outcomes))  # the reused ones
    with ThreadPoolExecutor(grader.jobs) as pool:
        futures = {number: pool.submit(grade_safely, grader, s) for number, s in todo}
        for number, future in futures.items():
            outcomes[number] = future.result()
            progress(1)
    return [outcomes[number] for number in range(len(submissions))]


def outcome_from_dict(data: dict) -> Outcome:
    """An Outcome from the state file."""
    items = [ItemResult(**item) for item in data.get("items", [])]
    return Outcome(**{**data, "items": items, "reused": True})


def load_state(directory: Path) -> dict[str, dict]:
    """The outcomes of the previous run, by `student/chapter`."""
    path = directory / "state.json"
    return json.loads(path.read_text()) if path.exists() else {}


def save_state(directory: Path, outcomes: list[Outcome]) -> None:
    """Keep the outcomes so that a rerun grades only new or changed submissions."""
    state = {f"{o.student}/{o.chapter}": asdict(o) | {"reused": False} for o in outcomes}
    tmp = directory / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=1))
    os.replace(tmp, directory / "state.json")


def write_csv(path: Path, outcomes: list[Outcome]) -> None:
    """One row per submission: score, status and why."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student_id", "assignment", "score", "max_score", "status", "reason"])
        for o in outcomes:
            row = [o.student, o.chapter, o.score, o.max_score, o.status, clip(o.reason)]
            writer.writerow([csv_cell(cell) for cell in row])


def csv_cell(value: object) -> object:
    """A cell no spreadsheet reads as a formula: text starting with = + - @ tab or CR is quoted."""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


def markdown(text: object) -> str:
    """Student-controlled text as literal Markdown: no HTML, link, image or emphasis."""
    return re.sub(r"([\\`*_\[\]|!~#])", r"\\\1", html.escape(clip(text), quote=False))


def write_feedback(directory: Path, outcomes: list[Outcome]) -> list[Path]:
    """Per student and chapter, a Markdown page: each item's points and the hint if it failed.

    A page that cannot be written makes that submission `crashed`, and the others go on.
    """
    written = []
    for o in outcomes:
        if o.chapter not in CHAPTERS:
            continue
        path = directory / "feedback" / o.student / f"{o.chapter}.md"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(feedback_page(o))
        except Exception as error:  # a name the filesystem refuses, a full disk
            o.status, o.reason = (
                CRASHED,
                clip(f"its feedback could not be written: {describe(error)}"),
            )
            continue
        written.append(path)
    return written


def feedback_page(o: Outcome) -> str:
    """The Markdown feedback of one outcome; every text a student controls is escaped."""
    titles = {item.grade_id: item.title for item in registry.items(o.chapter)}
    lines = [f"# {o.chapter}: {o.score:g} / {o.max_score}", ""]
    if o.status != GRADED:
        lines += [f"Status: {o.status}. {markdown(o.reason)}", ""]
    for item in o.items:
        mark = "✓" if not item.message else "✗"
        lines.append(f"- {mark} {titles[item.grade_id]} ({item.points:g}/{item.max_points})")
        if item.message:
            lines.append(f"  - {markdown(item.message)}")
    return "\n".join(lines) + "\n"


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

    refuse_folder(submissions)
    refuse_pattern(zip_regexp)
    course = course_of(submissions)
    option = "--out" if out else "the results folder"
    out = out or (course / "kit" if course else Path("kit-grades"))
    writable_folder(out, option)
    if db_url:  # the default, sqlite in the course or the results, opens where they can be written
        refuse_gradebook(db_url)
    out.chmod(0o700)  # the secret and the state are the grader's alone
    db_url = db_url or f"sqlite:///{(course or out).resolve() / 'gradebook.db'}"
    limits = Limits(wall=timeout, cpu=math.ceil(timeout))  # a limit of 0 would kill at once
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
    # Per-submission writers first (a failure there is that submission's status), then the
    # files for everyone, the gradebook last: CSV and state are written whatever it does.
    write_feedback(out, outcomes)
    if course:
        for submission, outcome in zip(found, outcomes, strict=True):
            if outcome.status in (GRADED, FLAGGED) and submission.path.suffix == ".ipynb":
                try:
                    write_autograded(course, submission, outcome)
                except Exception as error:
                    outcome.status = CRASHED
                    outcome.reason = (
                        f"its autograded notebook could not be written: {describe(error)}"
                    )
    save_state(out, outcomes)
    write_cohort(out, outcomes, names)  # items.csv and report.html, next to grades.csv
    write_csv(out / "grades.csv", outcomes)
    try:
        write_gradebook(db_url, outcomes)
    except Exception as error:  # a database the grader cannot reach: say what was written
        why = f"{out}/grades.csv, feedback and state are written, the gradebook is not"
        raise OutputError(f"{why}: {describe(error)}", outcomes, isolation) from error
    return outcomes, isolation


class OutputError(RuntimeError):
    """Everything was graded and written, except the gradebook."""

    def __init__(self, message: str, outcomes: list[Outcome], isolation: Isolation):
        super().__init__(message)
        self.outcomes, self.isolation = outcomes, isolation


class UsageError(ValueError):
    """Input that `kit grade` cannot start on: the message names the fix."""


def refuse_folder(submissions: Path) -> None:
    """Check the submissions folder before anything is written."""
    if not submissions.exists():
        raise UsageError(f"{submissions}: no such folder; give the folder of submissions to grade")
    if not submissions.is_dir():
        raise UsageError(f"{submissions} is a file; give the folder that holds the submissions")
    if not any(p.is_dir() or p.suffix == ".zip" for p in submissions.iterdir()):
        raise UsageError(
            f"{submissions} holds no submissions: expected student folders, LMS .zip files "
            "or an nbgrader submitted/ folder"
        )


def writable_folder(folder: Path, option: str) -> None:
    """Make the results folder, or say in one line why it cannot be one."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{option} {folder} is a file: give a folder for the results")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise UsageError(
            f"{option} {folder} cannot be written ({error.strerror}): choose a folder you can write"
        ) from None


def refuse_gradebook(db_url: str) -> None:
    """Open the gradebook's database before anything is graded: an unusable one is said
    first, not after grades.csv is written."""
    from sqlalchemy import create_engine

    try:
        engine = create_engine(db_url)
        try:
            with engine.connect():
                pass
        finally:
            engine.dispose()
    except Exception as error:  # a bad URL, a missing driver, a server that does not answer
        raise UsageError(
            f"--db-url {clip(db_url, 100)} cannot be opened ({describe(error)}): give a database "
            "URL nbgrader can use, or leave it out for sqlite in the course"
        ) from None


def refuse_pattern(zip_regexp: str | None) -> None:
    """A --zip-regexp that does not compile, said before anything is graded."""
    if zip_regexp is None:
        return
    try:
        re.compile(zip_regexp)
    except re.error as error:
        raise UsageError(
            f"--zip-regexp {zip_regexp!r} is not a regular expression ({error}): fix it, or "
            "leave it out for nbgrader's pattern"
        ) from None


def course_of(submissions: Path) -> Path | None:
    """The nbgrader course that holds this `submitted/` folder, if it is one."""
    parent = submissions.resolve().parent
    if submissions.name == "submitted" and (parent / "nbgrader_config.py").exists():
        return parent
    return None
