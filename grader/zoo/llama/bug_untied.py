"""Ignores tie_word_embeddings: lm_head always gets its own matrix."""

from torch import nn

HINT = "tie"


class Llama(Llama):  # noqa: F821  (the chapter's Llama, with this __init__)
    def __init__(self, config):
        nn.Module.__init__(self)
        self.config = config
        self.model = LlamaModel(config)  # noqa: F821
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
