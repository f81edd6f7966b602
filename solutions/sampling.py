# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Chapter 6: sampling the next token
#
# A language model gives logits, one score per vocabulary entry; turning them into a token
# is a choice. **Greedy** decoding takes the largest. **Sampling** draws from the softmax of
# the logits, usually reshaped first by three knobs, applied in this order (the order of
# Hugging Face's `generate`):
#
# 1. **temperature** `T`: divide the logits by `T`. `T < 1` sharpens the distribution,
#    `T > 1` flattens it; it never changes which token is most likely. `T = 0` would divide
#    by zero, so by convention it means greedy decoding (HF's warper refuses 0 and asks you
#    for `do_sample=False`);
# 2. **top-k**: keep the `k` largest logits, set the rest to `-inf`. Hugging Face keeps every
#    token **tied** with the k-th largest, so `[3, 2, 2, 1]` with k = 2 keeps three;
# 3. **top-p** (nucleus sampling, Holtzman et al. 2019): keep the smallest set of most likely
#    tokens whose probabilities add up to at least `p`.
#
# then softmax and a draw (`torch.multinomial`).
#
# ## The top-p boundary: Hugging Face and Meta disagree
#
# Sort the probabilities in decreasing order. Hugging Face keeps a token when the mass of the
# tokens **before** it is **below** `p`, so the token that crosses `p` is kept. Meta's
# `sample_top_p` keeps a token when the mass before it is **at most** `p`. They differ exactly
# on boundaries: with probabilities `[0.5, 0.25, 0.25]` and `p = 0.5`, Hugging Face keeps one
# token (0.5 already reaches p) and Meta keeps two. **This kit follows Hugging Face**; the
# last exercise makes you write Meta's rule and see the difference.
#
# Two more details of Hugging Face's rule: at least `min_tokens_to_keep` tokens survive, and
# `p = 1.0` removes only tokens of probability zero, while `p = 0` keeps exactly one.
#
# **Precision.** `TopPLogitsWarper` computes its softmax and cumulative sum in the logits'
# dtype (bfloat16 logits: bfloat16 sums). Rounding can move a token across the boundary, so
# the check accepts the count that HF's rule gives in the logits' dtype, in float32 or in
# float64 (and, for `p < 1`, a descending "mass before < p" sum in the logits' dtype or
# float32). Meta's `sample_top_p` runs in float32: its model casts the logits to float
# before sampling; the check accepts float32 or float64 there. The filters return the logits
# in their own dtype either way.
#
# ## Where the filters work
#
# Filters act on **logits** and put `-inf` (the `filter_value`) where a token is removed, so
# that the softmax afterwards renormalises over the survivors. Filtering probabilities after
# the softmax leaves a distribution that no longer sums to one.

# %% nbgrader={"grade": false, "grade_id": "sampling_imports", "locked": true, "schema_version": 3, "solution": false, "task": false}
import torch

# %% [markdown]
# ## Exercise 1: the three filters
#
# Each works on logits of shape `(batch, vocab)` and returns a new tensor of the same shape
# and dtype. Raise `ValueError` with a clear message for a temperature that is not positive,
# a `top_k` below 1, or a `top_p` outside `[0, 1]`.
#
# - `apply_temperature(logits, temperature)`
# - `top_k_filter(logits, top_k, filter_value=-inf)`: keep the `top_k` largest and every tie
#   of the k-th largest.
# - `top_p_filter(logits, top_p, min_tokens_to_keep=1, filter_value=-inf)`: Hugging Face's
#   rule above, computed from the softmax of the logits.

# %% nbgrader={"grade": false, "grade_id": "sampling_filters_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """logits / temperature, for a strictly positive temperature."""
    ### BEGIN SOLUTION
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}; use greedy decoding for 0")
    return logits / temperature
    ### END SOLUTION


def top_k_filter(
    logits: torch.Tensor, top_k: int, filter_value: float = -float("inf")
) -> torch.Tensor:
    """Keep the top_k largest logits (and their ties); set the others to filter_value."""
    ### BEGIN SOLUTION
    if not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer, got {top_k}")
    k = min(top_k, logits.shape[-1])
    kth_largest = torch.topk(logits, k).values[..., -1:]
    return logits.masked_fill(logits < kth_largest, filter_value)
    ### END SOLUTION


def top_p_filter(
    logits: torch.Tensor,
    top_p: float,
    min_tokens_to_keep: int = 1,
    filter_value: float = -float("inf"),
) -> torch.Tensor:
    """Keep the most likely tokens until their probability reaches top_p (the crossing one too)."""
    ### BEGIN SOLUTION
    if not 0.0 <= top_p <= 1.0:
        raise ValueError(f"top_p must be in [0, 1], got {top_p}")
    sorted_logits, order = torch.sort(logits, descending=False)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove_sorted = cumulative <= 1 - top_p  # the mass of the tokens above is still >= top_p
    remove_sorted[..., -min_tokens_to_keep:] = False
    remove = remove_sorted.scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, filter_value)
    ### END SOLUTION


# %% [markdown]
# ## Exercise 2: drawing a token
#
# `sample_next_token(logits, temperature=1.0, top_k=None, top_p=None, generator=None)`:
# for logits `(batch, vocab)` return token ids `(batch,)`. With `temperature == 0` return the
# argmax. Otherwise apply temperature, then top-k, then top-p (each only when given), take
# the softmax in float32 and draw with `torch.multinomial(probs, 1, generator=generator)`.

# %% nbgrader={"grade": false, "grade_id": "sampling_sample_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sample_next_token(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One token id per row: greedy at temperature 0, else a draw from the filtered softmax."""
    ### BEGIN SOLUTION
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = apply_temperature(logits, temperature)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    probs = logits.float().softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
    ### END SOLUTION


# %% [markdown]
# ## Exercise 3: Meta's top-p
#
# `meta_top_p_filter(logits, top_p, filter_value=-inf)`: Meta's rule, as in `sample_top_p`
# of Meta's `llama/generation.py`: sort the probabilities in decreasing order, and remove a
# token when the mass **before** it is **greater than** `top_p`. The check runs it next to
# your `top_p_filter` on `[0.5, 0.25, 0.25]` with `p = 0.5`.

# %% nbgrader={"grade": false, "grade_id": "sampling_meta_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
def meta_top_p_filter(
    logits: torch.Tensor, top_p: float, filter_value: float = -float("inf")
) -> torch.Tensor:
    """Meta's nucleus rule: remove a token when the probability mass before it exceeds top_p."""
    ### BEGIN SOLUTION
    probs = logits.float().softmax(dim=-1)
    sorted_probs, order = torch.sort(probs, descending=True)
    mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs
    remove_sorted = mass_before > top_p
    remove = remove_sorted.scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, filter_value)
    ### END SOLUTION


# %% [markdown]
# ## Checks
#
# Each cell below is a graded item; in pytest they run as `pytest -m sampling`.

# %% nbgrader={"grade": false, "grade_id": "sampling_checks_setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
# The checks run when this file is a notebook (or `python sampling.py`), not when pytest imports it.
if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore")  # nbgrader scores 0 for a graded cell that writes to stderr
    from grader.notebook import check

# %% nbgrader={"grade": true, "grade_id": "sampling_temperature", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# `apply_temperature` equals TemperatureLogitsWarper; 0 and negatives raise.
if __name__ == "__main__":
    check("sampling_temperature", globals())

# %% nbgrader={"grade": true, "grade_id": "sampling_top_k", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# `top_k_filter` equals TopKLogitsWarper, ties included; top_k < 1 raises.
if __name__ == "__main__":
    check("sampling_top_k", globals())

# %% nbgrader={"grade": true, "grade_id": "sampling_top_p", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# `top_p_filter` equals TopPLogitsWarper (the crossing token kept) in every dtype.
if __name__ == "__main__":
    check("sampling_top_p", globals())

# %% nbgrader={"grade": true, "grade_id": "sampling_top_p_properties", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Top-p keeps the argmax, the smallest prefix reaching p, grows with p, ignores shifts.
if __name__ == "__main__":
    check("sampling_top_p_properties", globals())

# %% nbgrader={"grade": true, "grade_id": "sampling_meta_top_p", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# `meta_top_p_filter` follows Meta's rule, and differs from HF's on [0.5, 0.25, 0.25].
if __name__ == "__main__":
    check("sampling_meta_top_p", globals())

# %% nbgrader={"grade": true, "grade_id": "sampling_sample", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# `sample_next_token` draws from HF's filtered softmax (20,000 draws per case).
if __name__ == "__main__":
    check("sampling_sample", globals())

# %% nbgrader={"grade": true, "grade_id": "sampling_greedy", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Temperature 0 is greedy; a tiny temperature samples the argmax.
if __name__ == "__main__":
    check("sampling_greedy", globals())
