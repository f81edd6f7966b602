"""The plain model with a KV cache behind chapter 7's model protocol,
`model(input_ids, cache=None, position_ids=None, attention_mask=None) -> logits`: what the
loop items run the learner's `generate` around. It computes what `forward_with_cache` and a
cache compute, so only a child whose items grade neither is lent it."""

from __future__ import annotations

import torch

from grader.probes.parts.attention import Attention
from grader.probes.parts.llama import LlamaForCausalLM


class CachedAttention(Attention):
    """Attention whose keys and values go through the model's cache (HF's `update`)."""

    def __init__(self, *args, layer_idx: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.layer_idx = layer_idx
        self.cache = None  # set by CachedLlama for the length of one call

    def past_length(self) -> int:
        """The tokens the cache holds for this layer."""
        return 0 if self.cache is None else self.cache.get_seq_length(self.layer_idx)

    def remember(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The cached keys and values, these appended."""
        return (k, v) if self.cache is None else self.cache.update(k, v, self.layer_idx)


class CachedLlama(LlamaForCausalLM):
    """LlamaForCausalLM whose calls may carry a cache: new ids follow the cached ones."""

    def __init__(self, config) -> None:
        super().__init__(config)
        theta = config.rope_parameters["rope_theta"]
        shape = (config.hidden_size, config.num_attention_heads, config.num_key_value_heads)
        for layer_idx, layer in enumerate(self.model.layers):
            layer.self_attn = CachedAttention(*shape, theta, layer_idx=layer_idx)

    def forward(  # type: ignore[override]  (chapter 7's protocol, not HF's)
        self, input_ids, cache=None, position_ids=None, attention_mask=None
    ) -> torch.Tensor:
        """The logits of the new ids."""
        attentions = [layer.self_attn for layer in self.model.layers]
        for attention in attentions:
            attention.cache = cache
        try:
            return super().forward(input_ids, attention_mask, position_ids).logits
        finally:
            for attention in attentions:
                attention.cache = None
