"""One budget of memory, CPU and processes for everything a submission runs: a cgroup per worker.

Per-process rlimits cannot bound a submission that forks, keeps SysV segments or fills a
tmpfs: every process gets a limit of its own. A cgroup counts all of it together. Each worker
(bwrap, the worker and the one child it forks per submission) runs in a cgroup of its own.
Before each submission the grader sets the group's memory limit to what the idle worker holds
plus the submission's budget, its process limit likewise, and its CPU quota to `cores`; since
a worker grades one submission at a time, these are the submission's limits. The child asks
to be the OOM killer's first choice (`worker.child`), and an OOM kill is reported as the
submission going over its memory limit.

Both layouts are understood: cgroup v2 where our cgroup delegates the memory, cpu and pids
controllers, and cgroup v1's `memory`, `cpu` and `pids` hierarchies where we may create groups
(root in a container, as on this kit's CI). `detect` tries a group for real before it is used.
Without one, the limits stay per process and `Isolation.cannot` says what that cannot bound.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

CONTROLLERS = ("memory", "cpu", "pids")
PERIOD = 100_000  # microseconds of the CPU quota's period (the kernel's default)


@dataclass(frozen=True)
class Budget:
    """One cgroup: a directory per controller (v1), or one directory for all of them (v2)."""

    version: int
    dirs: dict[str, Path]

    def joined(self, command: tuple[str, ...]) -> tuple[str, ...]:
        """`command`, started inside this group: a shell moves itself in, then execs it.

        (Not `preexec_fn`: the grader starts workers from several threads.)
        """
        procs = " ".join(shlex.quote(str(d / "cgroup.procs")) for d in set(self.dirs.values()))
        return ("/bin/sh", "-c", f'echo $$ | tee {procs} >/dev/null && exec "$0" "$@"', *command)

    def limit(self, memory: int, processes: int, cores: float) -> None:
        """Allow `memory` bytes and `processes` tasks above what the group holds now."""
        memory += int(self._read("memory", "memory.current", "memory.usage_in_bytes"))
        processes += int(self._read("pids", "pids.current", "pids.current"))
        (self.dirs["pids"] / "pids.max").write_text(str(processes))
        quota = int(cores * PERIOD)
        if self.version == 2:
            (self.dirs["memory"] / "memory.max").write_text(str(memory))
            self._write_if_there("memory", "memory.swap.max", 0)  # no swap, where it counts
            (self.dirs["cpu"] / "cpu.max").write_text(f"{quota} {PERIOD}")
            return
        # v1: memory+swap may never be below memory, so the larger moves first.
        files = ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
        if memory > int(self._read("memory", "memory.max", "memory.limit_in_bytes")):
            files.reverse()
        for name in files:
            self._write_if_there("memory", name, memory)
        (self.dirs["cpu"] / "cpu.cfs_period_us").write_text(str(PERIOD))
        (self.dirs["cpu"] / "cpu.cfs_quota_us").write_text(str(quota))

    def oom_kills(self) -> int:
        """How many processes the OOM killer has killed in this group."""
        text = self._read("memory", "memory.events", "memory.oom_control")
        counts = dict(line.split() for line in text.splitlines() if len(line.split()) == 2)
        return int(counts.get("oom_kill", 0))

    def kill(self) -> None:
        """SIGKILL every process in the group, and wait until none is left (at most 5 s)."""
        procs = self.dirs["pids"] / "cgroup.procs"
        deadline = time.monotonic() + 5
        while (pids := procs.read_text().split()) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            time.sleep(0.01)

    def remove(self) -> None:
        """Kill what is left and remove the group."""
        with contextlib.suppress(FileNotFoundError):
            self.kill()
        for directory in set(self.dirs.values()):
            with contextlib.suppress(FileNotFoundError):
                directory.rmdir()

    def _write_if_there(self, controller: str, name: str, value: int) -> None:
        # Swap accounting may be off (no such file); a cgroup file cannot be created.
        path = self.dirs[controller] / name
        if path.exists():
            path.write_text(str(value))

    def _read(self, controller: str, v2: str, v1: str) -> str:
        text = (self.dirs[controller] / (v2 if self.version == 2 else v1)).read_text().strip()
        return str(2**63 - 1) if text == "max" else text


@dataclass(frozen=True)
class Cgroups:
    """Where this process may create groups: the version, and a parent directory per controller."""

    version: int
    parents: dict[str, Path]

    def create(self, name: str) -> Budget:
        """A new, empty group `name` under ours."""
        dirs = {controller: parent / name for controller, parent in self.parents.items()}
        for directory in set(dirs.values()):
            directory.mkdir(exist_ok=True)
        return Budget(self.version, dirs)

    def describe(self) -> str:
        """The layout, in words for the report."""
        return f"cgroup v{self.version}"


def detect() -> tuple[Cgroups | None, str]:
    """The cgroups this process may use for a budget, tried for real; else None and why not."""
    try:
        found = locate()
    except (OSError, ValueError) as error:
        return None, f"no cgroup could be read ({error})"
    if found is None:
        return None, "no cgroup here delegates memory, cpu and pids to this user"
    budget = None
    try:  # a group, a process in it, its limits, its removal: the whole cycle, once
        budget = found.create(f"kit-trial-{os.getpid()}")
        script = "import sys; print(flush=True); sys.stdin.read()"
        trial = subprocess.Popen(
            budget.joined((sys.executable, "-I", "-c", script)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        trial.stdout.readline()  # it runs: it is in the group, or the shell failed to move it
        if str(trial.pid) not in (budget.dirs["pids"] / "cgroup.procs").read_text().split():
            raise ValueError("a process could not be moved into a new group")
        budget.limit(2**28, 8, 1.0)
        budget.oom_kills()
        trial.communicate(timeout=30)
    except (OSError, subprocess.SubprocessError, ValueError) as error:
        return None, f"{found.describe()} is not usable here ({type(error).__name__}: {error})"
    finally:
        if budget is not None:
            budget.remove()
    return found, ""


def locate() -> Cgroups | None:
    """Our cgroup's directories, if they hold all of `CONTROLLERS` and we may create groups."""
    mounts: dict[str, tuple[str, Path]] = {}  # controller (or "" for v2) -> (root, mount point)
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        dash = fields.index("-")
        kind, options = fields[dash + 1], fields[dash + 3].split(",")
        if kind == "cgroup2":
            mounts.setdefault("", (fields[3], Path(fields[4])))
        elif kind == "cgroup":
            for controller in set(options) & set(CONTROLLERS):
                mounts.setdefault(controller, (fields[3], Path(fields[4])))
    ours = {}  # controller (or "" for v2) -> our path in that hierarchy
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        for name in names.split(",") if names else [""]:
            ours[name] = path
    if all(c in mounts and c in ours for c in CONTROLLERS):  # v1 hierarchies for all three
        parents = {c: inside(*mounts[c], ours[c]) for c in CONTROLLERS}
        if all(os.access(p, os.W_OK) for p in parents.values()):
            return Cgroups(1, parents)
    if "" in mounts and "" in ours:
        parent = inside(*mounts[""], ours[""])
        delegated = (parent / "cgroup.subtree_control").read_text().split()
        if set(CONTROLLERS) <= set(delegated) and os.access(parent, os.W_OK):
            return Cgroups(2, dict.fromkeys(CONTROLLERS, parent))
    return None


def inside(root: str, mount: Path, path: str) -> Path:
    """The directory of cgroup `path` in a hierarchy whose `root` is mounted at `mount`."""
    relative = os.path.relpath(path, root) if path.startswith(root) else path.lstrip("/")
    return (mount / relative).resolve() if relative != "." else mount
