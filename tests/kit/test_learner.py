"""The learner's loop: the same code gets the same verdict, failures can be understood and
replayed, nothing the kit offers destroys work, and bad input gets one line (issue 13)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.database import InMemoryExampleDatabase

import grader.runner as runner
from grader import registry
from grader.chapters import EXERCISES, ROOT, SOLUTIONS, Impl, display_path, load_chapter
from grader.cli import main, parser
from grader.notebook import check
from grader.presets import HF_CONFIGS, META_PARAMS
from grader.registry import CheckFailed, Item
from grader.runner import learner_cases, run_item
from grader.sync import sync


def kit(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run the `kit` command of this interpreter's environment."""
    command = [sys.executable, "-c", "import sys; from grader.cli import main; sys.exit(main())"]
    environment = {**os.environ, "COLUMNS": "80"}  # rich's width when not on a terminal
    return subprocess.run(
        [*command, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=300
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


def test_pytest_says_what_kit_grade_makes_of_importing_the_answers(tmp_path):
    """Same code, same verdict: where kit grade will flag a file and run it without
    transformers, the learner's own run says so (and an honest file hears nothing)."""
    honest = (SOLUTIONS / "memory.py").read_text()
    (tmp_path / "memory.py").write_text(
        honest.replace("import torch\n", "import torch\nfrom transformers import LlamaModel\n", 1)
    )
    run = pytest_run("--impl", str(tmp_path), "-m", "memory", "-k", "memory_fits")
    line = next(line for line in run.stdout.splitlines() if line.startswith("memory: your file"))
    assert "imports transformers.LlamaModel (line " in line
    assert "runs it without transformers (but a plain LlamaConfig), peft" in line
    (tmp_path / "memory.py").write_text(honest)
    run = pytest_run("--impl", str(tmp_path), "-m", "memory", "-k", "memory_fits")
    assert "1 passed" in run.stdout and "your file" not in run.stdout


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


def run_kit(capsys, *args: str) -> tuple[int, str, str]:
    """`kit ARGS` in this process: exit status, stdout and stderr."""
    try:
        status = main(list(args))
    except SystemExit as exit:  # argparse's usage errors
        status = exit.code
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status: int, err: str, *fragments: str) -> None:
    """Exit status 2 and one line on stderr that holds every fragment."""
    assert status == 2
    assert len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, err


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("{not json", ["is not valid JSON", "fix the file"]),
        ('{"hidden_size": 4096}', ["lacks intermediate_size, num_hidden_layers", "add them"]),
        ('{"dim": 4096, "n_layers": 32, "n_heads": 32, "norm_eps": 1e-5, "vocab_size": -1}',
         ["lacks multiple_of, which Meta's params.json needs"]),
        ('{"dim": 4096, "multiple_of": 256, "n_layers": 32, "n_heads": 32, "norm_eps": 1e-5, '
         '"vocab_size": -1}', ["vocab_size -1: pass --vocab-size"]),
        ("[1, 2]", ["holds a JSON list, not a config object"]),
    ],
)  # fmt: skip
def test_memory_rejects_a_bad_config_in_one_line(tmp_path, capsys, content, fragments):
    path = tmp_path / "config.json"
    path.write_text(content)
    assert_one_line_error(*run_kit(capsys, "memory", str(path))[::2], *fragments)


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["memory", "llama-3-7b"], ["neither a preset (llama-2-7b, llama-2-13b", "llama-3-8b"]),
        (["memory", "llama-3-8b", "--gpu", "15"], ["'15' is not a size with a unit", "15GB"]),
        (["memory", "llama-3-8b", "--impl", "exercises", "--dtype", "bfloat16"],
         ["exercises/memory.py failed (NotImplementedError): finish the memory chapter"]),
        (["memory", "llama-3-8b", "--impl", "no-such-folder"], ["does not exist", "--impl"]),
        (["memory", "llama-3-8b", "--batch-size", "0"], ["'0' is not a whole number of"]),
        (["memory", "llama-3-8b", "--lora-r", "-2"], ["'-2' is not a whole number of at least 0"]),
        (["grade", "x", "--jobs", "0"], ["--jobs: '0' is not a whole number of at least 1"]),
        (["grade", "x", "--examples", "-3"], ["--examples: '-3' is not a whole number"]),
        (["grade", "x", "--timeout", "nan"], ["--timeout: 'nan' is not a positive number"]),
        (["demo", "--jobs", "-1"], ["--jobs: '-1' is not a whole number of at least 1"]),
        (["memory", "llama-3-8b", "--gpu=-5GB"], ["--gpu: '-5GB' is not a positive size"]),
        (["memory", "llama-3-8b", "--lora-r", "4", "--lora-targets", "q_pro"],
         ["--lora-targets: invalid choice: 'q_pro' (choose from 'q_proj'"]),
    ],
)  # fmt: skip
def test_bad_input_gets_one_line(capsys, args, fragments):
    assert_one_line_error(*run_kit(capsys, *args)[::2], *fragments)


def test_course_with_an_unknown_chapter_writes_nothing(tmp_path, capsys):
    course = tmp_path / "course"
    status, _, err = run_kit(capsys, "course", str(course), "rmsnrom")
    assert_one_line_error(status, err, "no chapter rmsnrom; the chapters are rmsnorm, attention")
    assert not course.exists()


def test_every_option_has_help_and_course_help_lists_the_chapters():
    for name, command in commands().items():
        if name in ("grade", "demo"):
            continue  # the sandboxed grader's commands, whose options are another issue's
        for action in command._actions:
            assert action.help, f"kit {name} {action.option_strings or action.dest} has no help"
    assert "rmsnorm, attention, llama, memory" in " ".join(kit("course", "--help").stdout.split())


def commands() -> dict:
    """Each `kit` subcommand's parser, by name."""
    subparsers = next(a for a in parser()._actions if a.choices and "memory" in a.choices)
    return subparsers.choices


def test_memory_without_gpu_gives_no_verdict(capsys):
    status, out, _ = run_kit(capsys, "memory", "llama-3-8b", "--dtype", "bfloat16")
    assert status == 0 and "training total" in out
    assert "fit" not in out


def test_readme_memory_example_is_what_kit_prints():
    """The README shows the literal output of its `kit memory` example."""
    readme = (ROOT / "README.md").read_text()
    command = "kit memory llama-3-8b --lora-r 32 --gpu 15GB"
    shown = readme.split(f"$ {command}\n", 1)[1].split("```", 1)[0]
    printed = kit(*command.split()[1:]).stdout
    assert [line.rstrip() for line in printed.splitlines()] == shown.splitlines()


BROKEN_FORWARD = """

def broken_forward(self, hidden_states):
    return hidden_state * self.weight


RMSNorm.forward = broken_forward
"""


def test_a_crash_names_the_learners_file_and_line(tmp_path):
    """The learner's own exception: file:line in their file, and their frames only."""
    chapter = tmp_path / "rmsnorm.py"
    chapter.write_text((SOLUTIONS / "rmsnorm.py").read_text() + BROKEN_FORWARD)
    line = chapter.read_text().splitlines().index("    return hidden_state * self.weight") + 1
    result = run_item(registry.get("rmsnorm_float32"), load_chapter(tmp_path, "rmsnorm"))
    where = display_path(chapter)
    assert result.message == f"{where}:{line}: NameError: name 'hidden_state' is not defined"
    assert result.trace.splitlines() == [
        f"{where}:{line}: in broken_forward",
        "    return hidden_state * self.weight",
    ]


def test_a_wrong_output_shows_its_case_and_replays_alone(tmp_path, capsys):
    bug = (ROOT / "grader/zoo/rmsnorm/bug_eps_outside_sqrt.py").read_text()
    (tmp_path / "rmsnorm.py").write_text((SOLUTIONS / "rmsnorm.py").read_text() + "\n" + bug)
    run = pytest_run("--impl", str(tmp_path), "-m", "rmsnorm", "-k", "rmsnorm_float32")
    assert "on x=float32 (5, 8) tensor, from " in run.stdout
    assert "eps=0.01" in run.stdout
    replay = run.stdout.split("replay it alone: ", 1)[1].splitlines()[0]
    assert replay.startswith("kit explain rmsnorm_float32 --case ")
    assert replay.endswith(f" --impl {tmp_path}")
    status, out, _ = run_kit(capsys, *replay.split()[1:])
    assert status == 0
    assert "input:\n  x = float32 (5, 8) tensor" in out and "  eps = 0.01" in out
    assert "y: yours float32 (5, 8)" in out and "reference float32 (5, 8)" in out
    assert "40 of 40 elements differ" in out
    assert "verdict: RMSNorm output for input float32 (5, 8) with eps=0.01 differs" in out


def test_explain_an_unknown_item_or_case(capsys):
    assert_one_line_error(*run_kit(capsys, "explain", "rmsnrom_float32", "--case", "x")[::2],
                          "no graded item 'rmsnrom_float32'")  # fmt: skip
    assert_one_line_error(*run_kit(capsys, "explain", "rmsnorm_float32", "--case", "x")[::2],
                          "no case x of rmsnorm_float32: run pytest on the item first")  # fmt: skip


def test_a_paired_notebook_is_what_pytest_checks(tmp_path, capsys):
    """kit notebook pairs the .py with a notebook; a notebook edit, once saved, is checked."""
    (tmp_path / "rmsnorm.py").write_text((SOLUTIONS / "rmsnorm.py").read_text())
    status, out, _ = run_kit(capsys, "notebook", "rmsnorm", "--folder", str(tmp_path))
    assert status == 0 and "is paired with" in out
    item = registry.get("rmsnorm_float32")
    assert run_item(item, load_chapter(tmp_path, "rmsnorm")).passed  # pairing kept the work
    notebook = nbformat.read(tmp_path / "rmsnorm.ipynb", 4)
    notebook.cells.append(nbformat.v4.new_code_cell("RMSNorm.forward = lambda self, x: x"))
    nbformat.write(notebook, tmp_path / "rmsnorm.ipynb")
    # What Jupyter's save does with jupytext's contents manager: write both files.
    sync = [sys.executable, "-m", "jupytext", "--sync", str(tmp_path / "rmsnorm.ipynb")]
    subprocess.run(sync, check=True, capture_output=True, timeout=120)
    assert not run_item(item, load_chapter(tmp_path, "rmsnorm")).passed


def test_a_failing_graded_cell_writes_stderr_and_does_not_stop(tmp_path, capsys):
    """nbgrader scores a cell with stderr 0; a headless run goes on to the next cell."""
    namespace = {"__name__": "__main__"}  # a notebook that has not defined RMSNorm yet
    check("rmsnorm_float32", namespace)  # returns instead of raising: later cells still run
    err = capsys.readouterr().err
    assert err.startswith("✗ rmsnorm_float32: the notebook defines no `RMSNorm`")


def test_kit_grade_checks_every_case_a_learners_run_checks():
    """pytest and kit grade agree on what pytest ran: the grader adds secret cases after it."""
    from grader.autograde.grade import draw_cases

    item = registry.get("sampling_top_p")
    mine = learner_cases(item)
    graded = draw_cases(item, key=1234, examples=5)
    assert len(graded) == len(mine) + 5
    assert all(same(a, b) for a, b in zip(mine, graded, strict=False))


@pytest.mark.parametrize(
    ("values", "parameters"),
    [(HF_CONFIGS["llama-2-7b"], "6,738,415,616"), (META_PARAMS["llama-3-8b"], "8,030,261,248")],
)
def test_memory_reads_a_complete_config_or_params(tmp_path, capsys, values, parameters):
    path = tmp_path / "model.json"
    path.write_text(json.dumps(values))
    status, out, _ = run_kit(capsys, "memory", str(path))
    assert status == 0 and f"{parameters} parameters" in out and "4-bit (QLoRA)" in out
