# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Chapter 3: the LLaMA decoder
#
# With RMSNorm (chapter 1) and attention (chapter 2) written, the rest of LLaMA is wiring:
# an MLP, a decoder layer that combines the two with residual connections, a stack of
# layers between an embedding and an output head. At the end of this chapter your `Llama`
# loads the `state_dict` of a Hugging Face `LlamaForCausalLM` and returns the same logits.
#
# ## The module tree
#
# `print(LlamaForCausalLM(config))` for Llama 3 8B reads (shapes are `in → out`):
#
# ```
# LlamaForCausalLM
#   model: LlamaModel
#     embed_tokens: Embedding(128256, 4096)          one vector per token id
#     layers: 32 × LlamaDecoderLayer
#       self_attn: LlamaAttention
#         q_proj: 4096 → 4096                         32 heads × 128
#         k_proj: 4096 → 1024                         8 key/value heads × 128 (GQA)
#         v_proj: 4096 → 1024
#         o_proj: 4096 → 4096
#       mlp: LlamaMLP
#         gate_proj: 4096 → 14336
#         up_proj:   4096 → 14336
#         down_proj: 14336 → 4096
#         act_fn: SiLU
#       input_layernorm: LlamaRMSNorm(4096)           before attention
#       post_attention_layernorm: LlamaRMSNorm(4096)  before the MLP
#     norm: LlamaRMSNorm(4096)                        after the last layer
#     rotary_emb: LlamaRotaryEmbedding                no weights: cos and sin
#   lm_head: 4096 → 128256                           hidden state to logits
# ```
#
# Your modules use the same names, so that `Llama(config).load_state_dict(hf_model.state_dict())`
# works with `strict=True`, and `print(model)` reads the same way.
#
# ## SwiGLU
#
# LLaMA's MLP is a gated linear unit with the SiLU activation (Shazeer, 2020):
# `down_proj(silu(gate_proj(x)) * up_proj(x))`. The gate decides, per hidden unit, how much
# of the up-projection passes. SiLU goes on the **gate**, not on the up-projection.
# `intermediate_size` is about 8/3 of the hidden size, rounded (14336 for 4096 in Llama 3).
#
# ## Pre-norm residual layers
#
# Each decoder layer normalises *before* each block and adds the block's output to its
# input:
#
# ```
# h   = x + self_attn(input_layernorm(x))
# out = h + mlp(post_attention_layernorm(h))
# ```
#
# The residual stream `x → h → out` is never normalised inside a layer; only the final
# `norm` normalises it, before `lm_head`. (The original Transformer normalised *after* each
# residual addition, which trains less stably in deep stacks.)
#
# ## Tied embeddings
#
# Small models such as Llama 3.2 1B and 3B set `tie_word_embeddings=True`: `lm_head` reuses
# `embed_tokens`' matrix instead of having its own. Tie them by making `lm_head.weight` the
# same `Parameter` object as `embed_tokens.weight`. Hugging Face's `state_dict` still lists
# both keys.
#
# ## How your chapters are graded here
#
# `Llama` is built from your chapter 1 and chapter 2 modules: the cell below imports them
# from `rmsnorm.py` and `attention.py` in the same folder (where `pytest` finds them too).
# Where they are not there, as in an nbgrader release where each chapter is its own
# assignment, it imports the kit's reference versions, which wrap Hugging Face's modules.
#
# Each graded item checks one class. While it runs, every *other* part (RMSNorm, Attention,
# and your own MLP or DecoderLayer where they are not the point) is swapped for the
# reference, so a bug in one part costs the points of that part only. The last item checks
# your whole stack together, with your own chapters where they are present.

# %% nbgrader={"grade": false, "grade_id": "llama_imports", "locked": true, "schema_version": 3, "solution": false, "task": false}
import torch
from torch import nn
from transformers import LlamaConfig

try:  # your chapters 1 and 2, next to this file
    from attention import Attention
    from rmsnorm import RMSNorm
except ImportError:  # the kit's reference versions (Hugging Face's modules)
    from grader.reference import Attention, RMSNorm

# %% [markdown]
# ## Exercise 1: the MLP
#
# `MLP(hidden_size, intermediate_size)`: bias-free `gate_proj` and `up_proj`
# (hidden → intermediate) and `down_proj` (intermediate → hidden);
# `forward(x) = down_proj(silu(gate_proj(x)) * up_proj(x))`.

# %% nbgrader={"grade": false, "grade_id": "llama_mlp_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
class MLP(nn.Module):
    """LLaMA's SwiGLU feed-forward block."""

    def __init__(self, hidden_size: int, intermediate_size: int) -> None:
        super().__init__()
        ### BEGIN SOLUTION
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=False)
        self.act_fn = nn.SiLU()
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """down(silu(gate(x)) * up(x))."""
        ### BEGIN SOLUTION
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))
        ### END SOLUTION


# %% [markdown]
# ## Exercise 2: the decoder layer
#
# `DecoderLayer(config)` holds `self_attn` (your `Attention`, with the config's heads,
# key/value heads and `config.rope_parameters["rope_theta"]`), `mlp` (`MLP` with
# `config.intermediate_size`), and two `RMSNorm`s with `config.rms_norm_eps`:
# `input_layernorm` and `post_attention_layernorm`.
# `forward(hidden_states, position_ids=None, attention_mask=None)` applies the two pre-norm
# residual blocks, handing the positions and the padding mask to attention.

# %% nbgrader={"grade": false, "grade_id": "llama_layer_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
class DecoderLayer(nn.Module):
    """Attention and MLP, each behind an RMSNorm and inside a residual connection."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        ### BEGIN SOLUTION
        self.self_attn = Attention(
            config.hidden_size,
            config.num_attention_heads,
            config.num_key_value_heads,
            rope_theta=config.rope_parameters["rope_theta"],
        )
        self.mlp = MLP(config.hidden_size, config.intermediate_size)
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        ### END SOLUTION

    def forward(
        self,
        hidden_states: torch.Tensor,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x + attn(norm(x)), then h + mlp(norm(h))."""
        ### BEGIN SOLUTION
        normed = self.input_layernorm(hidden_states)
        attended = self.self_attn(normed, position_ids, attention_mask)
        hidden_states = hidden_states + attended
        return hidden_states + self.mlp(self.post_attention_layernorm(hidden_states))
        ### END SOLUTION


# %% [markdown]
# ## Exercise 3: the model
#
# `LlamaModel(config)`: `embed_tokens` (an `nn.Embedding` of `vocab_size × hidden_size`),
# `layers` (an `nn.ModuleList` of `num_hidden_layers` decoder layers) and the final `norm`;
# `forward(input_ids, position_ids=None, attention_mask=None)` returns the normalised hidden
# states. Hand `position_ids` and `attention_mask` to every layer: for a left-padded batch
# (chapter 2, exercise 3) the logits of each real token must equal those of its prompt run
# alone. What the model returns at padding positions is not graded; keep it finite.
#
# `Llama(config)`: `model` (a `LlamaModel`) and `lm_head` (bias-free, hidden → vocab), tied
# to `embed_tokens` when `config.tie_word_embeddings`; `forward(input_ids, position_ids=None,
# attention_mask=None)` returns logits of shape `(batch, seq, vocab_size)`, the arguments
# meaning what they mean for `LlamaForCausalLM`. Keep the config as `self.config`.

# %% nbgrader={"grade": false, "grade_id": "llama_model_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
class LlamaModel(nn.Module):
    """Embeddings, the decoder layers and the final norm."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        ### BEGIN SOLUTION
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        ### END SOLUTION

    def forward(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Token ids (batch, seq) to final hidden states (batch, seq, hidden)."""
        ### BEGIN SOLUTION
        hidden_states = self.embed_tokens(input_ids)
        for layer in self.layers:
            hidden_states = layer(hidden_states, position_ids, attention_mask)
        return self.norm(hidden_states)
        ### END SOLUTION


class Llama(nn.Module):
    """A causal language model whose state_dict is LlamaForCausalLM's."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        ### BEGIN SOLUTION
        self.config = config
        self.model = LlamaModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        ### END SOLUTION

    def forward(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Token ids (batch, seq) to logits (batch, seq, vocab_size)."""
        ### BEGIN SOLUTION
        return self.lm_head(self.model(input_ids, position_ids, attention_mask))
        ### END SOLUTION


# %% [markdown]
# ## Checks
#
# Each cell below is a graded item; in pytest they run as `pytest -m llama`.

# %% nbgrader={"grade": false, "grade_id": "llama_checks_setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
# The checks run when this file is a notebook (or `python llama.py`), not when pytest imports it.
if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore")  # nbgrader scores 0 for a graded cell that writes to stderr
    from grader.notebook import check

# %% nbgrader={"grade": true, "grade_id": "llama_mlp", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# MLP equals LlamaMLP (SwiGLU).
if __name__ == "__main__":
    check("llama_mlp", globals())

# %% nbgrader={"grade": true, "grade_id": "llama_decoder_layer", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# DecoderLayer equals LlamaDecoderLayer (pre-norm residual blocks).
if __name__ == "__main__":
    check("llama_decoder_layer", globals())

# %% nbgrader={"grade": true, "grade_id": "llama_structure", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Llama's state_dict is LlamaForCausalLM's; tied embeddings share one Parameter.
if __name__ == "__main__":
    check("llama_structure", globals())

# %% nbgrader={"grade": true, "grade_id": "llama_logits", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Llama's logits equal LlamaForCausalLM's in float32.
if __name__ == "__main__":
    check("llama_logits", globals())

# %% nbgrader={"grade": true, "grade_id": "llama_logits_half", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Llama's logits equal LlamaForCausalLM's built in bfloat16 and float16.
if __name__ == "__main__":
    check("llama_logits_half", globals())

# %% nbgrader={"grade": true, "grade_id": "llama_own_stack", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Your own RMSNorm, Attention and Llama together equal LlamaForCausalLM.
if __name__ == "__main__":
    check("llama_own_stack", globals())
