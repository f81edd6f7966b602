"""LlamaForCausalLM in plain torch: the model a chapter that builds on one is lent.

Its state_dict is transformers' (`model.embed_tokens`, `model.layers[i]`, `model.norm`,
`lm_head`, tied when the config says so), its forward takes what HF's takes for a causal
batch and returns `.logits` and, given `labels`, HF's next-token `.loss`. `Llama` is the same
model with chapter 3's signature.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from grader.probes.parts.decoder import DecoderLayer
from grader.probes.parts.rmsnorm import RMSNorm


@dataclass
class CausalLMOutput:
    """What HF's forward returns that a learner's code reads: the loss and the logits, by
    name or, as HF's ModelOutput, by position (the loss first when there is one)."""

    logits: torch.Tensor
    loss: torch.Tensor | None = None

    def __getitem__(self, key: int | str) -> torch.Tensor:
        if isinstance(key, str):
            return getattr(self, key)
        return [value for value in (self.loss, self.logits) if value is not None][key]


class LlamaModel(nn.Module):
    """Embeddings, the decoder layers and the final norm."""

    def __init__(self, config) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Token ids to the final norm's hidden states."""
        hidden_states = self.embed_tokens(input_ids)
        for layer in self.layers:
            hidden_states = layer(hidden_states, position_ids, attention_mask)
        return self.norm(hidden_states)


class LlamaForCausalLM(nn.Module):
    """The model and its lm_head, with HF's forward for a batch without a cache."""

    def __init__(self, config) -> None:
        super().__init__()
        self.config = config
        self.model = LlamaModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        return_dict: bool | None = None,
    ) -> CausalLMOutput:
        """Logits, and with `labels` the mean cross-entropy of each token's successor
        (`use_cache` and `return_dict` are accepted as HF's are: there is no cache here)."""
        logits = self.lm_head(self.model(input_ids, position_ids, attention_mask))
        if labels is None:
            return CausalLMOutput(logits)
        # HF's ForCausalLMLoss: in float32, labels shifted left, the last position ignored
        shifted = nn.functional.pad(labels, (0, 1), value=-100)[..., 1:]
        loss = nn.functional.cross_entropy(
            logits.float().view(-1, logits.shape[-1]), shifted.reshape(-1), ignore_index=-100
        )
        return CausalLMOutput(logits, loss)

    def get_input_embeddings(self) -> nn.Embedding:
        """model.embed_tokens, as HF's model gives it."""
        return self.model.embed_tokens

    def get_output_embeddings(self) -> nn.Linear:
        """lm_head, as HF's model gives it."""
        return self.lm_head


class Llama(LlamaForCausalLM):
    """The model with chapter 3's signature: forward(input_ids, position_ids, attention_mask)
    returns the logits."""

    def forward(  # type: ignore[override]  (the chapter's signature, not HF's)
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits (batch, seq, vocab_size)."""
        return super().forward(input_ids, attention_mask, position_ids).logits
