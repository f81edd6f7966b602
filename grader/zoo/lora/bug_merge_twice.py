"""merge() without looking at `merged`: calling it twice adds the update twice."""

HINT = "merge_twice"


class LoRALinear(LoRALinear):  # noqa: F821  (the chapter's LoRALinear, with this merge)
    def merge(self):
        self.base_layer.weight.data += (self.lora_B.weight @ self.lora_A.weight) * self.scaling
        self.merged = True

    def unmerge(self):
        self.base_layer.weight.data -= (self.lora_B.weight @ self.lora_A.weight) * self.scaling
        self.merged = False
