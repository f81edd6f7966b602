"""Correct, written differently: the module computes in float64 with einsum, an additive
-inf mask whose all-blocked rows are zeroed (nan_to_num), and positions built by cumsum."""

import math

import torch

HINT = None


class Attention(Attention):  # noqa: F821  (the chapter's Attention, with this forward)
    def forward(self, hidden_states, position_ids=None, attention_mask=None):
        batch, seq_len, _ = hidden_states.shape
        if position_ids is None:
            position_ids = torch.ones(batch, seq_len, dtype=torch.long).cumsum(-1) - 1
        x = hidden_states.double()

        def heads(proj):
            return torch.einsum("bsh,oh->bso", x, proj.weight.double()).unflatten(
                -1, (-1, self.head_dim)
            )

        q, k, v = heads(self.q_proj), heads(self.k_proj), heads(self.v_proj)  # (B, S, H, D)
        exponents = torch.arange(0, self.head_dim, 2, dtype=torch.float64) / self.head_dim
        angles = position_ids[..., None].double() * self.rope_theta**-exponents
        cos, sin = angles.cos()[:, :, None], angles.sin()[:, :, None]  # (B, S, 1, D/2)

        def rotate(t):
            t1, t2 = t[..., : self.head_dim // 2], t[..., self.head_dim // 2 :]
            return torch.cat((t1 * cos - t2 * sin, t2 * cos + t1 * sin), -1)

        q, k = rotate(q), rotate(k)
        n_rep = self.num_heads // self.num_kv_heads
        k, v = k.repeat_interleave(n_rep, 2), v.repeat_interleave(n_rep, 2)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(self.head_dim)
        blocked = torch.full((seq_len, seq_len), -math.inf, dtype=torch.float64).triu(1)
        if attention_mask is not None:
            padding = attention_mask[:, None, None, :] == 0
            blocked = blocked + torch.where(padding, -math.inf, 0.0)
        weights = torch.softmax(scores + blocked, -1).nan_to_num()
        out = torch.einsum("bhqk,bkhd->bqhd", weights, v).flatten(-2)
        return self.o_proj(out.to(hidden_states.dtype))
