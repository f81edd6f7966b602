"""The Hypothesis profiles of the checks, registered on import (cheap: no torch).

Every item draws from its own seed (see `grader.runner.item_seed`), so a profile only decides
how many cases are drawn and whether failures are kept for the next run.
"""

from __future__ import annotations

import os

from hypothesis import settings

# Learners want an answer in seconds, the same answer for the same code, and a failure found
# once replayed first on the next run (the database in .hypothesis/, one key per item).
settings.register_profile("learner", max_examples=25, deadline=None)
# The learner's cases with nothing replayed: what a first run finds (the zoo is measured so).
settings.register_profile("learner-fresh", max_examples=25, deadline=None, database=None)
# CI: more cases, nothing stored between runs.
settings.register_profile("ci", max_examples=150, deadline=None, print_blob=True, database=None)
# Inside a notebook (nbgrader's kernel) nothing may be written next to the submission.
settings.register_profile("notebook", max_examples=25, deadline=None, database=None)


def default_profile() -> str:
    """The Hypothesis profile for this environment: `ci` where CI is set, else `learner`."""
    return "ci" if os.environ.get("CI") else "learner"
