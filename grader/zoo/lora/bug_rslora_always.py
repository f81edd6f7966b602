"""scaling = lora_alpha / sqrt(r) whether or not use_rslora is asked for."""

import math

HINT = "scaling"


class LoRALinear(LoRALinear):  # noqa: F821  (the chapter's LoRALinear, with this __init__)
    def __init__(self, base_layer, r, lora_alpha, lora_dropout=0.0, use_rslora=False):
        super().__init__(base_layer, r, lora_alpha, lora_dropout, use_rslora)
        self.scaling = lora_alpha / math.sqrt(r)
