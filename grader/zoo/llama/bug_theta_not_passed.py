"""Builds self_attn without the config's rope_theta, so Llama 3 runs with Llama 2's 10,000."""

from torch import nn

HINT = "layer_theta"


class DecoderLayer(DecoderLayer):  # noqa: F821  (the chapter's DecoderLayer, with this __init__)
    def __init__(self, config):
        nn.Module.__init__(self)
        heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
        self.self_attn = Attention(config.hidden_size, heads, kv_heads)  # noqa: F821
        self.mlp = MLP(config.hidden_size, config.intermediate_size)  # noqa: F821
        self.input_layernorm = RMSNorm(config.hidden_size, eps=config.rms_norm_eps)  # noqa: F821
        self.post_attention_layernorm = RMSNorm(  # noqa: F821
            config.hidden_size, eps=config.rms_norm_eps
        )
