"""unmerge() subtracts the update but leaves merged True: the layer stays a plain base layer."""

HINT = "merge_twice"


class LoRALinear(LoRALinear):  # noqa: F821  (the chapter's LoRALinear, with this unmerge)
    def unmerge(self):
        if self.merged:
            self.base_layer.weight.data -= (self.lora_B.weight @ self.lora_A.weight) * self.scaling
