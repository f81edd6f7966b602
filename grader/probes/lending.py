"""Parts a probe lends the learner's code, as their outputs on the inputs the check foresaw.

An item that grades one function while another of the chapter stands in (the sampler with
the filters, greedy decoding with the temperature) cannot lend that function's code: the
process running the learner's code would then hold an answer to another item. It lends a
table instead, computed by the check with Hugging Face: the stand-in's output for each input
the learner's code is expected to pass (`Table`). A call on any other input goes to the
learner's own function, so an unusual but correct call is still answered correctly.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch

from grader.registry import CheckFailed

# (the arguments in the order and with the defaults of the function's signature, its output)
Table = Sequence[tuple[tuple, Any]]
LENT = "lent"  # the key of a case's tables, by function name


def entry(function: Callable, *args) -> tuple[tuple, Any]:
    """A table's row: these arguments (in the signature's order, defaults included), and what
    `function` (Hugging Face's, in the check) returns for them."""
    return args, function(*args)


def lent(impl, name: str, signature: Callable, table: Table) -> Callable:
    """A stand-in for the learner's `name`: the table's output where the call's arguments
    (bound to `signature`) are in it, else the learner's own function."""
    try:
        own = getattr(impl, name)  # before the stand-in takes its place in the namespace
    except CheckFailed as missing:
        own = missing
    parameters = inspect.signature(signature)

    def stand_in(*args, **kwargs):
        try:
            bound = parameters.bind(*args, **kwargs)
        except TypeError:
            bound = None
        if bound is not None:
            bound.apply_defaults()
            found = lookup(table, tuple(bound.arguments.values()))
            if found is not None:
                return found
        if isinstance(own, CheckFailed):
            raise own
        return own(*args, **kwargs)

    stand_in.__name__ = stand_in.__qualname__ = name
    return stand_in


def lookup(table: Table, values: tuple) -> Any:
    """A copy of the output for these arguments, or None.

    A tensor argument matches its entry when equal up to rounding (`near`), or when it
    repeats the entry's single row (a probe's `logits.expand(draws, -1)`); the output's row
    is then repeated as often.
    An object matches a dict entry whose keys it has as attributes, with those values (a
    config, by the fields its answer depends on); anything else matches an equal entry.
    """
    for inputs, output in table:
        if len(inputs) != len(values):
            continue
        rows = 0
        for value, key in zip(values, inputs, strict=True):
            if not isinstance(key, torch.Tensor):
                if not plain_match(value, key):
                    break
                continue
            found = rows_matched(value, key)
            if found is None:
                break
            rows = rows or found
        else:
            return copied(output, rows)
    return None


def plain_match(value, key) -> bool:
    """Whether a non-tensor argument matches its entry: equal, or an object with the entry's
    attributes (when the entry is a dict and the value is not)."""
    if isinstance(value, torch.Tensor):
        return False
    try:
        if isinstance(key, dict) and not isinstance(value, dict):
            return all(getattr(value, name, None) == field for name, field in key.items())
        return bool(value == key)
    except Exception:  # a learner's object whose == or attribute raises, or is no truth value
        return False


def copied(output, rows: int):
    """A copy of an output (a tensor, a number or a tuple of them), its one row repeated `rows`
    times."""
    if isinstance(output, tuple):
        return tuple(copied(part, rows) for part in output)
    if not isinstance(output, torch.Tensor):
        return output
    return output.expand(rows, *output.shape[1:]).clone() if rows else output.clone()


def rows_matched(value, key: torch.Tensor) -> int | None:
    """None if `value` is not `key`; 0 if it is; n if it is `key`'s one row n times."""
    if not isinstance(value, torch.Tensor) or value.dtype != key.dtype:
        return None
    if value.shape == key.shape:
        return 0 if near(value, key) else None
    repeated = key.dim() == value.dim() > 0 and key.shape[0] == 1 < value.shape[0]
    if repeated and value.shape[1:] == key.shape[1:] and near(value, key):
        return value.shape[0]
    return None


def near(value: torch.Tensor, key: torch.Tensor) -> bool:
    """Equal, or for floats within a few rounding steps of the key's largest entry.

    The check computes a table with torch's threads, kit grade's child runs the learner's code
    on one, and a matmul split across threads rounds differently: the learner's projections
    then miss by an ulp, and their own function (not the lent one) would run in kit grade
    alone. A mistake upstream (a wrong rotation, a wrong split into heads) differs by far more.
    """
    key = key.expand_as(value)  # a repeated row
    if torch.equal(value, key):
        return True
    if not key.is_floating_point():
        return False
    finite = key.isfinite()  # -inf where a filter dropped a token: those must be the same
    same_elsewhere = torch.equal(finite, value.isfinite()) and torch.equal(
        value[~finite], key[~finite]
    )
    if not same_elsewhere or not finite.any():
        return False
    steps = 8 * torch.finfo(key.dtype).eps * key[finite].abs().max().double()
    return bool(((value[finite].double() - key[finite].double()).abs() <= steps).all())
