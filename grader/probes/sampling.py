"""Chapter 6's probes: the learner's filters and sampler on a case.

Where an item lends the learner HF's filters (the sampler, greedy decoding, Meta's rule), it
lends their outputs on the inputs a sampler passes them (`grader.probes.lending`), computed by
the check: `case[LENT]`, by function name.
"""

from __future__ import annotations

import math

import torch

from grader.probes.lending import LENT, lent
from grader.registry import Case, Output

DRAWS = 20_000
BOUNDARY = torch.tensor([[math.log(2), 0.0, 0.0]])  # probabilities 0.5, 0.25, 0.25
NEG_INF = -float("inf")


# The filters' signatures, as the exercise states them: a call is looked up in a lent table
# with its arguments bound to these, defaults included.
def apply_temperature(logits, temperature): ...


def top_k_filter(logits, top_k, filter_value=NEG_INF): ...


def top_p_filter(logits, top_p, min_tokens_to_keep=1, filter_value=NEG_INF): ...


FILTERS = {f.__name__: f for f in (apply_temperature, top_k_filter, top_p_filter)}


def lent_filters(impl, case: Case, names: tuple[str, ...]) -> dict:
    """Stand-ins for these filters, from the case's tables."""
    return {name: lent(impl, name, FILTERS[name], case[LENT].get(name, ())) for name in names}


def rejections(function, logits: torch.Tensor, bad_values) -> list[str | None]:
    """For each bad value, the ValueError message the learner's function raised, or None."""
    messages = []
    for bad in bad_values:
        try:
            function(logits, bad)
            messages.append(None)
        except ValueError as error:
            messages.append(str(error) or "ValueError")
    return messages


def probe_temperature(impl, case: Case) -> Output:
    errors = rejections(impl.apply_temperature, case["logits"], (0.0, -1.0))
    return {"y": impl.apply_temperature(case["logits"], case["temperature"]), "errors": errors}


def probe_top_k(impl, case: Case) -> Output:
    errors = rejections(impl.top_k_filter, case["logits"], (0, -1))
    return {"y": impl.top_k_filter(case["logits"], case["top_k"]), "errors": errors}


def probe_top_p(impl, case: Case) -> Output:
    errors = rejections(impl.top_p_filter, case["logits"], (-0.1, 1.5))
    y = impl.top_p_filter(
        case["logits"], case["top_p"], min_tokens_to_keep=case["min_tokens_to_keep"]
    )
    return {"y": y, "errors": errors}


def probe_top_p_properties(impl, case: Case) -> Output:
    x = case["logits"]
    return {
        "low": impl.top_p_filter(x, case["top_p_low"]),
        "high": impl.top_p_filter(x, case["top_p_high"]),
        "shifted": impl.top_p_filter(x + case["shift"], case["top_p_low"]),
    }


def probe_meta(impl, case: Case) -> Output:
    """Meta's filter on the case and on a boundary, with HF's top_p_filter lent."""
    with impl.substituted(lent_filters(impl, case, ("top_p_filter",))):
        return {
            "y": impl.meta_top_p_filter(case["logits"], case["top_p"]),
            "boundary_meta": impl.meta_top_p_filter(BOUNDARY, 0.5),
        }


def probe_sample(impl, case: Case) -> Output:
    """DRAWS draws of one row, with HF's filters lent."""
    generator = torch.Generator().manual_seed(case["seed"])
    many = case["logits"].expand(DRAWS, -1).contiguous()
    with impl.substituted(lent_filters(impl, case, tuple(FILTERS))):
        ids = impl.sample_next_token(
            many, case["temperature"], case["top_k"], case["top_p"], generator=generator
        )
    vocab = case["logits"].shape[-1]
    return {
        "counts": torch.bincount(ids.reshape(-1).long(), minlength=vocab)[:vocab],
        "shape": list(ids.shape),
    }


def probe_greedy(impl, case: Case) -> Output:
    with impl.substituted(lent_filters(impl, case, ("apply_temperature",))):
        return {
            "greedy": impl.sample_next_token(case["logits"], temperature=0),
            "cold": impl.sample_next_token(
                case["logits"], temperature=0.01, generator=torch.Generator().manual_seed(0)
            ),
        }
