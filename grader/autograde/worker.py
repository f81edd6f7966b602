"""The sandboxed side of `kit grade`: a pre-warmed process that forks one child per submission.

`python -I -m grader.autograde.worker` imports torch, transformers, peft and the checks once, then
answers requests on stdin/stdout (frames of `grader.autograde.wire` messages):

- `{"kind": "cases", "chapter", "cases": {grade_id: [case, ...]}}` stores the cases that the
  grader drew; the children inherit them;
- `{"kind": "grade", "chapter", "files": {name: source}, "limits": {...}}` forks a child that
  gets a clean slate (its own mount and IPC namespaces, a fresh tmpfs on /tmp and /dev/shm,
  a SysV shared-memory quota: all of it dies with the child), drops privileges, sets rlimits,
  writes the submission into its /tmp, imports it and runs the probes. The reply is a status
  (`environment` when the worker itself could not fork or set up: never the student's fault),
  then the child's raw message, which only the grader decodes.

Nothing here compares or scores: expected values never enter this process. The child runs the
submission under `grader.autograde.tripwire`, which names any route to the answer key it takes.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import resource
import signal
import site
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

from grader.autograde import wire
from grader.autograde.channel import (
    LIBC,
    ChannelClosed,
    TimedOut,
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


def main() -> None:
    """Serve requests until stdin closes."""
    requests, replies = take_channel()

    import warnings

    import torch

    wire.encode({"warm": torch.zeros(1)})  # safetensors imports numpy lazily: do it here
    torch.set_num_threads(1)  # one core per child; --jobs sets the parallelism
    warnings.simplefilter("ignore")
    import peft  # noqa: F401  (imported once here, so that no child pays for it)
    import transformers  # noqa: F401
    from transformers import LlamaConfig  # noqa: F401  (lazy: resolved here, not by a student)

    from grader import registry
    from grader.runner import quiet_transformers

    registry.items()
    below_tmp()  # found once here, where every child inherits it, not per submission
    quiet_transformers().__enter__()  # for the worker's whole life
    LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # a child may not ptrace or read this process
    LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans of a child come back to us
    cases: dict[str, dict] = {}
    write_frame(replies, wire.encode({"ready": True}))
    while True:
        try:
            request = wire.decode(read_frame(requests, wire.MAX_MESSAGE))
        except ChannelClosed:
            return
        if request["kind"] == "cases":
            cases[request["chapter"]] = request["cases"]
            write_frame(replies, wire.encode({"ok": True}))
            continue
        try:
            status, result = run_child(request, cases[request["chapter"]], (requests, replies))
        except OSError as error:  # no fork, no pipe, no disk: the worker's trouble, not the child's
            status, result = {"status": "environment", "detail": one_line(error)}, b""
        write_frame(replies, wire.encode(status))
        write_frame(replies, result)


def run_child(request: dict, cases: dict, channel: tuple[int, int]) -> tuple[dict, bytes]:
    """Fork a child for one submission; wait for its result within the wall-clock limit."""
    limits = request["limits"]
    read_end, write_end = os.pipe()
    deadline = time.monotonic() + limits["wall"]
    pid = os.fork()
    if pid == 0:  # the child: never returns
        for fd in (read_end, *channel):
            os.close(fd)
        child(request, cases, write_end, limits)
    os.close(write_end)
    try:
        # A frame, not EOF: a daemon that inherited the pipe cannot hold the result back.
        result, failure = read_frame(read_end, limits["result"], deadline), None
    except ChannelClosed as closed:
        result, failure = b"", closed
    os.close(read_end)
    code = wait_until(pid, deadline)
    if code is None:  # still running: with a result it had finished, without one it ran out
        os.kill(pid, signal.SIGKILL)
        code = os.waitpid(pid, 0)[1]
        failure = None if result else TimedOut()
    kill_descendants()  # the last process of the namespaces gone, their tmpfs and shm go too
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
    for pid, stat in proc_files("stat"):
        yield pid, int(stat.rsplit(")", 1)[1].split()[1])


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
    paths = sorted(p for p in import_paths() if p.startswith("/tmp/"))
    return [p for p in paths if not any(p.startswith(f"{q}/") for q in paths)]


def clean_slate(limits: dict) -> None:
    """Own mount and IPC namespaces, a fresh /tmp and /dev/shm: nothing outlives this process.

    What Python or the kit reads from below /tmp is bound again, read-only, into the fresh
    one: a lazy import in the child must find its module.
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
    kept = {path: os.open(path, os.O_PATH) for path in below_tmp()}  # before /tmp is covered
    options = f"size={limits['tmp_size']},mode=1777".encode()
    for target in ("/tmp", "/dev/shm"):
        if os.path.isdir(target):
            check(LIBC.mount(b"tmpfs", target.encode(), b"tmpfs", 0, options), f"tmpfs on {target}")
    for path, fd in kept.items():
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(path, exist_ok=True)
        else:  # a file (the interpreter) is bound onto a file
            os.makedirs(os.path.dirname(path), exist_ok=True)
            Path(path).touch()
        source = f"/proc/self/fd/{fd}".encode()
        check(LIBC.mount(source, path.encode(), None, MS_BIND | MS_REC, None), f"bind {path}")
        remount = MS_REMOUNT | MS_BIND | MS_RDONLY
        check(LIBC.mount(None, path.encode(), None, remount, None), f"read-only {path}")
        os.close(fd)
    # SysV segments of this namespace: at most the memory limit in all (shmall counts pages).
    Path("/proc/sys/kernel/shmall").write_text(str(limits["memory"] // os.sysconf("SC_PAGE_SIZE")))


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
        clean_slate(limits)
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
    """Import the submission and run every probe on every case; stop an item at its first error."""
    from grader import registry
    from grader.autograde.tripwire import Tripwire
    from grader.chapters import Impl, load_chapter
    from grader.runner import call_probe, plain

    tripwire = Tripwire()
    tripwire.install()  # before the student's first line runs
    try:
        impl = load_chapter(work, chapter)
        tripwire.lend_imports(impl._namespace)
        tripwire.profile_calls()
    except BaseException as error:  # sys.exit() at import: no credit, and no crash either
        impl = Impl({}, f"{chapter}.py", error=f"importing it raised {type(error).__name__}")
    report: dict = {}
    for grade_id, item_cases in cases.items():
        item, outputs, error = registry.get(grade_id), [], None
        for case in item_cases:
            try:
                outputs.append(plain(call_probe(item, impl, case)))
            except registry.CheckFailed as failure:
                error = str(failure).splitlines()[0]
                break
            except BaseException as failure:  # SystemExit, KeyboardInterrupt from the probe
                error = f"your code raised {type(failure).__name__}"
                break
        report[grade_id] = {"outputs": outputs, "error": error}
    tripwire.disarm()
    return wire.encode({"items": report, "flags": tripwire.flags})


if __name__ == "__main__":
    main()
