# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Chapter 4: will it fit? Memory, exact where the answer is exact
#
# The first question about any model is whether it fits on the GPU you have. A free Colab
# or Kaggle T4 has 15 GB. Llama 3 8B has 8,030,261,248 parameters:
#
# | precision | bytes per parameter | weights | on a 15 GB T4 |
# |---|---:|---:|---|
# | float32 | 4 | 32.1 GB | no |
# | bfloat16 | 2 | 16.1 GB | no, by a whisker |
# | 4-bit NF4 (QLoRA) | ½ + block scales | 5.6 GB + 0.1–0.4 GB | yes |
#
# This chapter derives each of those numbers. Most of them are exact: the number of
# parameters follows from the config, and the bytes follow from the dtype, so the checks
# hold you to the byte against what Hugging Face actually allocates (on PyTorch's `meta`
# device, which records shapes without allocating anything).
#
# ## Counting parameters
#
# Walk the module tree of chapter 3 with `d = hidden_size`, `V = vocab_size`,
# `L = num_hidden_layers`, `H = num_attention_heads`, `KV = num_key_value_heads`,
# `h = head_dim` (`d / H` unless the config says otherwise), `I = intermediate_size`:
#
# - `embed_tokens`: `V × d`; `lm_head` another `V × d`, unless the embeddings are tied
#   (Llama 3.2 1B and 3B), in which case it is the same matrix and counts once;
# - per layer, attention: `q_proj` and `o_proj` are `d × H·h` each; `k_proj` and `v_proj`
#   are `d × KV·h` each (grouped-query attention makes these 4× smaller in Llama 3 8B);
# - per layer, the MLP: `gate_proj`, `up_proj`, `down_proj`, `d × I` each;
# - per layer, two RMSNorm weights of `d`, and one final norm of `d`;
# - LLaMA's linear layers have **no biases**, and RoPE has no weights.
#
# ## Where `intermediate_size` comes from
#
# Meta's original `params.json` does not store it. It stores `dim`, `multiple_of` and
# sometimes `ffn_dim_multiplier`, and the model code derives the MLP width: start from
# `4 * dim`, take two thirds (SwiGLU has three matrices instead of two, so this keeps the
# parameter count of a plain 4× MLP), multiply by `ffn_dim_multiplier` if given (truncating
# to an int at each step), and round **up** to a multiple of `multiple_of`. That gives
# 11008 for Llama 2 7B (4096, 256) and 14336 for Llama 3 8B (4096, 1024, 1.3).
#
# ## Bytes
#
# float32 takes 4 bytes, bfloat16 and float16 2, int8 1. Four-bit formats pack two weights
# per byte, but they also need a scale per block of weights: bitsandbytes' NF4 (used by
# QLoRA) stores a float32 `absmax` for every block of 64 weights. With **double
# quantization** those scales are themselves quantized to 8 bits, with one float32 scale per
# 256 blocks. Per quantized matrix it also keeps a 16-entry float32 code table (and, with
# double quantization, a 256-entry float32 table for the scales and a float32 offset).
# Only the linear layers inside the decoder are quantized; embeddings, `lm_head` and the
# norms stay in the compute dtype (bfloat16). Hugging Face's `get_memory_footprint()` counts
# the packed weights but not the scales: it reports 5,591,539,712 bytes for Llama 3 8B.
#
# ## LoRA
#
# LoRA freezes a weight `W` (`out × in`) and learns `B @ A`, with `A` of shape `r × in`
# and `B` of shape `out × r`: `r · (in + out)` parameters per adapted matrix. With r = 32
# on `q_proj`, `k_proj`, `v_proj`, `o_proj` of Llama 3 8B that is 27,262,976 parameters,
# a third of a percent of the model.
#
# ## The key/value cache
#
# Generating token by token, a model keeps every layer's keys and values:
# `2 × L × batch × seq × KV × h` numbers. Grouped-query attention divides this by `H / KV`:
# Llama 3 8B caches 128 KB per token in bfloat16 where 32 full heads would need 512 KB.
#
# ## Training
#
# Training keeps more than the weights: a gradient for every **trainable** parameter (in
# its dtype), AdamW's two moment estimates per trainable parameter (in its dtype), plus a
# 4-byte `step` counter per trainable tensor, and the activations saved for the backward
# pass. With LoRA only the adapters are trainable. peft keeps adapters in float32 even on a
# bfloat16 model (`autocast_adapter_dtype=True`), for stable updates.
#
# Activations are an estimate, not an exact number: they depend on the attention kernel,
# on what autograd saves, and on the allocator. We use the estimate of Korthikanti et al.
# (2022) for a transformer layer, `seq · batch · d · (34 + 5 · H · seq / d)` bytes in 16-bit
# precision (twice that in float32), plus the float32 logits `batch · seq · V · 4`.

# %% nbgrader={"grade": false, "grade_id": "memory_imports", "locked": true, "schema_version": 3, "solution": false, "task": false}
from dataclasses import dataclass

import torch
from transformers import LlamaConfig


@dataclass
class MemoryBreakdown:
    """Bytes needed to train a model, by kind."""

    weights: int
    gradients: int
    optimizer_states: int
    activations: int

    @property
    def total(self) -> int:
        """Everything together."""
        return self.weights + self.gradients + self.optimizer_states + self.activations


# %% [markdown]
# ## Exercise 1: from Meta's params.json to a config
#
# - `ffn_hidden_dim(dim, multiple_of, ffn_dim_multiplier=None)`: Meta's rule above.
# - `config_from_meta_params(params, vocab_size)`: a `LlamaConfig` from a `params.json`
#   dict (`dim`, `n_layers`, `n_heads`, optional `n_kv_heads`, `multiple_of`, optional
#   `ffn_dim_multiplier`, `norm_eps`, optional `rope_theta`, default 10000). Llama 2's file
#   says `"vocab_size": -1`, which is why the vocabulary size is an argument.

# %% nbgrader={"grade": false, "grade_id": "memory_config_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
def ffn_hidden_dim(dim: int, multiple_of: int, ffn_dim_multiplier: float | None = None) -> int:
    """The MLP width Meta's model code derives from params.json."""
    ### BEGIN SOLUTION
    hidden = int(2 * (4 * dim) / 3)
    if ffn_dim_multiplier is not None:
        hidden = int(ffn_dim_multiplier * hidden)
    return multiple_of * ((hidden + multiple_of - 1) // multiple_of)
    ### END SOLUTION


def config_from_meta_params(params: dict, vocab_size: int) -> LlamaConfig:
    """A transformers LlamaConfig equivalent to Meta's params.json."""
    ### BEGIN SOLUTION
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=params["dim"],
        intermediate_size=ffn_hidden_dim(
            params["dim"], params["multiple_of"], params.get("ffn_dim_multiplier")
        ),
        num_hidden_layers=params["n_layers"],
        num_attention_heads=params["n_heads"],
        num_key_value_heads=params.get("n_kv_heads") or params["n_heads"],
        rms_norm_eps=params["norm_eps"],
        rope_parameters={"rope_type": "default", "rope_theta": params.get("rope_theta", 10000.0)},
    )
    ### END SOLUTION


# %% [markdown]
# ## Exercise 2: parameters and bytes
#
# - `decoder_linear_shapes(config)`: `(out, in)` of the seven linear layers of a decoder layer,
#   in the order q, k, v, o, gate, up, down (the other functions use it).
# - `count_parameters(config)`: the closed form above, as an `int`.
# - `bytes_per_parameter(dtype)`: for `torch.float32`, `torch.bfloat16`, `torch.float16`,
#   `torch.int8`, and the string `"4bit"` (0.5).
# - `weight_memory_bytes(config, dtype)`: every parameter in `dtype`, as an `int`.
# - `quantized_weight_memory_bytes(config, bits=4, blocksize=64, double_quant=False,
#   compute_dtype=torch.bfloat16)`: bitsandbytes' layout, scales and code tables included.

# %% nbgrader={"grade": false, "grade_id": "memory_bytes_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
def head_dim(config: LlamaConfig) -> int:
    """The config's head_dim, or hidden_size // num_attention_heads when it has none."""
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def decoder_linear_shapes(config: LlamaConfig) -> list[tuple[int, int]]:
    """(out, in) of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj of one layer."""
    ### BEGIN SOLUTION
    d, h, inner = config.hidden_size, head_dim(config), config.intermediate_size
    q, kv = config.num_attention_heads * h, config.num_key_value_heads * h
    return [(q, d), (kv, d), (kv, d), (d, q), (inner, d), (inner, d), (d, inner)]
    ### END SOLUTION


def count_parameters(config: LlamaConfig) -> int:
    """Every parameter of LlamaForCausalLM(config), tied embeddings counted once."""
    ### BEGIN SOLUTION
    d, vocab = config.hidden_size, config.vocab_size
    embeddings = vocab * d * (1 if config.tie_word_embeddings else 2)
    per_layer = sum(rows * cols for rows, cols in decoder_linear_shapes(config)) + 2 * d
    return embeddings + config.num_hidden_layers * per_layer + d
    ### END SOLUTION


def bytes_per_parameter(dtype: torch.dtype | str) -> float:
    """Bytes one parameter takes in dtype; "4bit" packs two per byte."""
    ### BEGIN SOLUTION
    if dtype == "4bit":
        return 0.5
    return torch.empty(0, dtype=dtype).element_size()
    ### END SOLUTION


def weight_memory_bytes(config: LlamaConfig, dtype: torch.dtype) -> int:
    """Bytes of all the weights in dtype."""
    ### BEGIN SOLUTION
    return int(count_parameters(config) * bytes_per_parameter(dtype))
    ### END SOLUTION


def quantized_weight_memory_bytes(
    config: LlamaConfig,
    bits: int = 4,
    blocksize: int = 64,
    double_quant: bool = False,
    compute_dtype: torch.dtype = torch.bfloat16,
) -> int:
    """Bytes of a bitsandbytes 4-bit model: packed decoder linears, their scales, the rest."""
    ### BEGIN SOLUTION
    quantized = 0
    for rows, cols in decoder_linear_shapes(config):
        numel = rows * cols
        blocks = -(-numel // blocksize)
        scales = blocks * 4 + 16 * 4  # float32 absmax per block, the 16-entry code table
        if double_quant:  # uint8 absmax, a float32 per 256 blocks, a 256-entry table, offset
            scales = blocks + -(-blocks // 256) * 4 + 256 * 4 + 16 * 4 + 4
        quantized += numel * bits // 8 + scales
    quantized *= config.num_hidden_layers
    rest = count_parameters(config) - config.num_hidden_layers * sum(
        rows * cols for rows, cols in decoder_linear_shapes(config)
    )
    return quantized + rest * int(bytes_per_parameter(compute_dtype))
    ### END SOLUTION


# %% [markdown]
# ## Exercise 3: LoRA and the key/value cache
#
# - `lora_parameter_count(config, r, target_modules)`: the adapters' parameters, for
#   targets among `q_proj`, `k_proj`, `v_proj`, `o_proj`, `gate_proj`, `up_proj`,
#   `down_proj` (in every layer) and `lm_head`.
# - `kv_cache_bytes(config, batch_size, seq_len, dtype)`: keys and values of every layer.

# %% nbgrader={"grade": false, "grade_id": "memory_lora_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
def lora_parameter_count(config: LlamaConfig, r: int, target_modules: list[str]) -> int:
    """r * (in + out) for every adapted linear layer."""
    ### BEGIN SOLUTION
    names = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    shapes = dict(zip(names, decoder_linear_shapes(config), strict=True))
    total = sum(
        config.num_hidden_layers * r * (rows + cols)
        for name, (rows, cols) in shapes.items()
        if name in target_modules
    )
    if "lm_head" in target_modules:
        total += r * (config.hidden_size + config.vocab_size)
    return total
    ### END SOLUTION


def kv_cache_bytes(config: LlamaConfig, batch_size: int, seq_len: int, dtype: torch.dtype) -> int:
    """Keys and values of every layer for batch_size sequences of seq_len tokens."""
    ### BEGIN SOLUTION
    per_token = 2 * config.num_hidden_layers * config.num_key_value_heads * head_dim(config)
    return int(per_token * batch_size * seq_len * bytes_per_parameter(dtype))
    ### END SOLUTION


# %% [markdown]
# ## Exercise 4: training
#
# `training_memory(config, dtype, optimizer="adamw", lora=None, batch_size=1, seq_len=512)`
# returns a `MemoryBreakdown`. `dtype` is the weights' dtype, or `"4bit"` for QLoRA (NF4
# with double quantization, bfloat16 compute). `lora` is `None` for full fine-tuning or a
# dict `{"r": 32, "target_modules": [...]}`; adapters are float32. `optimizer` is `"adamw"`
# (two states per trainable parameter in its dtype, and a 4-byte step per trainable tensor)
# or `"sgd"` (none). Activations use the estimate above; they are not graded to the byte.
#
# `fits(breakdown, gpu_bytes)`: whether the total fits.

# %% nbgrader={"grade": false, "grade_id": "memory_training_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
def training_memory(
    config: LlamaConfig,
    dtype: torch.dtype | str,
    optimizer: str = "adamw",
    lora: dict | None = None,
    batch_size: int = 1,
    seq_len: int = 512,
) -> MemoryBreakdown:
    """Weights, gradients, optimizer states and (estimated) activations of one training step."""
    ### BEGIN SOLUTION
    if dtype == "4bit":
        weights = quantized_weight_memory_bytes(config, double_quant=True)
    else:
        weights = weight_memory_bytes(config, dtype)
    if lora is None:
        trainable, trainable_bytes = count_parameters(config), bytes_per_parameter(dtype)
        tensors = 9 * config.num_hidden_layers + 2 + (0 if config.tie_word_embeddings else 1)
    else:
        trainable, trainable_bytes = lora_parameter_count(config, **lora), 4
        layers = [name for name in lora["target_modules"] if name != "lm_head"]
        tensors = 2 * (config.num_hidden_layers * len(layers) + ("lm_head" in lora["target_modules"]))
        weights += trainable * trainable_bytes
    gradients = int(trainable * trainable_bytes)
    states = {"adamw": 2, "sgd": 0}[optimizer]
    optimizer_states = int(states * trainable * trainable_bytes) + (4 * tensors if states else 0)
    d, heads = config.hidden_size, config.num_attention_heads
    width = 2 if dtype == torch.float32 else 1  # the estimate is for 16-bit activations
    per_layer = seq_len * batch_size * d * (34 + 5 * heads * seq_len / d) * width
    logits = batch_size * seq_len * config.vocab_size * 4
    activations = int(config.num_hidden_layers * per_layer + logits)
    return MemoryBreakdown(weights, gradients, optimizer_states, activations)
    ### END SOLUTION


def fits(breakdown: MemoryBreakdown, gpu_bytes: int) -> bool:
    """Whether everything fits in gpu_bytes."""
    ### BEGIN SOLUTION
    return breakdown.total <= gpu_bytes
    ### END SOLUTION


# %% [markdown]
# ## Checks
#
# Each cell below is a graded item; in pytest they run as `pytest -m memory`.

# %% nbgrader={"grade": false, "grade_id": "memory_checks_setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
# The checks run when this file is a notebook (or `python memory.py`), not when pytest imports it.
if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore")  # nbgrader scores 0 for a graded cell that writes to stderr
    from grader.notebook import check

# %% nbgrader={"grade": true, "grade_id": "memory_ffn", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# `ffn_hidden_dim` gives every published intermediate_size from params.json.
if __name__ == "__main__":
    check("memory_ffn", globals())

# %% nbgrader={"grade": true, "grade_id": "memory_meta_config", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# `config_from_meta_params` matches the published Hugging Face configs.
if __name__ == "__main__":
    check("memory_meta_config", globals())

# %% nbgrader={"grade": true, "grade_id": "memory_count", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# `count_parameters` equals LlamaForCausalLM's, for real and random configs.
if __name__ == "__main__":
    check("memory_count", globals())

# %% nbgrader={"grade": true, "grade_id": "memory_bytes_per_parameter", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# `bytes_per_parameter` for float32, bfloat16, float16, int8 and 4-bit.
if __name__ == "__main__":
    check("memory_bytes_per_parameter", globals())

# %% nbgrader={"grade": true, "grade_id": "memory_weights", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# `weight_memory_bytes` equals get_memory_footprint() in each dtype.
if __name__ == "__main__":
    check("memory_weights", globals())

# %% nbgrader={"grade": true, "grade_id": "memory_quantized", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# `quantized_weight_memory_bytes` follows bitsandbytes' NF4 layout to the byte.
if __name__ == "__main__":
    check("memory_quantized", globals())

# %% nbgrader={"grade": true, "grade_id": "memory_lora", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# `lora_parameter_count` equals peft's trainable parameters.
if __name__ == "__main__":
    check("memory_lora", globals())

# %% nbgrader={"grade": true, "grade_id": "memory_kv_cache", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# `kv_cache_bytes` equals the keys and values in HF's DynamicCache.
if __name__ == "__main__":
    check("memory_kv_cache", globals())

# %% nbgrader={"grade": true, "grade_id": "memory_training", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Weights, gradients and AdamW states equal the real tensors after one step.
if __name__ == "__main__":
    check("memory_training", globals())

# %% nbgrader={"grade": true, "grade_id": "memory_fits", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# `fits` compares the total with the GPU's memory.
if __name__ == "__main__":
    check("memory_fits", globals())
