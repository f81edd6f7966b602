"""Chapter 7's probes: the learner's loop, KV cache and forward_with_cache on a case.

The model is LLaMA in plain torch with the case's weights (`grader.probes.parts`): behind the
chapter's model protocol with a cache (`CachedLlama`) for the loop items, without one for
`forward_with_cache`, which must build the cached pass itself. An item that grades one part
runs with the others lent (HF's sampler, DynamicCache and chapter 2's functions, in plain
torch); in kit grade its child holds those parts alone (`lends`), never the one it grades.
"""

from __future__ import annotations

import importlib

import torch

from grader.chapters import one_line
from grader.probes.config import llama_config, stand_in_module, stand_ins
from grader.probes.llama import load_into
from grader.probes.parts import attention, decoder, defined_in, lends, mlp, rmsnorm
from grader.probes.parts.llama import Llama
from grader.probes.parts.sampling import sample_next_token
from grader.registry import Case, CheckFailed, Output

CACHE_DIM = (
    "Concatenate keys and values along the sequence axis, dim=-2 of "
    "(batch, kv_heads, seq, head_dim), separately for each layer."
)
# Chapters 2, 3 and 6, which the locked cell imports (from the learner's files next to this
# one, else from `grader.reference`): in kit grade the file comes alone, so every child of
# this chapter holds these parts, and `grader.reference` is a module of them.
EARLIER = ("rmsnorm", "attention", "mlp", "decoder", "llama", "sampling")
STAND_INS = {
    **stand_ins(),  # the probes' LlamaConfig
    "grader.reference": stand_in_module(
        "grader.reference",
        "chapters 2, 3 and 6",
        **defined_in(rmsnorm, attention, mlp, decoder),
        Llama=Llama,
        sample_next_token=sample_next_token,
    ),
}
# What forward_with_cache is lent: chapter 2's functions, by the learner's names.
FUNCTIONS = ("rotate_half", "rope_cos_sin", "apply_rope", "repeat_kv")
FUNCTIONS += ("scaled_dot_product_attention",)


def part(module: str, name: str):
    """A lent part, imported on demand: a child that is not lent it has no such file."""
    return getattr(importlib.import_module(f"grader.probes.parts.{module}"), name)


def model_of(case: Case, cls: type) -> torch.nn.Module:
    """The case's model as `cls`, with its weights, in eval mode."""
    model = cls(llama_config(case["config"]))
    model.load_state_dict(case["state_dict"])
    return model.eval()


class Recording:
    """A model behind generate's protocol that records the shape of every call and its cache."""

    def __init__(self, model) -> None:
        self.model = model
        self.calls: list[list[int]] = []
        self.caches: list[object] = []

    def __call__(self, input_ids, cache=None, position_ids=None, attention_mask=None):
        self.calls.append(list(input_ids.shape))
        self.caches.append(cache)
        with torch.no_grad():
            return self.model(input_ids, cache, position_ids, attention_mask)


def run_generate(
    impl, case: Case, model, generator: torch.Generator | None = None, global_seed=None
):
    """The learner's generate with the case's settings, under torch.manual_seed(global_seed)."""
    with torch.random.fork_rng():
        torch.manual_seed(case["seed"] if global_seed is None else global_seed)
        padding = {"attention_mask": case["attention_mask"]} if "attention_mask" in case else {}
        ids = case["input_ids"]
        return impl.generate(model, ids, generator=generator, **case["settings"], **padding)


@lends(*EARLIER, "kv_cache", "cached")
def probe_generate(impl, case: Case) -> Output:
    """The learner's loop around the model with a cache, HF's sampler and cache lent."""
    model = Recording(model_of(case, part("cached", "CachedLlama")))
    lent = {"sample_next_token": sample_next_token, "KVCache": part("kv_cache", "KVCache")}
    with impl.substituted(lent):
        tokens = run_generate(impl, case, model)
        calls, caches = list(model.calls), list(model.caches)
        with_generator = None
        if case["settings"]["temperature"] != 0:  # greedy draws nothing: no generator to check
            seeded = torch.Generator().manual_seed(case["seed"])
            # A different global state, so that only `seeded` can reproduce the tokens.
            with_generator = run_generate(impl, case, model, seeded, global_seed=case["seed"] + 1)
    one_cache = len({id(cache) for cache in caches}) == 1 and None not in caches
    return {
        "tokens": tokens,
        "tokens_generator": with_generator,
        "calls": calls,
        "one_cache": one_cache,
    }


def replay_cache(cache, updates) -> Output:
    """Feed the updates as a forward pass would; record what update and get_seq_length say."""
    returned, lengths = [], [cache.get_seq_length()]
    for chunk in updates:
        for layer_idx, kv in enumerate(chunk):
            keys, values = cache.update(kv[0], kv[1], layer_idx)
            returned.append(torch.stack([keys, values]))
        lengths.append([cache.get_seq_length(i) for i in range(len(chunk))])
    return {"returned": returned, "lengths": lengths}


@lends(*EARLIER)
def probe_cache(impl, case: Case) -> Output:
    try:
        return replay_cache(impl.KVCache(), case["updates"])
    except NotImplementedError:
        raise  # the runner says which function is still to write
    except RuntimeError as error:  # torch.cat of mismatched shapes, most often
        message = one_line(error).rstrip(".")
        raise CheckFailed(f"KVCache raised {message}. {CACHE_DIM}") from None


@lends(*EARLIER, "kv_cache")
def probe_forward(impl, case: Case) -> Output:
    """The learner's forward_with_cache on the model, with chapter 2's functions and HF's
    cache lent."""
    model = model_of(case, Llama)
    ids = case["input_ids"]
    lent = {name: part("attention", name) for name in FUNCTIONS}
    with impl.substituted(lent), torch.no_grad():
        full = impl.forward_with_cache(model, ids)
        cache = part("kv_cache", "KVCache")()
        chunks = [impl.forward_with_cache(model, ids[:, a:b], cache) for a, b in case["spans"]]
    return {"full": full, "chunks": chunks, "cached": cache.get_seq_length()}


@lends(*EARLIER)
def probe_own_stack(impl, case: Case) -> Output:
    """The learner's Llama, forward_with_cache, KVCache, sampler and loop together."""
    model = impl.Llama(llama_config(case["config"]))
    load_into(model, case["state_dict"], "Llama")
    model.eval()
    recorded = []

    def step(input_ids, cache=None):
        with torch.no_grad():
            logits = impl.forward_with_cache(model, input_ids, cache)
        recorded.append(logits[:, -1, :])
        return logits

    return {"tokens": run_generate(impl, case, step), "last_logits": recorded}
