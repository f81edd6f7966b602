"""Builds the final norm without the config's eps."""

from torch import nn

HINT = "eps"


class LlamaModel(LlamaModel):  # noqa: F821  (the chapter's LlamaModel, with this __init__)
    def __init__(self, config):
        nn.Module.__init__(self)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        layers = (DecoderLayer(config) for _ in range(config.num_hidden_layers))  # noqa: F821
        self.layers = nn.ModuleList(layers)
        self.norm = RMSNorm(config.hidden_size)  # noqa: F821
