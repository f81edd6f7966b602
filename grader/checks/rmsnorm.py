"""Chapter 1, RMSNorm: the learner's `RMSNorm` against transformers' `LlamaRMSNorm`.

Inputs are drawn from seeds, so that a case is a handful of plain values until it is built;
the learner's class is only ever constructed and called inside the probes.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from hypothesis import strategies as st

from grader.compare import (
    Tolerance,
    describe,
    expect_close,
    expect_like,
    first_match,
    is_close,
    per_case,
)
from grader.probes.rmsnorm import (
    WEIGHT_PARAMETER,
    probe_forward,
    probe_init,
    probe_scaled,
    probe_weight,
    probe_zero,
)
from grader.registry import Case, CheckFailed, Item, Output, register

CHAPTER = "rmsnorm"

HINTS = {
    "eps_inside_sqrt": "Is eps inside the square root? rsqrt(mean(x²) + eps), "
    "not x / (sqrt(mean(x²)) + eps).",
    "eps_missing": "Did you leave out eps? Add it to the mean of squares before the square root.",
    "last_dim": "Compute the mean of squares over the last dimension only: mean(-1, keepdim=True).",
    "mean_not_sum": "Divide by the hidden size: the mean of the squares, not their sum.",
    "sqrt": "Take the square root of the mean of squares (rsqrt), not just its inverse.",
    "no_centering": "Don't subtract the mean: RMSNorm only rescales, unlike LayerNorm.",
    "weight_used": "Multiply the normalised vector by self.weight.",
    "weight_parameter": WEIGHT_PARAMETER,
    "upcast": "Upcast to float32 before squaring: x² overflows float16 above about 256.",
    "cast_back": "Cast back to the input dtype before multiplying by the weight: "
    "hidden_states.to(input_dtype).",
    "keepdim": "Keep the shape: mean(-1, keepdim=True) broadcasts against the input.",
    "formula": "Compare your forward with x * rsqrt(mean(x², -1) + eps) * weight, in float32.",
}

# From benchmarks/tolerances.py: three correct implementations written differently (1/sqrt
# with the weight applied in float32, F.rms_norm, a float64 vector norm) against
# LlamaRMSNorm, 2000 random cases per dtype. float32: every error is within atol 1e-6 (no
# rtol needed; we allow 1e-5, about 80 ulp, for other CPUs' reduction orders). bfloat16 and
# float16: one rounding step of the final multiply, up to 2^-7 = 7.8e-3 and 2^-10 = 9.8e-4
# relative (measured 7.81e-3 and 9.72e-4). We allow two steps. A missing float32 upcast
# needs 1.6e-2 in bfloat16 and overflows in float16: the float16 item catches it, not a
# tolerance tuned against it.
TOLERANCES = {
    torch.float32: Tolerance(rtol=1e-5, atol=1e-6),
    torch.bfloat16: Tolerance(rtol=2 * 2**-7, atol=1e-5),
    torch.float16: Tolerance(rtol=2 * 2**-10, atol=1e-5),
}
HALF = (torch.bfloat16, torch.float16)
EPS = (1e-6, 1e-5, 1e-3, 1e-2)


# ---- inputs ---------------------------------------------------------------------------------


def forward_case(seed: int, shape: tuple[int, ...], scale: float, eps: float, dtype) -> Case:
    """Input `x` (standard normal times `scale`), a random gain `weight`, and `eps`."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g) * scale
    limit = 0.9 * torch.finfo(dtype).max  # float16 inputs up to ~59000, still finite
    x = x.clamp(-limit, limit).to(dtype)
    weight = (1 + 0.5 * torch.randn(shape[-1], generator=g)).to(dtype)
    upstream = torch.randn(shape, generator=g).to(dtype)  # dL/dy for the gradient item
    return {"x": x, "weight": weight, "eps": eps, "upstream": upstream}


shapes = st.builds(
    lambda leading, hidden: (*leading, hidden),
    st.lists(st.integers(1, 4), max_size=3),
    st.integers(1, 64),
)


def forward_cases(dtypes, log10_scale=(-3.0, 3.0)):
    """Cases over shapes, magnitudes (10^-3 to 10^3 by default), eps and dtypes."""
    return st.builds(
        forward_case,
        seed=st.integers(0, 2**32 - 1),
        shape=shapes,
        scale=st.floats(*log10_scale).map(lambda exponent: 10.0**exponent),
        eps=st.sampled_from(EPS),
        dtype=st.sampled_from(dtypes),
    )


def fixed_cases(dtypes, scales=(1.0, 1e-3, 1e2)) -> list[Case]:
    """A few hand-picked cases, run before the drawn ones (a stub fails on the first)."""
    return [
        forward_case(seed, shape, scale, eps, dtype)
        for dtype in dtypes
        for seed, (shape, scale, eps) in enumerate(
            zip([(2, 3, 16), (5, 8), (1, 64)], scales, [1e-5, 1e-2, 1e-6], strict=True)
        )
    ]


# ---- reference ------------------------------------------------------------------------------


def oracle(case: Case) -> torch.Tensor:
    """transformers' LlamaRMSNorm, built in the input's dtype, on the case."""
    norm = hf_rmsnorm(case)
    with torch.no_grad():
        return norm(case["x"])


def hf_rmsnorm(case: Case) -> torch.nn.Module:
    """A LlamaRMSNorm with the case's hidden size, eps, dtype and weight."""
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    norm = LlamaRMSNorm(case["x"].shape[-1], eps=case["eps"]).to(case["x"].dtype)
    norm.load_state_dict({"weight": case["weight"]})
    return norm


def known_mistakes(case: Case) -> Iterator[tuple[str, object]]:
    """What common wrong implementations return on this case, to name the mistake."""
    x, w, eps = case["x"].float(), case["weight"].float(), case["eps"]
    mean_square = x.pow(2).mean(-1, keepdim=True)
    yield "eps_inside_sqrt", lambda: x / (mean_square.sqrt() + eps) * w
    yield "eps_missing", lambda: x / mean_square.sqrt() * w
    yield "last_dim", lambda: x * torch.rsqrt(x.pow(2).mean() + eps) * w
    yield "mean_not_sum", lambda: x * torch.rsqrt(x.pow(2).sum(-1, keepdim=True) + eps) * w
    yield "sqrt", lambda: x / (mean_square + eps) * w
    yield "no_centering", lambda: F.layer_norm(x, x.shape[-1:], eps=eps) * w
    yield "weight_used", lambda: x * torch.rsqrt(mean_square + eps)
    low = case["x"]  # the same formula without the float32 upcast
    yield (
        "upcast",
        lambda: low * torch.rsqrt(low.pow(2).mean(-1, keepdim=True) + eps) * w.to(low.dtype),
    )


def diagnosis(case: Case, actual: torch.Tensor):
    """A function that names the likely mistake behind `actual` (called only on failure)."""

    def name_it() -> str:
        found = first_match(actual, known_mistakes(case), TOLERANCES[actual.dtype])
        return HINTS[found or "formula"]

    return name_it


def where(case: Case) -> str:
    """How a case is named in messages."""
    return f"RMSNorm output for input {describe(case['x'])} with eps={case['eps']:g}"


# ---- probes ---------------------------------------------------------------------------------


# ---- comparisons ----------------------------------------------------------------------------


def verify_init(case: Case, output: Output) -> None:
    """`weight` is an nn.Parameter of ones, and the state_dict matches LlamaRMSNorm's."""
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    hint = HINTS["weight_parameter"]
    expected = LlamaRMSNorm(case["hidden_size"], eps=case["eps"])
    if output["weight"] is None:
        raise CheckFailed(f"RMSNorm has no tensor attribute `weight`. {hint}")
    if not output["is_parameter"]:
        raise CheckFailed(f"RMSNorm.weight is a plain tensor: it would not be trained. {hint}")
    keys = sorted(expected.state_dict())
    if output["state_dict_keys"] != keys:
        raise CheckFailed(
            f"RMSNorm's state_dict has keys {output['state_dict_keys']}, LlamaRMSNorm's has "
            f"{keys}, so a checkpoint would not load. {hint}"
        )
    expect_like(output["weight"], expected.weight.detach(), "RMSNorm.weight", hint)
    if not torch.equal(output["weight"], expected.weight.detach()):
        raise CheckFailed(f"RMSNorm.weight should start as ones, like LlamaRMSNorm's. {hint}")
    if output["load_error"]:
        raise CheckFailed(f"loading a LlamaRMSNorm state_dict failed: {output['load_error']}")


def verify_forward(case: Case, output: Output) -> None:
    """Equal to LlamaRMSNorm within the dtype's tolerance."""
    expected = per_case(oracle)(case)
    actual = output["y"]
    expect_like(actual, expected, where(case), HINTS["cast_back"])
    expect_close(actual, expected, TOLERANCES[expected.dtype], where(case), diagnosis(case, actual))


def verify_dtype_shape(case: Case, output: Output) -> None:
    """The output has the input's dtype and shape, and its values are LlamaRMSNorm's.

    The values are compared too, so that no point goes to a constant or a copied input.
    """
    expected = per_case(oracle)(case)
    actual = output["y"]
    if isinstance(actual, torch.Tensor) and actual.shape != expected.shape:
        raise CheckFailed(
            f"{where(case)} has shape {tuple(actual.shape)}, expected "
            f"{tuple(expected.shape)}. {HINTS['keepdim']}"
        )
    verify_forward(case, output)


def verify_zero(case: Case, output: Output) -> None:
    """A zero input gives zeros, from a forward that is right on a non-zero input."""
    verify_forward(case, {"y": output["y_check"]})  # zeros alone would reward `return 0 * x`
    actual = output["y"]
    where_zero = where({**case, "x": torch.zeros_like(case["x"])})
    expect_like(actual, case["x"], where_zero, HINTS["cast_back"])
    if not actual.isfinite().all():
        raise CheckFailed(f"{where_zero} is NaN for a zero input. {HINTS['eps_missing']}")
    if actual.count_nonzero():
        raise CheckFailed(f"{where_zero} is not zero for a zero input. {HINTS['formula']}")


def verify_scaled(case: Case, output: Output) -> None:
    """RMSNorm(c * x) equals RMSNorm(x), and RMSNorm(x) is LlamaRMSNorm's (else zeros pass)."""
    verify_forward(case, output)
    # eps is 1e-6 and every row has a mean square of 1, so eps moves the result by < 5e-5 * c^-2.
    tolerance = Tolerance(rtol=1e-4, atol=1e-6)
    if not is_close(output["y_scaled"], output["y"], tolerance):
        raise CheckFailed(
            f"RMSNorm({case['c']:.3g} * x) differs from RMSNorm(x): RMSNorm should not depend "
            f"on the scale of its input. {HINTS['sqrt']}"
        )


def verify_weight(case: Case, output: Output) -> None:
    """The output is weight times the unit-weight output, and the gradient is LlamaRMSNorm's."""
    x = case["x"]
    verify_forward(case, output)  # zeros would scale with any weight
    if not is_close(output["y"], case["weight"] * output["y_unit"], TOLERANCES[x.dtype]):
        raise CheckFailed(
            f"RMSNorm's output does not scale with its weight. {HINTS['weight_used']}"
        )
    if output["grad"] is None:
        raise CheckFailed(f"no gradient reached RMSNorm.weight. {HINTS['weight_parameter']}")
    norm = hf_rmsnorm(case)
    (norm(x) * case["upstream"]).sum().backward()
    expect_close(
        output["grad"],
        norm.weight.grad,
        TOLERANCES[x.dtype],
        "the gradient of RMSNorm.weight",
        lambda: HINTS["formula"],
    )


# ---- the graded items -----------------------------------------------------------------------


def init_case(seed: int, hidden_size: int, eps: float) -> Case:
    """A hidden size, eps, and a LlamaRMSNorm state_dict of that size to load."""
    weight = torch.randn(hidden_size, generator=torch.Generator().manual_seed(seed))
    return {"hidden_size": hidden_size, "eps": eps, "state_dict": {"weight": weight}}


def init_cases() -> list[Case]:
    """Hidden sizes from 1 to Llama 3 8B's 4096."""
    return [init_case(seed, size, 1e-5) for seed, size in enumerate((1, 16, 4096))]


def zero_cases() -> list[Case]:
    """Inputs in every dtype: the probe runs zeros of their shape, and the inputs themselves."""
    return [
        forward_case(0, shape, 1.0, eps, dtype)
        for dtype in TOLERANCES
        for shape, eps in [((4,), 1e-6), ((2, 3, 16), 1e-5)]
    ]


def _unit_rows(seed: int, shape: tuple[int, ...]) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g)
    return x / x.pow(2).mean(-1, keepdim=True).sqrt()


def scaled_case(seed: int, shape: tuple[int, ...], c: float) -> Case:
    """Rows with a mean square of 1, and a positive factor c."""
    return {
        **forward_case(seed, shape, 1.0, 1e-6, torch.float32),
        "x": _unit_rows(seed, shape),
        "c": c,
    }


register(
    Item(
        "rmsnorm_init",
        CHAPTER,
        points=1,
        title="weight is a parameter of ones; a LlamaRMSNorm state_dict loads",
        probe=probe_init,
        verify=verify_init,
        examples=init_cases,
        strategy=st.builds(
            init_case, st.integers(0, 2**32 - 1), st.integers(1, 4096), st.sampled_from(EPS)
        ),
    ),
    Item(
        "rmsnorm_float32",
        CHAPTER,
        points=3,
        title="float32 output equals LlamaRMSNorm's",
        probe=probe_forward,
        verify=verify_forward,
        examples=lambda: fixed_cases([torch.float32]),
        strategy=forward_cases([torch.float32]),
    ),
    Item(
        "rmsnorm_half",
        CHAPTER,
        points=2,
        title="bfloat16 and float16 outputs equal LlamaRMSNorm's within rounding",
        probe=probe_forward,
        verify=verify_forward,
        examples=lambda: fixed_cases(HALF),
        strategy=forward_cases(HALF, log10_scale=(-2.0, 2.0)),
    ),
    Item(
        "rmsnorm_dtype_shape",
        CHAPTER,
        points=1,
        title="output keeps the input's dtype and shape",
        probe=probe_forward,
        verify=verify_dtype_shape,
        examples=lambda: fixed_cases(list(TOLERANCES)),
        strategy=forward_cases(list(TOLERANCES), log10_scale=(-1.0, 1.0)),
    ),
    Item(
        "rmsnorm_zero",
        CHAPTER,
        points=1,
        title="a zero input gives zeros, not NaN",
        probe=probe_zero,
        verify=verify_zero,
        examples=zero_cases,
        strategy=forward_cases(list(TOLERANCES), log10_scale=(-1.0, 1.0)),
    ),
    Item(
        "rmsnorm_fp16_large",
        CHAPTER,
        points=1,
        title="float16 inputs up to 60000 stay finite",
        probe=probe_forward,
        verify=verify_forward,
        examples=lambda: fixed_cases([torch.float16], scales=(1e3, 3e4, 300.0)),
        strategy=forward_cases([torch.float16], log10_scale=(2.5, 4.5)),
    ),
    Item(
        "rmsnorm_scale_invariant",
        CHAPTER,
        points=1,
        title="RMSNorm(c * x) equals RMSNorm(x) for c > 0",
        probe=probe_scaled,
        verify=verify_scaled,
        examples=lambda: [scaled_case(0, (3, 16), 10.0), scaled_case(1, (2, 8), 0.1)],
        strategy=st.builds(
            scaled_case,
            seed=st.integers(0, 2**32 - 1),
            shape=shapes,
            c=st.floats(-1.0, 3.0).map(lambda exponent: 10.0**exponent),
        ),
    ),
    Item(
        "rmsnorm_weight",
        CHAPTER,
        points=1,
        title="the weight scales the output and receives a gradient",
        probe=probe_weight,
        verify=verify_weight,
        examples=lambda: fixed_cases([torch.float32]),
        strategy=forward_cases([torch.float32], log10_scale=(-1.0, 1.0)),
    ),
)


def snapshot_cases() -> dict[str, Case]:
    """Fixed cases whose LlamaRMSNorm outputs are frozen in grader/snapshots/."""
    cases = fixed_cases(list(TOLERANCES)) + fixed_cases([torch.float16], scales=(1e3, 3e4, 300.0))
    return {f"case{i}_{describe(case['x']).split()[0]}": case for i, case in enumerate(cases)}
