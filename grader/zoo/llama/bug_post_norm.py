"""Post-norm, as in the original Transformer: normalises after each residual addition."""

HINT = "pre_norm"


class DecoderLayer(DecoderLayer):  # noqa: F821  (the chapter's DecoderLayer, with this forward)
    def forward(self, hidden_states, position_ids=None, attention_mask=None):
        hidden_states = self.input_layernorm(
            hidden_states + self.self_attn(hidden_states, position_ids, attention_mask)
        )
        return self.post_attention_layernorm(hidden_states + self.mlp(hidden_states))
