"""Measure how far correct RMSNorm implementations land from LlamaRMSNorm, per dtype.

The tolerances in grader/checks/rmsnorm.py come from this script: for every dtype it prints
the rtol (at that dtype's atol) that each correct zoo implementation needs to pass, and
what the missing-upcast bug would need. Run: `python benchmarks/tolerances.py`.
"""

import torch
from rich.console import Console
from rich.table import Table

from grader.chapters import load_chapter
from grader.checks.rmsnorm import EPS, TOLERANCES, forward_case, reference
from grader.zoo import ZOO, entries

CASES = 2000


def needed_rtol(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """The smallest rtol with which `actual` passes against `expected` at the dtype's atol."""
    a, e = actual.double(), expected.double()
    excess = ((a - e).abs() - TOLERANCES[expected.dtype].atol).clamp(min=0)
    return float((excess / e.abs().clamp(min=1e-30)).max())


def main() -> None:
    paths = [*entries("rmsnorm", "ok_"), ZOO / "rmsnorm" / "bug_no_upcast.py"]
    impls = {path.stem: load_chapter(path.parent, path.stem) for path in paths}
    rng = torch.Generator().manual_seed(0)
    table = Table("dtype", *impls, title=f"rtol needed, {CASES} cases each")
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        worst = dict.fromkeys(impls, 0.0)
        for seed in range(CASES):
            lead = torch.randint(
                1, 5, (int(torch.randint(0, 3, (1,), generator=rng)),), generator=rng
            )
            shape = (*lead.tolist(), int(torch.randint(1, 65, (1,), generator=rng)))
            exponent = float(torch.empty(1).uniform_(-2, 2, generator=rng))
            eps = EPS[seed % len(EPS)]
            case = forward_case(seed, shape, 10.0**exponent, eps, dtype)
            expected = reference(case)
            for name, impl in impls.items():
                norm = impl.RMSNorm(shape[-1], eps=eps).to(dtype)
                norm.load_state_dict({"weight": case["weight"]})
                with torch.no_grad():
                    worst[name] = max(worst[name], needed_rtol(norm(case["x"]), expected))
        name = f"{str(dtype).removeprefix('torch.')} (atol {TOLERANCES[dtype].atol:g})"
        table.add_row(name, *(f"{v:.3g}" for v in worst.values()))
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
