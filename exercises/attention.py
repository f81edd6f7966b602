# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Chapter 2: rotary embeddings and grouped-query attention
#
# Attention lets every token look at the tokens before it. LLaMA's attention differs from the
# original Transformer's in two ways that this chapter builds: positions enter through
# **rotary position embeddings (RoPE)**, and several query heads share one key/value head
# (**grouped-query attention, GQA**).
#
# Shapes follow Hugging Face: queries are `(batch, heads, seq, head_dim)`, keys and values
# `(batch, kv_heads, seq, head_dim)`, with `head_dim = hidden_size // num_heads`. Llama 3 8B
# has hidden size 4096, 32 query heads and 8 key/value heads, so `head_dim` is 128 and
# `k_proj` and `v_proj` map 4096 to 8 × 128 = 1024.
#
# ## Rotary position embeddings
#
# RoPE rotates pairs of coordinates of each query and key by an angle proportional to the
# token's position `m`. Pair `i` (of `head_dim / 2`) turns at frequency
# `inv_freq[i] = theta ** (-2i / head_dim)`: the first pairs spin fast, the last ones slowly.
# Because a rotation by `m·θ` followed by the transpose of one by `n·θ` is a rotation by
# `(m - n)·θ`, the score `q_m · k_n` depends only on the distance `m - n`. Rotations keep
# lengths, so RoPE never changes a vector's norm, and position 0 is no rotation at all.
#
# **Which coordinates form a pair is where Meta and Hugging Face disagree.** Meta's original
# code pairs neighbours, `(x0, x1), (x2, x3), …`, and rotates them as complex numbers.
# Hugging Face pairs the two halves, `(x0, x_{d/2}), (x1, x_{d/2+1}), …`:
#
# - `cos` and `sin` are the per-pair angles repeated for both halves, `cat(freqs, freqs)`;
# - `rotate_half(x)` maps `(x1, x2)` (the two halves) to `(-x2, x1)`;
# - `q * cos + rotate_half(q) * sin` rotates every pair.
#
# The two layouts give the same model once the query and key weights are permuted (the last
# exercise). **This kit follows Hugging Face**, so that your modules load HF checkpoints.
#
# `theta` ("rope_theta" in a config) is 10,000 in Llama 2 and 500,000 in Llama 3, whose
# longer context needs slower-turning pairs.
#
# ## Grouped-query attention
#
# With `num_heads` query heads and `num_kv_heads` key/value heads, each key/value head serves
# `n_rep = num_heads // num_kv_heads` consecutive query heads: query heads `0 … n_rep-1` use
# key/value head 0, and so on. `repeat_kv` expands the key/value heads to match, repeating
# each head `n_rep` times **in place** (`[k0, k0, k1, k1]`, not `[k0, k1, k0, k1]`). GQA
# shrinks the key/value cache by `n_rep` (4× in Llama 3 8B) at almost no cost in quality.
#
# ## Scaled dot-product attention
#
# `softmax(q kᵀ / sqrt(head_dim) + mask) v`. The scale keeps the scores' variance near 1
# whatever the head size. The causal mask lets position `i` see positions `0 … i`, itself
# included, and nothing after. The softmax runs over the keys, the last axis, in float32.

# %% nbgrader={"grade": false, "grade_id": "attention_imports", "locked": true, "schema_version": 3, "solution": false, "task": false}
import math

import torch
from torch import nn

# %% [markdown]
# ## Exercise 1: RoPE
#
# - `rotate_half(x)`: the two halves `(x1, x2)` of the last dimension become `(-x2, x1)`.
# - `rope_cos_sin(position_ids, head_dim, theta)`: for `position_ids` of shape
#   `(batch, seq)`, return `cos` and `sin` of shape `(batch, seq, head_dim)` in float32, in
#   the split-half layout, like `LlamaRotaryEmbedding`.
# - `apply_rope(q, k, cos, sin)`: rotate `q` and `k`, both `(batch, heads, seq, head_dim)`;
#   `cos` and `sin` broadcast over the heads.

# %% nbgrader={"grade": false, "grade_id": "attention_rope_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """Map the halves (x1, x2) of the last dimension to (-x2, x1)."""
    # YOUR CODE HERE
    raise NotImplementedError()


def rope_cos_sin(
    position_ids: torch.Tensor, head_dim: int, theta: float = 10000.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of every position's angles, (batch, seq, head_dim), split-half layout."""
    # YOUR CODE HERE
    raise NotImplementedError()


def apply_rope(
    q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate queries and keys (batch, heads, seq, head_dim) by their positions' angles."""
    # YOUR CODE HERE
    raise NotImplementedError()


# %% [markdown]
# ## Exercise 2: grouped-query attention
#
# - `repeat_kv(x, n_rep)`: `(batch, kv_heads, seq, head_dim)` to
#   `(batch, kv_heads * n_rep, seq, head_dim)`, each head repeated `n_rep` times in place.
# - `scaled_dot_product_attention(q, k, v, is_causal=True, attention_mask=None)`: `q` is
#   `(B, H, S, D)`, `k` and `v` are `(B, KV, S_k, D)` with `H` a multiple of `KV`. Return
#   `(B, H, S, D)`. With `is_causal`, query `i` sees keys `0 … i + S_k - S` (the queries are
#   the last `S` positions). `attention_mask`, when given, is Hugging Face's 2-D `(B, S_k)`
#   padding mask: 1 for a real token, 0 for padding, which no query may see. Compute the
#   softmax in float32 and return the queries' dtype.
#
# Block a score by setting it to the dtype's most negative number,
# `torch.finfo(scores.dtype).min`, as Hugging Face does, not to `-inf`: a padding query at
# the start of a left-padded row sees no key at all, and a softmax over a row of `-inf` is
# NaN, which the next layer spreads to every real token through its values (`0 · NaN` is
# NaN). With `finfo.min` such a row stays finite, and a real query still gives exactly zero
# weight to every blocked key.

# %% nbgrader={"grade": false, "grade_id": "attention_gqa_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """Repeat each key/value head n_rep times in place: [k0, k0, k1, k1] for n_rep = 2."""
    # YOUR CODE HERE
    raise NotImplementedError()


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    is_causal: bool = True,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """softmax(q kᵀ / sqrt(head_dim) + mask) v, with k and v shared across head groups."""
    # YOUR CODE HERE
    raise NotImplementedError()


# %% [markdown]
# ## Exercise 3: the attention module
#
# `Attention(hidden_size, num_heads, num_kv_heads, rope_theta)` holds four bias-free
# projections named as in `LlamaAttention` (so that its `state_dict` loads): `q_proj`
# (hidden → heads × head_dim), `k_proj` and `v_proj` (hidden → kv_heads × head_dim) and
# `o_proj` (heads × head_dim → hidden). `forward(hidden_states, position_ids=None,
# attention_mask=None)` takes `(batch, seq, hidden)`; positions default to `0 … seq-1`.
# Project, split into heads, rotate q and k (cast `cos` and `sin` to the activations' dtype,
# as HF does), attend causally with the padding mask, merge the heads and project back.
#
# Why both arguments: a batch of prompts of different lengths is **left-padded** to one
# length, and Hugging Face passes a 2-D `attention_mask` (1 = real token, 0 = padding) and
# positions that start after the padding, `position_ids = (attention_mask.cumsum(-1) - 1)
# .clamp(min=0)`. A prompt then gets exactly the outputs it gets alone. Use the positions you
# are given: shifting every position by the same amount changes nothing under RoPE, but any
# other positions do.

# %% nbgrader={"grade": false, "grade_id": "attention_module_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
class Attention(nn.Module):
    """LLaMA's causal self-attention with RoPE and grouped-query heads."""

    def __init__(
        self, hidden_size: int, num_heads: int, num_kv_heads: int, rope_theta: float = 10000.0
    ) -> None:
        super().__init__()
        # YOUR CODE HERE
        raise NotImplementedError()

    def forward(
        self,
        hidden_states: torch.Tensor,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(batch, seq, hidden) -> (batch, seq, hidden), each token seeing only past real ones."""
        # YOUR CODE HERE
        raise NotImplementedError()


# %% [markdown]
# ## Exercise 4 (advanced): Llama 3's RoPE scaling
#
# Llama 3.1 stretches its context from 8,192 to 131,072 tokens by slowing down RoPE's
# low-frequency pairs. Its config says
# `rope_parameters = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
# "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}`.
# With `wavelen = 2π / inv_freq`:
#
# - pairs that turn fast (`wavelen < original_max / high_freq_factor`) keep their frequency;
# - pairs that turn slowly (`wavelen > original_max / low_freq_factor`) are divided by `factor`;
# - in between, interpolate with `smooth = (original_max / wavelen - low) / (high - low)`:
#   `(1 - smooth) * inv_freq / factor + smooth * inv_freq`.
#
# Write `inv_freq(head_dim, rope_parameters)`: the default frequencies for
# `rope_type == "default"`, the scaled ones for `"llama3"`.

# %% nbgrader={"grade": false, "grade_id": "attention_llama3_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
def inv_freq(head_dim: int, rope_parameters: dict) -> torch.Tensor:
    """RoPE's per-pair frequencies (head_dim / 2,), with Llama 3 scaling when asked for."""
    # YOUR CODE HERE
    raise NotImplementedError()


# %% [markdown]
# ## Exercise 5 (advanced): from Meta's checkpoint layout to Hugging Face's
#
# Meta's weights rotate neighbouring coordinates; HF's rotate halves. To load Meta's `wq`
# and `wk` into `q_proj` and `k_proj`, reorder each head's output rows so that the even
# rows (first of each pair) come first and the odd rows after: view the weight as
# `(heads, head_dim // 2, 2, in)`, swap the middle axes, reshape back. `wv` and `wo` are
# unchanged, because RoPE never touches values. The check runs Meta-style complex-number
# attention on the original weights and HF's attention on yours.
#
# `permute(w, n_heads)`: `w` is `(n_heads * head_dim, in_features)`; pass `num_kv_heads`
# for `wk`.

# %% nbgrader={"grade": false, "grade_id": "attention_permute_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
def permute(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Reorder a Meta q/k weight's rows from interleaved pairs to HF's split halves."""
    # YOUR CODE HERE
    raise NotImplementedError()


# %% [markdown]
# ## Checks
#
# Each cell below is a graded item; in pytest they run as `pytest -m attention`.

# %% nbgrader={"grade": false, "grade_id": "attention_checks_setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
# The checks run when this file is a notebook (or `python attention.py`), not when pytest imports it.
if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore")  # nbgrader scores 0 for a graded cell that writes to stderr
    from grader.notebook import check

# %% nbgrader={"grade": true, "grade_id": "attention_rotate_half", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# `rotate_half` equals transformers' rotate_half.
if __name__ == "__main__":
    check("attention_rotate_half", globals())

# %% nbgrader={"grade": true, "grade_id": "attention_rope_cos_sin", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# `rope_cos_sin` equals LlamaRotaryEmbedding's cos and sin.
if __name__ == "__main__":
    check("attention_rope_cos_sin", globals())

# %% nbgrader={"grade": true, "grade_id": "attention_apply_rope", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# `apply_rope` equals apply_rotary_pos_emb in float32, bfloat16 and float16.
if __name__ == "__main__":
    check("attention_apply_rope", globals())

# %% nbgrader={"grade": true, "grade_id": "attention_rope_properties", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# RoPE keeps norms, depends only on relative position, is the identity at 0.
if __name__ == "__main__":
    check("attention_rope_properties", globals())

# %% nbgrader={"grade": true, "grade_id": "attention_repeat_kv", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# `repeat_kv` equals transformers' repeat_kv.
if __name__ == "__main__":
    check("attention_repeat_kv", globals())

# %% nbgrader={"grade": true, "grade_id": "attention_sdpa", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# `scaled_dot_product_attention` equals HF's eager attention, causal or not.
if __name__ == "__main__":
    check("attention_sdpa", globals())

# %% nbgrader={"grade": true, "grade_id": "attention_sdpa_properties", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Weights sum to 1, the future is invisible, GQA equals MHA on expanded heads.
if __name__ == "__main__":
    check("attention_sdpa_properties", globals())

# %% nbgrader={"grade": true, "grade_id": "attention_module", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Attention equals LlamaAttention in float32 (state_dict loads strictly).
if __name__ == "__main__":
    check("attention_module", globals())

# %% nbgrader={"grade": true, "grade_id": "attention_module_half", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Attention equals LlamaAttention built in bfloat16 and float16.
if __name__ == "__main__":
    check("attention_module_half", globals())

# %% nbgrader={"grade": true, "grade_id": "attention_inv_freq", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# `inv_freq` equals transformers' default and llama3 RoPE frequencies.
if __name__ == "__main__":
    check("attention_inv_freq", globals())

# %% nbgrader={"grade": true, "grade_id": "attention_permute", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# `permute` converts Meta's q/k weights: HF attention equals Meta's attention.
if __name__ == "__main__":
    check("attention_permute", globals())
