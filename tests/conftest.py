"""The chapter tests run on `--impl` (exercises/ unless told otherwise).

The kit's own tests live in tests/kit/; they run when asked for by path (`pytest tests/kit`),
so that a learner's plain `pytest` checks only their chapters.
"""

import sys
from pathlib import Path


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    """Skip tests/kit unless a path inside it was named on the command line."""
    kit = Path(__file__).parent / "kit"
    if collection_path != kit:
        return None
    named = [Path(arg.split("::")[0]).resolve() for arg in config.args]
    return not any(path == kit or kit in path.parents for path in named)


sys.dont_write_bytecode = True  # learners' chapter files are imported fresh on every run
