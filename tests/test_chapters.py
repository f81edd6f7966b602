"""The graded items of every chapter, run on the implementation chosen with `--impl`.

`pytest -m rmsnorm` runs one chapter. The same items run in the notebooks' graded cells
and in the grader.
"""

import pytest

from grader import registry
from grader.explain import describe_case, replay_command, save_case
from grader.pytest_plugin import GRADE_ID
from grader.runner import run_item


@pytest.mark.parametrize(
    "item",
    [
        pytest.param(item, id=item.grade_id, marks=getattr(pytest.mark, item.chapter))
        for item in registry.items()
    ],
)
def test_item(item, implementation, record_property, request):
    """One graded item: passes, or fails with one line that names the likely mistake.

    Under it: the learner's frames when their code raised and `--tb=short` or `--tb=long`
    asks for them; the case and the command that replays it alone when the output was wrong.
    """
    record_property(GRADE_ID, item.grade_id)
    result = run_item(item, implementation(item.chapter))
    if result.passed:
        return
    lines = [result.message]
    if result.trace and request.config.option.tbstyle in ("short", "long"):
        lines.append(result.trace)
    if result.case is not None and not result.crashed:
        case_id = save_case(item, result.case)
        impl = request.config.getoption("impl") or "exercises"
        lines.append(f"on {describe_case(result.case)}")
        lines.append(f"replay it alone: {replay_command(item, case_id, impl)}")
    pytest.fail("\n".join(lines), pytrace=False)
