"""Chapter 7, generate: the decoding loop and the KV cache against LlamaForCausalLM.generate.

The loop items run the learner's `generate` on the case's model (behind the chapter's model
protocol) with HF's sampler and cache lent (`grader.probes.generate`), so the tokens must be
exactly those of `model.generate` under the same seed. `generate_own_stack` runs the
learner's whole stack; where a correct stack's rounding flips a near-tie, the divergence is
accepted only if it is explained: the learner's logits are HF's on the same prefix, and
HF's sampler on those logits draws the learner's tokens.
"""

from __future__ import annotations

from itertools import pairwise

import torch
from hypothesis import strategies as st

from grader import reference
from grader.checks import llama
from grader.compare import describe, expect_close, expect_like, is_close, per_case
from grader.probes.generate import (
    CACHE_DIM,
    probe_cache,
    probe_forward,
    probe_generate,
    probe_own_stack,
    replay_cache,
)
from grader.registry import Case, CheckFailed, Item, Output, register

CHAPTER = "generate"

HINTS = {
    "last": "Sample from the logits of the last position, logits[:, -1, :], and append the "
    "tokens to every row.",
    "steps": "Run max_new_tokens steps, stopping earlier only when every row has produced "
    "eos_token_id.",
    "eos": "Once a row has produced eos_token_id, give it pad_token_id (eos_token_id when "
    "that is None) at every later step, and stop when all rows have finished.",
    "generator": "Pass generator on to sample_next_token, so that a seeded torch.Generator "
    "gives reproducible tokens.",
    "sampling": "Draw the whole batch with one call of sample_next_token(logits[:, -1, :], "
    "temperature, top_k, top_p, generator) per step.",
    "cache_calls": "With use_cache, make one KVCache() and call model(new_ids, cache=cache): "
    "the whole prompt once, then only the newest token (batch, 1).",
    "cache_dim": CACHE_DIM,
    "cache_length": "get_seq_length(layer_idx) is the number of positions cached for that "
    "layer: 0 before its first update.",
    "full": "Without a cache, forward_with_cache must compute model(input_ids): embed, every "
    "layer (norm, attention with RoPE, residual, norm, MLP, residual), final norm, lm_head.",
    "positions": "New tokens sit at positions past … past + S - 1, with past = "
    "cache.get_seq_length() read before this call updates the cache.",
    "update": "Call cache.update(k, v, layer_idx) in every layer, after RoPE, and attend over "
    "the keys and values it returns.",
    "padding": "With attention_mask, pass the model position_ids = cumsum(mask) - 1 (clamped "
    "at 0) for the ids it sees and attention_mask= the whole mask so far, and extend the mask "
    "by a 1 for every new token.",
    "own_stack": "Fix the failing items of this chapter and of chapters 1, 2, 3 and 6 first; "
    "if they all pass, look at how the parts are wired together.",
}
TOLERANCE = llama.TOLERANCES[torch.float32]


def generation_case(
    seed: int,
    vocab: int,
    heads: int,
    layers: int,
    batch: int,
    seq: int,
    max_new_tokens: int,
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float | None = None,
    eos_token_id: int | None = None,
    pad_token_id: int | None = None,
    use_cache: bool = False,
) -> Case:
    """A small random model, a prompt batch and the settings of one generate call."""
    case = llama.config_case(seed, vocab, heads, 2, 4, layers, False, batch=batch, seq=seq)
    # The config's default eos_token_id (2) would make HF's generate stop where we asked not to.
    case["config"].update(bos_token_id=None, eos_token_id=None, pad_token_id=None)
    settings = {
        "max_new_tokens": max_new_tokens,
        "temperature": temperature,
        "top_k": top_k,
        "top_p": top_p,
        "eos_token_id": eos_token_id,
        "pad_token_id": pad_token_id,
        "use_cache": use_cache,
    }
    return {**case, "seed": seed, "settings": settings}


def hf_generate(case: Case, **extra) -> torch.Tensor:
    """LlamaForCausalLM.generate with the case's settings, under torch.manual_seed(seed)."""
    from transformers import GenerationConfig

    s = case["settings"]
    config = GenerationConfig(
        max_new_tokens=s["max_new_tokens"],
        do_sample=s["temperature"] != 0,
        temperature=s["temperature"] or 1.0,
        top_k=s["top_k"] or 0,  # v5 applies top_k=50 unless told otherwise
        top_p=1.0 if s["top_p"] is None else s["top_p"],
        eos_token_id=s["eos_token_id"],
        pad_token_id=s["pad_token_id"],
        use_cache=s["use_cache"],
    )
    ids = case["input_ids"]
    # An explicit mask: HF would otherwise mask every prompt token equal to pad_token_id.
    mask = case.get("attention_mask", torch.ones_like(ids))
    model = llama.hf_model(case)
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(case["seed"])
        return model.generate(ids, attention_mask=mask, generation_config=config, **extra)


def verify_generate(case: Case, output: Output) -> None:
    expected = per_case(hf_generate)(case)
    s = case["settings"]
    tokens = output["tokens"]
    what = f"generate({describe(case['input_ids'])} ids, {settings_text(s)})"
    if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2:
        expect_like(tokens, expected, what, HINTS["last"])
    if tokens.shape != expected.shape or tokens.dtype != expected.dtype:
        longer = tokens.shape[-1] > expected.shape[-1]
        hint = HINTS["eos" if longer and s["eos_token_id"] is not None else "steps"]
        expect_like(tokens, expected, what, hint)
    if not torch.equal(tokens, expected):
        raise CheckFailed(
            f"{what}: {first_difference(tokens, expected, case)}. {diagnose(case, output)}"
        )
    if s["use_cache"]:
        expect_cache_calls(case, output)
    if s["temperature"] != 0 and not torch.equal(output["tokens_generator"], expected):
        raise CheckFailed(
            f"{what} with generator=torch.Generator().manual_seed({case['seed']}) does not give "
            f"the tokens of torch.manual_seed({case['seed']}). {HINTS['generator']}"
        )


def settings_text(settings: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items() if v is not None)


def first_difference(tokens: torch.Tensor, expected: torch.Tensor, case: Case) -> str:
    """Where the learner's tokens first differ: `row 1, new token 3 is 17, HF's is 5`."""
    prompt = case["input_ids"].shape[1]
    rows, columns = (tokens != expected).nonzero(as_tuple=True)
    order = columns.argsort(stable=True)
    row, column = int(rows[order[0]]), int(columns[order[0]])
    return (
        f"row {row}, new token {column - prompt} is {int(tokens[row, column])}, "
        f"HF's generate gives {int(expected[row, column])}"
    )


def diagnose(case: Case, output: Output) -> str:
    s = case["settings"]
    tokens, prompt = output["tokens"], case["input_ids"].shape[1]
    if "attention_mask" in case and padding_mistake(case, tokens):
        return HINTS["padding"]
    if s["eos_token_id"] is not None:
        pad = s["eos_token_id"] if s["pad_token_id"] is None else s["pad_token_id"]
        for row in tokens[:, prompt:]:
            ends = (row == s["eos_token_id"]).nonzero()
            if len(ends) and not (row[int(ends[0]) + 1 :] == pad).all():
                return HINTS["eos"]
    if s["use_cache"] and output["calls"][1:] and output["calls"][1][-1] != 1:
        return HINTS["cache_calls"]
    return HINTS["sampling" if s["temperature"] else "last"]


def padding_mistake(case: Case, tokens: torch.Tensor) -> bool:
    """Whether HF's generate reproduces the tokens when the padding is treated as prompt.

    (Positions counted from the first column, padding included, are no mistake under RoPE:
    a row's offset is uniform, and attention sees only relative positions.)
    """
    wrong = hf_generate({**case, "attention_mask": torch.ones_like(case["input_ids"])})
    return wrong.shape == tokens.shape and torch.equal(wrong, tokens)


def left_padded(case: Case, lengths: list[int]) -> Case:
    """The case's prompts cut to `lengths` real tokens each, left-padded with token 0."""
    ids = case["input_ids"]
    real = torch.arange(ids.shape[1]) >= ids.shape[1] - torch.tensor(lengths)[:, None]
    return {**case, "input_ids": ids.masked_fill(~real, 0), "attention_mask": real.long()}


def expect_cache_calls(case: Case, output: Output) -> None:
    """With use_cache: the prompt once, then one new token per call, all with one cache."""
    batch, prompt = case["input_ids"].shape
    calls = output["calls"]
    if not output["one_cache"] or calls[:1] != [[batch, prompt]]:
        raise CheckFailed(
            f"with use_cache the model's calls were {calls[:3]}…. {HINTS['cache_calls']}"
        )
    if any(call != [batch, 1] for call in calls[1:]):
        raise CheckFailed(
            f"with use_cache the model saw inputs of shapes {calls[:4]}: after the prompt, each "
            f"step should feed only the newest token. {HINTS['cache_calls']}"
        )


# ---- the cache ------------------------------------------------------------------------------


def cache_case(seed: int, layers: int, batch: int, kv_heads: int, chunks: list[int]) -> Case:
    """Random keys and values for a sequence of updates: every layer, chunk after chunk."""
    g = torch.Generator().manual_seed(seed)
    updates = [
        [torch.randn(2, batch, kv_heads, size, 4, generator=g) for _ in range(layers)]
        for size in chunks
    ]
    return {"updates": updates}


def verify_cache(case: Case, output: Output) -> None:
    expected = replay_cache(reference.KVCache(), case["updates"])
    if output["lengths"] != expected["lengths"]:
        raise CheckFailed(
            f"get_seq_length gave {output['lengths']} over the updates, DynamicCache "
            f"{expected['lengths']}. {HINTS['cache_length']}"
        )
    for step, (actual, wanted) in enumerate(
        zip(output["returned"], expected["returned"], strict=True)
    ):
        what = f"update number {step + 1}'s (keys, values)"
        expect_like(actual, wanted, what, HINTS["cache_dim"])
        expect_close(
            actual, wanted, llama.TOLERANCES[torch.float32], what, lambda: HINTS["cache_dim"]
        )


# ---- forward with the cache -----------------------------------------------------------------


def chunked_case(case: Case, cuts: list[int]) -> Case:
    """A model case whose prompt is fed in chunks, split at `cuts`.

    forward_with_cache numbers positions from the cache (0 .. S - 1 over the chunks): chapter 3's
    gapped positions and padding masks, which its cases may carry, are dropped here."""
    seq = case["input_ids"].shape[1]
    bounds = sorted({0, seq, *(c for c in cuts if 0 < c < seq)})
    plain = {k: v for k, v in case.items() if k not in ("position_ids", "attention_mask")}
    return {**plain, "spans": list(pairwise(bounds))}


def verify_forward(case: Case, output: Output) -> None:
    expected = llama.oracle(case)
    ids = case["input_ids"]
    expect_close(
        output["full"], expected, TOLERANCE, "forward_with_cache(model, ids)", lambda: HINTS["full"]
    )
    if output["cached"] != ids.shape[1]:
        raise CheckFailed(
            f"after {ids.shape[1]} tokens the cache holds {output['cached']}. {HINTS['update']}"
        )
    for (a, b), logits in zip(case["spans"], output["chunks"], strict=True):
        what = f"forward_with_cache on tokens {a}…{b - 1} with {a} cached"
        hint = HINTS["positions" if a else "update"]
        expect_close(logits, expected[:, a:b], TOLERANCE, what, lambda hint=hint: hint)


# ---- the whole stack ------------------------------------------------------------------------


def verify_own_stack(case: Case, output: Output) -> None:
    """Equal to HF's generate, or different only where rounding flipped a near-tie."""
    expected = per_case(hf_generate)(case)
    tokens = output["tokens"]
    if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2:
        raise CheckFailed(f"generate returned {tokens!r:.40}, expected ids of shape (batch, seq).")
    if tokens.shape == expected.shape and torch.equal(tokens, expected):
        return
    explain_divergence(case, tokens, output["last_logits"], expected, HINTS["own_stack"])


def explain_divergence(case: Case, tokens, last_logits, expected, hint: str) -> None:
    """Accept tokens unlike HF's when the learner's logits are HF's and HF's sampler agrees.

    The learner's last-position logits at every step must be within tolerance of HF's on the
    same prefix (the learner's own tokens), and HF's sampling loop fed those logits must draw
    exactly the learner's tokens. Anything else fails with the first difference.
    """
    difference = "" if tokens.shape != expected.shape else first_difference(tokens, expected, case)
    failure = f"your generated tokens differ from HF's generate ({difference or describe(tokens)})"
    prompt = case["input_ids"].shape[1]
    steps = tokens.shape[1] - prompt
    if not isinstance(last_logits, list) or len(last_logits) != steps:
        raise CheckFailed(f"{failure}. {hint}")
    with torch.no_grad():
        teacher = llama.hf_model(case)(tokens[:, :-1]).logits[:, prompt - 1 :]
    for step, logits in enumerate(last_logits):
        if not isinstance(logits, torch.Tensor) or not is_close(
            logits, teacher[:, step], TOLERANCE
        ):
            raise CheckFailed(f"{failure}; the logits of new token {step} differ too. {hint}")
    replayed = iter(last_logits)
    settings = {**case["settings"], "use_cache": False}
    with torch.random.fork_rng():
        torch.manual_seed(case["seed"])
        again = reference.generate(
            lambda ids: next(replayed)[:, None], case["input_ids"], **settings
        )
    if not torch.equal(again, tokens):
        raise CheckFailed(f"{failure}, and HF's sampler on your logits draws others. {hint}")


# ---- the graded items -----------------------------------------------------------------------

seeds = st.integers(0, 2**31 - 1)
vocabs = st.integers(4, 40)


@st.composite
def generation_cases(
    draw, sampled: bool, eos: bool = False, cache_only: bool = False, padded: bool = True
) -> Case:
    """Drawn models and settings; with `padded`, sometimes a left-padded batch."""
    vocab = draw(vocabs)
    case = generation_case(
        seed=draw(seeds),
        vocab=vocab,
        heads=draw(st.sampled_from([2, 4])),
        layers=draw(st.integers(1, 2)),
        batch=draw(st.integers(1, 3)),
        seq=draw(st.integers(1, 5)),
        max_new_tokens=draw(st.integers(1, 8)),
        temperature=draw(st.floats(0.3, 2.0)) if sampled else 0.0,
        top_k=draw(st.none() | st.integers(1, vocab + 2)) if sampled else None,
        top_p=draw(st.none() | st.floats(0.2, 1.0)) if sampled else None,
        eos_token_id=draw(st.integers(0, vocab - 1)) if eos else None,
        pad_token_id=draw(st.none() | st.integers(0, vocab - 1)) if eos else None,
        use_cache=cache_only or draw(st.booleans()),
    )
    if padded and draw(st.booleans()):
        batch, seq = case["input_ids"].shape
        return left_padded(
            case, draw(st.lists(st.integers(1, seq), min_size=batch, max_size=batch))
        )
    return case


def greedy(use_cache: bool) -> Case:
    return generation_case(0, 32, 4, 2, 2, 4, 6, use_cache=use_cache)


def sampled(use_cache: bool) -> Case:
    settings = {"temperature": 0.8, "top_k": 10, "top_p": 0.9, "use_cache": use_cache}
    return generation_case(1, 32, 4, 2, 3, 4, 8, **settings)


def eos_mid_batch(use_cache: bool, pad_token_id: int | None = 0) -> Case:
    """Row 0 produces EOS (token 1) at its fifth new token; rows 1 and 2 never do."""
    settings = {"eos_token_id": 1, "pad_token_id": pad_token_id, "use_cache": use_cache}
    return generation_case(0, 8, 2, 1, 3, 3, 8, temperature=1.0, **settings)


register(
    Item(
        "generate_greedy",
        CHAPTER,
        points=2,
        title="greedy `generate` equals LlamaForCausalLM.generate, cache off and on, "
        "left-padded batches too",
        probe=probe_generate,
        verify=verify_generate,
        examples=lambda: [greedy(False), greedy(True), left_padded(greedy(True), [4, 2])],
        strategy=generation_cases(sampled=False),
        max_examples=30,
    ),
    Item(
        "generate_sampling",
        CHAPTER,
        points=3,
        title="sampled `generate` equals HF's under the same seed, and with a generator, "
        "left-padded batches too",
        probe=probe_generate,
        verify=verify_generate,
        examples=lambda: [
            sampled(False),
            sampled(True),
            left_padded(sampled(False), [4, 1, 3]),
        ],
        strategy=generation_cases(sampled=True),
        max_examples=30,
    ),
    Item(
        "generate_eos",
        CHAPTER,
        points=2,
        title="rows that produce EOS stop and are padded, as in HF's generate",
        probe=probe_generate,
        verify=verify_generate,
        examples=lambda: [eos_mid_batch(False), eos_mid_batch(True, None)],
        strategy=generation_cases(sampled=True, eos=True),
        max_examples=30,
    ),
    Item(
        "generate_kv_cache",
        CHAPTER,
        points=2,
        title="`KVCache` stores and returns keys and values as HF's DynamicCache does",
        probe=probe_cache,
        verify=verify_cache,
        examples=lambda: [cache_case(0, 2, 2, 2, [3, 1, 1])],
        strategy=st.builds(
            cache_case,
            seeds,
            st.integers(1, 3),
            st.integers(1, 2),
            st.integers(1, 3),
            st.lists(st.integers(1, 4), min_size=1, max_size=4),
        ),
    ),
    Item(
        "generate_forward_with_cache",
        CHAPTER,
        points=3,
        title="`forward_with_cache` fed in chunks equals LlamaForCausalLM on the whole prompt",
        probe=probe_forward,
        verify=verify_forward,
        examples=lambda: [
            chunked_case(llama.tiny(), [3, 4, 5]),
            chunked_case(llama.tiny_tied(), [1]),
        ],
        strategy=st.builds(chunked_case, llama.configs, st.lists(st.integers(1, 7), max_size=3)),
        max_examples=30,
    ),
    Item(
        "generate_own_stack",
        CHAPTER,
        points=2,
        title="whole stack: your Llama, cache, sampler and loop together generate HF's tokens",
        probe=probe_own_stack,
        verify=verify_own_stack,
        examples=lambda: [sampled(True), eos_mid_batch(True), greedy(False)],
        strategy=generation_cases(sampled=True, eos=True, cache_only=True, padded=False),
        max_examples=20,
    ),
)
