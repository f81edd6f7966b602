"""Chapter 1's probes: build the learner's `RMSNorm` from a case and run it."""

from __future__ import annotations

import torch

from grader.chapters import one_line
from grader.registry import Case, CheckFailed, Output

WEIGHT_PARAMETER = "Store the gain as self.weight = nn.Parameter(torch.ones(hidden_size))."


def build(impl, case: Case) -> torch.nn.Module:
    """The learner's RMSNorm with the case's size, eps, dtype and weight."""
    norm = impl.RMSNorm(case["x"].shape[-1], eps=case["eps"])
    norm.to(case["x"].dtype)
    try:
        norm.load_state_dict({"weight": case["weight"]})
    except RuntimeError as error:
        raise CheckFailed(
            f"a LlamaRMSNorm state_dict does not load into RMSNorm ({one_line(error, 100)}). "
            + WEIGHT_PARAMETER
        ) from None
    return norm


def probe_forward(impl, case: Case) -> Output:
    """The learner's output on the case."""
    norm = build(impl, case)
    with torch.no_grad():
        return {"y": norm(case["x"])}


def probe_init(impl, case: Case) -> Output:
    """What a fresh RMSNorm holds, and whether a LlamaRMSNorm state_dict loads into it."""
    norm = impl.RMSNorm(case["hidden_size"], eps=case["eps"])
    weight = getattr(norm, "weight", None)
    output = {
        "weight": weight.detach().clone() if isinstance(weight, torch.Tensor) else None,
        "is_parameter": isinstance(weight, torch.nn.Parameter),
        "state_dict_keys": sorted(norm.state_dict()),
        "load_error": None,
    }
    try:
        norm.load_state_dict(case["state_dict"])
    except RuntimeError as error:
        output["load_error"] = one_line(error)
    return output


def probe_zero(impl, case: Case) -> Output:
    """The learner's output on zeros, and on the case's non-zero input."""
    norm = build(impl, case)
    with torch.no_grad():
        return {"y": norm(torch.zeros_like(case["x"])), "y_check": norm(case["x"])}


def probe_scaled(impl, case: Case) -> Output:
    """The learner's output on x and on c * x."""
    norm = build(impl, case)
    with torch.no_grad():
        return {"y": norm(case["x"]), "y_scaled": norm(case["c"] * case["x"])}


def probe_weight(impl, case: Case) -> Output:
    """Output with the case's weight and with ones, and the gradient that reaches the weight."""
    norm = build(impl, case)
    y = norm(case["x"].clone().requires_grad_())  # so that backward works even if weight is unused
    (y * case["upstream"]).sum().backward()
    grad = getattr(norm.weight, "grad", None)
    with torch.no_grad():
        norm.weight.fill_(1.0)
        y_unit = norm(case["x"])
    return {"y": y, "y_unit": y_unit, "grad": grad}
