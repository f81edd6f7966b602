"""Merges B @ A without the scaling."""

HINT = "merge_scaling"


class LoRALinear(LoRALinear):  # noqa: F821  (the chapter's LoRALinear, with this merge)
    def merge(self):
        if not self.merged:
            self.base_layer.weight.data += self.lora_B.weight @ self.lora_A.weight
            self.merged = True

    def unmerge(self):
        if self.merged:
            self.base_layer.weight.data -= self.lora_B.weight @ self.lora_A.weight
            self.merged = False
