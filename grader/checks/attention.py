"""Chapter 2, attention: RoPE, GQA and the attention module against transformers' Llama code.

Every item grades one function: where the learner's code calls another function of the
chapter, the item lends HF's results for the calls it foresees (`lend_*` below, and
`grader.probes.lending`), and the learner's own function answers any other call.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from hypothesis import strategies as st

from grader import reference
from grader.compare import (
    Tolerance,
    describe,
    expect_close,
    expect_like,
    first_match,
    is_close,
    per_case,
)
from grader.probes.attention import (
    FUNCTIONS,
    PROJECTIONS,
    build_attention,
    call_attention,
    probe_apply_rope,
    probe_inv_freq,
    probe_module,
    probe_permute,
    probe_repeat_kv,
    probe_rope_cos_sin,
    probe_rope_properties,
    probe_rotate_half,
    probe_sdpa,
    probe_sdpa_properties,
)
from grader.probes.lending import LENT, entry
from grader.registry import Case, CheckFailed, Item, Output, register

CHAPTER = "attention"

HINTS = {
    "rotate_sign": "rotate_half maps the halves (x1, x2) to (-x2, x1): check the sign and order.",
    "split_half": "Hugging Face pairs coordinate i with i + head_dim/2 (split halves, "
    "cat(freqs, freqs)), not neighbours (interleaved, as in Meta's code).",
    "theta": "Use the theta you are given: inv_freq = 1 / theta ** (arange(0, head_dim, 2) / "
    "head_dim).",
    "exponent": "One frequency per pair: the exponents are arange(0, head_dim, 2) / head_dim.",
    "cos_sin_swapped": "q * cos + rotate_half(q) * sin: cos multiplies q, sin its rotated half.",
    "rotation": "RoPE must rotate each pair: use the split-half rotate_half with cos and sin "
    "of the same angles, and at position 0 (cos 1, sin 0) return q unchanged.",
    "repeat_interleave": "Repeat each key/value head in place (repeat_interleave on dim 1: "
    "k0, k0, k1, k1), not the whole block (repeat: k0, k1, k0, k1).",
    "causal": "Apply the causal mask: position i may only see positions 0..i.",
    "mask_diagonal": "The causal mask is off by one: position i sees itself and earlier "
    "positions, never i + 1.",
    "scale": "Scale the scores by 1 / sqrt(head_dim) before the softmax.",
    "scale_hidden": "Scale the scores by 1 / sqrt(head_dim), the size of one head, not by the "
    "hidden size (num_heads * head_dim).",
    "padding": "Apply attention_mask too: no query may see a key whose mask is 0 (padding), on "
    "top of the causal mask.",
    "positions": "Use the position_ids you are given for cos and sin (0..seq-1 only when they "
    "are None): a gap between positions changes the output.",
    "softmax_axis": "Take the softmax over the keys, the last axis (dim=-1), so that each "
    "query's weights sum to 1.",
    "weights_dtype": "Return the queries' dtype: compute the softmax in float32, then cast.",
    "module": "Project, split heads (view, then transpose(1, 2)), rotate q and k, attend "
    "causally, merge heads (transpose back, reshape) and apply o_proj.",
    "projections": PROJECTIONS,
    "llama3": "Keep fast pairs (wavelen < original / high_freq_factor), divide slow pairs "
    "(wavelen > original / low_freq_factor) by factor, interpolate in between.",
    "permute": "View as (n_heads, head_dim // 2, 2, in), swap axes 1 and 2, reshape back; "
    "pass num_kv_heads for wk.",
}

# From benchmarks/tolerances.py: the largest absolute error of the attention module against
# LlamaAttention over 300 random layers per dtype, for the solution and the correct zoo
# entries (torch's fused attention; float64 angles with the rotation written by halves):
# float32 4.2e-6, bfloat16 1.6e-2 (two ulps near 2), float16 2.0e-3. Outputs are O(1), so
# the atol carries the tolerance, with a margin of 2.5x to 5x; the bugs sit above 1.
TOLERANCES = {
    torch.float32: Tolerance(rtol=1e-5, atol=2e-5),
    torch.bfloat16: Tolerance(rtol=2e-2, atol=4e-2),
    torch.float16: Tolerance(rtol=2e-3, atol=5e-3),
}
EXACT = Tolerance(rtol=0.0, atol=0.0)
# cos and sin of angles up to 4096 rad: one float32 ulp of the angle is 4.9e-4 there, and a
# correct implementation may round inv_freq or the product differently (measured: 2.2e-4
# for angles computed in float64).
ANGLES = Tolerance(rtol=0.0, atol=2e-3)
THETAS = (10000.0, 500000.0, 1000000.0)


def randn(g: torch.Generator, *shape: int, dtype=torch.float32) -> torch.Tensor:
    """Standard normal values from the case's generator, in dtype."""
    return torch.randn(shape, generator=g).to(dtype)


def left_padding(g: torch.Generator, batch: int, length: int) -> torch.Tensor:
    """HF's 2-D attention mask (batch, length) for left-padded rows, 1 = real token.

    The first row has at least one pad and the last row none, where the shape allows it.
    """
    pads = torch.randint(0, length, (batch,), generator=g)
    pads[0] = max(int(pads[0]), min(1, length - 1))
    if batch > 1:
        pads[-1] = 0
    return (torch.arange(length) >= pads[:, None]).long()


def gapped_positions(g: torch.Generator, batch: int, seq: int) -> torch.Tensor:
    """Increasing position ids (batch, seq) with random gaps: what a shift alone cannot mimic."""
    steps = torch.randint(1, 5, (batch, seq), generator=g)
    steps[:, 0] = 0
    if seq > 1:
        steps[:, 1] = 3  # at least one gap
    return steps.cumsum(-1) + torch.randint(0, 64, (batch, 1), generator=g)


def first_difference(
    actual: torch.Tensor, expected: torch.Tensor, tol: Tolerance, axes: tuple[str, ...]
) -> str:
    """Where the first element outside the tolerance sits, named by `axes`, and its two values."""
    a, e = actual.double(), expected.double()
    wrong = ((a - e).abs() > tol.atol + tol.rtol * e.abs()) | (a.isnan() != e.isnan())
    index = wrong.nonzero()[0].tolist() if wrong.any() else [0] * a.dim()
    place = ", ".join(f"{name} {i}" for name, i in zip(axes, index, strict=False))
    return (
        f"No known mistake reproduces this output; the first difference is at {place}: "
        f"{a[tuple(index)].item():.4g} instead of {e[tuple(index)].item():.4g}."
    )


# ---- RoPE -----------------------------------------------------------------------------------


def rotate_case(seed: int, shape: tuple[int, ...], half: int) -> Case:
    """A tensor whose last dimension is even."""
    return {"x": randn(torch.Generator().manual_seed(seed), *shape, 2 * half)}


def verify_rotate_half(case: Case, output: Output) -> None:
    x = case["x"]
    x1, x2 = x.chunk(2, dim=-1)
    mistakes = [
        ("rotate_sign", lambda: torch.cat((x2, -x1), -1)),
        ("rotate_sign", lambda: torch.cat((-x1, x2), -1)),
        ("split_half", lambda: torch.stack((-x[..., 1::2], x[..., ::2]), -1).flatten(-2)),
    ]
    expect_close(
        output["y"],
        reference.rotate_half(x),
        EXACT,
        f"rotate_half of {describe(x)}",
        lambda: HINTS[first_match(output["y"], mistakes, EXACT) or "rotate_sign"],
    )


def positions_case(seed: int, batch: int, seq: int, half: int, theta: float, start: int) -> Case:
    """Position ids (batch, seq) starting anywhere up to 4096, head_dim, theta."""
    g = torch.Generator().manual_seed(seed)
    offsets = torch.randint(0, start + 1, (batch, 1), generator=g)
    return {"position_ids": torch.arange(seq) + offsets, "head_dim": 2 * half, "theta": theta}


positions_cases = st.builds(
    positions_case,
    seed=st.integers(0, 2**32 - 1),
    batch=st.integers(1, 3),
    seq=st.integers(1, 16),
    half=st.integers(1, 64),
    theta=st.sampled_from(THETAS),
    start=st.integers(0, 4096),
)


def cos_sin_variants(case: Case) -> Iterator[tuple[str, object]]:
    """(cos, sin) concatenated, as common mistakes compute them."""
    position = case["position_ids"][..., None].double()
    dim, theta = case["head_dim"], case["theta"]

    def angles(inv_freq: torch.Tensor, layout: str) -> torch.Tensor:
        freqs = position * inv_freq
        doubled = (
            freqs.repeat_interleave(2, -1)
            if layout == "interleaved"
            else torch.cat((freqs, freqs), -1)
        )
        return torch.cat((doubled.cos(), doubled.sin()), -1).float()

    def default(base: float) -> torch.Tensor:
        return 1.0 / base ** (torch.arange(0, dim, 2).double() / dim)

    yield "theta", lambda: angles(default(10000.0 if theta != 10000.0 else 500000.0), "split")
    yield "split_half", lambda: angles(default(theta), "interleaved")
    yield (
        "exponent",
        lambda: angles(1.0 / theta ** (torch.arange(dim // 2).double() / dim), "split"),
    )


def verify_rope_cos_sin(case: Case, output: Output) -> None:
    cos, sin = reference.rope_cos_sin(case["position_ids"], case["head_dim"], case["theta"])
    what = f"rope_cos_sin for head_dim={case['head_dim']}, theta={case['theta']:g}"
    for name, actual, expected in (("cos", output["cos"], cos), ("sin", output["sin"], sin)):
        expect_like(actual, expected, f"{what}: {name}", "Return (batch, seq, head_dim) float32.")
    both = torch.cat((output["cos"], output["sin"]), -1)
    expect_close(
        both,
        torch.cat((cos, sin), -1),
        ANGLES,
        f"{what}: cos and sin",
        lambda: HINTS[first_match(both, cos_sin_variants(case), ANGLES) or "rotation"],
    )


def qk_case(seed: int, batch: int, heads: int, groups: int, seq: int, half: int, dtype) -> Case:
    """q (B, H, S, D), k (B, KV, S, D) and HF's cos and sin for positions 0..S-1, in dtype."""
    g = torch.Generator().manual_seed(seed)
    kv_heads, dim = heads, 2 * half
    positions = torch.arange(seq).expand(batch, seq)
    cos, sin = reference.rope_cos_sin(positions, dim, THETAS[seed % len(THETAS)])
    return {
        "q": randn(g, batch, heads * groups, seq, dim, dtype=dtype),
        "k": randn(g, batch, kv_heads, seq, dim, dtype=dtype),
        "cos": cos.to(dtype),
        "sin": sin.to(dtype),
    }


def qk_cases(dtypes) -> st.SearchStrategy:
    return st.builds(
        qk_case,
        seed=st.integers(0, 2**32 - 1),
        batch=st.integers(1, 2),
        heads=st.integers(1, 3),
        groups=st.integers(1, 3),
        seq=st.integers(1, 8),
        half=st.integers(1, 16),
        dtype=st.sampled_from(dtypes),
    )


def verify_apply_rope(case: Case, output: Output) -> None:
    q, k, cos, sin = case["q"], case["k"], case["cos"], case["sin"]
    expected_q, expected_k = reference.apply_rope(q, k, cos, sin)
    tolerance = TOLERANCES[q.dtype]
    c, s = cos.unsqueeze(1), sin.unsqueeze(1)
    mistakes = [
        ("cos_sin_swapped", lambda: q * s + reference.rotate_half(q) * c),
        ("rotate_sign", lambda: q * c - reference.rotate_half(q) * s),
    ]
    for name, actual, expected in (("q", output["q"], expected_q), ("k", output["k"], expected_k)):
        expect_close(
            actual,
            expected,
            tolerance,
            f"apply_rope's rotated {name} ({describe(expected)})",
            lambda actual=actual: HINTS[first_match(actual, mistakes, tolerance) or "rotation"],
        )


def rope_property_case(
    seed: int, seq: int, half: int, start: int, shift: int, theta: float
) -> Case:
    g = torch.Generator().manual_seed(seed)
    dim = 2 * half
    return {
        "q": randn(g, 1, 1, seq, dim),
        "k": randn(g, 1, 1, seq, dim),
        "positions": torch.arange(seq).unsqueeze(0) + start,
        "shift": shift,
        "theta": theta,
    }


def verify_rope_properties(case: Case, output: Output) -> None:
    q = case["q"]
    for name in ("q1", "k1", "q2", "k2", "q0"):
        expect_like(output[name], q, f"apply_rope's {name[0]}", HINTS["rotation"])
    # Against HF first: leaving q and k unrotated would have every property below.
    positions = case["positions"] + case["shift"]
    cos, sin = reference.rope_cos_sin(positions, q.shape[-1], case["theta"])
    expected, _ = reference.apply_rope(q, case["k"], cos, sin)
    expect_close(
        output["q2"],
        expected,
        Tolerance(rtol=0.0, atol=1e-2),  # angles up to 1000 rad, rounded differently (ANGLES)
        f"apply_rope(q, k, *rope_cos_sin(positions {positions.tolist()}, ...))",
        lambda: first_difference(
            output["q2"], expected, Tolerance(0.0, 1e-2), ("batch", "head", "position", "dim")
        ),
    )
    if not is_close(output["q1"].norm(dim=-1), q.norm(dim=-1), Tolerance(1e-4, 1e-5)):
        raise CheckFailed(f"RoPE changed the length of a query vector. {HINTS['rotation']}")
    if not is_close(output["q0"], q, Tolerance(1e-6, 1e-6)):
        raise CheckFailed(f"RoPE at position 0 changed the query. {HINTS['rotation']}")
    scores = output["q1"] @ output["k1"].transpose(-2, -1)
    shifted = output["q2"] @ output["k2"].transpose(-2, -1)
    scale = q.shape[-1] ** 0.5  # scores grow like sqrt(head_dim)
    if not is_close(shifted, scores, Tolerance(1e-3, 2e-3 * scale)):
        raise CheckFailed(
            f"q·k changed when both positions moved by {case['shift']}: it must depend only "
            f"on their distance. {HINTS['rotation']}"
        )


# ---- grouped-query attention ----------------------------------------------------------------


def kv_case(seed: int, batch: int, kv_heads: int, n_rep: int, seq: int, dim: int) -> Case:
    g = torch.Generator().manual_seed(seed)
    return {"x": randn(g, batch, kv_heads, seq, dim), "n_rep": n_rep}


def verify_repeat_kv(case: Case, output: Output) -> None:
    x, n_rep = case["x"], case["n_rep"]
    mistakes = [("repeat_interleave", lambda: x.repeat(1, n_rep, 1, 1))]
    expect_close(
        output["y"],
        reference.repeat_kv(x, n_rep),
        EXACT,
        f"repeat_kv of {describe(x)} with n_rep={n_rep}",
        lambda: HINTS[first_match(output["y"], mistakes, EXACT) or "repeat_interleave"],
    )


def attention_case(
    seed: int,
    batch: int,
    kv_heads: int,
    n_rep: int,
    seq: int,
    extra_keys: int,
    dim: int,
    causal: bool,
    padded: bool = False,
) -> Case:
    """q (B, H, S, D), k and v (B, KV, S_k, D), S_k = S when causal; maybe a padding mask."""
    g = torch.Generator().manual_seed(seed)
    keys = seq if causal else seq + extra_keys
    case = {
        "q": randn(g, batch, kv_heads * n_rep, seq, dim) * 2,
        "k": randn(g, batch, kv_heads, keys, dim) * 2,
        "v": randn(g, batch, kv_heads, keys, dim),
        "is_causal": causal,
    }
    if padded:
        case["attention_mask"] = left_padding(g, batch, keys)
    return case


def defined_only(output: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """The output with zeros for the queries that HF leaves undefined (they see only padding)."""
    return torch.where(keep, output, torch.zeros((), dtype=output.dtype))


def defined_queries(case: Case) -> torch.Tensor:
    """(B, S): the queries that see at least one real key; HF's output elsewhere is arbitrary."""
    q, k = case["q"], case["k"]
    seq_len, key_len = q.shape[-2], k.shape[-2]
    visible = torch.ones(seq_len, key_len, dtype=torch.bool)
    if case["is_causal"]:
        visible = visible.tril(key_len - seq_len)
    mask = case.get("attention_mask", torch.ones(q.shape[0], key_len, dtype=torch.long))
    return (visible & mask[:, None, :].bool()).any(-1)


attention_cases = st.builds(
    attention_case,
    seed=st.integers(0, 2**32 - 1),
    batch=st.integers(1, 2),
    kv_heads=st.integers(1, 3),
    n_rep=st.integers(1, 3),
    seq=st.integers(2, 10),
    extra_keys=st.integers(0, 4),
    dim=st.integers(1, 16),
    causal=st.booleans(),
    padded=st.booleans(),
)


def attention_variant(
    q,
    k,
    v,
    causal=True,
    diagonal=0,
    scale=None,
    softmax_dim=-1,
    expand="interleave",
    mask=None,
) -> torch.Tensor:
    """Attention in float64 with one knob turned: how the usual mistakes compute it."""
    q, k, v = q.double(), k.double(), v.double()
    n_rep = q.shape[1] // k.shape[1]
    grow = (
        (lambda t: t.repeat_interleave(n_rep, 1))
        if expand == "interleave"
        else (lambda t: t.repeat(1, n_rep, 1, 1))
    )
    k, v = grow(k), grow(v)
    scores = q @ k.transpose(-2, -1) * (q.shape[-1] ** -0.5 if scale is None else scale)
    if causal:
        seq_len, key_len = q.shape[-2], k.shape[-2]
        visible = torch.ones(seq_len, key_len, dtype=torch.bool).tril(key_len - seq_len + diagonal)
        scores = scores.masked_fill(~visible, float("-inf"))
    if mask is not None:
        scores = scores.masked_fill(~mask[:, None, None, :].bool(), float("-inf"))
    return torch.softmax(scores, dim=softmax_dim).nan_to_num() @ v


def attention_mistakes(case: Case) -> Iterator[tuple[str, object]]:
    """What the usual mistakes return on the case, on the queries HF's output defines."""
    q, k, v, causal = case["q"], case["k"], case["v"], case["is_causal"]
    mask, dim = case.get("attention_mask"), q.shape[-1]

    def variant(**knobs) -> object:
        return lambda: attention_variant(q, k, v, **{"causal": causal, "mask": mask, **knobs})

    if causal:
        yield "causal", variant(causal=False)
        yield "mask_diagonal", variant(diagonal=1)
        yield "mask_diagonal", variant(diagonal=-1)
    if mask is not None:
        yield "padding", variant(mask=None)
    yield "scale", variant(scale=1.0)
    yield "scale", variant(scale=1.0 / dim)
    yield "scale_hidden", variant(scale=(q.shape[1] * dim) ** -0.5)
    yield "scale_hidden", variant(scale=1.0 / (q.shape[1] * dim))
    yield "softmax_axis", variant(softmax_dim=-2)
    yield "repeat_interleave", variant(expand="repeat")


def verify_sdpa(case: Case, output: Output) -> None:
    q, k, v = case["q"], case["k"], case["v"]
    mask = case.get("attention_mask")
    expected = reference.scaled_dot_product_attention(q, k, v, case["is_causal"], mask)
    padded = "" if mask is None else f", attention_mask {mask.tolist()}"
    what = (
        f"scaled_dot_product_attention with q {describe(q)}, k {describe(k)}, "
        f"is_causal={case['is_causal']}{padded}"
    )
    tolerance = TOLERANCES[q.dtype]
    actual = output["out"]
    expect_like(actual, expected, what, HINTS["weights_dtype"])
    keep = defined_queries(case)[:, None, :, None]  # (B, 1, S, 1)
    actual, expected = defined_only(actual, keep), defined_only(expected, keep)

    def diagnose() -> str:
        mistakes = (
            (hint, lambda wrong=wrong: defined_only(wrong(), keep))
            for hint, wrong in attention_mistakes(case)
        )
        found = first_match(actual, mistakes, tolerance)
        if found:
            return HINTS[found]
        return first_difference(actual, expected, tolerance, ("batch", "head", "query", "dim"))

    expect_close(actual, expected, tolerance, what, diagnose)


def property_case(seed: int, batch: int, kv_heads: int, n_rep: int, seq: int, cut: int) -> Case:
    """Random q and k, one-hot values (so the output rows are the attention weights)."""
    case = attention_case(seed, batch, kv_heads, n_rep, seq, 0, 16, causal=True)
    g = torch.Generator().manual_seed(seed + 1)
    one_hot = torch.eye(seq, 16).expand(batch, kv_heads, seq, 16)
    cut = min(cut, seq - 1)  # positions after `cut` get new keys and values
    k2, v2 = case["k"].clone(), case["v"].clone()
    k2[..., cut + 1 :, :] = randn(g, *k2[..., cut + 1 :, :].shape)
    v2[..., cut + 1 :, :] = randn(g, *v2[..., cut + 1 :, :].shape)
    return {**case, "one_hot": one_hot.contiguous(), "k2": k2, "v2": v2, "cut": cut}


def verify_sdpa_properties(case: Case, output: Output) -> None:
    q, cut = case["q"], case["cut"]
    seq = q.shape[-2]
    for name in ("weights", "out", "out_future_changed", "out_heads_expanded"):
        expect_like(output[name], q[..., :16] if name == "weights" else q, f"attention {name}")
    verify_sdpa(case, output)  # else a copy of v (n_rep = 1) would have every property
    weights = output["weights"][..., :seq]
    if not is_close(weights.sum(-1), torch.ones(weights.shape[:-1]), Tolerance(0, 1e-5)):
        raise CheckFailed(f"a query's attention weights do not sum to 1. {HINTS['softmax_axis']}")
    if weights.triu(1).abs().max() > 0:
        raise CheckFailed(f"a query attends to a later position. {HINTS['causal']}")
    earlier = slice(0, cut + 1)
    tolerance = TOLERANCES[torch.float32]  # two code paths of the same function may round apart
    if not is_close(
        output["out_future_changed"][..., earlier, :], output["out"][..., earlier, :], tolerance
    ):
        raise CheckFailed(
            f"changing keys and values after position {cut} changed the output at or before "
            f"it. {HINTS['causal']}"
        )
    if not is_close(output["out"], output["out_heads_expanded"], tolerance):
        raise CheckFailed(
            "grouped-query attention differs from multi-head attention on the expanded heads. "
            + HINTS["repeat_interleave"]
        )


# ---- the module -----------------------------------------------------------------------------


def module_case(
    seed: int,
    batch: int,
    heads: int,
    kv_divisor: int,
    head_dim: int,
    seq: int,
    theta: float,
    positions: str,
    dtype,
) -> Case:
    """One attention layer's shapes and random weights, an input, and its positions.

    positions: "default" (none given), "gaps" (increasing ids with gaps), or "padded" (a
    left-padded batch: HF's attention mask and the position ids generate builds from it).
    """
    g = torch.Generator().manual_seed(seed)
    kv_heads = max(1, heads // kv_divisor) if heads % kv_divisor == 0 else heads
    hidden = heads * head_dim

    def weight(rows: int, columns: int) -> torch.Tensor:
        return randn(g, rows, columns, dtype=dtype) / math.sqrt(columns)

    case = {
        "hidden_size": hidden,
        "num_heads": heads,
        "num_kv_heads": kv_heads,
        "rope_theta": theta,
        "x": randn(g, batch, seq, hidden, dtype=dtype),
        "state_dict": {
            "q_proj.weight": weight(hidden, hidden),
            "k_proj.weight": weight(kv_heads * head_dim, hidden),
            "v_proj.weight": weight(kv_heads * head_dim, hidden),
            "o_proj.weight": weight(hidden, hidden),
        },
    }
    if positions == "gaps":
        case["position_ids"] = gapped_positions(g, batch, seq)
    elif positions == "padded":
        mask = left_padding(g, batch, seq)
        case["attention_mask"] = mask
        case["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0)
    return case


POSITIONS = ("default", "gaps", "padded")


def module_cases(dtypes) -> st.SearchStrategy:
    return st.builds(
        module_case,
        seed=st.integers(0, 2**32 - 1),
        batch=st.integers(1, 2),
        heads=st.integers(1, 6),
        kv_divisor=st.sampled_from([1, 2, 3]),
        head_dim=st.sampled_from([2, 4, 8, 16]),
        seq=st.integers(1, 8),
        theta=st.sampled_from(THETAS),
        positions=st.sampled_from(POSITIONS),
        dtype=st.sampled_from(dtypes),
    )


def real_tokens(case: Case, output: torch.Tensor) -> torch.Tensor:
    """The output with zeros at padding positions, where HF's output is not defined."""
    if "attention_mask" not in case:
        return output
    keep = case["attention_mask"].bool()[..., None]
    return torch.where(keep, output, torch.zeros((), dtype=output.dtype))


def module_mistakes(case: Case) -> Iterator[tuple[str, object]]:
    """The reference module run as the usual mistakes run it: what each one outputs."""

    def run(**changes) -> object:
        changed = {key: value for key, value in {**case, **changes}.items() if value is not None}
        return lambda: real_tokens(case, oracle(changed))

    yield "theta", run(rope_theta=10000.0 if case["rope_theta"] != 10000.0 else 500000.0)
    if "position_ids" in case:
        yield "positions", run(position_ids=None)
    if "attention_mask" in case:
        yield "padding", run(attention_mask=None)


def verify_module(case: Case, output: Output) -> None:
    expected = per_case(oracle)(case)
    given = [name for name in ("position_ids", "attention_mask") if name in case]
    inputs = ", ".join(f"{name} {case[name].tolist()}" for name in given) or "default positions"
    what = (
        f"Attention({case['hidden_size']}, {case['num_heads']}, {case['num_kv_heads']}, "
        f"rope_theta={case['rope_theta']:g}) on {describe(case['x'])}, {inputs}"
    )
    tolerance = TOLERANCES[expected.dtype]
    actual, expected = real_tokens(case, output["y"]), real_tokens(case, expected)

    def diagnose() -> str:
        found = first_match(actual, module_mistakes(case), tolerance)
        if found:
            return HINTS[found]
        return first_difference(actual, expected, tolerance, ("batch", "position", "feature"))

    expect_close(actual, expected, tolerance, what, diagnose)


# ---- advanced: Llama 3 scaling and Meta's layout ----------------------------------------------


def llama3_case(
    half: int, theta: float, factor: float, low: float, gap: float, original: int
) -> Case:
    return {
        "head_dim": 2 * half,
        "rope_parameters": {
            "rope_type": "llama3",
            "rope_theta": theta,
            "factor": factor,
            "low_freq_factor": low,
            "high_freq_factor": low + gap,
            "original_max_position_embeddings": original,
        },
    }


LLAMA_3_1 = llama3_case(64, 500000.0, 8.0, 1.0, 3.0, 8192)


def verify_inv_freq(case: Case, output: Output) -> None:
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    parameters = case["rope_parameters"]
    config = reference.config_for(case["head_dim"], 1, 1)
    config.rope_parameters = parameters
    if parameters["rope_type"] == "default":
        expected, _ = reference.hf.LlamaRotaryEmbedding.compute_default_rope_parameters(config)
    else:
        expected, _ = ROPE_INIT_FUNCTIONS[parameters["rope_type"]](config)
    what = f"inv_freq({case['head_dim']}, {parameters})"
    hint = "theta" if parameters["rope_type"] == "default" else "llama3"
    expect_like(output["inv_freq"], expected, what, HINTS[hint])
    expect_close(output["inv_freq"], expected, Tolerance(1e-6, 0.0), what, lambda: HINTS[hint])


def meta_case(seed: int, heads: int, kv_divisor: int, half: int, seq: int, theta: float) -> Case:
    """Meta-layout weights (wq, wk, wv, wo) for one layer and an input."""
    kv_heads = heads // kv_divisor if heads % kv_divisor == 0 else heads
    head_dim = 2 * half
    case = module_case(
        seed, 1, heads, heads // kv_heads, head_dim, seq, theta, "default", torch.float32
    )
    weights = case.pop("state_dict")
    return {
        **case,
        **{
            f"w{name[0]}": weights[f"{name}.weight"]
            for name in ("q_proj", "k_proj", "v_proj", "o_proj")
        },
    }


def meta_attention(case: Case) -> torch.Tensor:
    """Meta's llama/model.py attention: interleaved pairs rotated as complex numbers."""
    x, heads, kv_heads = case["x"], case["num_heads"], case["num_kv_heads"]
    batch, seq, dim = x.shape
    head_dim = dim // heads
    freqs = 1.0 / (
        case["rope_theta"] ** (torch.arange(0, head_dim, 2)[: head_dim // 2].float() / head_dim)
    )
    freqs = torch.outer(torch.arange(seq, dtype=torch.float32), freqs)
    freqs_cis = torch.polar(torch.ones_like(freqs), freqs).view(1, seq, 1, head_dim // 2)

    def rotate(t: torch.Tensor) -> torch.Tensor:
        as_complex = torch.view_as_complex(t.float().reshape(*t.shape[:-1], -1, 2))
        return torch.view_as_real(as_complex * freqs_cis).flatten(3)

    xq = rotate((x @ case["wq"].T).view(batch, seq, heads, head_dim))
    xk = rotate((x @ case["wk"].T).view(batch, seq, kv_heads, head_dim))
    xv = (x @ case["wv"].T).view(batch, seq, kv_heads, head_dim)
    n_rep = heads // kv_heads
    keys = (
        xk[:, :, :, None, :]
        .expand(batch, seq, kv_heads, n_rep, head_dim)
        .reshape(batch, seq, heads, head_dim)
    )
    values = (
        xv[:, :, :, None, :]
        .expand(batch, seq, kv_heads, n_rep, head_dim)
        .reshape(batch, seq, heads, head_dim)
    )
    xq, keys, values = xq.transpose(1, 2), keys.transpose(1, 2), values.transpose(1, 2)
    scores = xq @ keys.transpose(2, 3) / math.sqrt(head_dim)
    scores = scores + torch.full((seq, seq), float("-inf")).triu(1)
    out = torch.softmax(scores.float(), dim=-1).type_as(xq) @ values
    return out.transpose(1, 2).reshape(batch, seq, -1) @ case["wo"].T


def verify_permute(case: Case, output: Output) -> None:
    expect_like(output["q_proj"], case["wq"], "permute(wq, num_heads)", HINTS["permute"])
    expect_like(output["k_proj"], case["wk"], "permute(wk, num_kv_heads)", HINTS["permute"])
    converted = {
        **case,
        "state_dict": {
            "q_proj.weight": output["q_proj"],
            "k_proj.weight": output["k_proj"],
            "v_proj.weight": case["wv"],
            "o_proj.weight": case["wo"],
        },
    }
    hf_output = call_attention(build_attention(reference.Attention, converted), converted)
    expect_close(
        hf_output,
        meta_attention(case),
        TOLERANCES[torch.float32],
        "LlamaAttention on your converted weights, against Meta's attention on the originals,",
        lambda: HINTS["permute"],
    )


# ---- what the items lend: HF's results on the inputs the learner's code passes ---------------


def lend_rotate_half(case: Case) -> Case:
    """The case, with HF's rotate_half of its q and k (what apply_rope rotates)."""
    table = [entry(reference.rotate_half, case[name]) for name in ("q", "k")]
    return {**case, LENT: {"rotate_half": table}}


def lend_repeat_kv(case: Case) -> Case:
    """The case, with HF's repeat_kv of each key and value tensor the probe passes attention
    (and of the properties item's keys and values expanded already, with n_rep 1)."""
    n_rep = case["q"].shape[1] // case["k"].shape[1]
    grouped = [(case[name], n_rep) for name in ("k", "v", "one_hot", "k2", "v2") if name in case]
    if "one_hot" in case:  # the properties item
        grouped += [(case[name].repeat_interleave(n_rep, 1), 1) for name in ("k", "v")]
    table = [entry(reference.repeat_kv, t, n) for t, n in grouped]
    return {**case, LENT: {"repeat_kv": table}}


def lend_functions(case: Case) -> Case:
    """The case, with HF's results of the five functions along the module's way: projections
    split into heads, cos and sin of the positions (those given, else 0..S-1 per row or once),
    cast to the input's dtype or not, rotated q and k, their repeated heads, attention."""
    x, weights, mask = case["x"], case["state_dict"], case.get("attention_mask")
    batch, seq, hidden = x.shape
    dim, theta = hidden // case["num_heads"], case["rope_theta"]
    n_rep = case["num_heads"] // case["num_kv_heads"]

    def split(name: str) -> torch.Tensor:
        projected = torch.nn.functional.linear(x, weights[f"{name}.weight"])
        return projected.view(batch, seq, -1, dim).transpose(1, 2)

    q, k, v = split("q_proj"), split("k_proj"), split("v_proj")
    given = case.get("position_ids")
    positions = [given] if given is not None else [torch.arange(seq).expand(batch, -1)]
    positions += [torch.arange(seq)[None]] if given is None and batch > 1 else []
    tables: dict[str, list] = {name: [] for name in FUNCTIONS}
    tables["rotate_half"] = [entry(reference.rotate_half, t) for t in (q, k)]
    for position_ids in positions:
        row = entry(reference.rope_cos_sin, position_ids, dim, theta)
        tables["rope_cos_sin"].append(row)
        cos, sin = row[1]
        if cos.dtype != x.dtype:  # not cast: HF's apply_rope then returns float32
            tables["apply_rope"].append(entry(reference.apply_rope, q, k, cos, sin))
        row = entry(reference.apply_rope, q, k, cos.to(x.dtype), sin.to(x.dtype))
        tables["apply_rope"].append(row)
        rotated_q, rotated_k = row[1]
        tables["repeat_kv"] += [entry(reference.repeat_kv, t, n_rep) for t in (rotated_k, v)]
        tables["scaled_dot_product_attention"].append(
            entry(reference.scaled_dot_product_attention, rotated_q, rotated_k, v, True, mask)
        )
    return {**case, LENT: tables}


# ---- the graded items -----------------------------------------------------------------------

seeds = st.integers(0, 2**32 - 1)

register(
    Item(
        "attention_rotate_half",
        CHAPTER,
        points=1,
        title="rotate_half equals transformers' rotate_half",
        probe=probe_rotate_half,
        verify=verify_rotate_half,
        examples=lambda: [rotate_case(0, (2, 3, 5), 4)],
        strategy=st.builds(
            rotate_case,
            seeds,
            st.lists(st.integers(1, 3), max_size=3).map(tuple),
            st.integers(1, 16),
        ),
    ),
    Item(
        "attention_rope_cos_sin",
        CHAPTER,
        points=2,
        title="rope_cos_sin equals LlamaRotaryEmbedding's cos and sin",
        probe=probe_rope_cos_sin,
        verify=verify_rope_cos_sin,
        examples=lambda: [
            positions_case(0, 2, 5, 4, 10000.0, 0),
            positions_case(1, 1, 6, 8, 500000.0, 100),
        ],
        strategy=positions_cases,
    ),
    Item(
        "attention_apply_rope",
        CHAPTER,
        points=2,
        title="apply_rope equals apply_rotary_pos_emb in float32, bfloat16 and float16",
        probe=probe_apply_rope,
        verify=verify_apply_rope,
        examples=lambda: [lend_rotate_half(qk_case(0, 2, 2, 2, 5, 4, torch.float32))],
        strategy=qk_cases(list(TOLERANCES)).map(lend_rotate_half),
    ),
    Item(
        "attention_rope_properties",
        CHAPTER,
        points=2,
        title="RoPE keeps norms, depends only on relative position, is the identity at 0",
        probe=probe_rope_properties,
        verify=verify_rope_properties,
        examples=lambda: [
            lend_rotate_half(rope_property_case(0, 6, 8, 3, 50, 10000.0)),
            # at 0..2 only: q0 is the identity
            lend_rotate_half(rope_property_case(1, 3, 4, 0, 0, 500000.0)),
        ],
        strategy=st.builds(
            rope_property_case,
            seeds,
            st.integers(1, 8),
            st.integers(1, 32),
            st.integers(0, 512),
            st.integers(0, 512),
            st.sampled_from(THETAS),
        ).map(lend_rotate_half),
    ),
    Item(
        "attention_repeat_kv",
        CHAPTER,
        points=1,
        title="repeat_kv equals transformers' repeat_kv",
        probe=probe_repeat_kv,
        verify=verify_repeat_kv,
        examples=lambda: [kv_case(0, 2, 2, 3, 4, 5)],
        strategy=st.builds(
            kv_case,
            seeds,
            st.integers(1, 2),
            st.integers(1, 4),
            st.integers(1, 4),
            st.integers(1, 5),
            st.integers(1, 8),
        ),
    ),
    Item(
        "attention_sdpa",
        CHAPTER,
        points=3,
        title="scaled_dot_product_attention equals HF's eager attention, causal or not",
        probe=probe_sdpa,
        verify=verify_sdpa,
        examples=lambda: [
            lend_repeat_kv(case)
            for case in (
                attention_case(0, 2, 2, 2, 6, 0, 8, True),
                attention_case(1, 1, 1, 3, 4, 3, 8, False),
                attention_case(2, 2, 2, 2, 6, 0, 8, True, padded=True),
                attention_case(3, 2, 1, 2, 4, 2, 8, False, padded=True),
            )
        ],
        strategy=attention_cases.map(lend_repeat_kv),
    ),
    Item(
        "attention_sdpa_properties",
        CHAPTER,
        points=2,
        title="weights sum to 1, the future is invisible, GQA equals MHA on expanded heads",
        probe=probe_sdpa_properties,
        verify=verify_sdpa_properties,
        examples=lambda: [lend_repeat_kv(property_case(0, 1, 2, 2, 6, 2))],
        strategy=st.builds(
            property_case,
            seeds,
            st.integers(1, 2),
            st.integers(1, 3),
            st.integers(1, 3),
            st.integers(2, 12),
            st.integers(0, 11),
        ).map(lend_repeat_kv),
    ),
    Item(
        "attention_module",
        CHAPTER,
        points=3,
        title="Attention equals LlamaAttention in float32 (state_dict loads strictly)",
        probe=probe_module,
        verify=verify_module,
        examples=lambda: [
            lend_functions(module_case(0, 2, 4, 2, 8, 6, 500000.0, positions, torch.float32))
            for positions in POSITIONS
        ],
        strategy=module_cases([torch.float32]).map(lend_functions),
    ),
    Item(
        "attention_module_half",
        CHAPTER,
        points=1,
        title="Attention equals LlamaAttention built in bfloat16 and float16",
        probe=probe_module,
        verify=verify_module,
        examples=lambda: [
            lend_functions(module_case(0, 2, 4, 2, 8, 6, 10000.0, positions, dtype))
            for dtype, positions in ((torch.bfloat16, "gaps"), (torch.float16, "padded"))
        ],
        strategy=module_cases([torch.bfloat16, torch.float16]).map(lend_functions),
    ),
    Item(
        "attention_inv_freq",
        CHAPTER,
        points=2,
        title="inv_freq equals transformers' default and llama3 RoPE frequencies",
        probe=probe_inv_freq,
        verify=verify_inv_freq,
        examples=lambda: [
            LLAMA_3_1,
            {"head_dim": 128, "rope_parameters": {"rope_type": "default", "rope_theta": 500000.0}},
        ],
        strategy=st.builds(
            llama3_case,
            half=st.integers(1, 64),
            theta=st.sampled_from(THETAS),
            factor=st.floats(1.5, 64.0),
            low=st.floats(0.5, 2.0),
            gap=st.floats(0.5, 6.0),
            original=st.sampled_from([1024, 2048, 8192]),
        ),
    ),
    Item(
        "attention_permute",
        CHAPTER,
        points=2,
        title="permute converts Meta's q/k weights: HF attention equals Meta's attention",
        probe=probe_permute,
        verify=verify_permute,
        examples=lambda: [meta_case(0, 4, 2, 4, 6, 10000.0)],
        strategy=st.builds(
            meta_case,
            seeds,
            st.integers(1, 6),
            st.sampled_from([1, 2, 3]),
            st.integers(1, 8),
            st.integers(1, 8),
            st.sampled_from(THETAS),
        ),
    ),
)


def snapshot_cases() -> dict[str, Case]:
    """Fixed attention-module cases whose LlamaAttention outputs are frozen."""
    return {
        f"module_{str(dtype).removeprefix('torch.')}": module_case(
            7, 2, 4, 2, 8, 6, 500000.0, "gaps", dtype
        )
        for dtype in TOLERANCES
    }


def oracle(case: Case) -> torch.Tensor:
    """LlamaAttention's output on a module case (what the snapshots freeze)."""
    return call_attention(build_attention(reference.Attention, case), case)
