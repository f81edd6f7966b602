# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Chapter 7: the generation loop and the key/value cache
#
# A language model predicts one token at a time. **Generation** is a loop: run the model on
# the sequence so far, take the logits of the **last** position, choose a token (chapter 6's
# `sample_next_token`), append it, repeat. Hugging Face's `model.generate` is this loop with
# many options; this chapter writes the core of it and checks it token for token against
# `LlamaForCausalLM.generate`.
#
# ## Stopping at EOS in a batch
#
# Every row of a batch runs until it produces the end-of-sequence token `eos_token_id`.
# A row that has finished cannot leave the batch, so from then on it receives `pad_token_id`
# instead of a sampled token (`eos_token_id` when no pad id is given, as in HF). The loop
# ends when every row has finished, or after `max_new_tokens` steps. The rows share one
# random draw per step (`torch.multinomial` over the whole batch), finished or not: that is
# what keeps the tokens equal to HF's under the same seed.
#
# ## The key/value cache
#
# Without a cache, step `t` runs the model on all `S + t` tokens, although only the last
# position's logits are used: the cost of a step grows with the length. But in a causal model
# the keys and values of earlier positions never change. A **KV cache** keeps, for every
# layer, the keys and values computed so far (`(batch, kv_heads, seq, head_dim)`, after
# RoPE). The first call runs the whole prompt and fills the cache (the "prefill"); each
# later call runs only the new token, whose query attends to the cached keys and its own.
#
# Two details decide whether the tokens come out identical:
#
# - **positions**: the new tokens are at positions `past … past + S - 1`, where `past` is the
#   number of tokens already in the cache *before* this call's update;
# - **the causal mask** with more keys than queries: query `i` of `S` sees keys
#   `0 … past + i`. Chapter 2's `scaled_dot_product_attention` already does this (the queries
#   are the last `S` positions).
#
# The cache's API is Hugging Face's `DynamicCache`: `update(key_states, value_states,
# layer_idx)` stores and returns all keys and values of that layer, and `get_seq_length()`
# says how many positions are cached. GQA is what keeps this cache small: it stores
# `kv_heads`, not `heads`, per layer.
#
# ## Prompts of different lengths
#
# A batch is a rectangle, so shorter prompts are **left-padded** (padding first, so that
# every row's last position is its newest token) and an `attention_mask` `(batch, seq)` says
# which tokens are real (1) and which are padding (0). Two things change for a padded row:
# attention must not look at the padding (the mask), and positions count only real tokens,
# `position_ids = cumsum(attention_mask) - 1`, clamped at 0 for the padding itself (as
# Hugging Face's `generate` does), so that a prompt gets the same positions, and the same
# tokens, whether it is padded or not. Each new token extends the mask by a 1.
#
# ## The model protocol
#
# `generate` takes any callable `model(input_ids) -> logits`. With `use_cache=True` it calls
# `model(input_ids, cache=cache)` instead, with a `KVCache` it made: first the prompt, then
# one token per step. With an `attention_mask` it also passes the keywords
# `position_ids=` (for the ids it passes) and `attention_mask=` (the whole mask so far,
# cached tokens included). Your `forward_with_cache(model, input_ids, cache)` runs chapter 3's
# `Llama` that way (`functools.partial(forward_with_cache, model)` is such a callable).

# %% nbgrader={"grade": false, "grade_id": "generate_imports", "locked": true, "schema_version": 3, "solution": false, "task": false}
from collections.abc import Callable

import torch

try:  # your chapters 2, 3 and 6, next to this file
    from attention import apply_rope, rope_cos_sin, scaled_dot_product_attention
    from llama import Llama
    from sampling import sample_next_token
except ImportError:  # the kit's reference versions (Hugging Face's code)
    from grader.reference import (
        Llama,
        apply_rope,
        rope_cos_sin,
        sample_next_token,
        scaled_dot_product_attention,
    )

# %% [markdown]
# ## Exercise 1: the loop
#
# `generate(model, input_ids, max_new_tokens, temperature=1.0, top_k=None, top_p=None,
# eos_token_id=None, pad_token_id=None, generator=None, use_cache=False,
# attention_mask=None)` returns `(batch, seq + steps)` token ids: the prompt and what followed. Each step draws the next
# tokens of the whole batch with one call of `sample_next_token` on the last position's
# logits. With `eos_token_id`, a row that has produced it gets `pad_token_id` (or
# `eos_token_id` when that is None) from then on, and the loop stops early when every row
# has finished. With `use_cache=True`, make one `KVCache()` and call
# `model(new_ids, cache=cache)` with the prompt first, then with only the newest token.
# With `attention_mask` (a left-padded batch), also pass `position_ids=` and
# `attention_mask=` as described above.

# %% nbgrader={"grade": false, "grade_id": "generate_loop_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
def generate(
    model: Callable[..., torch.Tensor],
    input_ids: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    eos_token_id: int | None = None,
    pad_token_id: int | None = None,
    generator: torch.Generator | None = None,
    use_cache: bool = False,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Append up to max_new_tokens sampled tokens to every row; finished rows get padding."""
    ### BEGIN SOLUTION
    if pad_token_id is None:
        pad_token_id = eos_token_id
    cache = KVCache() if use_cache else None
    finished = torch.zeros(input_ids.shape[0], dtype=torch.bool)
    new_ids = input_ids  # what the model has not seen yet
    for _ in range(max_new_tokens):
        seen = new_ids if use_cache else input_ids
        cached = {"cache": cache} if use_cache else {}
        if attention_mask is not None:  # a left-padded batch: positions count real tokens
            position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
            cached |= {"position_ids": position_ids[:, -seen.shape[1] :]}
            cached |= {"attention_mask": attention_mask}
        logits = model(seen, **cached)
        tokens = sample_next_token(logits[:, -1, :], temperature, top_k, top_p, generator)
        if eos_token_id is not None:
            tokens = tokens.masked_fill(finished, pad_token_id)
            finished |= tokens == eos_token_id
        input_ids = torch.cat([input_ids, tokens[:, None]], dim=-1)
        if attention_mask is not None:  # every new token is a real one, finished rows too
            attention_mask = torch.cat([attention_mask, torch.ones_like(tokens[:, None])], -1)
        new_ids = tokens[:, None]
        if finished.all():
            break
    return input_ids
    ### END SOLUTION


# %% [markdown]
# ## Exercise 2: the cache
#
# `KVCache()` starts empty. `update(key_states, value_states, layer_idx)` appends the new
# keys and values `(batch, kv_heads, new, head_dim)` of one layer along the sequence axis
# and returns that layer's keys and values so far; `get_seq_length(layer_idx=0)` is the
# number of positions cached for a layer (0 before its first update).

# %% nbgrader={"grade": false, "grade_id": "generate_cache_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
class KVCache:
    """Every layer's keys and values so far, with the API of HF's DynamicCache."""

    def __init__(self) -> None:
        ### BEGIN SOLUTION
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        ### END SOLUTION

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Append one layer's new keys and values; return all of that layer's so far."""
        ### BEGIN SOLUTION
        if layer_idx == len(self.keys):
            self.keys.append(key_states)
            self.values.append(value_states)
        else:
            self.keys[layer_idx] = torch.cat([self.keys[layer_idx], key_states], dim=-2)
            self.values[layer_idx] = torch.cat([self.values[layer_idx], value_states], dim=-2)
        return self.keys[layer_idx], self.values[layer_idx]
        ### END SOLUTION

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """How many positions the layer has cached."""
        ### BEGIN SOLUTION
        return self.keys[layer_idx].shape[-2] if layer_idx < len(self.keys) else 0
        ### END SOLUTION


# %% [markdown]
# ## Exercise 3: a forward pass that uses the cache
#
# `forward_with_cache(model, input_ids, cache=None)` computes what `model(input_ids)` does,
# for a chapter 3 `Llama` (or anything with Hugging Face's module names and a `config`),
# when the cache already holds the earlier tokens: embed, then in every layer normalise,
# project q, k and v, rotate them at the right positions, `cache.update` the keys and values,
# attend over all of them, and go on as `DecoderLayer` does; final norm, `lm_head`. With
# `cache=None` it is the plain forward pass. Use chapter 2's functions for RoPE and attention.

# %% nbgrader={"grade": false, "grade_id": "generate_forward_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
def forward_with_cache(
    model: Llama, input_ids: torch.Tensor, cache: KVCache | None = None
) -> torch.Tensor:
    """Logits (batch, seq, vocab) of new tokens that follow the cached ones."""
    ### BEGIN SOLUTION
    config = model.config
    batch, seq_len = input_ids.shape
    head_dim = config.hidden_size // config.num_attention_heads
    past = cache.get_seq_length() if cache is not None else 0  # before this call's update
    position_ids = torch.arange(past, past + seq_len).expand(batch, -1)
    cos, sin = rope_cos_sin(position_ids, head_dim, config.rope_parameters["rope_theta"])

    hidden_states = model.model.embed_tokens(input_ids)
    for layer_idx, layer in enumerate(model.model.layers):
        attn, x = layer.self_attn, layer.input_layernorm(hidden_states)
        q, k, v = (
            proj(x).view(batch, seq_len, -1, head_dim).transpose(1, 2)
            for proj in (attn.q_proj, attn.k_proj, attn.v_proj)
        )
        q, k = apply_rope(q, k, cos.to(q.dtype), sin.to(q.dtype))
        if cache is not None:
            k, v = cache.update(k, v, layer_idx)
        out = scaled_dot_product_attention(q, k, v, is_causal=True)
        hidden_states = hidden_states + attn.o_proj(out.transpose(1, 2).reshape(batch, seq_len, -1))
        hidden_states = hidden_states + layer.mlp(layer.post_attention_layernorm(hidden_states))
    return model.lm_head(model.model.norm(hidden_states))
    ### END SOLUTION


# %% [markdown]
# ## Checks
#
# Each cell below is a graded item; in pytest they run as `pytest -m generate`.

# %% nbgrader={"grade": false, "grade_id": "generate_checks_setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
# The checks run when this file is a notebook (or `python generate.py`), not when pytest imports it.
if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore")  # nbgrader scores 0 for a graded cell that writes to stderr
    from grader.notebook import check

# %% nbgrader={"grade": true, "grade_id": "generate_greedy", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Greedy `generate` equals LlamaForCausalLM.generate, cache off and on, left-padded batches too.
if __name__ == "__main__":
    check("generate_greedy", globals())

# %% nbgrader={"grade": true, "grade_id": "generate_sampling", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Sampled `generate` equals HF's under the same seed, and with a generator, left-padded
# batches too.
if __name__ == "__main__":
    check("generate_sampling", globals())

# %% nbgrader={"grade": true, "grade_id": "generate_eos", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Rows that produce EOS stop and are padded, as in HF's generate.
if __name__ == "__main__":
    check("generate_eos", globals())

# %% nbgrader={"grade": true, "grade_id": "generate_kv_cache", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# `KVCache` stores and returns keys and values as HF's DynamicCache does.
if __name__ == "__main__":
    check("generate_kv_cache", globals())

# %% nbgrader={"grade": true, "grade_id": "generate_forward_with_cache", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# `forward_with_cache` fed in chunks equals LlamaForCausalLM on the whole prompt.
if __name__ == "__main__":
    check("generate_forward_with_cache", globals())

# %% nbgrader={"grade": true, "grade_id": "generate_own_stack", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Whole stack: your Llama, cache, sampler and loop together generate HF's tokens.
if __name__ == "__main__":
    check("generate_own_stack", globals())
