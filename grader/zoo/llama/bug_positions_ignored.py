"""LlamaModel takes position_ids but never hands them to its layers."""

HINT = "positions"


class LlamaModel(LlamaModel):  # noqa: F821  (the chapter's LlamaModel, with this forward)
    def forward(self, input_ids, position_ids=None, attention_mask=None):
        hidden_states = self.embed_tokens(input_ids)
        for layer in self.layers:
            hidden_states = layer(hidden_states, attention_mask=attention_mask)
        return self.norm(hidden_states)
