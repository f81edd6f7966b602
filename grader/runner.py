"""Run a graded item on an implementation, in this process (pytest and notebooks).

Failures come back as one line for the learner. Exceptions raised by the learner's code are
turned into such lines too; an exception from the kit's own reference code is a bug in the
kit and propagates with its traceback.
"""

from __future__ import annotations

import hashlib
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hypothesis import HealthCheck, Phase, given, settings

from grader import profiles  # noqa: F401  (registers the profiles run_item's settings come from)
from grader.chapters import CHAPTERS, Impl, display_path, one_line
from grader.registry import Case, CheckFailed, Item, Output


def item_seed(item: Item) -> int:
    """The seed an item draws its cases from: the same cases on every run, whoever runs it."""
    return int.from_bytes(hashlib.sha256(item.grade_id.encode()).digest()[:8], "little")


@dataclass(frozen=True)
class Result:
    """The outcome of one item on one implementation."""

    item: Item
    passed: bool
    message: str = ""
    case: Case | None = None  # the case it failed on
    crashed: bool = False  # the learner's code raised, rather than returning a wrong output
    trace: str = ""  # the learner's frames of that exception, innermost last

    @property
    def points(self) -> int:
        """Points earned: all or nothing per item."""
        return self.item.points if self.passed else 0


def run_item(item: Item, impl: Impl) -> Result:
    """Run the item's fixed examples, then its Hypothesis strategy; stop at the first failure."""
    current: list[Case] = []  # the case being checked: the failing one, when one fails

    def check(case: Case) -> None:
        current[:] = [case]
        run_case(item, impl, case)

    try:
        with warnings.catch_warnings(), quiet_transformers():
            warnings.simplefilter("ignore")  # HF's and peft's warnings are not the learner's
            for case in item.examples():
                check(case)
            if item.strategy is not None:
                drawn(item, check)()  # Hypothesis runs the shrunk failing case last
    except CheckFailed as failure:
        return Result(
            item,
            passed=False,
            message=str(failure).splitlines()[0],
            case=current[0] if current else None,
            crashed=getattr(failure, "crashed", False),
            trace=getattr(failure, "trace", ""),
        )
    return Result(item, passed=True)


def learner_cases(item: Item) -> list[Case]:
    """The cases a learner's run checks first: fixed examples, then the learner profile's draws.

    `kit grade` checks these too, so that pytest and the grader agree on every case pytest ran.
    """
    cases = list(item.examples())
    if item.strategy is not None:
        fresh = settings(settings.get_profile("learner"), database=None, phases=[Phase.generate])
        drawn(item, cases.append, fresh)()
    return cases


def drawn(
    item: Item, body: Callable[[Case], None], profile: settings | None = None
) -> Callable[[], None]:
    """A Hypothesis test that calls `body` on the item's drawn cases, seeded per item."""
    profile = profile or settings.default
    budget = profile.max_examples
    if item.max_examples is not None:
        budget = min(budget, item.max_examples)

    def holds_for_drawn_cases(case: Case) -> None:
        body(case)

    # Hypothesis keys its database by the test function's source, the same for every item:
    # one item's stored failure was replayed, and deleted, by another. The grade_id tells
    # them apart (the attribute Hypothesis itself sets for pytest's parametrized tests).
    holds_for_drawn_cases._hypothesis_internal_add_digest = item.grade_id.encode()
    # No deadline: a first model build takes longer than later ones, wherever it runs.
    limits = settings(
        profile, max_examples=budget, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    test = limits(given(item.strategy)(holds_for_drawn_cases))
    # What `@seed` sets, without the `database=None` that `@seed` adds: the same cases on every
    # run, and a failure found once still replayed first.
    test._hypothesis_internal_use_seed = item_seed(item)
    return test


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' logger (it writes to stderr, which scores 0 in an nbgrader cell)."""
    from transformers.utils import logging

    level = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(level)


def run_case(item: Item, impl: Impl, case: Case) -> None:
    """Probe the implementation on one case and verify what came back."""
    item.verify(case, plain(call_probe(item.probe, impl, case)))


def call_probe(probe: Callable[[Impl, Case], Output], impl: Impl, case: Case) -> Output:
    """Call the probe; an exception from the learner's code becomes a `CheckFailed`."""
    try:
        return probe(impl, case)
    except CheckFailed:
        raise
    except NotImplementedError as error:
        name, path, _ = culprit(error)
        where = display_path(path) if path.stem in CHAPTERS else impl.origin
        failure = CheckFailed(
            f"{name} is not written yet (it raises NotImplementedError): write it in {where}"
        )
    except Exception as error:
        name, path, line = culprit(error)
        where = f"{display_path(path)}:{line}: " if line else f"{name} raised "
        failure = CheckFailed(f"{where}{one_line(error)}")
        failure.trace = learner_trace(error)
    failure.crashed = True
    raise failure from None


_LIBRARIES = (str(Path(torch.__file__).parent.parent), str(Path(__file__).parent))


def learner_frames(error: BaseException) -> list[traceback.FrameSummary]:
    """The frames of the traceback outside torch, the libraries and the kit: the learner's."""
    return [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if not frame.filename.startswith(_LIBRARIES) and Path(frame.filename).is_file()
    ]


def culprit(error: BaseException) -> tuple[str, Path, int]:
    """The qualified name, file and line of the innermost function outside torch and the kit."""
    frames = [
        (frame.f_code, line)
        for frame, line in _walk(error.__traceback__)
        if not frame.f_code.co_filename.startswith(_LIBRARIES)
    ]
    if not frames:
        return "your code", Path(), 0
    code, line = frames[-1]
    return code.co_qualname, Path(code.co_filename), line


def learner_trace(error: BaseException) -> str:
    """The learner's frames as `--tb=short` shows them: file:line, function, source line."""
    return "".join(
        f"{display_path(Path(frame.filename))}:{frame.lineno}: in {frame.name}\n    {frame.line}\n"
        for frame in learner_frames(error)
    ).rstrip()


def _walk(tb: Any):
    while tb is not None:
        yield tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next


def plain(output: Any) -> Output:
    """Detach, copy and type-check what a probe returned: tensors and JSON-like values only."""
    if not isinstance(output, dict):
        raise TypeError(f"a probe must return a dict, not {type(output).__name__}")
    return {key: _plain_value(key, value) for key, value in output.items()}


def _plain_value(key: str, value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        if type(value) not in (torch.Tensor, torch.nn.Parameter):
            raise CheckFailed(f"`{key}` is a {type(value).__name__}, expected a plain torch.Tensor")
        return value.detach().to("cpu", copy=True)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain_value(key, v) for v in value]
    raise CheckFailed(f"`{key}` is a {type(value).__name__}, expected a tensor or a number")
