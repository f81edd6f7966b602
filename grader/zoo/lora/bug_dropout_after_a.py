"""Dropout applied to lora_A's output instead of to x: lora_B(dropout(lora_A(x)))."""

HINT = "dropout_input"


class LoRALinear(LoRALinear):  # noqa: F821  (the chapter's LoRALinear, with this forward)
    def forward(self, x):
        result = self.base_layer(x)
        if not self.merged:
            result = result + self.lora_B(self.lora_dropout(self.lora_A(x))) * self.scaling
        return result
