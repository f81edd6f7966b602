"""Hugging Face's modules behind the learner's signatures: the parts a chapter builds on.

An item that grades one part swaps these in for every other part (`Impl.substituted`), so a
bug in chapter 1 costs points in chapter 1 only. They also stand in for an earlier chapter
that is missing, for example in an nbgrader release where each chapter is its own assignment.
They are thin adapters around `transformers` code, not our solutions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import torch
from transformers import DynamicCache, LlamaConfig
from transformers.models.llama import modeling_llama as hf

from grader.probes.config import llama_config


def config_for(
    hidden_size: int,
    num_heads: int,
    num_kv_heads: int,
    rope_theta: float = 10000.0,
    **overrides,
) -> LlamaConfig:
    """A LlamaConfig for one layer's shapes, with eager attention (as every reference uses)."""
    shapes = {
        "hidden_size": hidden_size,
        "num_attention_heads": num_heads,
        "num_key_value_heads": num_kv_heads,
        "rope_theta": rope_theta,
    }
    return llama_config(shapes, attn_implementation="eager", **overrides)


@contextmanager
def built_in(dtype: torch.dtype) -> Iterator[None]:
    """Build modules in dtype: `.to(dtype)` afterwards would also cast RoPE's inv_freq."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def causal_mask(seq_len: int, key_len: int, dtype: torch.dtype) -> torch.Tensor:
    """The additive causal mask (S, S_k) that eager attention expects when called directly.

    The queries are the last S of the S_k positions; masked scores get dtype's minimum, as in HF.
    """
    blocked = torch.ones(seq_len, key_len, dtype=torch.bool).tril(key_len - seq_len).logical_not()
    return torch.zeros(seq_len, key_len, dtype=dtype).masked_fill(blocked, torch.finfo(dtype).min)


def default_positions(hidden_states: torch.Tensor) -> torch.Tensor:
    """Positions 0..S-1 for every sequence of the batch."""
    batch, seq_len = hidden_states.shape[:2]
    return torch.arange(seq_len).expand(batch, seq_len)


def padding_mask(hidden_states: torch.Tensor, attention_mask) -> torch.Tensor:
    """The 2-D (batch, seq) mask, 1 = real token; all ones where none is given.

    HF reads position_ids without a mask as packed sequences (a gap starts a new one), which is
    not what the kit's models do: passing the mask always keeps one causal sequence per row.
    """
    if attention_mask is None:
        return torch.ones(hidden_states.shape[:2], dtype=torch.long)
    return attention_mask


def rope_and_mask(config: LlamaConfig, hidden_states: torch.Tensor, position_ids, attention_mask):
    """What HF's LlamaModel hands each layer: (cos, sin) and the 4-D causal and padding mask."""
    from transformers.masking_utils import create_causal_mask

    if position_ids is None:
        position_ids = default_positions(hidden_states)
    rotary = hf.LlamaRotaryEmbedding(config)  # built here, in float32, never cast by .to()
    mask = create_causal_mask(
        config=config,
        inputs_embeds=hidden_states,
        attention_mask=padding_mask(hidden_states, attention_mask),
        past_key_values=None,
        position_ids=position_ids,
    )
    return rotary(hidden_states, position_ids), mask


rotate_half = hf.rotate_half
repeat_kv = hf.repeat_kv


def rope_cos_sin(position_ids, head_dim, theta=10000.0):
    """LlamaRotaryEmbedding's (cos, sin) in float32."""
    config = config_for(head_dim, 1, 1, theta)
    return hf.LlamaRotaryEmbedding(config)(torch.zeros(1), position_ids)


def apply_rope(q, k, cos, sin):
    """apply_rotary_pos_emb, which broadcasts cos and sin over the heads."""
    return hf.apply_rotary_pos_emb(q, k, cos, sin)


def scaled_dot_product_attention(q, k, v, is_causal=True, attention_mask=None):
    """HF's eager attention on (B, H, S, D) queries and (B, KV, S_k, D) keys and values.

    attention_mask is the 2-D (B, S_k) padding mask, 1 = real token, 0 = padding.
    """
    n_rep = q.shape[1] // k.shape[1]
    module = torch.nn.Module().eval()  # eager attention reads num_key_value_groups and training
    module.num_key_value_groups = n_rep
    mask = causal_mask(q.shape[-2], k.shape[-2], q.dtype) if is_causal else None
    if attention_mask is not None:
        padded = attention_mask[:, None, None, :].logical_not()
        mask = torch.zeros((), dtype=q.dtype) if mask is None else mask
        mask = mask.masked_fill(padded, torch.finfo(q.dtype).min)
    out, _ = hf.eager_attention_forward(module, q, k, v, mask, scaling=q.shape[-1] ** -0.5)
    return out.transpose(1, 2)


class RMSNorm(hf.LlamaRMSNorm):
    """LlamaRMSNorm, whose signature is already the learner's."""


class Attention(hf.LlamaAttention):
    """LlamaAttention with the learner's signature: (hidden_states, position_ids, mask) -> out."""

    def __init__(self, hidden_size, num_heads, num_kv_heads, rope_theta=10000.0):
        super().__init__(config_for(hidden_size, num_heads, num_kv_heads, rope_theta), 0)

    def forward(self, hidden_states, position_ids=None, attention_mask=None):
        cos_sin, mask = rope_and_mask(self.config, hidden_states, position_ids, attention_mask)
        return super().forward(hidden_states, position_embeddings=cos_sin, attention_mask=mask)[0]


class MLP(hf.LlamaMLP):
    """LlamaMLP with the learner's signature (hidden_size, intermediate_size)."""

    def __init__(self, hidden_size, intermediate_size):
        # LlamaMLP reads only these four fields; a full LlamaConfig would validate head shapes
        shapes = SimpleNamespace(
            hidden_size=hidden_size,
            intermediate_size=intermediate_size,
            mlp_bias=False,
            hidden_act="silu",
        )
        super().__init__(shapes)


class DecoderLayer(hf.LlamaDecoderLayer):
    """LlamaDecoderLayer with the learner's signature: (hidden_states, position_ids, mask)."""

    def __init__(self, config: LlamaConfig):
        super().__init__(config, 0)

    def forward(self, hidden_states, position_ids=None, attention_mask=None):
        config = self.self_attn.config
        cos_sin, mask = rope_and_mask(config, hidden_states, position_ids, attention_mask)
        return super().forward(hidden_states, attention_mask=mask, position_embeddings=cos_sin)


class Llama(hf.LlamaForCausalLM):
    """LlamaForCausalLM with the learner's signature: (input_ids, position_ids, mask) -> logits."""

    def forward(self, input_ids, position_ids=None, attention_mask=None):
        mask = padding_mask(input_ids, attention_mask)
        return super().forward(input_ids, attention_mask=mask, position_ids=position_ids).logits


def sample_next_token(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    """What `generate(do_sample=True)` does to the last logits: HF's warpers, then a draw."""
    from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    if temperature == 0:
        return logits.argmax(dim=-1)
    scores = TemperatureLogitsWarper(temperature)(None, logits.float())
    if top_k is not None:
        scores = TopKLogitsWarper(top_k)(None, scores)
    if top_p is not None:
        scores = TopPLogitsWarper(top_p)(None, scores)
    return torch.multinomial(scores.softmax(dim=-1), 1, generator=generator).squeeze(-1)


# HF's cache already has the learner's API: update(key_states, value_states, layer_idx), and
# get_seq_length(layer_idx=0).
KVCache = DynamicCache


def generate(
    model,
    input_ids,
    max_new_tokens,
    temperature=1.0,
    top_k=None,
    top_p=None,
    eos_token_id=None,
    pad_token_id=None,
    generator=None,
    use_cache=False,
):
    """The decoding loop of `GenerationMixin._sample` around any model callable."""
    pad_token_id = eos_token_id if pad_token_id is None else pad_token_id
    cache = KVCache() if use_cache else None
    unfinished = torch.ones(input_ids.shape[0], dtype=torch.bool)
    new_ids = input_ids
    for _ in range(max_new_tokens):
        logits = model(new_ids, cache=cache) if use_cache else model(input_ids)
        tokens = sample_next_token(logits[:, -1, :], temperature, top_k, top_p, generator)
        if eos_token_id is not None:
            tokens = torch.where(unfinished, tokens, pad_token_id)
            unfinished &= tokens != eos_token_id
        input_ids = torch.cat([input_ids, tokens[:, None]], dim=-1)
        new_ids = input_ids[:, -1:]
        if not unfinished.any():
            break
    return input_ids


def apply_temperature(logits, temperature):
    """TemperatureLogitsWarper: logits / temperature."""
    from transformers import TemperatureLogitsWarper

    return TemperatureLogitsWarper(float(temperature))(None, logits)


def top_k_filter(logits, top_k, filter_value=-float("inf")):
    """TopKLogitsWarper: the top_k largest logits and their ties."""
    from transformers import TopKLogitsWarper

    return TopKLogitsWarper(top_k, filter_value=filter_value)(None, logits)


def top_p_filter(logits, top_p, min_tokens_to_keep=1, filter_value=-float("inf")):
    """TopPLogitsWarper: the smallest top set whose probability reaches top_p."""
    from transformers import TopPLogitsWarper

    warper = TopPLogitsWarper(
        top_p, filter_value=filter_value, min_tokens_to_keep=min_tokens_to_keep
    )
    return warper(None, logits)
