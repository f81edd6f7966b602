"""Merges (B @ A) transposed: it fits only square layers, and there it is wrong."""

HINT = "merge_transpose"


class LoRALinear(LoRALinear):  # noqa: F821  (the chapter's LoRALinear, with this merge)
    def merge(self):
        if not self.merged:
            self.base_layer.weight.data += (
                self.lora_A.weight.T @ self.lora_B.weight.T
            ) * self.scaling
            self.merged = True

    def unmerge(self):
        if self.merged:
            self.base_layer.weight.data -= (
                self.lora_A.weight.T @ self.lora_B.weight.T
            ) * self.scaling
            self.merged = False
