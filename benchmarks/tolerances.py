"""Measure how far correct implementations land from Hugging Face, per chapter and dtype.

The tolerances in grader/checks/*.py come from this script. For RMSNorm it prints the rtol
(at the dtype's atol from the chapter's TOLERANCES) that the solution and each correct zoo
implementation (`ok_*`) need to pass; for attention, whose outputs are O(1), the largest
absolute error; for the Llama logits also the solution's whole stack ("own stack"), all
its own parts in the dtype. A bug stands beside them: a tolerance must not hide it.
Run: `python benchmarks/tolerances.py [--cases N]`.
"""

import argparse
import random

import torch
from rich.console import Console
from rich.table import Table

from grader import reference
from grader.chapters import SOLUTIONS, load_chapter
from grader.checks import attention, llama, rmsnorm
from grader.zoo import ZOO, entries


def needed_rtol(actual: torch.Tensor, expected: torch.Tensor, atol: float) -> float:
    """The smallest rtol with which `actual` passes against `expected` at `atol`."""
    a, e = actual.double(), expected.double()
    excess = ((a - e).abs() - atol).clamp(min=0)
    return float((excess / e.abs().clamp(min=1e-30)).max())


def implementations(chapter: str, bug: str) -> dict:
    """The solution, every ok_ patch, and one bug, by name."""
    paths = [*entries(chapter, "ok_"), ZOO / chapter / f"{bug}.py"]
    impls = {"solution": load_chapter(SOLUTIONS, chapter)}
    return impls | {path.stem: load_chapter(SOLUTIONS, chapter, patch=path) for path in paths}


def rmsnorm_rows(cases: int, rng: random.Random) -> tuple[list, list]:
    impls = implementations("rmsnorm", "bug_no_upcast")
    rows = []
    for dtype in rmsnorm.TOLERANCES:
        worst = dict.fromkeys(impls, 0.0)
        for _ in range(cases):
            shape = (*[rng.randint(1, 4) for _ in range(rng.randint(0, 2))], rng.randint(1, 64))
            scale = 10.0 ** rng.uniform(-2, 2)
            case = rmsnorm.forward_case(
                rng.randrange(2**32), shape, scale, rng.choice(rmsnorm.EPS), dtype
            )
            expected = rmsnorm.oracle(case)
            for name, impl in impls.items():
                actual = rmsnorm.probe_forward(impl, case)["y"]
                worst[name] = max(
                    worst[name], needed_rtol(actual, expected, rmsnorm.TOLERANCES[dtype].atol)
                )
        rows.append((f"RMSNorm {dtype}, rtol needed", worst))
    return list(impls), rows


def attention_rows(cases: int, rng: random.Random) -> tuple[list, list]:
    impls = implementations("attention", "bug_no_scaling")
    rows = []
    for dtype in attention.TOLERANCES:
        worst = dict.fromkeys(impls, 0.0)
        for _ in range(cases):
            case = attention.module_case(
                rng.randrange(2**32), rng.randint(1, 2), rng.randint(1, 6), rng.choice([1, 2, 3]),
                rng.choice([2, 4, 8, 16]), rng.randint(1, 8), rng.choice(attention.THETAS),
                rng.random() < 0.5, dtype,
            )  # fmt: skip
            expected = attention.oracle(case)
            for name, impl in impls.items():
                module = attention.build_attention(impl.Attention, case)  # the impl's own functions
                actual = attention.call_attention(module, case)
                worst[name] = max(
                    worst[name], (actual.double() - expected.double()).abs().max().item()
                )
        rows.append((f"Attention {dtype}, max abs error", worst))
    worst = dict.fromkeys(impls, 0.0)
    for _ in range(cases):
        case = attention.positions_case(
            rng.randrange(2**32), rng.randint(1, 3), rng.randint(1, 16), rng.randint(1, 64),
            rng.choice(attention.THETAS), rng.randint(0, 4096),
        )  # fmt: skip
        cos, sin = reference.rope_cos_sin(case["position_ids"], case["head_dim"], case["theta"])
        for name, impl in impls.items():
            out = attention.probe_rope_cos_sin(impl, case)
            error = max(
                (out["cos"] - cos).abs().max().item(), (out["sin"] - sin).abs().max().item()
            )
            worst[name] = max(worst[name], error)
    rows.append(("rope_cos_sin, max abs error (ANGLES atol)", worst))
    return list(impls), rows


def llama_rows(cases: int, rng: random.Random) -> tuple[list, list]:
    impls = implementations("llama", "bug_no_final_norm")
    rows = []
    for dtype in llama.TOLERANCES:
        worst = dict.fromkeys([*impls, "own stack"], 0.0)
        for _ in range(cases):
            case = llama.config_case(
                rng.randrange(2**32), rng.randint(8, 96), rng.randint(1, 4), rng.choice([1, 2, 4]),
                rng.choice([2, 4, 8]), rng.randint(1, 3), rng.random() < 0.5,
                rng.choice([10000.0, 500000.0]), rng.randint(1, 2), rng.randint(3, 8),
            )  # fmt: skip
            case = llama.in_dtype(case, dtype)
            expected = llama.oracle(case).double()
            for name, impl in impls.items():  # as graded: every other part is the reference
                actual = llama.probe_model(impl, case)["logits"].double()
                worst[name] = max(worst[name], (actual - expected).abs().max().item())
            own = impls["solution"].Llama(llama.llama_config(case["config"])).to(dtype)
            own.load_state_dict({k: v.to(dtype) for k, v in case["state_dict"].items()})
            with torch.no_grad():
                error = (own(case["input_ids"]).double() - expected).abs().max().item()
            worst["own stack"] = max(worst["own stack"], error)
        rows.append((f"Llama logits {dtype}, max abs error", worst))
    return [*impls, "own stack"], rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=500)
    args = parser.parse_args()
    console = Console(width=160)
    for measure in (rmsnorm_rows, attention_rows, llama_rows):
        names, rows = measure(args.cases, random.Random(0))
        table = Table("quantity", *names, title=f"worst of {args.cases} cases each")
        for label, worst in rows:
            table.add_row(label, *(f"{worst[name]:.3g}" for name in names))
        console.print(table)


if __name__ == "__main__":
    main()
