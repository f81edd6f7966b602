"""Chapter 2's probes: the learner's RoPE, GQA and attention module on a case.

Where an item grades one function while the learner's code calls another of the chapter
(apply_rope calls rotate_half, the module calls all five), the other is lent as a table of
HF's results on the inputs the learner's code is expected to pass (`grader.probes.lending`),
computed by the check: `case[LENT]`, by function name.
"""

from __future__ import annotations

import torch

from grader.chapters import one_line
from grader.probes.lending import LENT, lent
from grader.registry import Case, CheckFailed, Output

PROJECTIONS = (
    "Name the projections q_proj, k_proj, v_proj, o_proj, bias-free, with "
    "k_proj and v_proj of num_kv_heads * head_dim outputs."
)


# The functions' signatures, as the exercise states them: a call is looked up in a lent table
# with its arguments bound to these, defaults included.
def rotate_half(x): ...


def rope_cos_sin(position_ids, head_dim, theta=10000.0): ...


def apply_rope(q, k, cos, sin): ...


def repeat_kv(x, n_rep): ...


def scaled_dot_product_attention(q, k, v, is_causal=True, attention_mask=None): ...


SIGNATURES = {
    f.__name__: f
    for f in (rotate_half, rope_cos_sin, apply_rope, repeat_kv, scaled_dot_product_attention)
}
FUNCTIONS = tuple(SIGNATURES)  # all that the module item lends


def lent_functions(impl, case: Case, names: tuple[str, ...]) -> dict:
    """Stand-ins for these functions, from the case's tables."""
    return {name: lent(impl, name, SIGNATURES[name], case[LENT].get(name, ())) for name in names}


def probe_rotate_half(impl, case: Case) -> Output:
    return {"y": impl.rotate_half(case["x"])}


def probe_rope_cos_sin(impl, case: Case) -> Output:
    cos, sin = impl.rope_cos_sin(case["position_ids"], case["head_dim"], case["theta"])
    return {"cos": cos, "sin": sin}


def probe_apply_rope(impl, case: Case) -> Output:
    with impl.substituted(lent_functions(impl, case, ("rotate_half",))):
        q, k = impl.apply_rope(case["q"], case["k"], case["cos"], case["sin"])
    return {"q": q, "k": k}


def probe_rope_properties(impl, case: Case) -> Output:
    q, k, positions, dim = case["q"], case["k"], case["positions"], case["q"].shape[-1]

    def rotated(position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cos, sin = impl.rope_cos_sin(position_ids, dim, case["theta"])
        return impl.apply_rope(q, k, cos, sin)

    with impl.substituted(lent_functions(impl, case, ("rotate_half",))):  # graded on its own
        q1, k1 = rotated(positions)
        q2, k2 = rotated(positions + case["shift"])
        q0, _ = rotated(torch.zeros_like(positions))
    return {"q1": q1, "k1": k1, "q2": q2, "k2": k2, "q0": q0}


def probe_repeat_kv(impl, case: Case) -> Output:
    return {"y": impl.repeat_kv(case["x"], case["n_rep"])}


def probe_sdpa(impl, case: Case) -> Output:
    padding = {"attention_mask": case["attention_mask"]} if "attention_mask" in case else {}
    with impl.substituted(lent_functions(impl, case, ("repeat_kv",))):
        out = impl.scaled_dot_product_attention(
            case["q"], case["k"], case["v"], case["is_causal"], **padding
        )
    return {"out": out}


def probe_sdpa_properties(impl, case: Case) -> Output:
    q, k, v, n_rep = case["q"], case["k"], case["v"], case["q"].shape[1] // case["k"].shape[1]
    with impl.substituted(lent_functions(impl, case, ("repeat_kv",))):
        sdpa = impl.scaled_dot_product_attention
        return {
            "weights": sdpa(q, k, case["one_hot"], True),
            "out": sdpa(q, k, v, True),
            "out_future_changed": sdpa(q, case["k2"], case["v2"], True),
            "out_heads_expanded": sdpa(
                q, k.repeat_interleave(n_rep, 1), v.repeat_interleave(n_rep, 1), True
            ),
        }


def build_attention(cls, case: Case) -> torch.nn.Module:
    """The class built with the case's shapes, cast to its dtype, loaded with its weights."""
    module = cls(
        case["hidden_size"], case["num_heads"], case["num_kv_heads"], rope_theta=case["rope_theta"]
    )
    module.to(case["x"].dtype)
    try:
        module.load_state_dict(case["state_dict"])
    except RuntimeError as error:
        raise CheckFailed(
            f"a LlamaAttention state_dict does not load into Attention ({one_line(error, 120)}). "
            + PROJECTIONS
        ) from None
    return module


def call_attention(module: torch.nn.Module, case: Case) -> torch.Tensor:
    """The module on the case's input, with the position ids and mask the case has, by keyword."""
    given = {name: case[name] for name in ("position_ids", "attention_mask") if name in case}
    with torch.no_grad():
        return module(case["x"], **given)


def probe_module(impl, case: Case) -> Output:
    """The learner's Attention, with HF's results of the chapter's functions lent."""
    with impl.substituted(lent_functions(impl, case, FUNCTIONS)):
        return {"y": call_attention(build_attention(impl.Attention, case), case)}


def probe_inv_freq(impl, case: Case) -> Output:
    return {"inv_freq": impl.inv_freq(case["head_dim"], case["rope_parameters"])}


def probe_permute(impl, case: Case) -> Output:
    return {
        "q_proj": impl.permute(case["wq"], case["num_heads"]),
        "k_proj": impl.permute(case["wk"], case["num_kv_heads"]),
    }
