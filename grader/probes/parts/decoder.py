"""LlamaDecoderLayer in plain torch, built from the other lent parts."""

from __future__ import annotations

import torch
from torch import nn

from grader.probes.parts.attention import Attention
from grader.probes.parts.mlp import MLP
from grader.probes.parts.rmsnorm import RMSNorm


class DecoderLayer(nn.Module):
    """Two pre-norm residual blocks, attention then MLP, with the learner's signature."""

    def __init__(self, config) -> None:
        super().__init__()
        self.self_attn = Attention(
            config.hidden_size,
            config.num_attention_heads,
            config.num_key_value_heads,
            config.rope_parameters["rope_theta"],
        )
        self.mlp = MLP(config.hidden_size, config.intermediate_size)
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(
        self,
        hidden_states: torch.Tensor,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """h = x + self_attn(input_layernorm(x)); h + mlp(post_attention_layernorm(h))."""
        attended = self.self_attn(self.input_layernorm(hidden_states), position_ids, attention_mask)
        hidden_states = hidden_states + attended
        return hidden_states + self.mlp(self.post_attention_layernorm(hidden_states))
