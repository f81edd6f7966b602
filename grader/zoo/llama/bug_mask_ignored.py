"""LlamaModel takes attention_mask but never hands it to its layers: tokens see the padding."""

HINT = "padding"


class LlamaModel(LlamaModel):  # noqa: F821  (the chapter's LlamaModel, with this forward)
    def forward(self, input_ids, position_ids=None, attention_mask=None):
        hidden_states = self.embed_tokens(input_ids)
        for layer in self.layers:
            hidden_states = layer(hidden_states, position_ids)
        return self.norm(hidden_states)
