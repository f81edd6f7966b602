"""Frozen Hugging Face outputs for fixed inputs, to notice when an upgrade changes the oracle.

A chapter whose checks compare tensors provides `snapshot_cases()` (name -> case),
`oracle(case)` (the Hugging Face output) and `TOLERANCES`; chapters of exact counts (memory)
pin their oracle with published numbers instead (`grader.presets.PARAMETERS`). The snapshot
stores each case's tensors (nested dicts such as state_dicts flattened with "/"), its other
values as JSON metadata, and the oracle's output, in `grader/snapshots/<chapter>.safetensors`.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from grader.chapters import CHAPTERS
from grader.compare import is_close, max_error

SNAPSHOTS = Path(__file__).parent / "snapshots"


def snapshot_path(chapter: str) -> Path:
    """Where a chapter's snapshot lives."""
    return SNAPSHOTS / f"{chapter}.safetensors"


def flatten(case: dict[str, Any], prefix: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split a case into `prefix/key[/subkey]` tensors and the JSON values left over."""
    tensors, values = {}, {}
    for key, value in case.items():
        if isinstance(value, torch.Tensor):
            tensors[f"{prefix}/{key}"] = value.clone()  # tied weights share storage; a file can't
        elif isinstance(value, dict) and all(isinstance(v, torch.Tensor) for v in value.values()):
            tensors |= flatten(value, f"{prefix}/{key}")[0]
        else:
            values[key] = value
    return tensors, values


def unflatten(tensors: dict[str, torch.Tensor], values: dict[str, Any]) -> dict[str, Any]:
    """The inverse of `flatten` for one case whose prefix has been removed."""
    case: dict[str, Any] = dict(values)
    for key, tensor in tensors.items():
        *parents, leaf = key.split("/")
        node = case
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = tensor
    return case


def snapshot_chapters() -> list[str]:
    """The chapters whose checks have snapshots."""
    return [c for c in CHAPTERS if hasattr(importlib.import_module(f"grader.checks.{c}"), "oracle")]


def write_snapshots() -> list[Path]:
    """Recompute every chapter's oracle outputs with the installed transformers and store them."""
    written = []
    for chapter in snapshot_chapters():
        checks = importlib.import_module(f"grader.checks.{chapter}")
        tensors, values = {}, {}
        for name, case in checks.snapshot_cases().items():
            case_tensors, values[name] = flatten(case, name)
            tensors |= case_tensors
            tensors[f"{name}/oracle"] = checks.oracle(case).contiguous()
        save_file(tensors, snapshot_path(chapter), metadata={"values": json.dumps(values)})
        written.append(snapshot_path(chapter))
    return written


def compare_snapshots() -> list[str]:
    """One line per stored output that the live oracle no longer reproduces."""
    changes = []
    for chapter in snapshot_chapters():
        checks = importlib.import_module(f"grader.checks.{chapter}")
        with safe_open(snapshot_path(chapter), framework="pt") as stored:
            values = json.loads(stored.metadata()["values"])
            tensors = {key: stored.get_tensor(key) for key in stored.keys()}  # noqa: SIM118
        for name, case_values in values.items():
            prefix = f"{name}/"
            own = {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
            frozen = own.pop("oracle")
            live = checks.oracle(unflatten(own, case_values))
            tolerance = checks.TOLERANCES[frozen.dtype]
            if live.dtype != frozen.dtype or not is_close(live, frozen, tolerance):
                error = max_error(live.to(frozen.dtype), frozen, tolerance)
                changes.append(
                    f"{chapter}/{name}: live Hugging Face output differs from the snapshot "
                    f"({error:.3g} times the tolerance): the oracle changed"
                )
    return changes
