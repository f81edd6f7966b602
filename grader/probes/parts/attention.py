"""Chapter 2 in plain torch, with the learner's signatures: LlamaRotaryEmbedding's RoPE,
apply_rotary_pos_emb, repeat_kv, eager attention, and LlamaAttention built from them (without
a KV cache: that is `grader.probes.parts.cached`, lent only where no item grades a cache)."""

from __future__ import annotations

import torch
from torch import nn


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(-x2, x1) for the two halves of the last dimension."""
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def rope_cos_sin(
    position_ids: torch.Tensor, head_dim: int, theta: float = 10000.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """LlamaRotaryEmbedding's (cos, sin), (batch, seq, head_dim), in float32."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float) / head_dim))
    freqs = position_ids[..., None].float() * inv_freq
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def apply_rope(q, k, cos, sin) -> tuple[torch.Tensor, torch.Tensor]:
    """apply_rotary_pos_emb: cos and sin broadcast over the heads."""
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """(batch, kv_heads, seq, head_dim) to (batch, kv_heads * n_rep, seq, head_dim); the
    tensor itself when n_rep is 1 (a copy would change the memory layout, and with it how
    matmul rounds)."""
    if n_rep == 1:
        return x
    batch, kv_heads, seq_len, head_dim = x.shape
    x = x[:, :, None].expand(batch, kv_heads, n_rep, seq_len, head_dim)
    return x.reshape(batch, kv_heads * n_rep, seq_len, head_dim)


def causal_mask(seq_len: int, key_len: int, dtype: torch.dtype) -> torch.Tensor:
    """The additive (S, S_k) causal mask of HF's eager attention: the queries are the last S
    of the S_k positions; a masked score gets dtype's minimum."""
    blocked = torch.ones(seq_len, key_len, dtype=torch.bool).tril(key_len - seq_len).logical_not()
    return torch.zeros(seq_len, key_len, dtype=dtype).masked_fill(blocked, torch.finfo(dtype).min)


def scaled_dot_product_attention(q, k, v, is_causal=True, attention_mask=None) -> torch.Tensor:
    """HF's eager attention on (B, H, S, D) queries and (B, KV, S_k, D) keys and values, to
    (B, H, S, D); attention_mask is the 2-D (B, S_k) padding mask, 1 = real token."""
    mask = causal_mask(q.shape[-2], k.shape[-2], q.dtype) if is_causal else None
    if attention_mask is not None:
        padded = attention_mask[:, None, None, :].logical_not()
        mask = torch.zeros((), dtype=q.dtype) if mask is None else mask
        mask = mask.masked_fill(padded, torch.finfo(q.dtype).min)
    n_rep = q.shape[1] // k.shape[1]
    k, v = repeat_kv(k, n_rep), repeat_kv(v, n_rep)
    scores = torch.matmul(q, k.transpose(2, 3)) * q.shape[-1] ** -0.5
    if mask is not None:
        scores = scores + mask
    weights = nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
    # HF's layout: (B, S, H, D) in memory, which decides how o_proj's matmul rounds
    return torch.matmul(weights, v).transpose(1, 2).contiguous().transpose(1, 2)


class Attention(nn.Module):
    """Grouped-query attention with RoPE; forward(hidden_states, position_ids, attention_mask),
    the mask being the 2-D (batch, seq) padding mask, 1 = real token."""

    def __init__(
        self, hidden_size: int, num_heads: int, num_kv_heads: int, rope_theta: float = 10000.0
    ) -> None:
        super().__init__()
        self.head_dim = hidden_size // num_heads
        self.num_key_value_groups = num_heads // num_kv_heads  # LlamaAttention's attributes
        self.scaling = self.head_dim**-0.5
        self.rope_theta = rope_theta
        self.q_proj = nn.Linear(hidden_size, num_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(hidden_size, num_kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(hidden_size, num_kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(num_heads * self.head_dim, hidden_size, bias=False)

    def forward(
        self,
        hidden_states: torch.Tensor,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Causal attention, in HF's order of operations."""
        batch, seq_len = hidden_states.shape[:2]
        shape = (batch, seq_len, -1, self.head_dim)
        q = self.q_proj(hidden_states).view(shape).transpose(1, 2)
        k = self.k_proj(hidden_states).view(shape).transpose(1, 2)
        v = self.v_proj(hidden_states).view(shape).transpose(1, 2)
        if position_ids is None:
            past = self.past_length()
            position_ids = torch.arange(past, past + seq_len).expand(batch, seq_len)
        cos, sin = rope_cos_sin(position_ids, self.head_dim, self.rope_theta)
        q, k = apply_rope(q, k, cos.to(q.dtype), sin.to(q.dtype))
        k, v = self.remember(k, v)
        out = scaled_dot_product_attention(q, k, v, True, attention_mask)
        return self.o_proj(out.transpose(1, 2).reshape(batch, seq_len, -1))

    def past_length(self) -> int:
        """How many tokens came before these: none, without a cache."""
        return 0

    def remember(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The keys and values to attend over: these alone, without a cache."""
        return k, v
