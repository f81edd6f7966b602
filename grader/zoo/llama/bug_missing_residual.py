"""Forgets the residual connection around attention."""

HINT = "residual"


class DecoderLayer(DecoderLayer):  # noqa: F821  (the chapter's DecoderLayer, with this forward)
    def forward(self, hidden_states, position_ids=None, attention_mask=None):
        hidden_states = self.self_attn(
            self.input_layernorm(hidden_states), position_ids, attention_mask
        )
        return hidden_states + self.mlp(self.post_attention_layernorm(hidden_states))
