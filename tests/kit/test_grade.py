"""`kit grade` against the adversarial corpus (grader/autograde/hostile/), the wire format and zips.

Every hostile submission is the rmsnorm exercise with one attack appended (or, for the ones
that bring their own `RMSNorm`, in place of the student's). Each must get no credit it did
not earn, leave no process behind, touch nothing outside its work directory, and leave the
correct submission graded in the same run at full marks.
"""

import hashlib
import os
import socket
import threading
import zipfile
from pathlib import Path

import pytest
import torch

from grader import registry
from grader.autograde import wire
from grader.autograde.demo import HOSTILE, hostile_submission
from grader.autograde.grade import CRASHED, FLAGGED, GRADED, TIMED_OUT, UNREADABLE, grade_folder
from grader.autograde.sandbox import Limits, isolation
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
    "fork_bomb": ({GRADED}, 0),
    "hard_coded": ({GRADED}, 3),  # init and zero are earned; every drawn case fails
    "import_transformers": ({FLAGGED}, 0),
    "infinite_loop": ({TIMED_OUT}, 0),
    "ipython_hooks": ({GRADED}, 0),
    "memory_bomb": ({TIMED_OUT, CRASHED}, 0),
    "network": ({GRADED}, 0),
    "os_exit": ({CRASHED}, 0),
    "output_flood": ({GRADED}, 0),
    "peek_frames": ({GRADED}, 3),  # it returns its input: init, zero, dtype/shape hold
    "pickle_result": ({CRASHED}, 0),
    "read_solutions": ({GRADED}, 0),
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


def test_the_wire_refuses_a_pickle():
    import pickle

    with pytest.raises(wire.WireError):
        wire.decode(pickle.dumps({"items": {}}))


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
    assert bwrap_run[1].name == "bwrap" and not bwrap_run[1].cannot
    assert process_run[1].name != "bwrap" and "network access" in process_run[1].cannot


def test_the_correct_submission_gets_full_marks(graded):
    correct = graded[0]["correct"]
    assert (correct.status, correct.score) == (GRADED, correct.max_score)


def test_no_attack_earns_credit(graded):
    outcomes = graded[0]
    for attack, outcome in outcomes.items():
        if attack in EXPECTED:
            statuses, most = EXPECTED[attack]
            assert outcome.status in statuses, (attack, outcome.status, outcome.reason)
            assert outcome.score <= most, (attack, outcome.items)
            passed = {item.grade_id for item in outcome.items if not item.message}
            assert "rmsnorm_float32" not in passed, attack  # the forward is never earned


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
