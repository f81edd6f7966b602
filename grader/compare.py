"""Comparisons that fail with a message for the learner instead of an assertion dump."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import torch

from grader.registry import Case, CheckFailed

T = TypeVar("T")
# kit grade's memo of references, by function and case object; None: compute every time.
_remembered: dict[tuple[str, int], tuple[Case, object]] | None = None
_computing = threading.RLock()  # a reference may seed torch's global RNG


@contextmanager
def remembering(memo: dict) -> Iterator[None]:
    """Inside this block, `per_case` references are looked up in (and added to) `memo`."""
    global _remembered
    with _computing:
        outer, _remembered = _remembered, memo
        try:
            yield
        finally:
            _remembered = outer


def per_case(reference: Callable[[Case], T]) -> Callable[[Case], T]:
    """Compute a reference that depends on the case alone once per case, while remembering.

    kit grade checks many submissions against the same case objects; pytest and notebooks
    never remember, so nothing changes there. The result is shared: never modify it.
    """

    @functools.wraps(reference)
    def remembered(case: Case) -> T:
        with _computing:
            if _remembered is None:
                return reference(case)
            key = (f"{reference.__module__}.{reference.__qualname__}", id(case))
            if key not in _remembered:  # the memo keeps the case alive: its id stays its own
                _remembered[key] = (case, reference(case))
            return _remembered[key][1]

    return remembered


@dataclass(frozen=True)
class Tolerance:
    """`|actual - expected| <= atol + rtol * |expected|`, elementwise."""

    rtol: float
    atol: float


def describe(tensor: torch.Tensor) -> str:
    """`float32 (2, 8)`: how a tensor is named in messages."""
    return f"{str(tensor.dtype).removeprefix('torch.')} {tuple(tensor.shape)}"


def expect_like(actual: object, expected: torch.Tensor, what: str, hint: str = "") -> None:
    """Fail unless `actual` is a tensor with the dtype and shape of `expected`."""
    if not isinstance(actual, torch.Tensor):
        raise CheckFailed(f"{what} is {type(actual).__name__}, expected a tensor. {hint}".strip())
    if actual.shape != expected.shape:
        raise CheckFailed(
            f"{what} has shape {tuple(actual.shape)}, expected {tuple(expected.shape)}. {hint}"
        )
    if actual.dtype != expected.dtype:
        raise CheckFailed(f"{what} is {describe(actual)}, expected {describe(expected)}. {hint}")


def max_error(actual: torch.Tensor, expected: torch.Tensor, tol: Tolerance) -> float:
    """The worst ratio of error to allowed error: <= 1 means close, inf means NaN or inf differ."""
    a, e = actual.double(), expected.double()
    finite = a.isfinite()
    if not torch.equal(finite, e.isfinite()):
        return float("inf")
    codes = {"nan": 0.0, "posinf": 1.0, "neginf": -1.0}  # NaN equals NaN, +inf equals +inf
    if not torch.equal(a[~finite].nan_to_num(**codes), e[~finite].nan_to_num(**codes)):
        return float("inf")
    if not finite.any():
        return 0.0
    error = (a[finite] - e[finite]).abs()
    allowed = tol.atol + tol.rtol * e[finite].abs()
    return float(torch.where(error == 0, 0.0, error / allowed).max())  # exact: 0 / 0 is fine


def is_close(actual: torch.Tensor, expected: torch.Tensor, tol: Tolerance) -> bool:
    """Same shape and every element within tolerance; NaN and inf must sit in the same places."""
    return actual.shape == expected.shape and max_error(actual, expected, tol) <= 1.0


def expect_close(
    actual: torch.Tensor,
    expected: torch.Tensor,
    tol: Tolerance,
    what: str,
    diagnose: Callable[[], str] = lambda: "",
) -> None:
    """Fail with the size of the error and, from `diagnose`, the likely mistake."""
    expect_like(actual, expected, what)
    if is_close(actual, expected, tol):
        return
    a, e = actual.double(), expected.double()
    if not a.isfinite().all() and e.isfinite().all():
        found = "NaN" if a.isnan().any() else "inf"
        message = f"{what} contains {found} where the reference is finite"
    else:
        error = (a - e).abs().nan_to_num(nan=float("inf")).max().item()
        message = f"{what} differs from the reference by up to {error:.3g}"
    raise CheckFailed(f"{message}. {diagnose()}".strip())


def first_match(
    actual: torch.Tensor,
    candidates: Iterable[tuple[str, Callable[[], torch.Tensor]]],
    tol: Tolerance,
) -> str | None:
    """The hint of the first known mistake whose output `actual` reproduces, if any."""
    for hint, wrong in candidates:
        try:
            expected = wrong().detach()
        except RuntimeError:  # a mistake that cannot even be computed on this input
            continue
        if is_close(actual, expected.to(actual.dtype), tol):
            return hint
    return None
