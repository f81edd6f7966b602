"""Find the submissions to grade, read them without running them, and scan them for review.

A submission is one student's work on one chapter. Three layouts are understood:

- an nbgrader course's `submitted/<student>/<chapter>/<chapter>.ipynb`;
- a folder of student folders holding `<chapter>.py` or `<chapter>.ipynb` files;
- a folder of `.zip` files as an LMS exports them: each archive is extracted safely and its
  files are named as nbgrader's `zip_collect` expects (`--zip-regexp`, with `student_id` and
  `file_id` groups).

Of a notebook only the solution cells count, found by their nbgrader `grade_id`; every other
cell comes from the kit's own copy of the chapter, so edited, deleted or re-ordered locked
cells change nothing. Nothing here executes student code.
"""

from __future__ import annotations

import ast
import hashlib
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jupytext
import nbformat

from grader.chapters import CHAPTERS, EXERCISES

MAX_SOURCE = 2 * 2**20  # bytes of a .py submission
MAX_NOTEBOOK = 20 * 2**20  # bytes of a notebook (outputs included)
MAX_ARCHIVE = 200 * 2**20  # bytes extracted from one zip
ZIP_REGEXP = r".*_(?P<student_id>\w+)_attempt_(?P<timestamp>[0-9\-]+)_(?P<file_id>\w+)"
# Imports that hand a submission the answers: flagged for a human to look at.
FLAGGED_MODULES = ("transformers", "peft", "grader", "solutions")


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

    @property
    def digest(self) -> str:
        """What decides the grade: the source (or the problem)."""
        return hashlib.sha256((self.source or f"!{self.problem}").encode()).hexdigest()


def collect(root: Path, zip_regexp: str = ZIP_REGEXP, scratch: Path | None = None) -> list:
    """Every submission under `root`, in a stable order; zips are extracted into `scratch`."""
    root = Path(root)
    archives = sorted(root.glob("*.zip"))
    if archives:
        scratch = Path(scratch or tempfile.mkdtemp(prefix="kit-zips-"))
        return sorted(from_archives(archives, zip_regexp, scratch), key=_order)
    found = []
    for student in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
        files = [student / f"{c}{ext}" for c in CHAPTERS for ext in (".py", ".ipynb")]
        files += [student / c / f"{c}{ext}" for c in CHAPTERS for ext in (".py", ".ipynb")]
        present = [f for f in files if f.is_file() or f.is_symlink()]
        if not present:
            found.append(Submission(student.name, "?", student, problem="no chapter files found"))
        by_chapter = {}
        for path in present:  # a notebook wins over a .py of the same chapter
            if path.suffix == ".ipynb" or path.stem not in by_chapter:
                by_chapter[path.stem] = path
        found += [read(student.name, c, p) for c, p in by_chapter.items()]
    return sorted(found, key=_order)


def _order(submission: Submission) -> tuple:
    chapter = CHAPTERS.index(submission.chapter) if submission.chapter in CHAPTERS else -1
    return submission.student, chapter


def from_archives(archives: list[Path], zip_regexp: str, scratch: Path) -> list[Submission]:
    """Extract each archive safely, then name its files with nbgrader's collector plugin."""
    from nbgrader.plugins.zipcollect import FileNameCollectorPlugin

    collector = FileNameCollectorPlugin(named_regexp=zip_regexp, valid_ext=[".ipynb", ".py"])
    found = []
    for number, archive in enumerate(archives):
        target = scratch / str(number)
        problem = extract(archive, target)
        if problem:
            found.append(Submission(archive.stem, "?", archive, problem=problem))
            continue
        for path in sorted(p for p in target.rglob("*") if p.is_file()):
            info = collector.collect(str(path)) if path.suffix in (".ipynb", ".py") else None
            if info and info["file_id"] in CHAPTERS:
                found.append(read(info["student_id"], info["file_id"], path))
    return found


def extract(archive: Path, target: Path) -> str | None:
    """Extract a zip, refusing links, absolute or `..` paths and oversized contents."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = zipped.infolist()
            for member in members:
                name = Path(member.filename)
                if name.is_absolute() or ".." in name.parts:
                    return f"unsafe path in the zip: {member.filename!r}"
                if stat.S_ISLNK(member.external_attr >> 16):
                    return f"symlink in the zip: {member.filename!r}"
            if sum(m.file_size for m in members) > MAX_ARCHIVE:
                return "the zip unpacks to more than 200 MB"
            zipped.extractall(target)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        return f"not a readable zip ({type(error).__name__})"
    return None


def read(student: str, chapter: str, path: Path) -> Submission:
    """Read one file into a submission (never following symlinks), and scan it."""
    submission = Submission(student, chapter, path)
    if path.is_symlink():
        submission.problem = "is a symlink, not a file"
        return submission
    limit = MAX_NOTEBOOK if path.suffix == ".ipynb" else MAX_SOURCE
    if path.stat().st_size > limit:
        submission.problem = f"larger than {limit // 2**20} MB"
        return submission
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":
            submission.solution_cells = solution_cells(text)
            submission.source = module_source(chapter, submission.solution_cells)
            scanned = submission.solution_cells.values()
        else:
            submission.source, scanned = text, [text]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as error:
        submission.problem = f"not a readable {path.suffix} file ({type(error).__name__})"
        return submission
    allowed = allowed_imports(chapter)
    submission.flags = [flag for code in scanned for flag in scan(code, allowed)]
    return submission


def solution_cells(text: str) -> dict[str, str]:
    """grade_id -> source of each solution cell of a notebook (the first, if repeated)."""
    notebook = nbformat.reads(text, as_version=4)
    cells = {}
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") == "code" and meta.get("solution") and meta.get("grade_id"):
            source = cell.get("source", "")
            cells.setdefault(str(meta["grade_id"]), "".join(source))
    return cells


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


def imports(code: str) -> list[tuple[str, int]]:
    """(module or module:name, line) of every import in the code, dynamic ones included."""
    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(f"{node.module}:{alias.name}", node.lineno) for alias in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("__import__", "import_module"):
                found.append((str(node.args[0].value), node.lineno))
    return found


def scan(code: str, allowed: frozenset[str] = frozenset()) -> list[str]:
    """Why a human should look at this code: imports of the libraries that hold the answers."""
    try:
        found = imports(code)
    except SyntaxError:
        return []  # importing it will fail, and say so
    return [
        f"imports {name.replace(':', '.')} (line {line})"
        for name, line in found
        if name.split(".")[0].split(":")[0] in FLAGGED_MODULES and name not in allowed
    ]
