"""The sandboxed side of `kit grade`: a pre-warmed process that forks children per submission.

`python -I -m grader.autograde.worker` imports torch and the kit's loaders once, then answers
requests on stdin/stdout (frames of `grader.autograde.wire` messages):

- `{"kind": "cases", "chapter", "cases": {grade_id: [case, ...]}, "probes": {grade_id:
  "module:function"}, "children": [[grade_ids, parts lent], ...], "kept": [package, ...]}`
  stores the cases that the grader drew; the children inherit them;
- `{"kind": "grade", "chapter", "files": {name: source}, "limits": {...}}` runs the
  submission's items in one child per group of `children`, in turn. Each child gets a clean
  slate (its own mount and IPC namespaces, a fresh tmpfs on /tmp and /dev/shm, a SysV
  shared-memory quota: all of it dies with the child), drops privileges, sets rlimits, writes
  the submission into its /tmp, imports it and runs its group's probes. The reply is a status
  (`environment` when the worker itself could not fork or set up: never the student's fault),
  then the children's raw messages, which only the grader decodes.

The answer key is out of every child's reach: this process never imports transformers, peft,
the checks or the references, and a child's slate covers their files (all of the kit but its
loaders and probes, and the answer packages), and every part of `grader.probes.parts` but
those its group is lent: the child of an item holds nothing that computes that item's answer.
Nothing here compares or scores: expected values never enter this process.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib
import importlib.util
import os
import resource
import signal
import site
import stat
import sys
import tempfile
import time
import traceback
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from grader.autograde import wire
from grader.autograde.channel import (
    HEADER,
    LIBC,
    ChannelClosed,
    TimedOut,
    joined,
    mapped,
    read_frame,
    take_channel,
    write_frame,
)
from grader.chapters import one_line

PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 4, 36, 38
CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER = 0x20000, 0x8000000, 0x10000000
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 32, 4096, 0x4000, 1 << 18
GRADER = Path(__file__).resolve().parent.parent
NOBODY = 65534
SETUP_FAILED = 75  # a child's exit status when its slate could not be set up (EX_TEMPFAIL)
# Packages whose code computes answers, and that no chapter's learner calls (the tripwire
# flags opening their files)...
ANSWER_PACKAGES = ("transformers", "peft")
# ...and the tokenizer libraries, which answer chapter 8. Its learners train with
# sentencepiece, so its children keep that one (`PACKAGES_KEPT` of its probes); no other
# child has any of them.
HIDDEN_PACKAGES = (*ANSWER_PACKAGES, "tokenizers", "sentencepiece")
# All a child may read of the kit: the package's loaders, the sandbox and the probes.
KIT_KEPT = ("__init__.py", "chapters.py", "registry.py", "runner.py", "profiles.py")
KIT_KEPT += ("autograde", "probes")
NOT_HERE = "kit grade runs your code without transformers, peft or the tokenizers"
PROBES = "grader.probes"  # the package of probes a child imports
STARTUP = 300.0  # seconds for a worker to import what it needs


def main() -> None:
    """Serve requests until stdin closes."""
    requests, replies = take_channel()

    import warnings

    import torch

    wire.encode({"warm": torch.zeros(1)})  # safetensors imports numpy lazily: do it here
    torch.set_num_threads(1)  # one core per child; --jobs sets the parallelism
    warnings.simplefilter("ignore")
    import grader.runner  # noqa: F401  (the probes' caller: hypothesis, once here)
    from grader.autograde import tripwire

    below_tmp()  # found once here, where every child inherits them, not per submission
    closed_to_nobody()
    package_paths(HIDDEN_PACKAGES)  # what a child's slate covers
    # What every child's tripwire watches: found by `grader.autograde.worker`, which is not
    # this module (`__main__`) and has a cache of its own.
    tripwire.answer_roots()
    LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # a child may not ptrace or read this process
    LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans of a child come back to us
    write_frame(replies, wire.encode({"ready": True}))
    serve(requests, replies)


def serve(requests: int, replies: int) -> None:
    """Answer requests until the grader closes the channel."""
    cases: dict[str, dict] = {}
    while True:
        try:
            frame = read_frame(requests, wire.MAX_MESSAGE)
        except ChannelClosed:
            return
        request = wire.decode(frame)
        chapter = request["chapter"]
        if request["kind"] == "cases":
            cases[chapter] = request
        try:
            if request["kind"] == "cases":
                answers = [wire.encode({"ok": True})]
            else:
                status, results = run_children(request, cases[chapter], (requests, replies))
                answers = [wire.encode(status), results]
        except OSError as error:  # no fork, no pipe, no disk: the worker's trouble, not the child's
            answers = [wire.encode({"status": "environment", "detail": one_line(error)}), b""]
        for answer in answers:
            write_frame(replies, answer)


def run_children(request: dict, cases: dict, channel: tuple[int, int]) -> tuple[dict, bytes]:
    """Run a submission's items in one child per group (`cases["children"]`: grade_ids and
    the parts their child is lent), in turn, under one wall-clock deadline and one size limit
    for all their results.

    The status is `done` with the number of children, and the message their raw results, each
    length-prefixed (`channel.joined`): only the grader decodes them. Any other status is the
    first child's that did not finish, and the children after it do not run.
    """
    limits = request["limits"]
    deadline, left = time.monotonic() + limits["wall"], limits["result"]
    results = []
    for grade_ids, lent in cases["children"]:
        group = {**cases, "cases": {i: cases["cases"][i] for i in grade_ids}, "lent": lent}
        status, result = run_child(request, group, channel, deadline, left - HEADER)
        if status["status"] != "done":
            return status, b""
        results.append(result)
        left -= HEADER + len(result)
    return {"status": "done", "children": len(results)}, joined(results)


def run_child(
    request: dict, cases: dict, channel: tuple[int, int], deadline: float, limit: int
) -> tuple[dict, bytes]:
    """Fork a child for one group of a submission's items (`cases`: the group's part of the
    chapter's cases request); wait for its result, of at most `limit` bytes, until the
    deadline."""
    limits = request["limits"]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        for fd in (read_end, *channel):
            os.close(fd)
        child(request, cases, write_end, limits)
    os.close(write_end)
    try:
        # A frame, not EOF: a daemon that inherited the pipe cannot hold the result back.
        result, failure = read_frame(read_end, limit, deadline), None
    except ChannelClosed as closed:
        result, failure = b"", closed
    os.close(read_end)
    code = wait_until(pid, deadline)
    if code is None:  # still running: with a result it had finished, without one it ran out
        os.kill(pid, signal.SIGKILL)
        code = os.waitpid(pid, 0)[1]
        failure = None if result else TimedOut()
    kill_descendants()  # the last process of the namespaces gone, their tmpfs and shm too
    if isinstance(failure, TimedOut):
        return {"status": "timed out", "detail": f"no result in {limits['wall']} s"}, b""
    if failure and os.WIFEXITED(code) and os.WEXITSTATUS(code) == SETUP_FAILED:
        return {"status": "environment", "detail": "the child's sandbox could not be set up"}, b""
    if failure:
        how = f"signal {os.WTERMSIG(code)}" if os.WIFSIGNALED(code) else f"status {code >> 8}"
        return {"status": "crashed", "detail": f"exited ({how}) without sending its result"}, b""
    return {"status": "done"}, result


def wait_until(pid: int, deadline: float) -> int | None:
    """The child's wait status, or None if it is still running at the deadline."""
    while True:
        done, code = os.waitpid(pid, os.WNOHANG)
        if done:
            return code
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.005)


def kill_descendants() -> None:
    """SIGKILL every process left below this one (daemons re-parent to us as subreaper)."""
    me = os.getpid()
    while kids := [pid for pid, parent in processes() if parent == me]:
        for pid in kids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in kids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def processes() -> Iterator[tuple[int, int]]:
    """(pid, parent pid) of every process this one can see in /proc."""
    for pid, line in proc_files("stat"):
        yield pid, int(line.rsplit(")", 1)[1].split()[1])


def proc_files(name: str) -> Iterator[tuple[int, str]]:
    """(pid, text of /proc/<pid>/<name>) for every process whose file this one can read."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                yield int(entry.name), Path(entry.path, name).read_text()
            except OSError:
                continue


def import_paths() -> set[str]:
    """Where Python and the kit are read from: prefixes, site-packages, the grader package."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages(), str(GRADER)}
    paths |= {str(Path(p).resolve()) for p in (sys.executable, sys._base_executable)}
    return {p for p in paths if Path(p).exists()}


@functools.cache
def below_tmp() -> list[str]:
    """The outermost of `import_paths` that lie in /tmp (a virtualenv or a clone made there)."""
    return outermost(p for p in import_paths() if p.startswith("/tmp/"))


@functools.cache
def closed_to_nobody() -> dict[str, list[str]]:
    """The outermost folders on the way to `import_paths` that others may not enter (a Python
    installed below /root), each with the import paths below it: a child that becomes nobody
    could not import from them."""
    paths, closed = import_paths(), set()
    for path in paths:
        for folder in reversed(Path(path).parents):
            if not os.stat(folder).st_mode & stat.S_IXOTH:
                closed.add(str(folder))
                break
    return {
        folder: outermost(p for p in paths if p.startswith(f"{folder}/"))
        for folder in outermost(closed)
    }


def clean_slate(
    limits: dict, hide_answers: bool = False, lent: Iterable[str] = (), kept: Iterable[str] = ()
) -> None:
    """Own mount and IPC namespaces, a fresh /tmp and /dev/shm: nothing outlives this process.

    What Python or the kit reads from below /tmp is bound again, read-only, into the fresh
    one: a lazy import in the child must find its module. With `hide_answers`, the answer
    key's files are covered too, but for the parts `lent` and the packages `kept`
    (`hide_answer_key`).
    """
    uid, gid = os.getuid(), os.getgid()
    # Without root (bwrap's user namespace, or an unprivileged host) a user namespace of our
    # own gives the right to mount; its capabilities are dropped again in `drop_privileges`.
    user = CLONE_NEWUSER if uid else 0
    check(LIBC.unshare(CLONE_NEWNS | CLONE_NEWIPC | user), "unshare")
    if user:
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
        Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    check(LIBC.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate")
    options = f"size={limits['tmp_size']},mode=1777"
    cover("/tmp", below_tmp(), options, read_only=False)
    cover("/dev/shm", (), options, read_only=False)
    cover("/var/tmp", (), options, read_only=False)  # no note to the next child, without bwrap
    if uid == 0:  # the child becomes nobody: a folder it may not enter shows only the way in
        for folder, shown in closed_to_nobody().items():
            cover(folder, shown)
    if hide_answers:
        hide_answer_key(lent, kept)
    # SysV segments of this namespace: at most the memory limit in all (shmall counts pages).
    Path("/proc/sys/kernel/shmall").write_text(str(limits["memory"] // os.sysconf("SC_PAGE_SIZE")))


def cover(
    target: str,
    keep: Iterable[str] = (),
    options: str = "mode=0755",
    read_only: bool = True,
    files: Mapping[str, str] | None = None,
) -> None:
    """Mount an empty tmpfs on `target`, bind the paths `keep` below it back, read-only, and
    write `files` (name: text) into it."""
    if not os.path.isdir(target):
        return
    kept = {path: os.open(path, os.O_PATH) for path in keep}  # before the target is covered
    check(LIBC.mount(b"tmpfs", target.encode(), b"tmpfs", 0, options.encode()), f"cover {target}")
    for path, fd in kept.items():
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(path, exist_ok=True)
        else:  # a file (the interpreter, a module) is bound onto a file
            os.makedirs(os.path.dirname(path), exist_ok=True)
            Path(path).touch()
        source = f"/proc/self/fd/{fd}".encode()
        check(LIBC.mount(source, path.encode(), None, MS_BIND | MS_REC, None), f"bind {path}")
        remount = MS_REMOUNT | MS_BIND | MS_RDONLY
        check(LIBC.mount(None, path.encode(), None, remount, None), f"read-only {path}")
        os.close(fd)
    for name, text in (files or {}).items():
        Path(target, name).write_text(text)
    if read_only:
        remount = MS_REMOUNT | MS_RDONLY
        check(LIBC.mount(None, target.encode(), None, remount, options.encode()), f"seal {target}")


def hide_answer_key(lent: Iterable[str] = (), kept: Iterable[str] = ()) -> None:
    """Cover the kit but for `KIT_KEPT` (in a checkout: solutions, tests, benchmarks too), the
    parts of `grader.probes.parts` but those `lent`, and the hidden packages but those `kept`
    (sentencepiece, which chapter 8's learners call): what the child can import or read
    computes no answer to its items."""
    root = GRADER.parent
    kit = [str(GRADER / name) for name in KIT_KEPT]
    if (root / "pyproject.toml").is_file():  # a checkout; a virtualenv inside it stays
        inside = [p for p in import_paths() if p.startswith(f"{root}/") and p != str(GRADER)]
        cover(str(root), outermost([*kit, *inside]))
    else:  # an installed kit: the package alone
        cover(str(GRADER), kit)
    parts = GRADER / "probes" / "parts"  # no __pycache__: it holds the parts not lent too
    cover(str(parts), [str(parts / f"{name}.py") for name in ("__init__", *lent)])
    hidden = tuple(name for name in HIDDEN_PACKAGES if name not in kept)
    for path in package_paths(hidden):  # an empty folder imports as a namespace package
        refusal = f"raise ModuleNotFoundError({NOT_HERE!r}, name=__name__)\n"
        cover(path, files={"__init__.py": refusal} if not path.endswith(".libs") else None)


@functools.cache
def package_paths(names: tuple[str, ...]) -> list[str]:
    """Where these packages are installed, with their bundled libraries (found, not imported)."""
    paths = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is not None:
            for location in spec.submodule_search_locations or ():  # packages, all of them
                paths += [str(location), f"{location}.libs"]
    return [p for p in paths if os.path.isdir(p)]


def outermost(paths: Iterable[str]) -> list[str]:
    """The paths that lie below none of the others."""
    paths = sorted(set(paths))
    return [p for p in paths if not any(p.startswith(f"{q}/") for q in paths)]


def check(result: int, what: str) -> None:
    """Raise OSError for a failed libc call."""
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def drop_privileges() -> None:
    """Become nobody when root; in a user namespace of our own, give up its capabilities."""
    check(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    if os.getuid() == 0:  # root outside a user namespace: become nobody, without caps
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        return
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    check(LIBC.capset(header, (ctypes.c_uint32 * 6)()), "capset")  # no capability left


def child(request: dict, cases: dict, result_fd: int, limits: dict) -> None:
    """Clean slate, drop privileges, confine, import the submission, probe, send the outputs."""
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 2)  # gigabytes of output go nowhere
        # Over the cgroup's memory limit, the OOM killer takes the child (and what it forks),
        # never the worker. Raising one's own score needs no privilege; a /proc that refuses
        # it only makes the worker a candidate too, whose death is regraded.
        with contextlib.suppress(OSError):
            Path("/proc/self/oom_score_adj").write_text("1000")
        clean_slate(limits, True, cases["lent"], cases["kept"])
        drop_privileges()
        work = Path(tempfile.mkdtemp(prefix="submission-", dir="/tmp"))
    except BaseException:  # nothing of the student's has run yet: the environment failed
        os._exit(SETUP_FAILED)
    try:
        os.chdir(work)
        os.environ["TMPDIR"] = tempfile.tempdir = str(work)
        for name, value in (
            ("RLIMIT_CPU", limits["cpu"]),  # per process, all its threads together
            ("RLIMIT_AS", mapped() + limits["memory"]),
            ("RLIMIT_FSIZE", limits["file_size"]),
            ("RLIMIT_NOFILE", 64),
            ("RLIMIT_NPROC", limits["nproc"]),
            ("RLIMIT_CORE", 0),
        ):
            resource.setrlimit(getattr(resource, name), (value, value))
        for name, source in request["files"].items():
            Path(work, Path(name).name).write_text(source)
        sys.path[:] = [p for p in sys.path if p not in ("", ".")]  # no imports from work/
        write_frame(result_fd, probe_all(request["chapter"], work, cases))
    except BaseException:  # the student's code may have broken the kit's: say where, briefly
        with contextlib.suppress(BaseException):
            lines = traceback.format_exc().strip().splitlines()
            write_frame(result_fd, wire.encode({"crash": " | ".join(lines[-3:])[-500:]}))
    finally:
        os._exit(0)


def probe_all(chapter: str, work: Path, cases: dict) -> bytes:
    """Import the submission and run the probes of the items in `cases` (a child's group) on
    every case; stop an item at its first error.

    The probes are imported by name, with the modules they stand in for (`STAND_INS`: a plain
    `transformers.LlamaConfig`, and `grader.reference` as the earlier chapters lent in plain
    torch), and the tripwire watches for a route to the answer key.
    """
    from grader import registry
    from grader.autograde.tripwire import Tripwire
    from grader.chapters import Impl, load_chapter
    from grader.runner import call_probe, plain

    probes = {grade_id: probe_named(cases["probes"][grade_id]) for grade_id in cases["cases"]}
    for module in {sys.modules[probe.__module__] for probe in probes.values()}:
        sys.modules.update(getattr(module, "STAND_INS", {}))
    tripwire = Tripwire()
    tripwire.install()  # before the student's first line runs
    try:
        impl = load_chapter(work, chapter)
    except BaseException as error:  # sys.exit() at import: no credit, and no crash either
        impl = Impl({}, f"{chapter}.py", error=f"importing it raised {type(error).__name__}")
    report: dict = {}
    for grade_id, item_cases in cases["cases"].items():
        outputs, error = [], None
        for case in item_cases:
            try:
                outputs.append(plain(call_probe(probes[grade_id], impl, case)))
            except registry.CheckFailed as failure:
                error = str(failure).splitlines()[0]
                break
            except BaseException as failure:  # SystemExit, KeyboardInterrupt from the probe
                error = f"your code raised {type(failure).__name__}"
                break
        report[grade_id] = {"outputs": outputs, "error": error}
    tripwire.disarm()
    return wire.encode({"items": report, "flags": tripwire.flags})


def probe_named(location: str):
    """The probe at "module:function", from `grader.probes` only."""
    module, _, name = location.partition(":")
    if not module.startswith(f"{PROBES}."):
        raise ValueError(f"{location} is not a probe of {PROBES}")
    return getattr(importlib.import_module(module), name)


if __name__ == "__main__":
    main()
