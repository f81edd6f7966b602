"""scaling = lora_alpha, forgetting to divide by r."""

HINT = "scaling"


class LoRALinear(LoRALinear):  # noqa: F821  (the chapter's LoRALinear, with this __init__)
    def __init__(self, base_layer, r, lora_alpha, lora_dropout=0.0, use_rslora=False):
        super().__init__(base_layer, r, lora_alpha, lora_dropout, use_rslora)
        self.scaling = lora_alpha
