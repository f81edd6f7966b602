# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Chapter 1: RMSNorm
#
# Every LLaMA decoder layer normalises its input twice (before attention and before the
# MLP), and the model normalises once more before the output head. The normalisation is
# **RMSNorm** (Zhang & Sennrich, 2019), not the LayerNorm of the original Transformer.
#
# ## LayerNorm, and what RMSNorm drops from it
#
# LayerNorm centres each vector and scales it to unit variance:
#
# $$\mathrm{LayerNorm}(x) = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} \odot g + b$$
#
# RMSNorm keeps only the re-scaling. It divides by the root mean square of the vector and
# multiplies by a learned gain; there is no mean to subtract and no bias:
#
# $$\mathrm{RMSNorm}(x) = \frac{x}{\sqrt{\frac{1}{d}\sum_{i=1}^{d} x_i^2 + \epsilon}} \odot g$$
#
# The paper found that re-centring contributes little to what normalisation buys (stable
# activations, scale invariance) while costing a second reduction over the vector. Dropping
# it is cheaper and trains as well, so LLaMA, Mistral, Qwen and most of their descendants use
# RMSNorm.
#
# ## Where ε goes
#
# ε keeps the division finite when a vector is (almost) zero. It goes **inside** the square
# root, added to the mean of squares: `rsqrt(mean(x²) + eps)`. With ε outside,
# `x / (sqrt(mean(x²)) + eps)`, the result is close for large vectors but differs for small
# ones, and it no longer matches the weights a checkpoint was trained with. LLaMA uses
# ε = 1e-5 (Llama 2 and 3: `rms_norm_eps` in the config); Hugging Face's default is 1e-6.
#
# ## Why it computes in float32
#
# Models run in bfloat16 or float16, but squaring in half precision is risky: float16's
# largest finite value is 65504, so any activation above about 256 overflows when squared,
# and the mean of squares becomes `inf`. Both half formats also round the sum coarsely.
# So the reference implementation **upcasts to float32**, computes the normalisation there,
# **casts back to the input dtype**, and only then multiplies by the weight. That last
# multiplication happens in the model's precision, as in Meta's original code.
#
# ## How Hugging Face writes it
#
# `transformers.models.llama.modeling_llama.LlamaRMSNorm` stores the gain as `weight`
# (initialised to ones) and ε as `variance_epsilon`. Its forward pass:
#
# 1. remember the input dtype and convert the input to float32;
# 2. take the mean of the squares over the **last** dimension only, the hidden dimension,
#    keeping that dimension so that the result broadcasts: every token is normalised on its
#    own, never mixed with the other tokens of the batch or sequence;
# 3. multiply by the reciprocal square root (`torch.rsqrt`) of that mean plus ε;
# 4. convert back to the input dtype and multiply by `weight`.
#
# Your `RMSNorm` must be a drop-in replacement: the same parameter name (so that
# `load_state_dict` on a Hugging Face checkpoint works) and the same outputs.
#
# The graded cells below run the kit's checks on your class. They compare it with
# `LlamaRMSNorm` on random inputs, shapes and ε, in float32, bfloat16 and float16, and test
# properties that a correct RMSNorm has. A failing check names the mistake it suspects.

# %% nbgrader={"grade": false, "grade_id": "rmsnorm_imports", "locked": true, "schema_version": 3, "solution": false, "task": false}
import torch
from torch import nn

# %% [markdown]
# ## Exercise: write `RMSNorm`
#
# - `__init__(hidden_size, eps=1e-6)`: a learnable `weight` of ones with shape
#   `(hidden_size,)` (an `nn.Parameter`), and ε stored as `variance_epsilon`.
# - `forward(hidden_states)`: normalise over the last dimension, computing in float32 and
#   returning the input's dtype and shape.

# %% nbgrader={"grade": false, "grade_id": "rmsnorm_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
class RMSNorm(nn.Module):
    """Root-mean-square layer normalisation, as in LLaMA (state_dict-compatible with HF)."""

    def __init__(self, hidden_size: int, eps: float = 1e-6) -> None:
        super().__init__()
        ### BEGIN SOLUTION
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps
        ### END SOLUTION

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """Normalise each vector along the last dimension and apply the learned gain."""
        ### BEGIN SOLUTION
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)
        ### END SOLUTION


# %% [markdown]
# ## Checks
#
# Run the cells below. Each one is a graded item; in pytest the same checks run as
# `pytest -m rmsnorm`. A cell that prints `✓` has passed.

# %% nbgrader={"grade": false, "grade_id": "rmsnorm_checks_setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
# The checks run when this file is a notebook (or `python rmsnorm.py`), not when pytest imports it.
if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore")  # nbgrader scores 0 for a graded cell that writes to stderr
    from grader.notebook import check

# %% nbgrader={"grade": true, "grade_id": "rmsnorm_init", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# `weight` is a parameter of ones, and a LlamaRMSNorm state_dict loads strictly.
if __name__ == "__main__":
    check("rmsnorm_init", globals())

# %% nbgrader={"grade": true, "grade_id": "rmsnorm_float32", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# float32: equal to LlamaRMSNorm on random shapes, scales, weights and eps.
if __name__ == "__main__":
    check("rmsnorm_float32", globals())

# %% nbgrader={"grade": true, "grade_id": "rmsnorm_half", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# bfloat16 and float16: equal to LlamaRMSNorm built in that dtype, within rounding.
if __name__ == "__main__":
    check("rmsnorm_half", globals())

# %% nbgrader={"grade": true, "grade_id": "rmsnorm_dtype_shape", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# The output has the input's dtype and shape, for 1-d to 4-d inputs.
if __name__ == "__main__":
    check("rmsnorm_dtype_shape", globals())

# %% nbgrader={"grade": true, "grade_id": "rmsnorm_zero", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# A zero vector normalises to zeros, not NaN.
if __name__ == "__main__":
    check("rmsnorm_zero", globals())

# %% nbgrader={"grade": true, "grade_id": "rmsnorm_fp16_large", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# float16 inputs up to 60000 stay finite (squaring them in float16 would overflow).
if __name__ == "__main__":
    check("rmsnorm_fp16_large", globals())

# %% nbgrader={"grade": true, "grade_id": "rmsnorm_scale_invariant", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# RMSNorm(c * x) equals RMSNorm(x) for every c > 0.
if __name__ == "__main__":
    check("rmsnorm_scale_invariant", globals())

# %% nbgrader={"grade": true, "grade_id": "rmsnorm_weight", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# The weight scales the output, and a gradient reaches it.
if __name__ == "__main__":
    check("rmsnorm_weight", globals())
