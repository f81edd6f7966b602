"""Chapter 6, sampling: filters against transformers' logits warpers, draws by statistics.

Where Hugging Face's own result depends on rounding or on the order of tied logits (its
top-p sorts unstably, in the logits' dtype), any answer that a correct implementation could
give is accepted: the kept set must be a top prefix whose size lies between the counts of
HF's rule in the logits' dtype, in float32 and in float64.
"""

from __future__ import annotations

import math

import torch
from hypothesis import strategies as st

from grader import reference
from grader.compare import Tolerance, describe, expect_close, expect_like, is_close
from grader.probes.lending import LENT, entry
from grader.probes.sampling import (
    BOUNDARY,
    DRAWS,
    NEG_INF,
    probe_greedy,
    probe_meta,
    probe_sample,
    probe_temperature,
    probe_top_k,
    probe_top_p,
    probe_top_p_properties,
)
from grader.registry import Case, CheckFailed, Item, Output, register

CHAPTER = "sampling"

HINTS = {
    "temperature_divide": "Divide the logits by the temperature; multiplying flattens where "
    "it should sharpen.",
    "validation": "Raise ValueError for temperature <= 0, top_k < 1 and top_p outside [0, 1].",
    "ties": "Keep every logit tied with the k-th largest: remove only those strictly below it.",
    "filter_value": "Put filter_value (-inf) where a token is removed, and leave kept logits "
    "unchanged.",
    "crossing": "Keep the token that crosses top_p: remove a token only when the tokens "
    "before it already reach top_p (HF: cumulative ascending mass <= 1 - top_p).",
    "probabilities": "Accumulate probabilities (the softmax of the logits), not raw logits.",
    "boundary": "Remove a token when the mass of the tokens before it is >= top_p (HF: "
    "ascending cumulative mass <= 1 - top_p); with a strict < there you keep Meta's extra "
    "token on exact boundaries.",
    "min_tokens": "Always keep at least min_tokens_to_keep tokens (and at least the argmax).",
    "prefix": "Keep the most likely tokens: every kept logit must be >= every removed one.",
    "greedy": "Sample: greedy argmax is only for temperature 0.",
    "renormalize": "Filter the logits before the softmax (set -inf), so the kept "
    "probabilities sum to 1; or renormalise what you keep.",
    "order": "Apply temperature, then top-k, then top-p to the logits, then softmax in "
    "float32 and torch.multinomial: top-p measures the mass among the tokens top-k kept.",
    "meta": "Meta's rule removes a token when the probability mass before it is greater "
    "than top_p (sorted in decreasing order).",
}

# Filters move no values: kept logits must be bit-identical, except that temperature may be
# computed as a multiplication by 1/T (one rounding step more).
EXACT = Tolerance(rtol=0.0, atol=0.0)
DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def logits_case(
    seed: int, batch: int, vocab: int, log10_scale: float, grid: bool, holes: bool, dtype
) -> Case:
    """Random logits; on a coarse grid for ties; with some -inf already present."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, vocab, generator=g) * 10.0**log10_scale
    if grid:  # ties: many equal logits
        logits = (logits * 2 / 10.0**log10_scale).round() / 2
    if holes and vocab > 1:
        logits[torch.rand(batch, vocab, generator=g) < 0.2] = NEG_INF
        logits[:, 0] = logits[:, 0].nan_to_num(neginf=0.0)  # every row keeps a finite logit
    return {"logits": logits.to(dtype)}


logits_cases = st.builds(
    logits_case,
    seed=st.integers(0, 2**32 - 1),
    batch=st.integers(1, 4),
    vocab=st.integers(1, 40),
    log10_scale=st.floats(-3.0, 2.0),
    grid=st.booleans(),
    holes=st.booleans(),
    dtype=st.sampled_from(DTYPES),
)


def kept(logits: torch.Tensor) -> torch.Tensor:
    """Which entries survived a filter (are above -inf)."""
    return logits > NEG_INF


# ---- temperature and top-k ------------------------------------------------------------------


def verify_temperature(case: Case, output: Output) -> None:
    from transformers import TemperatureLogitsWarper

    x, t = case["logits"], case["temperature"]
    expected = TemperatureLogitsWarper(t)(None, x)
    one_step = Tolerance(rtol=2 * torch.finfo(x.dtype).eps, atol=0.0)  # x * (1 / t) is fine too
    multiplied = is_close(output["y"], x * t, Tolerance(rtol=1e-2, atol=1e-6))
    hint = HINTS["temperature_divide"] if multiplied else ""
    expect_close(
        output["y"], expected, one_step, f"apply_temperature({describe(x)}, {t:g})", lambda: hint
    )
    if None in output["errors"]:
        raise CheckFailed(
            f"apply_temperature accepted a temperature of 0 or -1. {HINTS['validation']}"
        )


def verify_top_k(case: Case, output: Output) -> None:
    from transformers import TopKLogitsWarper

    x, k = case["logits"], case["top_k"]
    expected = TopKLogitsWarper(k)(None, x)
    what = f"top_k_filter({describe(x)}, top_k={k})"
    expect_like(output["y"], expected, what, HINTS["filter_value"])
    mine, wanted = kept(output["y"]), kept(expected)
    if not torch.equal(mine, wanted):
        row = int((mine != wanted).any(-1).nonzero()[0])
        extra, missing = (
            (mine & ~wanted)[row].nonzero()[:, 0],
            (wanted & ~mine)[row].nonzero()[:, 0],
        )
        # Dropping ties reproduces as exactly k kept (torch.topk's indices) where HF keeps more.
        exactly_k = mine.sum(-1) == kept(x).sum(-1).clamp(max=k)
        hint = (
            HINTS["ties"] if (exactly_k | (mine == wanted).all(-1)).all() and not len(extra) else ""
        )
        raise CheckFailed(
            f"{what} keeps other tokens than TopKLogitsWarper in row {row}: "
            f"{len(extra)} more (ids {extra.tolist()[:5]}), {len(missing)} fewer "
            f"(ids {missing.tolist()[:5]}). {hint}".strip()
        )
    expect_close(output["y"], expected, EXACT, what, lambda: HINTS["filter_value"])
    if None in output["errors"]:
        raise CheckFailed(f"top_k_filter accepted top_k = 0 or -1. {HINTS['validation']}")


# ---- top-p ----------------------------------------------------------------------------------


def rule_counts(
    logits: torch.Tensor, top_p: float, min_keep: int, dtype, rule: str = "hf"
) -> torch.Tensor:
    """Tokens kept per row by a top-p rule computed in `dtype`: HF's, or a known variant.

    `hf`: remove where the ascending cumulative probability is <= 1 - top_p (TopPLogitsWarper);
    `descending`: keep where the descending mass before a token is < top_p (the same rule,
    other rounding); `boundary`: `<` for `<=` in HF's form; `crossing`: remove where the
    descending mass including the token reaches top_p; `probabilities`: HF's form on the raw
    logits instead of their softmax.
    """
    ascending = logits.to(dtype).sort(-1).values
    probs = ascending if rule == "probabilities" else ascending.softmax(-1)
    cumulative = probs.cumsum(-1)
    total = cumulative[..., -1:]
    remove = {
        "hf": lambda: cumulative <= 1 - top_p,
        "probabilities": lambda: cumulative <= 1 - top_p,
        "boundary": lambda: cumulative < 1 - top_p,
        "descending": lambda: total - cumulative >= top_p,
        "crossing": lambda: total - cumulative + probs >= top_p,
    }[rule]()
    if min_keep:
        remove[..., -min_keep:] = False
    return (~remove & (ascending > -math.inf)).sum(-1)


def dtypes_of(logits: torch.Tensor) -> set:
    """The precisions a correct top-p may compute in: the logits' own, float32, float64."""
    return {logits.dtype, torch.float32, torch.float64}


def accepted_counts(
    logits: torch.Tensor, top_p: float, min_keep: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The smallest and largest kept count that rounding allows, per row."""
    counts = [rule_counts(logits, top_p, min_keep, dtype) for dtype in dtypes_of(logits)]
    if top_p < 1:  # at p = 1 only zero-probability tokens may go; a rounded sum may not decide
        counts += [
            rule_counts(logits, top_p, min_keep, dtype, "descending")
            for dtype in (logits.dtype, torch.float32)
        ]
    stacked = torch.stack(counts)
    return stacked.min(0).values, stacked.max(0).values


# Each known mistake, by hint key: the rule and min_tokens_to_keep it computes with.
TOP_P_MISTAKES = {
    "crossing": ("crossing", None),
    "boundary": ("boundary", None),
    "probabilities": ("probabilities", None),
    "min_tokens": ("hf", 1),
}


def top_p_mistake(logits: torch.Tensor, top_p: float, min_keep: int, count) -> str | None:
    """The known mistake whose kept counts equal the learner's on every row, if any."""
    for hint, (rule, forced_keep) in TOP_P_MISTAKES.items():
        keep = min_keep if forced_keep is None else forced_keep
        if hint == "min_tokens" and keep == min_keep:
            continue  # ignoring min_tokens_to_keep shows only when it is above 1
        for dtype in dtypes_of(logits):
            if torch.equal(count, rule_counts(logits, top_p, keep, dtype, rule)):
                return hint
    return None


def kept_difference(actual: torch.Tensor, logits: torch.Tensor, top_p: float, min_keep: int):
    """`row 0 keeps 5 tokens, TopPLogitsWarper 4 (also id 7)`: where the kept sets differ."""
    from transformers import TopPLogitsWarper

    count = kept(actual).sum(-1)
    low, high = accepted_counts(logits, top_p, min_keep)
    row = int(((count < low) | (count > high)).nonzero()[0])
    wanted = kept(TopPLogitsWarper(top_p, min_tokens_to_keep=min_keep)(None, logits))[row]
    mine = kept(actual)[row]
    extra, missing = (mine & ~wanted).nonzero()[:, 0], (wanted & ~mine).nonzero()[:, 0]
    detail = "".join(
        f"; {name} id{'s' * (len(ids) > 1)} {ids.tolist()[:5]}"
        for name, ids in (("also keeps", extra), ("removes", missing))
        if len(ids)
    )
    accepted = f"{int(low[row])}" + ("" if low[row] == high[row] else f" to {int(high[row])}")
    return f"row {row} keeps {int(count[row])} tokens, TopPLogitsWarper {accepted}{detail}"


def verify_top_p(case: Case, output: Output) -> None:
    x, p, m = case["logits"], case["top_p"], case["min_tokens_to_keep"]
    what = f"top_p_filter({describe(x)}, top_p={p:g}, min_tokens_to_keep={m})"
    check_prefix(output["y"], x, what)
    count = kept(output["y"]).sum(-1)
    low, high = accepted_counts(x, p, m)
    if ((count < low) | (count > high)).any():
        hint = HINTS.get(top_p_mistake(x, p, m, count), "")
        raise CheckFailed(f"{what}: {kept_difference(output['y'], x, p, m)}. {hint}".strip())
    if None in output["errors"]:
        raise CheckFailed(f"top_p_filter accepted top_p = -0.1 or 1.5. {HINTS['validation']}")


def check_prefix(actual: torch.Tensor, logits: torch.Tensor, what: str) -> None:
    """Kept entries unchanged, removed ones -inf, and every kept logit >= every removed one."""
    expect_like(actual, logits, what, HINTS["filter_value"])
    keep = kept(actual)
    if not torch.equal(actual[keep], logits[keep]) or (actual[~keep] != NEG_INF).any():
        raise CheckFailed(
            f"{what} changed a kept logit or left a removed one finite. {HINTS['filter_value']}"
        )
    lowest_kept = logits.double().masked_fill(~keep, math.inf).min(-1).values
    highest_removed = logits.double().masked_fill(keep | ~kept(logits), -math.inf).max(-1).values
    # Logits a few float32 ulps apart can round to one probability; then either order is
    # right (HF's own sort is unstable), so they count as tied.
    scale = logits.double().nan_to_num(neginf=0.0).abs().max(-1).values
    if (highest_removed > lowest_kept + 8 * torch.finfo(torch.float32).eps * scale).any():
        raise CheckFailed(f"{what} removed a token more likely than one it kept. {HINTS['prefix']}")


def top_p_case(logits_case_: Case, top_p: float, min_keep: int) -> Case:
    return {**logits_case_, "top_p": top_p, "min_tokens_to_keep": min_keep}


def property_case(seed: int, vocab: int, gap_low: int, gap_high: int, shift: float) -> Case:
    """Logits, two top_p values in the middle of gaps of the cumulative mass (so that no
    rounding sits on a boundary), and a constant to add."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(1, vocab, generator=g) * 2
    probs = logits.double().softmax(-1).sort(-1, descending=True).values[0]
    edges = [0.0, *probs.cumsum(0).tolist()]  # mass before each token, then the total
    low, high = sorted((gap_low % vocab, gap_high % vocab))
    middle = [(edges[i] + edges[i + 1]) / 2 for i in (low, high)]
    return {"logits": logits, "top_p_low": middle[0], "top_p_high": middle[1], "shift": shift}


def verify_top_p_properties(case: Case, output: Output) -> None:
    """Each top_p sits mid-gap of the cumulative mass, so every precision keeps one count."""
    x, shift = case["logits"], case["shift"]
    runs = [
        ("low", x, case["top_p_low"], ""),
        ("high", x, case["top_p_high"], ""),
        ("shifted", x + shift, case["top_p_low"], f" after adding {shift:g} to every logit"),
    ]
    for name, logits, top_p, how in runs:
        what = f"top_p_filter({describe(logits)}, top_p={top_p:.4f}){how}"
        check_prefix(output[name], logits, what)
        count = kept(output[name]).sum(-1)
        low, high = accepted_counts(logits, top_p, 1)
        if ((count < low) | (count > high)).any():
            hint = HINTS.get(top_p_mistake(logits, top_p, 1, count), "")
            difference = kept_difference(output[name], logits, top_p, 1)
            raise CheckFailed(f"{what}: {difference}. {hint}".strip())


# ---- Meta's rule ----------------------------------------------------------------------------


def meta_counts(logits: torch.Tensor, top_p: float, dtype) -> torch.Tensor:
    """Meta's sample_top_p mask (llama/generation.py), computed in dtype: kept tokens per row."""
    probs = torch.softmax(logits.to(dtype), dim=-1)
    probs_sort, _ = torch.sort(probs, dim=-1, descending=True)
    probs_sum = torch.cumsum(probs_sort, dim=-1)
    mask = probs_sum - probs_sort > top_p
    return (~mask).sum(-1)  # for top_p <= 0.95 a token of probability 0 is always masked


def verify_meta(case: Case, output: Output) -> None:
    """Meta computes in float32 (its logits are cast to float); float64 is accepted too."""
    x, p = case["logits"], case["top_p"]
    what = f"meta_top_p_filter({describe(x)}, top_p={p:g})"
    check_prefix(output["y"], x, what)
    count = kept(output["y"]).sum(-1)
    counts = torch.stack([meta_counts(x, p, dtype) for dtype in (torch.float32, torch.float64)])
    low, high = counts.min(0).values, counts.max(0).values
    if ((count < low) | (count > high)).any():
        row = int(((count < low) | (count > high)).nonzero()[0])
        wrote_hf = any(torch.equal(count, rule_counts(x, p, 1, d)) for d in dtypes_of(x))
        raise CheckFailed(
            f"{what}: row {row} keeps {int(count[row])} tokens, Meta's sample_top_p "
            f"{int(low[row])}{'' if low[row] == high[row] else f' to {int(high[row])}'}. "
            + (HINTS["meta"] if wrote_hf else "")
        )
    meta = int(kept(output["boundary_meta"]).sum())
    if meta != 2:
        raise CheckFailed(
            f"meta_top_p_filter on probabilities [0.5, 0.25, 0.25] with top_p=0.5 keeps {meta} "
            f"tokens, Meta's rule 2 (TopPLogitsWarper keeps 1). " + HINTS["meta"] * (meta == 1)
        )


# ---- drawing tokens -------------------------------------------------------------------------


def sample_case(
    seed: int, vocab: int, temperature: float, top_k: int | None, top_p: float | None
) -> Case:
    g = torch.Generator().manual_seed(seed)
    case = {"logits": torch.randn(1, vocab, generator=g) * 1.5, "seed": seed}
    return with_lent_filters({**case, "temperature": temperature, "top_k": top_k, "top_p": top_p})


# Each filter of `sample_next_token`: the case's setting it takes, and HF's filter called with
# the arguments the exercise's signature binds (the setting, then the defaults).
FILTERS = {
    "apply_temperature": ("temperature", lambda x, t: entry(reference.apply_temperature, x, t)),
    "top_k_filter": ("top_k", lambda x, k: entry(reference.top_k_filter, x, k, NEG_INF)),
    "top_p_filter": ("top_p", lambda x, p: entry(reference.top_p_filter, x, p, 1, NEG_INF)),
}


def with_lent_filters(case: Case) -> Case:
    """The case, with HF's filters on its logits and on what any order of them (each at most
    once) makes of them: what a sampler may pass them (`grader.probes.lending`)."""
    tables: dict[str, list] = {name: [] for name in FILTERS}
    settings = {name: case[key] for name, (key, _) in FILTERS.items() if case[key] is not None}

    def walk(logits: torch.Tensor, used: frozenset) -> None:
        for name in [name for name in settings if name not in used]:
            arguments, filtered = FILTERS[name][1](logits, settings[name])
            tables[name].append((arguments, filtered))
            walk(filtered, used | {name})

    walk(case["logits"], frozenset())
    return {**case, LENT: tables}


def order_case(seed: int, vocab: int, temperature: float, top_k: int) -> Case:
    """Settings where top-k then top-p keeps fewer tokens than top-p then top-k.

    After top-k the kept probabilities are renormalised (divided by their sum C < 1), so HF
    keeps only the argmax for any top_p in (c, c / C], c the argmax's probability; top-p
    first keeps the second token too, the most likely one it can add. top_p is put mid-gap.
    """
    case = sample_case(seed, vocab, temperature, min(top_k, vocab - 1), None)
    probs = (case["logits"][0].double() / temperature).softmax(-1).sort(descending=True).values
    top, kept_mass = float(probs[0]), float(probs[: case["top_k"]].sum())
    return with_lent_filters({**case, "top_p": (top + top / kept_mass) / 2})


def hf_distribution(
    logits: torch.Tensor, temperature: float, top_k, top_p, order: str = "tkp"
) -> torch.Tensor:
    """HF's warpers in `order` (generate's is temperature, top-k, top-p), softmax in float32."""
    from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    warpers = {
        "t": TemperatureLogitsWarper(float(temperature)),
        "k": None if top_k is None else TopKLogitsWarper(top_k),
        "p": None if top_p is None else TopPLogitsWarper(top_p),
    }
    scores = logits
    for step in order:
        if warpers[step] is not None:
            scores = warpers[step](None, scores)
    return scores.float().softmax(-1)[0]


def bounds(probs: torch.Tensor) -> torch.Tensor:
    """How far a frequency may be from its probability: 5 standard errors + 2/N."""
    p = probs.double()
    return 5 * (p * (1 - p) / DRAWS).sqrt() + 2 / DRAWS


def fits(counts: torch.Tensor, probs: torch.Tensor) -> bool:
    """Each frequency within 5 standard errors (+2/N) of its probability, zeros exactly zero.

    A correct sampler fails one token of one case with probability below 1e-6 at 5 sigma;
    wrong temperatures or unnormalised filters move frequencies by tens of sigma here.
    """
    frequencies = counts.double() / DRAWS
    p = probs.double()
    return bool(((frequencies - p).abs() <= bounds(p)).all() and (counts[p == 0] == 0).all())


def worst_token(counts: torch.Tensor, probs: torch.Tensor) -> str:
    """The token whose frequency is furthest outside its bound, as the learner reads it."""
    frequencies = counts.double() / DRAWS
    excess = (frequencies - probs.double()).abs() / bounds(probs)
    token = int(excess.argmax())
    return (
        f"token {token} was drawn {int(counts[token])} times ({float(frequencies[token]):.4f}), "
        f"HF's probability is {float(probs[token]):.4f}"
    )


def verify_sample(case: Case, output: Output) -> None:
    if output["shape"] != [DRAWS]:
        raise CheckFailed(
            f"sample_next_token returned shape {output['shape']} for {DRAWS} rows; "
            f"expected ({DRAWS},)."
        )
    x, t, k, p = case["logits"], case["temperature"], case["top_k"], case["top_p"]
    counts = output["counts"]
    probs = hf_distribution(x, t, k, p)
    if fits(counts, probs):
        return
    one_hot = torch.zeros(x.shape[-1]).index_fill(0, x.argmax(-1), 1.0)
    unnormalised = torch.softmax(x[0] / t, -1) * (probs > 0)  # filtered after the softmax
    unnormalised[-1] += 1 - unnormalised.sum()  # inverse-CDF sampling puts the rest last
    mistakes = [
        ("greedy", one_hot),
        ("renormalize", unnormalised),
        ("temperature_divide", hf_distribution(x * t * t, t, k, p)),  # logits * t, not / t
        *(("order", hf_distribution(x, t, k, p, order)) for order in ("tpk", "kpt", "pkt")),
    ]
    # A mistake is named only when it reproduces the draws and differs from HF's distribution.
    hint = next(
        (h for h, wrong in mistakes if not fits(counts, probs) and fits(counts, wrong)), None
    )
    settings = f"temperature={t:g}, top_k={k}, top_p={p}"
    raise CheckFailed(
        f"sample_next_token over {DRAWS:,} draws ({settings}): {worst_token(counts, probs)}. "
        + (HINTS[hint] if hint else "")
    )


def verify_greedy(case: Case, output: Output) -> None:
    argmax = case["logits"].argmax(-1)
    if not torch.equal(output["greedy"].reshape(-1).long(), argmax):
        raise CheckFailed(f"temperature 0 must return the argmax of each row. {HINTS['greedy']}")
    if not torch.equal(output["cold"].reshape(-1).long(), argmax):
        raise CheckFailed(
            "at temperature 0.01 the draws should be the argmax (the logits differ by 0.5 or "
            f"more). {HINTS['temperature_divide']}"
        )


def greedy_case(seed: int, batch: int, vocab: int) -> Case:
    """Rows whose largest logit leads the next by at least 0.5."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, vocab, generator=g)
    top = logits.argmax(-1, keepdim=True)
    logits.scatter_(-1, top, logits.max(-1, keepdim=True).values + 0.5)
    cold = entry(reference.apply_temperature, logits, 0.01)  # as the probe draws
    return {"logits": logits, LENT: {"apply_temperature": [cold]}}


def meta_case(case: Case) -> Case:
    """A top-p case, with HF's top_p_filter on what the probe passes meta_top_p_filter."""
    table = [
        entry(reference.top_p_filter, logits, top_p, 1, NEG_INF)
        for logits, top_p in ((case["logits"], case["top_p"]), (BOUNDARY, 0.5))
    ]
    return {**case, LENT: {"top_p_filter": table}}


# ---- the graded items -----------------------------------------------------------------------

seeds = st.integers(0, 2**32 - 1)

register(
    Item(
        "sampling_temperature",
        CHAPTER,
        points=1,
        title="apply_temperature equals TemperatureLogitsWarper; 0 and negatives raise",
        probe=probe_temperature,
        verify=verify_temperature,
        examples=lambda: [
            {**logits_case(0, 2, 10, 0.0, False, False, torch.float32), "temperature": 0.7}
        ],
        strategy=st.builds(
            lambda case, t: {**case, "temperature": t},
            logits_cases,
            st.sampled_from([0.1, 0.5, 0.7, 1.0, 1.5, 3.0]),
        ),
    ),
    Item(
        "sampling_top_k",
        CHAPTER,
        points=2,
        title="top_k_filter equals TopKLogitsWarper, ties included; top_k < 1 raises",
        probe=probe_top_k,
        verify=verify_top_k,
        examples=lambda: [
            {"logits": torch.tensor([[3.0, 2.0, 2.0, 1.0]]), "top_k": 2},
            {**logits_case(1, 3, 20, 0.0, True, True, torch.float32), "top_k": 5},
        ],
        strategy=st.builds(lambda case, k: {**case, "top_k": k}, logits_cases, st.integers(1, 45)),
    ),
    Item(
        "sampling_top_p",
        CHAPTER,
        points=3,
        title="top_p_filter equals TopPLogitsWarper (the crossing token kept) in every dtype",
        probe=probe_top_p,
        verify=verify_top_p,
        examples=lambda: [
            top_p_case({"logits": torch.tensor([[math.log(2), 0.0, 0.0]])}, 0.5, 1),
            top_p_case(logits_case(2, 3, 20, 0.0, True, True, torch.float32), 0.8, 1),
            top_p_case(logits_case(5, 2, 10, 0.0, False, False, torch.float32), 0.1, 3),
        ],
        strategy=st.builds(
            top_p_case,
            logits_cases,
            st.sampled_from([0.0, 0.1, 0.5, 0.9, 0.95, 1.0]) | st.floats(0.0, 1.0),
            st.integers(1, 3),
        ),
    ),
    Item(
        "sampling_top_p_properties",
        CHAPTER,
        points=2,
        title="top-p keeps the argmax, the smallest prefix reaching p, grows with p, "
        "ignores shifts",
        probe=probe_top_p_properties,
        verify=verify_top_p_properties,
        examples=lambda: [property_case(0, 10, 2, 6, 3.0)],
        strategy=st.builds(
            property_case,
            seeds,
            st.integers(2, 30),
            st.integers(0, 29),
            st.integers(0, 29),
            st.floats(-50.0, 50.0),
        ),
    ),
    Item(
        "sampling_meta_top_p",
        CHAPTER,
        points=1,
        title="meta_top_p_filter follows Meta's rule, and differs from HF's on [0.5, 0.25, 0.25]",
        probe=probe_meta,
        verify=verify_meta,
        examples=lambda: [
            meta_case(top_p_case(logits_case(3, 2, 12, 0.0, False, False, torch.float32), 0.6, 1))
        ],
        strategy=st.builds(top_p_case, logits_cases, st.floats(0.0, 0.95), st.just(1)).map(
            meta_case
        ),
    ),
    Item(
        "sampling_sample",
        CHAPTER,
        points=3,
        title="sample_next_token draws from HF's filtered softmax (20,000 draws per case)",
        probe=probe_sample,
        verify=verify_sample,
        examples=lambda: [
            sample_case(0, 6, 1.0, None, None),
            sample_case(1, 8, 0.7, 5, None),
            sample_case(2, 8, 1.3, None, 0.8),
            sample_case(3, 8, 0.9, 4, 0.9),
            order_case(4, 8, 1.0, 4),
        ],
        strategy=st.builds(
            sample_case,
            seeds,
            st.integers(2, 12),
            st.sampled_from([0.5, 0.8, 1.0, 1.3]),
            st.none() | st.integers(1, 12),
            st.none() | st.floats(0.2, 1.0),
        )
        | st.builds(order_case, seeds, st.integers(3, 12), st.floats(0.5, 1.5), st.integers(2, 11)),
        max_examples=40,
    ),
    Item(
        "sampling_greedy",
        CHAPTER,
        points=1,
        title="temperature 0 is greedy; a tiny temperature samples the argmax",
        probe=probe_greedy,
        verify=verify_greedy,
        examples=lambda: [greedy_case(0, 4, 10)],
        strategy=st.builds(greedy_case, seeds, st.integers(1, 4), st.integers(2, 50)),
    ),
)
