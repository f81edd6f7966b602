"""The kit's own checks. Plain `nox` runs everything CI needs.

Sessions run in the environment you installed the kit into (`pip install -e ".[dev]" -c
constraints.txt`): one install of torch and transformers instead of one per session. CI
(.ci/run) makes that environment fresh from a clean clone, so nothing installed by hand counts.
"""

import shutil

import nox

nox.options.sessions = [
    "lint",
    "sync-check",
    "solutions",
    "stubs",
    "learner",
    "zoo",
    "oracle",
    "quantized",
    "nbgrader",
    "grader",
]
nox.options.default_venv_backend = "none"


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint everything, check formatting of the kit's code."""
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(default=False)
def sync(session: nox.Session) -> None:
    """Regenerate exercises/ from solutions/ (nbgrader ClearSolutions + jupytext)."""
    session.run("kit", "sync")


@nox.session(name="sync-check")
def sync_check(session: nox.Session) -> None:
    """Fail if exercises/ differs from what solutions/ generates."""
    session.run("kit", "sync", "--check")
    session.run("pytest", "tests/kit/test_sync.py", *session.posargs)


@nox.session
def solutions(session: nox.Session) -> None:
    """Every graded item passes on the solutions."""
    session.run("pytest", "--impl", "solutions", *session.posargs)


@nox.session
def stubs(session: nox.Session) -> None:
    """Every graded item fails on the untouched exercises, with one line naming the function,
    and on degenerate ones (zeros, NaN, a copied input) wherever it grades that output."""
    session.run(
        "pytest", "tests/kit/test_stubs.py", "tests/kit/test_degenerate.py", *session.posargs
    )


@nox.session
def learner(session: nox.Session) -> None:
    """The learner's loop: same verdicts, replayable failures, safe commands, one-line errors."""
    session.run("pytest", "tests/kit/test_learner.py", *session.posargs)


def zoo_pass(session: nox.Session) -> str:
    """Run the zoo once, over two processes; each zoo file writes its kill-matrix row."""
    rows = f"{session.create_tmp()}/kill-matrix"
    shutil.rmtree(rows, ignore_errors=True)
    session.run(
        "pytest", "-n", "auto", "--hypothesis-profile=learner-fresh", "tests/kit/test_zoo.py",
        "tests/kit/test_generation.py", *session.posargs, env={"KIT_KILL_MATRIX": rows},
    )  # fmt: skip
    return rows


@nox.session
def zoo(session: nox.Session) -> None:
    """Every zoo bug is caught with its own hint, every correct alternative passes.

    On a whole pass (no posargs) also: every item catches a bug, and docs/kill-matrix.md and
    the README's hit-rates are what this pass gives.

    Run with the learner's profile (its cases, nothing replayed): a learner's first run finds
    every zoo bug, on every run, since each item draws from its own seed.
    test_generation: a generation that diverges from HF passes only when rounding explains it.
    """
    rows = zoo_pass(session)
    if not session.posargs:
        session.run("python", "-m", "grader.zoo.matrix", rows)


@nox.session(name="kill-matrix", default=False)
def kill_matrix(session: nox.Session) -> None:
    """Run the zoo once and write docs/kill-matrix.md and the README's hint hit-rates."""
    session.run("python", "-m", "grader.zoo.matrix", zoo_pass(session), "--write")


@nox.session
def oracle(session: nox.Session) -> None:
    """The live Hugging Face outputs still match the frozen snapshots and published numbers,
    and kit grade's stand-ins (LlamaConfig, the lent parts) still are transformers' own."""
    session.run(
        "pytest", "tests/kit/test_oracle.py", "tests/kit/test_memory_oracle.py",
        "tests/kit/test_stand_ins.py", "tests/kit/test_parts.py", *session.posargs,
    )  # fmt: skip


@nox.session(venv_backend="venv")
def quantized(session: nox.Session) -> None:
    """bitsandbytes' real 4-bit layout equals the memory chapter's closed form.

    Its own virtualenv: bitsandbytes is an optional extra that slows `import peft`.
    """
    session.install("-e", ".[quantized]", "-c", "constraints.txt")
    session.run("pytest", "tests/kit/test_memory_oracle.py", "-k", "bitsandbytes", *session.posargs)


@nox.session
def nbgrader(session: nox.Session) -> None:
    """Build a course, autograde sample submissions with plain nbgrader, export the CSV."""
    session.run("pytest", "tests/kit/test_nbgrader.py", *session.posargs)


@nox.session
def grader(session: nox.Session) -> None:
    """kit grade against the adversarial corpus, zips, the wire format, isolation and cgroup
    budgets; kit demo's reports (test_cohort.py runs `kit demo` and checks items.csv and
    report.html against grades.csv)."""
    session.run(
        "pytest",
        "tests/kit/test_grade.py",
        "tests/kit/test_isolation.py",
        "tests/kit/test_cgroups.py",
        "tests/kit/test_cohort.py",
        *session.posargs,
    )


@nox.session(default=False)
def benchmark(session: nox.Session) -> None:
    """Print pytest's cost over the import floor, the KV cache's and kit grade's speed-ups."""
    session.run("python", "benchmarks/pytest_speed.py", *session.posargs)
    session.run("python", "benchmarks/kv_cache.py")
    session.run("python", "benchmarks/grading.py")
