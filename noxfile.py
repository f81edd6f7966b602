"""The kit's own checks. Plain `nox` runs everything CI needs.

Sessions run in the environment you installed the kit into (`pip install -e ".[dev]" -c
constraints.txt`): one install of torch and transformers instead of one per session. CI
(.ci/run) makes that environment fresh from a clean clone, so nothing installed by hand counts.
"""

import nox

nox.options.sessions = [
    "lint",
    "sync-check",
    "solutions",
    "stubs",
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
    """Every graded item fails on the untouched exercises, with one line naming the function."""
    session.run("pytest", "tests/kit/test_stubs.py", *session.posargs)


@nox.session
def zoo(session: nox.Session) -> None:
    """Every zoo bug fails with its own hint; every correct alternative passes.

    test_generation: a generation that diverges from HF passes only when rounding explains it.
    """
    session.run("pytest", "tests/kit/test_zoo.py", "tests/kit/test_generation.py", *session.posargs)


@nox.session
def oracle(session: nox.Session) -> None:
    """The live Hugging Face outputs still match the frozen snapshots and published numbers."""
    session.run(
        "pytest", "tests/kit/test_oracle.py", "tests/kit/test_memory_oracle.py", *session.posargs
    )


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
    """kit grade against the adversarial corpus, zips and the wire format; kit demo's reports."""
    # test_cohort.py runs `kit demo` and checks its items.csv and report.html against grades.csv.
    session.run("pytest", "tests/kit/test_grade.py", "tests/kit/test_cohort.py", *session.posargs)


@nox.session(default=False)
def benchmark(session: nox.Session) -> None:
    """Print pytest's cost over the import floor, the KV cache's and kit grade's speed-ups."""
    session.run("python", "benchmarks/pytest_speed.py", *session.posargs)
    session.run("python", "benchmarks/kv_cache.py")
    session.run("python", "benchmarks/grading.py")
