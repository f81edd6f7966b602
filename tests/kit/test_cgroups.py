"""A worker's cgroup budget writes what each cgroup version reads (issue 12, section 3).

These run on plain files laid out as the kernel lays out a cgroup, so the layout this machine
does not have (v2 here, v1 elsewhere) is checked too; `test_isolation.py` checks a real one.
"""

from pathlib import Path

import pytest

from grader.autograde.cgroups import Budget, inside

GIB = 2**30


def layout(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def test_v2_limits_are_what_the_group_holds_plus_the_budget(tmp_path):
    group = layout(
        tmp_path,
        {
            "memory.current": "700000000\n",
            "memory.max": "max\n",
            "memory.swap.max": "max\n",
            "memory.events": "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\noom_group_kill 0\n",
            "pids.current": "3\n",
            "pids.max": "max\n",
            "cpu.max": "max 100000\n",
        },
    )
    budget = Budget(2, dict.fromkeys(("memory", "cpu", "pids"), group))
    budget.limit(4 * GIB, 256, 1.0)
    assert (group / "memory.max").read_text() == str(700000000 + 4 * GIB)
    assert (group / "memory.swap.max").read_text() == "0"
    assert (group / "pids.max").read_text() == "259"
    assert (group / "cpu.max").read_text() == "100000 100000"
    assert budget.oom_kills() == 2


@pytest.mark.parametrize("swap_accounting", [True, False])
def test_v1_limits_keep_memory_and_swap_in_order(tmp_path, swap_accounting):
    unlimited = str(2**63 - 4096)
    memory = {
        "memory.usage_in_bytes": "300000000\n",
        "memory.limit_in_bytes": unlimited,
        "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
    }
    if swap_accounting:
        memory["memory.memsw.limit_in_bytes"] = unlimited
    dirs = {
        "memory": layout(tmp_path / "memory", memory),
        "cpu": layout(tmp_path / "cpu", {"cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "-1"}),
        "pids": layout(tmp_path / "pids", {"pids.current": "5", "pids.max": "max"}),
    }
    budget = Budget(1, dirs)
    budget.limit(GIB, 10, 0.5)
    limit = str(300000000 + GIB)
    assert (dirs["memory"] / "memory.limit_in_bytes").read_text() == limit
    # Never created where swap accounting is off: a cgroup file cannot be made by writing it.
    assert (dirs["memory"] / "memory.memsw.limit_in_bytes").exists() == swap_accounting
    if swap_accounting:
        assert (dirs["memory"] / "memory.memsw.limit_in_bytes").read_text() == limit
    assert (dirs["cpu"] / "cpu.cfs_quota_us").read_text() == "50000"
    assert (dirs["pids"] / "pids.max").read_text() == "15"
    assert budget.oom_kills() == 1


@pytest.mark.parametrize(
    ("root", "path", "expected"),
    [
        ("/", "/process_api/abc", "/sys/fs/cgroup/memory/process_api/abc"),
        ("/", "/", "/sys/fs/cgroup/memory"),
        ("/process_api", "/process_api/abc", "/sys/fs/cgroup/memory/abc"),
    ],
)
def test_a_cgroup_path_is_found_under_its_hierarchy_s_mount(root, path, expected):
    assert str(inside(root, Path("/sys/fs/cgroup/memory"), path)) == expected
