"""Frozen Hugging Face outputs for fixed inputs, to notice when an upgrade changes the oracle.

Each chapter's check module provides `snapshot_cases()` (name -> case), `reference(case)` and
`TOLERANCES`. The snapshot stores each case's tensors, its other values (as JSON metadata) and
the reference output, in `grader/snapshots/<chapter>.safetensors`.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from grader.chapters import CHAPTERS
from grader.compare import is_close, max_error

SNAPSHOTS = Path(__file__).parent / "snapshots"


def snapshot_path(chapter: str) -> Path:
    """Where a chapter's snapshot lives."""
    return SNAPSHOTS / f"{chapter}.safetensors"


def write_snapshots() -> list[Path]:
    """Recompute every chapter's references with the installed transformers and store them."""
    written = []
    for chapter in CHAPTERS:
        checks = importlib.import_module(f"grader.checks.{chapter}")
        tensors, values = {}, {}
        for name, case in checks.snapshot_cases().items():
            values[name] = {k: v for k, v in case.items() if not isinstance(v, torch.Tensor)}
            tensors |= {f"{name}/{k}": v for k, v in case.items() if isinstance(v, torch.Tensor)}
            tensors[f"{name}/reference"] = checks.reference(case)
        save_file(tensors, snapshot_path(chapter), metadata={"values": json.dumps(values)})
        written.append(snapshot_path(chapter))
    return written


def compare_snapshots() -> list[str]:
    """One line per stored reference that the live oracle no longer reproduces."""
    changes = []
    for chapter in CHAPTERS:
        checks = importlib.import_module(f"grader.checks.{chapter}")
        with safe_open(snapshot_path(chapter), framework="pt") as stored:
            values = json.loads(stored.metadata()["values"])
            tensors = {key: stored.get_tensor(key) for key in stored.keys()}  # noqa: SIM118
        for name, plain_values in values.items():
            prefix = f"{name}/"
            case = {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
            frozen = case.pop("reference")
            live = checks.reference({**case, **plain_values})
            tolerance = checks.TOLERANCES[frozen.dtype]
            if live.dtype != frozen.dtype or not is_close(live, frozen, tolerance):
                error = max_error(live.to(frozen.dtype), frozen, tolerance)
                changes.append(
                    f"{chapter}/{name}: live Hugging Face output differs from the snapshot "
                    f"({error:.3g} times the tolerance): the oracle changed"
                )
    return changes
