"""A failing case, shown and replayed alone: `kit explain ITEM --case ID`.

pytest keeps the case a learner's item failed on in `.hypothesis/kit-cases/` (tensors and
plain values, in the grader's wire format, never pickle) under a short id; `kit explain`
runs that one case again and prints the input, the learner's output, the reference's and
where they differ.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from grader.chapters import ROOT, SOLUTIONS, Impl, load_chapter
from grader.probes.lending import LENT
from grader.registry import Case, CheckFailed, Item

CASES = ROOT / ".hypothesis" / "kit-cases"
SHOWN = 8  # tensors with at most this many elements are shown by value


def save_case(item: Item, case: Case) -> str:
    """Keep a case for `kit explain`; returns its id."""
    from grader.autograde.wire import encode

    blob = encode(dict(case))
    case_id = hashlib.sha256(blob).hexdigest()[:10]
    path = CASES / item.grade_id / case_id
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)
    return case_id


def load_case(item: Item, case_id: str) -> Case:
    """A case kept by `save_case`; a ValueError says how to get one."""
    from grader.autograde.wire import decode

    path = CASES / item.grade_id / case_id
    if not path.is_file():
        raise ValueError(
            f"no case {case_id} of {item.grade_id}: run pytest on the item first; its failure "
            "prints the `kit explain` command with the case's id"
        )
    return decode(path.read_bytes())


def describe_value(value: Any) -> str:
    """A small tensor by value, a larger one by dtype, shape and range; other values as such."""
    if not isinstance(value, torch.Tensor):
        return repr(value)
    kind = f"{str(value.dtype).removeprefix('torch.')} {tuple(value.shape)}"
    if value.numel() <= SHOWN:
        return f"{rounded(value.tolist())} ({kind})"
    numbers = value.float()
    return f"{kind} tensor, from {numbers.min().item():.4g} to {numbers.max().item():.4g}"


def rounded(values: Any) -> str:
    """Nested lists of numbers with four significant digits, as Python would write them."""
    if isinstance(values, list):
        return "[" + ", ".join(rounded(v) for v in values) + "]"
    return f"{values:.4g}" if isinstance(values, float) else repr(values)


def describe_case(case: Case) -> str:
    """A case in one line: each input by value or by what it is."""
    return ", ".join(f"{key}={describe_value(value)}" for key, value in inputs(case).items())


def inputs(case: Case) -> Case:
    """The case but for what a probe lends (`grader.probes.lending`): the learner's inputs."""
    return {key: value for key, value in case.items() if key != LENT}


def differences(mine: Any, reference: Any) -> str:
    """Where two outputs differ: the positions of the first differing elements of a tensor."""
    if not (isinstance(mine, torch.Tensor) and isinstance(reference, torch.Tensor)):
        return "equal" if mine == reference else "differ"
    if mine.shape != reference.shape or mine.dtype != reference.dtype:
        return f"{describe_value(mine)} where the reference is {describe_value(reference)}"
    differ = (mine != reference) & ~(mine.isnan() & reference.isnan())
    positions = differ.nonzero().tolist()
    if not positions:
        return "equal"
    gap = (mine.double() - reference.double()).abs().nan_to_num(nan=float("inf")).max().item()
    shown = ", ".join(str(tuple(p)) for p in positions[:5])
    return f"{len(positions)} of {mine.numel()} elements differ (at {shown}…), by up to {gap:.3g}"


def explain(item: Item, impl: Impl, case: Case) -> str:
    """The case, the learner's output, the reference's, where they differ, and the verdict."""
    from grader.runner import call_probe, plain

    lines = [f"{item.grade_id}: {item.title}", "input:"]
    lines += [f"  {key} = {describe_value(value)}" for key, value in inputs(case).items()]
    try:
        mine = plain(call_probe(item.probe, impl, case))
    except CheckFailed as failure:
        return "\n".join([*lines, f"your code: {failure}", getattr(failure, "trace", "")]).strip()
    reference = plain(item.probe(load_chapter(SOLUTIONS, item.chapter), case))
    for key, value in mine.items():
        lines.append(f"{key}: yours {describe_value(value)}")
        lines.append(f"{' ' * len(key)}  reference {describe_value(reference.get(key))}")
        lines.append(f"{' ' * len(key)}  {differences(value, reference.get(key))}")
    try:
        item.verify(case, mine)
    except CheckFailed as failure:
        return "\n".join([*lines, f"verdict: {failure}"])
    return "\n".join([*lines, "verdict: passes"])


def replay_command(item: Item, case_id: str, impl: Path | str) -> str:
    """The one command that replays this case alone."""
    return f"kit explain {item.grade_id} --case {case_id} --impl {impl}"
