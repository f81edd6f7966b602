"""Attention ignores the position_ids it is given and always rotates by 0..seq-1."""

HINT = "positions"


class Attention(Attention):  # noqa: F821  (the chapter's Attention, with this forward)
    def forward(self, hidden_states, position_ids=None, attention_mask=None):
        return super().forward(hidden_states, None, attention_mask)
