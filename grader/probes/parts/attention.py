"""LlamaAttention with eager attention in plain torch, with the learner's signature."""

from __future__ import annotations

import torch
from torch import nn


def rope_cos_sin(
    position_ids: torch.Tensor, head_dim: int, theta: float, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """LlamaRotaryEmbedding's (cos, sin): computed in float32, then cast to `dtype`."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float) / head_dim))
    freqs = position_ids[..., None].float() * inv_freq
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(-x2, x1) for the two halves of the last dimension."""
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """(batch, kv_heads, seq, head_dim) to (batch, kv_heads * n_rep, seq, head_dim); the
    tensor itself when n_rep is 1 (a copy would change the memory layout, and with it how
    matmul rounds)."""
    if n_rep == 1:
        return x
    batch, kv_heads, seq_len, head_dim = x.shape
    x = x[:, :, None].expand(batch, kv_heads, n_rep, seq_len, head_dim)
    return x.reshape(batch, kv_heads * n_rep, seq_len, head_dim)


def additive_mask(
    batch: int, seq_len: int, attention_mask: torch.Tensor | None, dtype: torch.dtype
) -> torch.Tensor:
    """HF's eager mask (batch, 1, S, S): 0 where a query may attend (an earlier or the same
    index, a real token), dtype's minimum elsewhere."""
    allowed = torch.ones(seq_len, seq_len, dtype=torch.bool).tril().expand(batch, 1, -1, -1)
    if attention_mask is not None:
        allowed = allowed & attention_mask[:, None, None, :].bool()
    return torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)


class Attention(nn.Module):
    """Grouped-query attention with RoPE; forward(hidden_states, position_ids, attention_mask),
    the mask being the 2-D (batch, seq) padding mask, 1 = real token."""

    def __init__(
        self, hidden_size: int, num_heads: int, num_kv_heads: int, rope_theta: float = 10000.0
    ) -> None:
        super().__init__()
        self.head_dim = hidden_size // num_heads
        self.num_key_value_groups = num_heads // num_kv_heads
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
        """Causal attention over the sequence, in HF's order of operations."""
        batch, seq_len = hidden_states.shape[:2]
        shape = (batch, seq_len, -1, self.head_dim)
        q = self.q_proj(hidden_states).view(shape).transpose(1, 2)
        k = self.k_proj(hidden_states).view(shape).transpose(1, 2)
        v = self.v_proj(hidden_states).view(shape).transpose(1, 2)
        if position_ids is None:
            position_ids = torch.arange(seq_len).expand(batch, seq_len)
        cos, sin = rope_cos_sin(position_ids, self.head_dim, self.rope_theta, q.dtype)
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = repeat_kv(k, self.num_key_value_groups), repeat_kv(v, self.num_key_value_groups)
        scores = torch.matmul(q, k.transpose(2, 3)) * self.head_dim**-0.5
        scores = scores + additive_mask(batch, seq_len, attention_mask, scores.dtype)
        weights = nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        out = torch.matmul(weights, v).transpose(1, 2).contiguous()
        return self.o_proj(out.reshape(batch, seq_len, -1).contiguous())
