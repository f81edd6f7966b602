"""Nothing survives a submission, and reaching for the answer key is flagged (issue 12, 3 and 4).

One worker grades, in turn, an honest submission alone (its solo score), then each attack of
`hostile/slate/` followed by the honest one again: after every submission the worker's /tmp
is empty, it has no process left below it, the host's shared memory is back to its level, and
the honest student gets exactly the solo score. The attacks of `hostile/answer_key/` delegate
to Hugging Face or the kit without an `import` statement: each is flagged with its route named
(or earns nothing), and the solutions and the zoo's correct variants are never flagged.
"""

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from grader import registry
from grader.autograde import worker
from grader.autograde.demo import hostile_submission
from grader.autograde.grade import FLAGGED, GRADED, Grader
from grader.autograde.sandbox import Limits, isolation
from grader.autograde.submissions import Submission
from grader.autograde.worker import (
    HIDDEN_PACKAGES,
    below_tmp,
    clean_slate,
    closed_to_nobody,
    import_paths,
    package_paths,
)
from grader.chapters import CHAPTERS, EXERCISES, SOLUTIONS
from grader.zoo import ZOO

pytestmark = pytest.mark.slow
SLATE = ("tmp_hardlink", "sysv_shm", "fork_allocations")
# attack -> (chapter or chapters, words its flag must contain)
ANSWER_KEY = {
    "subclasses": ("rmsnorm", "kit's or Hugging Face's code"),
    "subclass_wrapper": ("rmsnorm", "LlamaRMSNorm"),
    "sys_modules_reference": ("attention", "kit's or Hugging Face's code"),
    "sys_modules_warpers": ("sampling", "TopKLogitsWarper"),
    "importlib_module": ("rmsnorm", "kit's or Hugging Face's code"),
    "gc_objects": ("rmsnorm", "garbage collector"),
    "read_installed": ("rmsnorm", "opened"),
    "exec_source": ("rmsnorm", "compiled source"),
    "code_object": ("rmsnorm", "code object"),
    "remove_tripwire": ("rmsnorm", "sys.setprofile"),
    "proc_root": ("rmsnorm", "opened"),
    "lent_tables": ("memory", "(earns nothing: other items' tables miss its cases)"),
    "sys_modules_model": ("memory", "(earns nothing: the stand-in transformers has no model)"),
    "lent_parts": (
        ("llama", "lora", "generate"),
        "(earns nothing: no child holds the part its item grades)",
    ),
}
ATTACKS = [
    (attack, chapter)
    for attack, (chapters, _) in ANSWER_KEY.items()
    for chapter in ((chapters,) if isinstance(chapters, str) else chapters)
]


def shmem_mib() -> int:
    """The host's shared memory (tmpfs and SysV), in MiB."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("Shmem:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no Shmem in /proc/meminfo")


def descendants(pid: int) -> list[int]:
    """Every process below `pid`."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def submission(student: str, chapter: str, source: str) -> Submission:
    return Submission(student, chapter, Path(f"{student}/{chapter}.py"), source=source)


def test_a_clean_slate_is_private_and_bounded(tmp_path):
    """In a child: a fresh, bounded /tmp (holding only what Python and the kit are read from,
    if they live in /tmp), and SysV shared memory within the quota."""
    marker = tmp_path / "outside"
    pid = os.fork()
    if pid == 0:
        try:
            clean_slate({"tmp_size": 2**20, "memory": 2**24})
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            kept = {Path(p).relative_to("/tmp").parts[0] for p in below_tmp()}
            empty = set(os.listdir("/tmp")) == kept
            empty &= all(os.path.exists(p) for p in import_paths())  # a lazy import still works
            try:
                Path("/tmp/big").write_bytes(b"x" * 2**21)
                bounded = False
            except OSError:
                bounded = True
            first = libc.shmget(0, ctypes.c_size_t(2**23), 0o1600)
            second = libc.shmget(0, ctypes.c_size_t(2**24), 0o1600)
            os._exit(0 if empty and bounded and first >= 0 and second < 0 else 1)
        except BaseException:
            os._exit(2)
    assert os.waitpid(pid, 0)[1] == 0
    assert not marker.exists() and not Path("/tmp/big").exists()


@pytest.fixture(scope="module", params=["bwrap", "process"])
def grader(request, tmp_path_factory):
    found = isolation(Limits(), allow_bwrap=request.param == "bwrap")
    if request.param == "bwrap" and found.name != "bwrap":
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the isolation tests under bubblewrap: {found.name}")
        pytest.skip(found.name)
    assert not found.cannot or "shared memory" not in " ".join(found.cannot)
    limits = Limits(wall=60, cpu=60)
    graded = Grader(tmp_path_factory.mktemp(request.param), found, limits, 1, 3)
    graded.prepare(set(CHAPTERS))
    yield graded
    graded.close()


@pytest.mark.parametrize(
    ("lent", "kept"), [((), ()), (("rmsnorm", "attention", "mlp"), ("sentencepiece",))]
)
def test_a_childs_slate_holds_what_it_is_lent_alone(lent, kept):
    """grader/probes/parts in a child: the lent parts' files, no other part, and no
    __pycache__ (which holds the others' bytecode); of the hidden packages, those kept alone
    (run as root, the slate is also set up for nobody, with more folders covered)."""
    parts = Path(worker.GRADER, "probes", "parts")
    every = {p.stem for p in parts.glob("*.py")} - {"__init__"}
    assert set(lent) < every
    pid = os.fork()
    if pid == 0:
        try:
            clean_slate({"tmp_size": 2**20, "memory": 2**24}, True, lent, kept)
            held = set(os.listdir(parts))
            ok = held == {"__init__.py", *(f"{name}.py" for name in lent)}
            for path in package_paths(HIDDEN_PACKAGES):
                init = Path(path, "__init__.py")
                shown = init.is_file() and not init.read_text().startswith("raise")
                ok &= shown == (Path(path).name in kept) or path.endswith(".libs")
            os._exit(0 if ok else 1)
        except BaseException:
            os._exit(2)
    assert os.waitpid(pid, 0)[1] == 0


def test_folders_nobody_may_enter_are_found_on_the_way_to_python(monkeypatch):
    """Run as root without bwrap, a child becomes nobody: a Python below a folder others may
    not enter (/root) is found, so that the child's slate can show the way through it."""
    base = Path(tempfile.mkdtemp())
    base.chmod(0o755)
    python = base / "closed" / "pyenv" / "python3.11"
    python.mkdir(parents=True)
    (base / "closed").chmod(0o700)
    (base / "open").mkdir()
    monkeypatch.setattr(worker, "import_paths", lambda: {str(python), str(base / "open")})
    try:
        assert closed_to_nobody.__wrapped__() == {str(base / "closed"): [str(python)]}
    finally:
        shutil.rmtree(base)


def test_nothing_survives_a_submission(grader):
    honest = submission("honest", "rmsnorm", (SOLUTIONS / "rmsnorm.py").read_text())
    solo = grader.grade(honest)
    assert (solo.status, solo.score) == (GRADED, solo.max_score)
    worker = grader.workers.queue[0]
    level = shmem_mib()
    exercise = (EXERCISES / "rmsnorm.py").read_text()
    for attack in SLATE:
        outcome = grader.grade(
            submission(attack, "rmsnorm", hostile_submission(exercise, f"slate/{attack}"))
        )
        assert outcome.score == 0, (attack, outcome)
        root = Path(f"/proc/{worker.process.pid}/root")
        assert descendants(worker.process.pid) == [] or worker.isolation.name == "bwrap"
        if worker.isolation.name == "bwrap":  # bwrap -> its init -> the worker
            assert len(descendants(worker.process.pid)) <= 2, attack
        tmp = root / "tmp" if worker.isolation.name == "bwrap" else Path("/tmp")
        assert not (tmp / "hoard").exists() and not Path("/dev/shm/hoard").exists(), attack
        deadline = time.monotonic() + 15  # the kernel frees a dead IPC namespace shortly after
        while shmem_mib() > level + 64 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert shmem_mib() <= level + 64, attack
        again = grader.grade(honest)
        assert (again.status, again.score) == (solo.status, solo.score), attack


def test_an_environment_failure_is_regraded_not_blamed(grader):
    honest = submission("honest", "rmsnorm", (SOLUTIONS / "rmsnorm.py").read_text())
    worker = grader.workers.queue[0]
    grader.grade(honest)
    os.kill(worker.process.pid, 9)  # as the OOM killer would: the worker dies, not the student
    outcome = grader.grade(honest)
    assert (outcome.status, outcome.score) == (GRADED, outcome.max_score), outcome.reason


def test_a_submission_is_bounded_as_a_whole(tmp_path):
    """Three forks of 400 MiB each fit a 1 GiB per-process limit, not a 1 GiB budget for all."""
    found = isolation(Limits())
    if found.cgroups is None:
        pytest.skip(f"no cgroup budget on this machine: {found.describe()}")
    limits = Limits(wall=60, cpu=60, memory=2**30)
    graded = Grader(tmp_path, found, limits, 1, 3)
    try:
        graded.prepare({"rmsnorm"})
        honest = submission("honest", "rmsnorm", (SOLUTIONS / "rmsnorm.py").read_text())
        assert graded.grade(honest).score == graded.grade(honest).max_score
        worker = graded.workers.queue[0]
        kills = worker.budget.oom_kills()
        source = hostile_submission(honest.source, "slate/fork_allocations")
        outcome = graded.grade(submission("hoarder", "rmsnorm", source))
        assert worker.budget.oom_kills() > kills, "the forks' memory was not counted together"
        assert outcome.status == GRADED or "memory limit" in outcome.reason, outcome.reason
        again = graded.grade(honest)
        assert (again.status, again.score) == (GRADED, again.max_score), again.reason
    finally:
        graded.close()
    groups = [d for p in found.cgroups.parents.values() for d in p.glob(f"kit-{os.getpid()}-*")]
    assert groups == [], "a worker's cgroup was left behind"


@pytest.mark.parametrize(("attack", "chapter"), ATTACKS)
def test_every_delegation_is_flagged_with_its_route(grader, attack, chapter):
    route = ANSWER_KEY[attack][1]
    source = hostile_submission((EXERCISES / f"{chapter}.py").read_text(), f"answer_key/{attack}")
    outcome = grader.grade(submission(attack, chapter, source))
    assert "environment failed" not in outcome.reason, outcome.reason  # a broken worker earns 0
    assert outcome.score == 0 or (outcome.status == FLAGGED and route in outcome.reason), (
        attack,
        outcome.status,
        outcome.score,
        outcome.reason,
    )


# Appended to a solution: it imports only if the process holds none of the answer key, can
# import none of it, and can read none of the kit's files that compute answers.
# A module from a file counts; a stand-in (memory's `transformers`, a LlamaConfig alone) has none.
LOOK_FOR_THE_KEY = """
import importlib as _importlib, os as _os, sys as _sys
_held = [_m for _m in {modules} if getattr(_sys.modules.get(_m), "__file__", None)]
for _m in {modules}:
    try:
        if getattr(_importlib.import_module(_m), "__file__", None):
            _held.append("import " + _m)
    except ImportError:
        pass
_held += [_p for _p in {paths} if _os.path.exists(_p)]
if _held:
    raise ImportError(f"the child can reach {{_held}}")
"""


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_child_holds_the_answer_key(grader, chapter):
    """Issue 12, 4: nothing in the process that runs the student's code computes an answer,
    can be imported or can be read (trying is flagged, and earns nothing)."""
    hidden = tuple(p for p in HIDDEN_PACKAGES if p not in registry.packages_kept(chapter))
    modules = [*hidden, "grader.checks", "grader.reference", "grader.zoo"]
    root = SOLUTIONS.parent
    paths = [str(SOLUTIONS / f"{chapter}.py"), str(root / "grader" / "checks"), str(ZOO)]
    paths += [str(root / "grader" / "reference.py"), str(root / "tests"), str(root / "benchmarks")]
    paths += [f"{path}/__pycache__" for path in package_paths(hidden)]
    probe = LOOK_FOR_THE_KEY.format(modules=modules, paths=paths)
    source = (SOLUTIONS / f"{chapter}.py").read_text() + probe
    outcome = grader.grade(submission("keyless", chapter, source))
    assert outcome.score == outcome.max_score, [item.message for item in outcome.items]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_honest_submissions_are_never_flagged(grader, chapter):
    solution = (SOLUTIONS / f"{chapter}.py").read_text()
    variants = {"solution": solution}
    variants |= {p.stem: f"{solution}\n\n{p.read_text()}" for p in (ZOO / chapter).glob("ok_*.py")}
    for name, source in variants.items():
        outcome = grader.grade(submission(name, chapter, source))
        assert (outcome.status, outcome.score) == (GRADED, outcome.max_score), (
            name,
            outcome.reason,
        )
