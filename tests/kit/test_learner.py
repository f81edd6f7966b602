"""The learner's loop: the same code gets the same verdict, failures can be understood and
replayed, nothing the kit offers destroys work, and bad input gets one line (issue 13)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.database import InMemoryExampleDatabase

import grader.runner as runner
from grader import registry
from grader.chapters import EXERCISES, ROOT, SOLUTIONS, Impl, load_chapter
from grader.registry import CheckFailed, Item
from grader.runner import learner_cases, run_item
from grader.sync import sync


def kit(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run the `kit` command of this interpreter's environment."""
    command = [sys.executable, "-c", "import sys; from grader.cli import main; sys.exit(main())"]
    return subprocess.run(
        [*command, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=300
    )


def below(limit: int) -> Item:
    """A synthetic item whose check fails when the drawn number is `limit` or more."""

    def verify(case, output) -> None:
        if output["x"] >= limit:
            raise CheckFailed(f"x = {output['x']} is too large")

    return Item(
        grade_id=f"below_{limit}",
        chapter="rmsnorm",
        points=1,
        title="a number below a limit",
        probe=lambda impl, case: {"x": case["x"]},
        verify=verify,
        strategy=st.fixed_dictionaries({"x": st.integers(0, 10_000)}),
    )


@pytest.fixture
def database():
    """The learner profile with an in-memory database, restored afterwards."""
    previous = settings.get_current_profile_name()
    db = InMemoryExampleDatabase()
    settings.register_profile("learner-test", settings.get_profile("learner"), database=db)
    settings.load_profile("learner-test")
    yield db
    settings.load_profile(previous)


def test_an_items_stored_failure_survives_another_items_run(database):
    failing, passing = below(100), below(20_000)
    assert not run_item(failing, Impl({}, "x.py")).passed
    stored = {key: set(values) for key, values in database.data.items() if values}
    assert stored
    assert run_item(passing, Impl({}, "x.py")).passed
    for key, values in stored.items():
        assert values <= database.data.get(key, set()), "another item deleted this item's failure"


def test_same_code_same_verdict(database):
    rare = below(9_990)  # found by some seeds and not by others
    verdicts = set()
    for _ in range(4):
        database.data.clear()
        verdicts.add(run_item(rare, Impl({}, "x.py")).message)
    assert len(verdicts) == 1, verdicts


def same(a, b) -> bool:
    """Cases equal value for value (tensors by dtype, shape and values)."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def test_learner_cases_are_what_a_learners_run_checks(monkeypatch):
    """kit grade checks learner_cases(item): the cases of a first learner run, exactly."""
    item = registry.get("rmsnorm_float32")
    seen = []
    run_case = runner.run_case
    monkeypatch.setattr(runner, "run_case", lambda i, m, c: (seen.append(c), run_case(i, m, c)))
    previous = settings.get_current_profile_name()
    settings.load_profile("learner-fresh")
    try:
        assert run_item(item, load_chapter(SOLUTIONS, "rmsnorm")).passed
    finally:
        settings.load_profile(previous)
    cases = learner_cases(item)
    assert len(cases) == len(seen) > len(list(item.examples()))
    assert all(same(a, b) for a, b in zip(cases, seen, strict=True))


def pytest_run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """A learner's pytest run, in a fresh process."""
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("spelling", ["absolute", "relative"])
def test_impl_outside_the_repository(tmp_path, spelling):
    """`--impl DIR` (two arguments) moved pytest's rootdir and lost the plugin."""
    (tmp_path / "rmsnorm.py").write_text((SOLUTIONS / "rmsnorm.py").read_text())
    folder = str(tmp_path) if spelling == "absolute" else os.path.relpath(tmp_path, ROOT)
    impl = ["--impl", folder] if spelling == "absolute" else [f"--impl={folder}"]
    run = pytest_run(*impl, "-m", "rmsnorm", "-k", "rmsnorm_float32")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout
    assert "rmsnorm: 1 of 8 items run, so not the chapter's points" in run.stdout


def test_pytest_outside_the_root_says_where_to_run():
    run = pytest_run(cwd=ROOT / "exercises")
    assert f"run pytest from the repository root, `cd {ROOT}`" in run.stdout


def test_unknown_chapter_marker_names_the_chapters():
    run = pytest_run("-m", "rmsnrom")
    assert run.returncode == 4
    assert "-m rmsnrom: no such chapter; the chapters are rmsnorm, attention," in run.stderr


def test_nothing_matched_names_the_chapters():
    run = pytest_run("-k", "rmsnrom_float32")
    assert "No test matched -k/-m. The chapters are rmsnorm," in run.stdout


def test_sync_keeps_a_learners_work(tmp_path):
    """`kit sync` replaced a filled-in exercise with the stub; it keeps it unless forced."""
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    shutil.copytree(SOLUTIONS, solutions)
    shutil.copytree(EXERCISES, exercises)
    work = exercises / "rmsnorm.py"
    work.write_text(work.read_text() + "\nmy_work = 1\n")
    edited = solutions / "attention.py"  # a contributor's change, which sync must carry over
    edited.write_text(edited.read_text().replace("# # Chapter", "# # Edited chapter", 1))
    kept = sync(solutions, exercises, write=True)
    assert set(kept) == {"rmsnorm"} and work.read_text().endswith("my_work = 1\n")
    assert "Edited chapter" in (exercises / "attention.py").read_text()
    assert sync(solutions, exercises, write=True, force=True) == {}
    assert "my_work" not in work.read_text()
    assert sync(solutions, exercises) == {}


def test_contributor_commands_are_marked_in_help():
    text = kit("--help").stdout
    assert "(contributors) regenerate exercises/" in text
    assert text.index("memory") < text.index("sync")
