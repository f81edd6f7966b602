"""Find the submissions to grade, read them without running them, and scan them for review.

A submission is one student's work on one chapter. Three layouts are understood:

- an nbgrader course's `submitted/<student>/<chapter>/<chapter>.ipynb`;
- a folder of student folders holding `<chapter>.py` or `<chapter>.ipynb` files;
- a folder of `.zip` files as an LMS exports them: each archive is extracted safely and its
  files are named as nbgrader's `zip_collect` expects (`--zip-regexp`, with `student_id` and
  `file_id` groups).

Of a notebook only the solution cells count, found by their nbgrader `grade_id`; every other
cell comes from the kit's own copy of the chapter, so edited, deleted or re-ordered locked
cells change nothing. Nothing here executes student code, nor parses it: a `parse.Parser`
process does, so that a parser's crash or hang costs only that submission.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jupytext

from grader.autograde.parse import Parser, imports
from grader.chapters import CHAPTERS, EXERCISES

MAX_SOURCE = 2 * 2**20  # bytes of a .py submission
MAX_NOTEBOOK = 20 * 2**20  # bytes of a notebook (outputs included)
MAX_CELLS = 2000  # cells of a notebook, counted before parsing: a chapter has a few dozen
MAX_ARCHIVE = 200 * 2**20  # bytes extracted from one zip
MAX_MEMBERS = 1000  # files in one zip
# nbgrader's documented pattern, but no part may span an `_attempt_`: a file name that holds
# two (`x_ada_attempt_1_bob_attempt_2_rmsnorm.py`) matches nothing and is refused.
ZIP_REGEXP = (
    r"(?:(?!_attempt_).)*_(?P<student_id>(?:(?!_attempt_)\w)+)"
    r"_attempt_(?P<timestamp>[0-9\-]+)_(?P<file_id>(?:(?!_attempt_)\w)+)\.(?:py|ipynb)$"
)
STUDENT = re.compile(r"\w[\w.@+-]{0,99}")  # a student id that is safe as a folder name


@dataclass
class Submission:
    """One student's chapter: the module source to run, or why it cannot be read."""

    student: str
    chapter: str
    path: Path
    source: str | None = None  # the chapter as one Python module
    problem: str | None = None  # why it is unreadable
    flags: list[str] = field(default_factory=list)
    solution_cells: dict[str, str] = field(default_factory=dict)  # grade_id -> source
    note: str = ""  # what the instructor should know (which of several files was graded)
    mtime: float = 0.0

    @property
    def digest(self) -> str:
        """What decides the grade: the source (or the problem)."""
        return hashlib.sha256((self.source or f"!{self.problem}").encode()).hexdigest()


def collect(
    root: Path,
    zip_regexp: str = ZIP_REGEXP,
    scratch: Path | None = None,
    parser: Parser | None = None,
) -> list:
    """One submission per (student, chapter) under `root`, in a stable order.

    The student is who handed in: the zip's name, or the folder's, never a path inside it.
    No symlink or hard link on the way to a file is followed; each is refused, and says so.
    Every file is parsed by `parser` (a new `Parser` if none), which is stopped at the end.
    """
    root = Path(root)
    archives = sorted(root.glob("*.zip"))
    with parser or Parser() as parser:
        if archives:
            scratch = Path(scratch or tempfile.mkdtemp(prefix="kit-zips-"))
            found = from_archives(archives, zip_regexp, scratch, parser)
        else:
            found = []
            for entry in sorted(root.iterdir()):
                if not entry.name.startswith(".") and (entry.is_dir() or entry.is_symlink()):
                    found += from_folder(root, entry.name, parser)
    return sorted(one_per_chapter(found), key=_order)


def _order(submission: Submission) -> tuple:
    chapter = CHAPTERS.index(submission.chapter) if submission.chapter in CHAPTERS else -1
    return submission.student, chapter


def student_name(name: str) -> tuple[str, str | None]:
    """The student id to use, and why it cannot be used (a name that is unsafe as a folder)."""
    if STUDENT.fullmatch(name):
        return name, None
    return ascii(name)[:60], "not a usable student id (letters, digits and _ . @ + - only)"


def from_folder(root: Path, name: str, parser: Parser) -> list[Submission]:
    """A student folder's chapters: `<chapter>.py|.ipynb`, or the same inside `<chapter>/`."""
    student, problem = student_name(name)
    if problem or os.path.islink(root / name):
        why = problem or f"{name} -> {os.readlink(root / name)} is a symlink: refused"
        return [Submission(student, "?", root / name, problem=why)]
    found = []
    for chapter in CHAPTERS:
        names = [f"{chapter}{ext}" for ext in (".py", ".ipynb")]
        names += [f"{chapter}/{n}" for n in names]
        present = [n for n in names if os.path.lexists(root / name / n)]
        if present:
            candidates = [read(student, chapter, root, f"{name}/{n}", parser) for n in present]
            found.append(latest(candidates))
    if not found:
        found.append(Submission(student, "?", root / name, problem="no chapter files found"))
    return found


def latest(candidates: list[Submission]) -> Submission:
    """nbgrader's rule for several files of one chapter: the latest; a refused one wins."""
    refused = [c for c in candidates if c.problem]
    if refused or len(candidates) == 1:
        return (refused or candidates)[0]
    # by time, then a notebook over a .py (a paired notebook and its .py are saved together)
    chosen = max(candidates, key=lambda c: (c.mtime, c.path.suffix == ".ipynb"))
    chosen.note = (
        f"{len(candidates)} files for {chosen.chapter}: graded the latest, {chosen.path.name}"
    )
    return chosen


def one_per_chapter(found: list[Submission]) -> list[Submission]:
    """Never two outcomes for one (student, chapter): problems of the same key are merged."""
    merged: dict[tuple[str, str], Submission] = {}
    for submission in found:
        key = (submission.student, submission.chapter)
        if key not in merged:
            merged[key] = submission
        else:
            first = merged[key]
            problems = [first.problem or f"{first.path.name} was graded", submission.problem]
            first.problem, first.source = "; ".join(p for p in problems if p), None
    return list(merged.values())


def from_archives(
    archives: list[Path], zip_regexp: str, scratch: Path, parser: Parser
) -> list[Submission]:
    """Each archive is one student's, by its name; its files named as `zip_collect` does."""
    found = []
    for number, archive in enumerate(archives):
        student, problem = student_name(archive.stem)
        target = scratch / str(number)
        problem = problem or extract(archive, target)
        if problem:
            found.append(Submission(student, "?", archive, problem=problem))
        else:
            found += from_archive(student, archive, target, re.compile(zip_regexp), parser)
    return found


def from_archive(
    student: str, archive: Path, target: Path, regexp: re.Pattern, parser: Parser
) -> list[Submission]:
    """The chapters in one extracted archive; a file not clearly this student's is refused."""
    chapters: dict[str, list[tuple[str, str]]] = {}  # chapter -> [(timestamp, relative path)]
    refused = []
    for path in sorted(p for p in target.rglob("*") if p.suffix in (".py", ".ipynb")):
        name = path.relative_to(target).as_posix()
        info = regexp.match(path.name)
        if not info or "student_id" not in regexp.groupindex or "file_id" not in regexp.groupindex:
            refused.append(f"{name} (does not match --zip-regexp)")
        elif info["student_id"] != student and not name_ends(path.name, info, student):
            refused.append(f"{name} (names another student, {info['student_id']})")
        elif info["file_id"] in CHAPTERS:
            stamp = info.groupdict().get("timestamp") or ""
            chapters.setdefault(info["file_id"], []).append((stamp, name))
    found = []
    for chapter, files in chapters.items():
        files.sort()
        if len(files) > 1 and files[-1][0] == files[-2][0]:
            both = ", ".join(name for _, name in files[-2:])
            found.append(Submission(student, chapter, archive, problem=f"ambiguous: {both}"))
            continue
        submission = read(student, chapter, target, files[-1][1], parser)
        if len(files) > 1 and not submission.problem:
            submission.note = (
                f"{len(files)} attempts at {chapter}: graded the latest, {files[-1][0]}"
            )
        found.append(submission)
    if refused or not found:
        why = "refused " + "; ".join(refused) if refused else "no chapter file in the zip"
        found.append(Submission(student, "?", archive, problem=f"{archive.name}: {why}"))
    return found


def name_ends(name: str, info: re.Match, student: str) -> bool:
    """Does the file's student part end in `_<student>`, as ada_lee's `hw_ada_lee_attempt_...`?"""
    # An id with `_` in it splits where a regexp guesses: `hw_ada_lee_...` gives `lee`.
    return name[: info.end("student_id")].endswith(f"_{student}")


def extract(archive: Path, target: Path) -> str | None:
    """Extract a zip, refusing links, `..` or absolute paths, repeated names, oversized contents."""
    try:
        with (
            os.fdopen(open_plain(archive.parent, archive.name), "rb") as raw,
            zipfile.ZipFile(raw) as zipped,
        ):
            members = zipped.infolist()
            names = [m.filename for m in members]
            if len(members) > MAX_MEMBERS or len(set(names)) < len(names):
                return f"{archive.name}: over {MAX_MEMBERS} files, or one name twice"
            for member in members:
                name = Path(member.filename)
                if name.is_absolute() or ".." in name.parts:
                    return f"unsafe path in the zip: {member.filename!r}"
                if stat.S_ISLNK(member.external_attr >> 16):
                    return f"symlink in the zip: {member.filename!r}"
            if sum(m.file_size for m in members) > MAX_ARCHIVE:
                return "the zip unpacks to more than 200 MB"
            zipped.extractall(target)
    except Refused as refusal:
        return str(refusal)
    except Exception as error:  # zipfile raises several types on garbage
        return f"{archive.name}: not a readable zip ({type(error).__name__})"
    return None


class Refused(OSError):
    """A link, or not a plain file, on the way to a submission."""


def open_plain(root: Path, relative: str) -> int:
    """A read-only fd of `root/relative`, refusing a symlink at any component or a hard link."""
    parts = relative.split("/")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for number, part in enumerate(parts):
            last = number == len(parts) - 1
            flags = os.O_RDONLY | os.O_NOFOLLOW | (os.O_NONBLOCK if last else os.O_DIRECTORY)
            if stat.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode):
                link = "/".join(parts[: number + 1])
                raise Refused(f"{link} -> {os.readlink(part, dir_fd=fd)} is a symlink: refused")
            opened = os.open(part, flags, dir_fd=fd)  # O_NOFOLLOW: a link swapped in fails
            os.close(fd)
            fd = opened
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused(f"{relative} is not a plain file: refused")
        if info.st_nlink > 1:  # it may be another student's file, or the kit's
            raise Refused(f"{relative} is a hard link ({info.st_nlink} names): refused")
        return fd
    except BaseException:
        os.close(fd)
        raise


def read(student: str, chapter: str, root: Path, relative: str, parser: Parser) -> Submission:
    """Read `root/relative` into a submission (never through a link); `parser` parses and scans it.

    Every failure makes it unreadable: a parser's RecursionError or MemoryError, crash or hang.
    """
    path = root / relative
    submission = Submission(student, chapter, path)
    try:
        limit = MAX_NOTEBOOK if path.suffix == ".ipynb" else MAX_SOURCE
        with os.fdopen(open_plain(root, relative), "rb") as f:
            submission.mtime = os.fstat(f.fileno()).st_mtime
            data = f.read(limit + 1)
        if len(data) > limit:
            raise Refused(f"{relative} is larger than {limit // 2**20} MB")
        text = data.decode("utf-8")
        if path.suffix == ".ipynb" and text.count('"cell_type"') > MAX_CELLS:
            raise Refused(f"{relative} has more than {MAX_CELLS} cells")
    except Refused as refusal:
        submission.problem = str(refusal)
        return submission
    except Exception as error:  # not UTF-8, a failing disk: said as a parser's error is
        parsed = {"error": type(error).__name__}
    else:
        parsed = parser.parse(path.suffix, data, allowed_imports(chapter))
    if "error" in parsed:  # RecursionError, MemoryError, a malformed notebook: its own
        submission.problem = f"{relative}: not a readable {path.suffix} file ({parsed['error']})"
    elif "failed" in parsed:  # the parser crashed or hung: it was replaced for the next one
        submission.problem = f"{relative}: {parsed['failed']}"
    else:
        submission.solution_cells, submission.flags = parsed["cells"], parsed["flags"]
        notebook = path.suffix == ".ipynb"
        submission.source = module_source(chapter, submission.solution_cells) if notebook else text
    return submission


@cache
def template(chapter: str) -> tuple:
    """The chapter's code cells as the kit ships them: (grade_id, is_solution, is_test, source)."""
    cells = []
    for cell in jupytext.read(EXERCISES / f"{chapter}.py").cells:
        if cell.cell_type == "code":
            meta = cell.metadata.get("nbgrader", {})
            solution, test = bool(meta.get("solution")), bool(meta.get("grade"))
            cells.append((meta.get("grade_id"), solution, test, cell.source))
    return tuple(cells)


def module_source(chapter: str, cells: dict[str, str]) -> str:
    """The chapter as a module: the student's solution cells inside the kit's other cells."""
    parts = []
    for grade_id, is_solution, is_test, source in template(chapter):
        if is_test:
            continue  # the grader runs the checks itself
        parts.append(without_magics(cells.get(grade_id, source)) if is_solution else source)
    return "\n\n".join(parts) + "\n"


def cell_at(chapter: str, cells: dict[str, str], line: int) -> tuple[str | None, int]:
    """The solution cell (None: a locked one) and its line, of `module_source`'s line `line`."""
    start = 1
    for grade_id, is_solution, is_test, source in template(chapter):
        if is_test:
            continue
        part = without_magics(cells.get(grade_id, source)) if is_solution else source
        end = start + part.count("\n") + 1  # parts are joined by a blank line
        if line < end:
            return (grade_id if is_solution else None), line - start + 1
        start = end + 1
    return None, line


def without_magics(source: str) -> str:
    """IPython `%magic` and `!shell` lines become comments: a module cannot run them."""
    return "\n".join(
        f"# {line}" if line.lstrip().startswith(("%", "!")) else line
        for line in source.splitlines()
    )


@cache
def allowed_imports(chapter: str) -> frozenset[str]:
    """What the chapter's own locked cells import (`from transformers import LlamaConfig`)."""
    locked = "\n".join(src for _, is_solution, _, src in template(chapter) if not is_solution)
    return frozenset(name for name, _ in imports(locked))
