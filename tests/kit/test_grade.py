"""`kit grade` against the adversarial corpus (grader/autograde/hostile/), the wire format and zips.

Every hostile submission is the rmsnorm exercise with one attack appended (or, for the ones
that bring their own `RMSNorm`, in place of the student's). Each must get no credit it did
not earn, leave no process behind, touch nothing outside its work directory, and leave the
correct submission graded in the same run at full marks.
"""

import csv
import hashlib
import importlib
import json
import os
import socket
import threading
import zipfile
from pathlib import Path

import jupytext
import pytest
import torch
from rich.console import Console

from grader import cli, registry
from grader.autograde import wire
from grader.autograde.channel import joined
from grader.autograde.demo import HOSTILE, WRONG, hostile_submission
from grader.autograde.grade import (
    CRASHED,
    FLAGGED,
    GRADED,
    MAX_TEXT,
    TIMED_OUT,
    UNREADABLE,
    ItemResult,
    Outcome,
    grade_folder,
    in_notebook,
    merged,
)
from grader.autograde.gradebook import write_gradebook
from grader.autograde.parse import Parser
from grader.autograde.sandbox import UNBOUNDED, Limits, isolation
from grader.autograde.submissions import Submission, collect, module_source
from grader.autograde.worker import NOBODY
from grader.chapters import EXERCISES, ROOT, SOLUTIONS

pytestmark = pytest.mark.slow
TIMEOUT = 10  # seconds per submission: the loops and bombs run this long
# What each attack must come to: (status, points at most). Anything else is a hole.
EXPECTED = {
    "allclose_always_true": ({GRADED, CRASHED}, 0),
    "always_equal": ({GRADED}, 1),  # its __init__ is right: rmsnorm_init's point is earned
    "bad_values": ({GRADED}, 1),
    "daemon": ({GRADED}, 0),
    "exit_at_import": ({GRADED}, 0),
    "exits": ({GRADED}, 0),
    "fill_disk": ({GRADED}, 0),
    "forged_float": ({CRASHED}, 0),
    "forged_nesting": ({CRASHED}, 0),
    "forged_reason": ({CRASHED}, 0),
    # Contained either way; the clean slate makes its thousands of forks slower than 10 s on a
    # loaded machine.
    "fork_bomb": ({GRADED, TIMED_OUT}, 0),
    "hard_coded": ({GRADED}, 3),  # init and zero are earned; every drawn case fails
    "import_transformers": ({FLAGGED}, 0),
    "infinite_loop": ({TIMED_OUT}, 0),
    "ipython_hooks": ({GRADED}, 0),
    "markup_in_errors": ({GRADED}, 0),
    "memory_bomb": ({TIMED_OUT, CRASHED}, 0),
    "network": ({GRADED}, 0),
    "os_exit": ({CRASHED}, 0),
    "output_flood": ({GRADED}, 0),
    # It returns its input, which earns nothing now that every item compares with HF; its walk
    # over every object may be flagged or run out of time.
    "peek_frames": ({GRADED, FLAGGED, TIMED_OUT}, 1),
    "pickle_result": ({CRASHED}, 0),
    "read_solutions": ({GRADED, FLAGGED}, 0),  # the tripwire sees it open solutions/
    "tamper_results": ({GRADED}, 0),
}
# What a separate process (no bwrap) cannot defend; the report says so too.
NEEDS_BWRAP = {"network", "read_solutions", "tamper_results", "fill_disk"}


def test_the_corpus_is_complete():
    assert {p.stem for p in HOSTILE.glob("*.py")} == set(EXPECTED)


@pytest.mark.parametrize("item", registry.items(), ids=lambda item: item.grade_id)
def test_every_case_crosses_the_wire_unchanged(item):
    for case in item.examples():
        assert same(wire.decode(wire.encode(case)), case)


def same(a, b) -> bool:
    if isinstance(b, torch.Tensor):
        return type(a) is torch.Tensor and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in b)
    if isinstance(b, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    return a == b or (a != a and b != b)  # NaN


@pytest.mark.parametrize(
    "tree", ['{"$float": "not-a-number"}', "[" * 600 + "]" * 600, '{"$tensor": "t9"}', "[" * 10**5]
)
def test_the_wire_refuses_forged_values(tree):
    header = json.dumps({"__metadata__": {"json": tree}}).encode()
    with pytest.raises(wire.WireError):
        wire.decode(len(header).to_bytes(8, "little") + header)


def test_the_wire_refuses_a_pickle():
    import pickle

    with pytest.raises(wire.WireError):
        wire.decode(pickle.dumps({"items": {}}))


def test_a_child_answers_for_its_own_items_alone():
    """The child lent an MLP (for the decoder-layer item) cannot answer the MLP item; a
    message short of a report, or with bytes past the last, is a crash."""
    children = [[["llama_mlp"], ["rmsnorm"]], [["llama_decoder_layer"], ["rmsnorm", "mlp"]]]
    mine = {"outputs": [torch.ones(1)], "error": None}
    first = wire.encode({"items": {"llama_mlp": mine}, "flags": ["looked"]})
    forged = {"llama_mlp": {"outputs": [torch.zeros(1)]}, "llama_decoder_layer": mine}
    second = wire.encode({"items": forged, "crash": "it broke"})
    items, flags, crash = merged(children, 2, joined([first, second]))
    assert items == {"llama_mlp": mine, "llama_decoder_layer": mine}
    assert (flags, crash) == (["looked"], "it broke")
    for count, message in ((1, joined([first])), (2, joined([first])), (2, joined([first] * 3))):
        assert merged(children, count, message) == ({}, [], "its result was not a valid message")
    assert merged(children, 2, joined([first, b"junk"]))[2] == "its result was not a valid message"


class Listener:
    """A loopback TCP service that records whether anything reached it."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.contacted = False
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        self.server.settimeout(0.5)
        while True:
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.contacted = True
            connection.close()


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def leftover_processes() -> list[str]:
    """Processes of the sandbox's uid, or still running the worker."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode()
            uid = int(Path(entry.path, "status").read_text().split("Uid:")[1].split()[0])
        except (OSError, IndexError):
            continue
        if "grader.autograde.worker" in cmdline or (uid == NOBODY and os.getuid() in (0, NOBODY)):
            found.append(f"{entry.name}: {cmdline[:80]}")
    return found


def corpus(folder: Path, out: Path, attacks, port: int) -> Path:
    """A folder of student folders: `correct`, one per attack, and one with shipped files."""
    exercise = (EXERCISES / "rmsnorm.py").read_text()
    students = {"correct": (SOLUTIONS / "rmsnorm.py").read_text()}
    for attack in attacks:
        students[attack] = hostile_submission(
            exercise, attack, out=str(out), root=str(ROOT), port=str(port),
            marker=str(folder.parent / f"marker-{attack}"),
        )  # fmt: skip
    for student, text in students.items():
        (folder / student).mkdir(parents=True)
        (folder / student / "rmsnorm.py").write_text(text)
    # Files a Python startup would run, shipped beside the chapter: none of them may run.
    shipped = folder / "shipped_startup_files"
    shipped.mkdir()
    (shipped / "rmsnorm.py").write_text(exercise)
    touch = f"open({str(folder.parent / 'marker-shipped')!r}, 'w')\n"
    for name in ("conftest.py", "sitecustomize.py", "usercustomize.py"):
        (shipped / name).write_text(touch)
    (shipped / "evil.pth").write_text(f"import os; {touch}")
    return folder


def grade_corpus(tmp_path, attacks, allow_bwrap):
    listener = Listener()
    out = tmp_path / "out"
    out.mkdir()
    folder = corpus(tmp_path / "submissions", out, attacks, listener.port)
    before = tree_digest(folder)
    outcomes, isolation = grade_folder(
        folder, out=out, jobs=2, examples=5, timeout=TIMEOUT, allow_bwrap=allow_bwrap
    )
    return {o.student: o for o in outcomes}, isolation, listener, before, folder, out


@pytest.fixture(scope="module")
def bwrap_run(tmp_path_factory):
    found = isolation(Limits())
    if found.name != "bwrap":  # never run the whole corpus unconfined
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the corpus under bubblewrap: {found.name}")
        pytest.skip(f"{found.name} (Debian: apt install bubblewrap)")
    return grade_corpus(tmp_path_factory.mktemp("bwrap"), EXPECTED, allow_bwrap=True)


@pytest.fixture(scope="module")
def process_run(tmp_path_factory):
    attacks = [a for a in EXPECTED if a not in NEEDS_BWRAP]
    return grade_corpus(tmp_path_factory.mktemp("process"), attacks, allow_bwrap=False)


@pytest.fixture(params=["bwrap", "process"])
def graded(request):
    return request.getfixturevalue(f"{request.param}_run")


def test_isolation_is_reported(bwrap_run, process_run):
    confined = bwrap_run[1]
    assert confined.name == "bwrap"
    # Nothing is missing but, where the host has no usable cgroup, the budget for all processes.
    assert all(c.startswith(UNBOUNDED) for c in confined.cannot)
    assert bool(confined.cannot) != bool(confined.cgroups)
    assert process_run[1].name != "bwrap" and "network access" in process_run[1].cannot


def test_the_correct_submission_gets_full_marks(graded):
    correct = graded[0]["correct"]
    assert (correct.status, correct.score) == (GRADED, correct.max_score)


def test_no_attack_earns_credit(graded):
    holes = []  # every attack's verdict is checked, and all the holes are reported at once
    for attack, outcome in graded[0].items():
        if attack in EXPECTED:
            statuses, most = EXPECTED[attack]
            passed = {item.grade_id for item in outcome.items if not item.message}
            if outcome.status not in statuses or outcome.score > most:
                holes.append((attack, outcome.status, outcome.score, outcome.reason))
            if "rmsnorm_float32" in passed:  # the forward is never earned
                holes.append((attack, "earned rmsnorm_float32"))
    assert holes == []


def test_shipped_startup_files_never_run(graded):
    outcome = graded[0]["shipped_startup_files"]
    assert (outcome.status, outcome.score) == (GRADED, 0)
    assert not (graded[4].parent / "marker-shipped").exists()


def test_nothing_is_left_running_or_written(graded):
    outcomes, _, listener, before, folder, out = graded
    assert leftover_processes() == []
    assert tree_digest(folder) == before
    assert not list(folder.parent.glob("marker-*"))
    assert not Path("/tmp/kit-daemon-was-here").exists()
    for path in out.rglob("*"):
        assert not path.is_file() or b"all full marks" not in path.read_bytes()
    if "network" in outcomes:
        assert not listener.contacted


def live(cell: str) -> bool:
    """Would a spreadsheet run this cell, or rich render it as markup?"""
    return cell.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_what_the_instructor_opens_is_inert(graded, monkeypatch):
    outcomes, isolation, _, _, _, out = graded
    rows = list(csv.reader((out / "grades.csv").open()))
    assert len(rows) == len(outcomes) + 1
    assert not [cell for row in rows for cell in row if live(cell)]
    assert all(len(row[-1]) <= MAX_TEXT + 1 for row in rows)  # + the quote of a formula
    monkeypatch.setattr(cli, "console", Console(record=True, width=400))
    cli.summary(list(outcomes.values()), isolation)  # an unbalanced [/] must not kill it
    shown = cli.console.export_text()
    assert "[/] [bold green]graded 11/11" in shown  # printed as text, not rendered
    page = (out / "feedback" / "markup_in_errors" / "rmsnorm.md").read_text()
    assert "<img" not in page and "&lt;img" in page and "\\[link\\]" in page


def test_rerunning_grades_nothing_new_and_agrees(bwrap_run, monkeypatch):
    outcomes, _, _, _, folder, out = bwrap_run
    from grader.autograde.grade import Grader

    def refuse(self, submission):
        raise AssertionError(f"{submission.student} was graded again")

    monkeypatch.setattr(Grader, "grade", refuse)
    again, _ = grade_folder(folder, out=out, jobs=2, examples=5, timeout=TIMEOUT)
    assert [(o.student, o.status, o.score) for o in again] == [
        (o.student, o.status, o.score) for o in outcomes.values()
    ]
    assert all(o.reused for o in again)
    monkeypatch.setattr(cli, "console", Console(record=True, width=400))
    cli.summary(again, bwrap_run[1])
    assert f"skipped {len(again)} unchanged since the last run" in cli.console.export_text()


def zipped(path: Path, members: dict[str, str], link: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = 0o120777 << 16  # a symlink
            archive.writestr(info, "/work/solutions/rmsnorm.py")
    return path


def test_lms_zips(tmp_path):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    solution = (SOLUTIONS / "rmsnorm.py").read_text()
    name = "rmsnorm_{}_attempt_2026-11-01-10-00-00_rmsnorm.py"
    zipped(downloads / "ada.zip", {name.format("ada"): solution})
    zipped(downloads / "eve.zip", {"../../escape.py": "x = 1"})
    zipped(downloads / "mal.zip", {}, link=name.format("mal"))
    (downloads / "bad.zip").write_bytes(b"not a zip")
    outcomes, _ = grade_folder(downloads, out=tmp_path / "out", jobs=1, examples=2)
    got = {o.student: (o.status, o.score) for o in outcomes}
    assert got["ada"] == (GRADED, 11)
    assert got["eve"][0] == got["mal"][0] == got["bad"][0] == UNREADABLE
    assert not (tmp_path / "escape.py").exists()


LAYOUTS = {  # attack -> (status, what its reason must say)
    "deep_expression": (UNREADABLE, "RecursionError"),
    "fifo": (UNREADABLE, "not a plain file"),
    "formula_name": (UNREADABLE, "not a usable student id"),
    "hard_link": (UNREADABLE, "hard link"),
    "many_cells": (UNREADABLE, "more than"),
    "nested_notebook": (UNREADABLE, "RecursionError"),
    "several_files": (GRADED, "graded the latest"),
    "symlink_classmate": (UNREADABLE, "rmsnorm -> ../ada is a symlink"),
    "symlink_file": (UNREADABLE, "symlink"),
    "symlink_kit": (UNREADABLE, f"attention -> {SOLUTIONS} is a symlink"),
    "symlink_student": (UNREADABLE, "symlink_student -> ada is a symlink"),
    "zip_names_classmate": (UNREADABLE, "names another student, ada"),
    "zip_same_timestamp": (UNREADABLE, "ambiguous"),
    "zip_two_attempts": (UNREADABLE, "does not match --zip-regexp"),
}


def layout(name: str):
    return importlib.import_module(f"grader.autograde.hostile.layouts.{name}")


def test_the_layout_corpus_is_complete():
    found = {p.stem for p in (HOSTILE / "layouts").glob("[a-z]*.py")}
    assert found == set(LAYOUTS)


def honest(root: Path, zips: bool = False) -> None:
    """ada hands in the solution, grace the solution with a zoo bug."""
    solution = (SOLUTIONS / "rmsnorm.py").read_text()
    bug = (ROOT / "grader" / "zoo" / "rmsnorm" / f"{WRONG['rmsnorm']}.py").read_text()
    for student, text in {"ada": solution, "grace": f"{solution}\n\n{bug}"}.items():
        if zips:
            name = f"rmsnorm_{student}_attempt_2026-01-01-00-00-00_rmsnorm.py"
            zipped(root / f"{student}.zip", {name: text})
        else:
            (root / student).mkdir()
            (root / student / "rmsnorm.py").write_text(text)


@pytest.fixture(scope="module")
def layout_runs(tmp_path_factory):
    """Honest students graded alone, then with every layout attack, in one `kit grade` each."""
    tmp = tmp_path_factory.mktemp("layouts")
    out = tmp / "out"  # one secret: the same cases in every run
    (tmp / "alone").mkdir()
    honest(tmp / "alone")
    solo, _ = grade_folder(tmp / "alone", out=out, jobs=2, examples=2, force=True)
    runs = {}
    for kind in ("folders", "zips"):
        mixed = tmp / kind
        mixed.mkdir()
        honest(mixed, zips=kind == "zips")
        for name in LAYOUTS:
            if kind == layout(name).LAYOUT:
                layout(name).build(mixed, name, "ada")
        both, _ = grade_folder(mixed, out=out, jobs=2, examples=2, force=True)
        runs[kind] = (solo, both, out, (out / "grades.csv").read_text())
    return runs


@pytest.mark.parametrize("kind", ["folders", "zips"])
def test_layout_attacks_are_refused_and_change_no_one_else(layout_runs, kind):
    solo, both, out, grades = layout_runs[kind]
    keys = [(o.student, o.chapter) for o in both]
    assert len(keys) == len(set(keys))  # one outcome per student and chapter
    by_student = {o.student: o for o in both}
    for alone in solo:  # honest students: exactly their solo grades
        mixed = by_student[alone.student]
        assert (mixed.status, mixed.items) == (alone.status, alone.items)
    assert by_student["ada"].score == 11 and 0 < by_student["grace"].score < 11
    for name, (status, why) in LAYOUTS.items():
        if kind != layout(name).LAYOUT:
            continue
        student = ascii(layout(name).NAME)[:60] if name == "formula_name" else name
        outcome = by_student[student]
        assert (outcome.status, outcome.score) == (status, 0), (name, outcome)
        assert why in outcome.reason, (name, outcome.reason)
    rows = list(csv.reader(grades.splitlines()))
    assert len(rows) == len(both) + 1
    assert not [cell for row in rows for cell in row if live(cell)]
    if kind == "zips":  # the last run's state
        state = json.loads((out / "state.json").read_text())
        assert set(state) == {f"{student}/{chapter}" for student, chapter in keys}
    assert (out / "feedback" / "grace" / "rmsnorm.md").exists()


def test_a_parse_past_its_deadline_costs_only_that_submission(tmp_path):
    """ada's notebook keeps the parser busy for seconds: killed, and bob's parses right after."""
    source = "x = [" + "1, " * 3000 + "]\n"  # 1500 cells of it: seconds of ast.parse and scan
    cells = [
        {"cell_type": "code", "metadata": {"nbgrader": {"solution": True, "grade_id": f"c{i}"}}}
        | {"source": source, "outputs": [], "execution_count": None}
        for i in range(1500)
    ]
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    (tmp_path / "ada").mkdir()
    (tmp_path / "ada" / "rmsnorm.ipynb").write_text(json.dumps(notebook))
    (tmp_path / "bob").mkdir()
    jupytext.write(jupytext.read(SOLUTIONS / "rmsnorm.py"), tmp_path / "bob" / "rmsnorm.ipynb")
    parser = Parser(deadline=0.5)
    ada, bob = collect(tmp_path, parser=parser)  # in that order: ada's first
    assert ada.problem == "ada/rmsnorm.ipynb: parsing it took more than 0.5 s"
    assert bob.problem is None and "rmsnorm_solution" in bob.solution_cells
    assert parser.process is None  # stopped with the run


@pytest.mark.parametrize("make", ["missing", "a file", "empty"])
def test_kit_grade_refuses_a_bad_folder_in_one_line(tmp_path, capsys, make):
    target = tmp_path / "submissions"
    if make == "a file":
        target.write_text("")
    elif make == "empty":
        target.mkdir()
    out = tmp_path / "out"
    assert cli.main(["grade", str(target), "--out", str(out)]) == 2
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("kit grade: ") and "\n" not in printed
    assert not out.exists()


@pytest.mark.parametrize(
    ("option", "fragment"),
    [
        (["--out", "{file}"], "is a file: give a folder for the results"),
        (["--out", "/proc/no-such/out"], "cannot be written (No such file or directory)"),
        (["--zip-regexp", "("], "is not a regular expression"),
        (["--db-url", "nope://x"], "--db-url nope://x cannot be opened (NoSuchModuleError"),
        (["--db-url", "sqlite:////no/such/folder/gradebook.db"], "cannot be opened"),
    ],
)
def test_kit_grade_refuses_bad_options_before_grading(tmp_path, capsys, option, fragment):
    """A results folder, pattern or database that cannot work is said in one line before
    anything is graded or written (it was a traceback, or grades with no gradebook)."""
    (tmp_path / "submitted" / "ada").mkdir(parents=True)
    (tmp_path / "submitted" / "ada" / "rmsnorm.py").write_text("")
    (tmp_path / "file").write_text("")
    arguments = [value.format(file=tmp_path / "file") for value in option]
    assert cli.main(["grade", str(tmp_path / "submitted"), *arguments]) == 2
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("kit grade: ") and "\n" not in printed and fragment in printed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "submitted"]


def test_kit_demo_refuses_a_file_for_its_folder(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert cli.main(["demo", "--out", str(tmp_path / "file")]) == 2
    printed = capsys.readouterr().out.strip()
    expected = f"kit demo: --out {tmp_path / 'file'} is a file: give a folder for the results"
    assert printed == expected


def test_the_gradebook_needs_no_activated_virtualenv(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # as `.venv/bin/kit` from a script or cron
    items = [ItemResult(i.grade_id, i.points, i.points) for i in registry.items("rmsnorm")]
    outcome = Outcome("ada", "rmsnorm", GRADED, items=items)
    assert write_gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}", [outcome]) == 1


def test_a_notebook_stub_is_pointed_at_its_cell():
    cells = {"rmsnorm_solution": "class RMSNorm(nn.Module):\n    pass\n"}
    submission = Submission("ada", "rmsnorm", Path("rmsnorm.ipynb"), solution_cells=cells)
    message = "RMSNorm.forward is not written yet (it raises NotImplementedError): write it in x.py"
    hint = in_notebook(submission, message)
    assert "the solution cell rmsnorm_solution of rmsnorm.ipynb" in hint and ".py" not in hint


def test_a_notebook_import_error_names_its_cell_and_line():
    cells = {"rmsnorm_solution": "x = 1\nraise RuntimeError('boom')\n"}
    submission = Submission("ada", "rmsnorm", Path("rmsnorm.ipynb"), solution_cells=cells)
    line = module_source("rmsnorm", cells).splitlines().index("raise RuntimeError('boom')") + 1
    message = f"rmsnorm.py could not be imported (line {line}): RuntimeError: boom"
    hint = in_notebook(submission, message)
    assert (
        hint
        == "rmsnorm.ipynb could not be imported (solution cell rmsnorm_solution, line 2)"
        + (": RuntimeError: boom")
    )
