"""The graded items of every chapter, run on the implementation chosen with `--impl`.

`pytest -m rmsnorm` runs one chapter. The same items run in the notebooks' graded cells
and in the grader.
"""

import pytest

from grader import registry
from grader.pytest_plugin import GRADE_ID
from grader.runner import run_item


@pytest.mark.parametrize(
    "item",
    [
        pytest.param(item, id=item.grade_id, marks=getattr(pytest.mark, item.chapter))
        for item in registry.items()
    ],
)
def test_item(item, implementation, record_property):
    """One graded item: passes, or fails with one line that names the likely mistake."""
    record_property(GRADE_ID, item.grade_id)
    result = run_item(item, implementation(item.chapter))
    if not result.passed:
        pytest.fail(result.message, pytrace=False)
