"""Correct, written differently: the layers folded with functools.reduce, the residual blocks
as one loop over (norm, block) pairs, and the logits as a matmul with lm_head's weight."""

from functools import reduce

HINT = None


class DecoderLayer(DecoderLayer):  # noqa: F821  (the chapter's DecoderLayer, with this forward)
    def forward(self, hidden_states, position_ids=None, attention_mask=None):
        blocks = (
            (self.input_layernorm, lambda h: self.self_attn(h, position_ids, attention_mask)),
            (self.post_attention_layernorm, self.mlp),
        )
        for norm, block in blocks:
            hidden_states = hidden_states + block(norm(hidden_states))
        return hidden_states


class LlamaModel(LlamaModel):  # noqa: F821  (the chapter's LlamaModel, with this forward)
    def forward(self, input_ids, position_ids=None, attention_mask=None):
        def step(hidden_states, layer):
            return layer(hidden_states, position_ids=position_ids, attention_mask=attention_mask)

        return self.norm(reduce(step, self.layers, self.embed_tokens(input_ids)))


class Llama(Llama):  # noqa: F821  (the chapter's Llama, with this forward)
    def forward(self, input_ids, position_ids=None, attention_mask=None):
        hidden = self.model(input_ids, position_ids=position_ids, attention_mask=attention_mask)
        return hidden @ self.lm_head.weight.T
