"""Uses input_layernorm before both blocks: post_attention_layernorm's weight is never used."""

HINT = "same_norm"


class DecoderLayer(DecoderLayer):  # noqa: F821  (the chapter's DecoderLayer, with this forward)
    def forward(self, hidden_states, position_ids=None, attention_mask=None):
        normed = self.input_layernorm(hidden_states)
        hidden_states = hidden_states + self.self_attn(normed, position_ids, attention_mask)
        return hidden_states + self.mlp(self.input_layernorm(hidden_states))
