"""The grader's handle on a sandboxed worker (`autograde.worker`): how it is confined and started.

With bubblewrap (`bwrap`, Debian's package `bubblewrap`), the worker sees a read-only copy of
just the system, Python and the kit's `grader` package (no course directory, no solutions, no
gradebook, no home), an empty private /tmp of bounded size, no network, its own PID namespace,
and dies with the grader; submissions run as an unprivileged uid. Either way each submission
gets a clean slate from the worker (its own /tmp, /dev/shm and IPC namespace, see
`worker.clean_slate`). Without bwrap the worker is a separate process in its own session,
still with rlimits and the wall-clock timeout, and `Isolation.cannot` lists what that does
not defend against.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader.autograde import cgroups, wire
from grader.autograde.cgroups import Budget, Cgroups
from grader.autograde.channel import ENVIRONMENT, ChannelClosed, TimedOut, read_frame, write_frame
from grader.autograde.worker import GRADER, NOBODY, STARTUP, import_paths, proc_files

HIDDEN = ("zoo", "snapshots")  # folders of `grader` that are empty inside the sandbox


@dataclass(frozen=True)
class Limits:
    """What one submission may use.

    With a cgroup (`Isolation.cgroups`), `memory`, `processes` and `cores` hold for the
    submission as a whole: all its processes, its tmpfs files and its shared memory together.
    The per-process rlimits stay as a second line; without a cgroup they are all there is:
    memory per process (address space) times the process limit, plus /tmp and /dev/shm
    (`tmp_size` each) and SysV shared memory (`memory` in all), and CPU time per process.
    """

    wall: float = 120.0  # seconds, enforced by the worker and, as a backstop, by the grader
    cpu: int = 120  # seconds of CPU time
    memory: int = 4 * 2**30  # bytes of address space above what the worker already maps
    file_size: int = 64 * 2**20  # bytes per file written
    tmp_size: int = 256 * 2**20  # bytes of each private tmpfs: the worker's /tmp, a child's
    result: int = wire.MAX_MESSAGE  # bytes of the message sent back
    processes: int = 256  # processes and threads, above those the uid already runs
    cores: float = 1.0  # CPU bandwidth of all its threads together (cgroup only)


@dataclass(frozen=True)
class Isolation:
    """How submissions are confined on this machine, in words for the report."""

    name: str
    command: tuple[str, ...]
    cannot: tuple[str, ...] = field(default=())
    cgroups: Cgroups | None = None  # where each worker gets a budget, if anywhere

    def describe(self) -> str:
        """One line: the isolation used, and what it does not defend against."""
        budget = f", {self.cgroups.describe()} budget" if self.cgroups else ""
        if not self.cannot:
            return (
                f"{self.name}{budget}: no network, read-only system, private /tmp, "
                "own PID namespace"
            )
        return f"{self.name}{budget}; does not prevent: {', '.join(self.cannot)}"


def bwrap_command(limits: Limits) -> tuple[str, ...]:
    """bwrap's arguments: a whitelist of read-only paths, fresh namespaces, a private /tmp."""
    paths = {"/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc", *import_paths()}
    command = ["bwrap", "--die-with-parent", "--new-session", "--clearenv"]
    command += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    command += ["--unshare-cgroup-try"]
    if os.getuid() != 0:  # root runs submissions as nobody itself (no user namespace needed)
        command += ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)]
    paths = sorted(p for p in paths if Path(p).exists())
    # The private /tmp first: a bind below it (a virtualenv in /tmp) must land on top of it.
    command += ["--proc", "/proc", "--dev", "/dev", "--size", str(limits.tmp_size)]
    command += ["--perms", "1777", "--tmpfs", "/tmp", "--chdir", "/tmp"]
    # bwrap makes the missing parents of a bind 0700, which nobody cannot cross.
    parents = {str(a) for p in paths for a in Path(p).parents if str(a) not in ("/", "/tmp")}
    for parent in sorted(parents - set(paths)):
        if not any(parent.startswith(f"{p}/") for p in paths):
            command += ["--perms", "0755", "--dir", parent]
    for path in paths:
        command += ["--ro-bind", path, path]
    # Answers the worker never reads: the zoo's correct variants and the frozen HF outputs.
    for hidden in HIDDEN:
        command += ["--tmpfs", str(GRADER / hidden), "--remount-ro", str(GRADER / hidden)]
    for name, value in ENVIRONMENT.items():
        command += ["--setenv", name, value]
    return (*command, sys.executable, "-I", "-m", "grader.autograde.worker")


def isolation(limits: Limits, allow_bwrap: bool = True) -> Isolation:
    """The strongest isolation that works here: bwrap if it can start a sandbox, else a process.

    Either way, each worker gets a cgroup budget where the host lets us make one.
    """
    found, why_not = cgroups.detect()
    unbounded = f"{UNBOUNDED} ({why_not})"
    if allow_bwrap and shutil.which("bwrap"):
        command = bwrap_command(limits)
        trial = slate_trial(command[: command.index(sys.executable)])
        if trial.returncode in (0, UNSLATED):
            cannot = (SLATE_MISSING if trial.returncode else "", "" if found else unbounded)
            return Isolation("bwrap", command, tuple(c for c in cannot if c), found)
        why = trial.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        unavailable = f"bwrap failed: {why[0][:120]}"
    else:
        unavailable = "bwrap unavailable" if allow_bwrap else "bwrap not allowed"
    cannot = (
        "network access",
        "reading files the grader's user can read (solutions, the secret)",
        "writing files the grader's user can write (the gradebook)" if os.getuid() else "",
        "filling the disk with many files",
        SLATE_MISSING if slate_trial((), env=ENVIRONMENT).returncode else "",
        "" if found else unbounded,
    )
    command = (sys.executable, "-I", "-m", "grader.autograde.worker")
    name = f"separate process ({unavailable})"
    return Isolation(name, command, tuple(c for c in cannot if c), found)


UNBOUNDED = "using more memory or CPU than the limits across a submission's processes"
UNSLATED = 3  # the trial's exit status when the sandbox starts but a child gets no clean slate
SLATE_MISSING = "leaving files in /tmp or shared memory for the next submissions"
SLATE_TRIAL = (
    "import os, sys\n"
    "from grader.autograde.worker import clean_slate\n"
    "if os.fork() == 0:\n"
    "    try: clean_slate({'tmp_size': 2**20, 'memory': 2**30}, hide_answers=True)\n"
    "    except OSError: os._exit(1)\n"
    "    os._exit(0)\n"
    f"sys.exit({UNSLATED} if os.wait()[1] else 0)\n"
)


def slate_trial(prefix: tuple[str, ...], env: dict | None = None) -> subprocess.CompletedProcess:
    """Run, in the sandbox `prefix` starts, a child that sets up a clean slate: did it work?"""
    command = [*prefix, sys.executable, "-I", "-c", SLATE_TRIAL]
    return subprocess.run(command, capture_output=True, check=False, env=env)


class Worker:
    """One pre-warmed worker process; restarted after it crashes or is killed on a timeout."""

    def __init__(self, isolation: Isolation, limits: Limits, log: Path):
        self.isolation, self.limits, self.log = isolation, limits, log
        self.process: subprocess.Popen | None = None
        self.budget: Budget | None = None  # its cgroup, while it runs
        self.loaded: set[str] = set()  # chapters whose cases the worker holds
        self.warming: threading.Thread | None = None  # waiting for a warm start's imports
        self.ready = False

    def warm(self) -> None:
        """Launch the worker now and wait for its imports in the background (they overlap the
        grader's own work).

        Launched from the calling thread, which outlives the run: bwrap's --die-with-parent
        follows the thread that started it, and a thread that ends takes its worker along.
        """
        self.launch()
        self.warming = threading.Thread(target=self._wait_until_ready, daemon=True)
        self.warming.start()

    def _wait_until_ready(self) -> None:
        try:
            self._receive(time.monotonic() + STARTUP)  # {"ready": True}
        except (ChannelClosed, OSError):
            self.ready = False  # a failed start: stopped, and started again, when it grades

    def _warmed(self) -> None:
        """Wait for a warm start; a worker that did not get ready is stopped."""
        if self.warming is not None:
            self.warming.join()
            self.warming = None
            if not self.ready:
                self.stop()

    def start(self) -> None:
        """Start the worker and wait until it has imported torch and the loaders."""
        self.launch()
        self._receive(time.monotonic() + STARTUP)  # {"ready": True}

    def launch(self) -> None:
        """Start the worker process (in a cgroup of its own, if any)."""
        command = self.isolation.command
        if self.isolation.cgroups is not None:
            self.budget = self.isolation.cgroups.create(f"kit-{os.getpid()}-{self.log.stem}")
            command = self.budget.joined(command)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,  # its process group is ours to kill
                env=None if self.isolation.name == "bwrap" else ENVIRONMENT,  # bwrap sets it
            )
        self.loaded, self.ready = set(), True

    def stop(self) -> None:
        """Kill the worker and everything it started."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        if self.warming is not None:  # it sees the channel close
            self.warming.join()
            self.warming = None
        if self.process is not None:
            self.process.wait()
            self.process = None
        if self.budget is not None:  # and whatever left the process group: the cgroup knows
            self.budget.remove()
            self.budget = None

    def grade(self, chapter: str, files: dict[str, str], cases: bytes) -> tuple[dict, bytes]:
        """Run a submission's probes: the worker's status and the child's raw message.

        A failure of the environment (the worker could not fork or set up the child's slate,
        or died itself) is never the student's: a fresh worker grades the submission again.
        """
        status, message = self._grade_once(chapter, files, cases)
        if status["status"] == "environment":
            self.stop()
            status, message = self._grade_once(chapter, files, cases)
            if status["status"] == "environment":
                return {
                    "status": "crashed",
                    "detail": f"the grader's environment failed: "
                    f"{status['detail']} (twice, on a fresh worker; not the student's code)",
                }, b""
        return status, message

    def _grade_once(self, chapter: str, files: dict[str, str], cases: bytes) -> tuple[dict, bytes]:
        kills = None
        self._warmed()
        try:
            if self.process is None:
                self.start()
            if chapter not in self.loaded:
                write_frame(self.process.stdin.fileno(), cases)
                self._receive(time.monotonic() + STARTUP)  # {"ok": True}
                self.loaded.add(chapter)
            request = {
                "kind": "grade",
                "chapter": chapter,
                "files": files,
                "limits": self._limits(),
            }
            kills = self._budget_for_one()
            write_frame(self.process.stdin.fileno(), wire.encode(request))
            deadline = time.monotonic() + self.limits.wall + 30  # the worker's own is sooner
            status = wire.decode(self._receive(deadline))
            message = self._receive(deadline)
            if status.get("status") != "done" and self._killed_for_memory(kills):
                return self._over_memory(), b""
            return status, message
        except (ChannelClosed, OSError, wire.WireError) as error:
            over = self._killed_for_memory(kills)
            self.stop()  # a worker that missed its own deadline or died is replaced
            if over:
                return self._over_memory(), b""
            if isinstance(error, TimedOut):
                return {"status": "timed out", "detail": str(error)}, b""
            return {"status": "environment", "detail": f"the worker died ({error})"}, b""

    def _budget_for_one(self) -> int | None:
        """Set the cgroup's limits for one submission; the OOM kills so far (None: no cgroup)."""
        if self.budget is None:
            return None
        self.budget.limit(self.limits.memory, self.limits.processes, self.limits.cores)
        return self.budget.oom_kills()

    def _killed_for_memory(self, before: int | None) -> bool:
        """Did the OOM killer act in this worker's cgroup since `before`?"""
        if before is None or self.budget is None:
            return False
        with contextlib.suppress(OSError, ValueError):
            return self.budget.oom_kills() > before
        return False

    def _over_memory(self) -> dict:
        limit = f"{self.limits.memory / 2**30:g} GiB"
        return {
            "status": "crashed",
            "detail": f"it went over its memory limit ({limit} for all its processes, "
            "files in /tmp and shared memory together) and was killed",
        }

    def _receive(self, deadline: float) -> bytes:
        return read_frame(self.process.stdout.fileno(), wire.MAX_MESSAGE, deadline)

    def _limits(self) -> dict:
        uid = NOBODY if os.getuid() == 0 else os.getuid()
        return {
            "wall": self.limits.wall,
            "cpu": self.limits.cpu,
            "memory": self.limits.memory,
            "file_size": self.limits.file_size,
            "tmp_size": self.limits.tmp_size,
            "result": self.limits.result,
            "nproc": tasks_of(uid) + self.limits.processes,
        }


def tasks_of(uid: int) -> int:
    """Threads the uid runs now, machine-wide: RLIMIT_NPROC counts them all."""
    count = 0
    for _, status in proc_files("status"):
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields["Uid"].split()[0]) == uid:
            count += int(fields["Threads"])
    return count
