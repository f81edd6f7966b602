"""Builds the layer's RMSNorms without the config's eps: they run with RMSNorm's default 1e-6."""

from torch import nn

HINT = "eps"


class DecoderLayer(DecoderLayer):  # noqa: F821  (the chapter's DecoderLayer, with this __init__)
    def __init__(self, config):
        nn.Module.__init__(self)
        self.self_attn = Attention(  # noqa: F821
            config.hidden_size,
            config.num_attention_heads,
            config.num_key_value_heads,
            rope_theta=config.rope_parameters["rope_theta"],
        )
        self.mlp = MLP(config.hidden_size, config.intermediate_size)  # noqa: F821
        self.input_layernorm = RMSNorm(config.hidden_size)  # noqa: F821
        self.post_attention_layernorm = RMSNorm(config.hidden_size)  # noqa: F821
