# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Chapter 5: LoRA adapters
#
# Fine-tuning every weight of Llama 3 8B needs about 130 GB (weights, gradients and two
# AdamW states, chapter 4). LoRA (Hu et al., 2021) freezes the model and learns a small
# correction to a few of its matrices instead: for a frozen weight `W` of shape
# `out × in` it learns `A` (`r × in`) and `B` (`out × r`), and uses
#
# $$W x + \text{scaling} \cdot B A x, \qquad \text{scaling} = \alpha / r$$
#
# The usual setup for Llama 3 8B is `r = 32`, `lora_alpha = 64` (alpha = 2r, so the
# scaling is 2), on `q_proj`, `k_proj`, `v_proj` and `o_proj` (sometimes `lm_head` too).
# Under grouped-query attention the shapes differ per projection: `q_proj` and `o_proj`
# are 4096 → 4096, so their `A` is 32 × 4096 and `B` 4096 × 32; `k_proj` and `v_proj` are
# 4096 → 1024, so `A` is 32 × 4096 and `B` only 1024 × 32. In all, 27,262,976 trainable
# parameters: 0.34% of the model.
#
# ## Initialisation
#
# `B` starts at zero, so at initialisation the adapted model is exactly the base model.
# `A` starts random, Kaiming-uniform with `a = sqrt(5)` as `nn.Linear` does (uniform in
# ±1/sqrt(in)): if both were zero, every gradient would be zero too and nothing would learn.
# Dropout, when used, applies to `x` on the LoRA path only (before `lora_A`, not after it),
# never to the frozen path.
#
# ## rsLoRA
#
# With `alpha / r`, raising the rank shrinks each update; rank-stabilised LoRA
# (Kalajdzievski, 2023) uses `alpha / sqrt(r)` instead, so larger ranks actually help.
# peft calls it `use_rslora=True`.
#
# ## Merging
#
# For inference the correction can be folded into the weight: `W ← W + scaling · B A`.
# Then the layer costs what the base layer costs. `unmerge()` subtracts it again (up to
# rounding). Merging twice would add the correction twice, so a layer remembers whether it
# is `merged`. `merge_and_unload` merges every adapter and puts the plain `nn.Linear`s back.
#
# ## peft's format
#
# This chapter's names are peft's: `base_layer`, `lora_A`, `lora_B`, `scaling`, `merged`.
# `save_adapter` writes what `PeftModel.save_pretrained` writes, an `adapter_config.json`
# and an `adapter_model.safetensors` whose keys look like
# `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`, so that
# `PeftModel.from_pretrained(hf_model, directory)` loads your adapter, and anyone can use
# what you trained.

# %% nbgrader={"grade": false, "grade_id": "lora_imports", "locked": true, "schema_version": 3, "solution": false, "task": false}
import json
import math
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

# %% [markdown]
# ## Exercise 1: the adapted layer
#
# `LoRALinear(base_layer, r, lora_alpha, lora_dropout=0.0, use_rslora=False)`:
#
# - keep `base_layer` and freeze its parameters;
# - `lora_A = nn.Linear(in_features, r, bias=False)`, Kaiming-uniform (`a = sqrt(5)`);
#   `lora_B = nn.Linear(r, out_features, bias=False)`, zeros;
# - `lora_dropout`: `nn.Dropout(p)` when `p > 0`, else `nn.Identity()`;
# - `scaling`: `lora_alpha / r`, or `lora_alpha / sqrt(r)` with rsLoRA; `merged = False`;
# - `forward(x)`: the base output plus `lora_B(lora_A(dropout(x))) * scaling`, unless merged;
# - `merge()` / `unmerge()`: add / subtract `scaling * B @ A` to / from the base weight,
#   each only once.

# %% nbgrader={"grade": false, "grade_id": "lora_layer_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
class LoRALinear(nn.Module):
    """A frozen nn.Linear plus a trainable low-rank correction, named as in peft."""

    def __init__(
        self,
        base_layer: nn.Linear,
        r: int,
        lora_alpha: float,
        lora_dropout: float = 0.0,
        use_rslora: bool = False,
    ) -> None:
        super().__init__()
        # YOUR CODE HERE
        raise NotImplementedError()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """base(x) + scaling * B(A(dropout(x))), or just base(x) once merged."""
        # YOUR CODE HERE
        raise NotImplementedError()

    def merge(self) -> None:
        """Fold scaling * B @ A into the base weight (once)."""
        # YOUR CODE HERE
        raise NotImplementedError()

    def unmerge(self) -> None:
        """Take scaling * B @ A out of the base weight again (once)."""
        # YOUR CODE HERE
        raise NotImplementedError()


# %% [markdown]
# ## Exercise 2: adapting a model
#
# - `inject_lora(model, target_modules, r, lora_alpha, lora_dropout=0.0, use_rslora=False)`:
#   freeze every parameter of the model, then replace each `nn.Linear` whose name ends in
#   one of `target_modules` (`"q_proj"` matches `model.layers.3.self_attn.q_proj`) by a
#   `LoRALinear` around it. Return the model.
# - `trainable_parameters(model)`: `(trainable, total)`, each parameter counted once, as
#   peft's `get_nb_trainable_parameters()`.
# - `merge_and_unload(model)`: merge every `LoRALinear` and put its `base_layer` back in its
#   place. Return the model.

# %% nbgrader={"grade": false, "grade_id": "lora_model_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
def inject_lora(
    model: nn.Module,
    target_modules: list[str],
    r: int,
    lora_alpha: float,
    lora_dropout: float = 0.0,
    use_rslora: bool = False,
) -> nn.Module:
    """Freeze the model and wrap every targeted nn.Linear in a LoRALinear."""
    # YOUR CODE HERE
    raise NotImplementedError()


def trainable_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameters, shared ones counted once."""
    # YOUR CODE HERE
    raise NotImplementedError()


def merge_and_unload(model: nn.Module) -> nn.Module:
    """Merge every adapter and put the plain nn.Linear layers back."""
    # YOUR CODE HERE
    raise NotImplementedError()


# %% [markdown]
# ## Exercise 3: saving in peft's format
#
# `save_adapter(model, directory, target_modules, r, lora_alpha, lora_dropout=0.0,
# use_rslora=False)` writes into `directory`:
#
# - `adapter_model.safetensors`: every `lora_A` and `lora_B` weight, under its name in the
#   model prefixed with `base_model.model.` (peft's `PeftModel` wraps your model twice);
# - `adapter_config.json`: at least `"peft_type": "LORA"`, `r`, `lora_alpha`,
#   `target_modules`, `lora_dropout`, `use_rslora`, `"bias": "none"`.

# %% nbgrader={"grade": false, "grade_id": "lora_save_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
def save_adapter(
    model: nn.Module,
    directory: str | Path,
    target_modules: list[str],
    r: int,
    lora_alpha: float,
    lora_dropout: float = 0.0,
    use_rslora: bool = False,
) -> None:
    """Write the adapter as peft does: adapter_config.json and adapter_model.safetensors."""
    # YOUR CODE HERE
    raise NotImplementedError()


# %% [markdown]
# ## Exercise 4: a few steps of fine-tuning
#
# The kit ships a toy task: questions answered in a fixed JSON format, as bytes
# (`grader/data/json_answers.txt`). `fine_tune(model, input_ids, steps, lr)` takes a model
# whose LoRA layers are already injected and a batch of token ids `(batch, seq)`, and runs
# `steps` steps of AdamW (learning rate `lr`) on the trainable parameters only, minimising
# the next-token cross-entropy (`model(input_ids, labels=input_ids).loss` for a Hugging Face
# model). It returns the loss of every step, computed before that step's update (so the first
# is the base model's loss: `B` starts at zero). The check verifies that the loss goes down,
# that the base weights stay bit-identical, and that the adapters moved.

# %% nbgrader={"grade": false, "grade_id": "lora_train_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
def fine_tune(model: nn.Module, input_ids: torch.Tensor, steps: int, lr: float) -> list[float]:
    """AdamW on the trainable parameters; the loss of every step."""
    # YOUR CODE HERE
    raise NotImplementedError()


# %% [markdown]
# ## Checks
#
# Each cell below is a graded item; in pytest they run as `pytest -m lora`.

# %% nbgrader={"grade": false, "grade_id": "lora_checks_setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
# The checks run when this file is a notebook (or `python lora.py`), not when pytest imports it.
if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore")  # nbgrader scores 0 for a graded cell that writes to stderr
    from grader.notebook import check

# %% nbgrader={"grade": true, "grade_id": "lora_layer_init", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# LoRALinear starts as the base layer: B zero, A Kaiming-uniform, base frozen, peft's scaling.
if __name__ == "__main__":
    check("lora_layer_init", globals())

# %% nbgrader={"grade": true, "grade_id": "lora_layer_forward", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# LoRALinear's output equals peft's lora.Linear with the same A and B.
if __name__ == "__main__":
    check("lora_layer_forward", globals())

# %% nbgrader={"grade": true, "grade_id": "lora_layer_dropout", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Dropout acts on the LoRA path only, and not in eval mode.
if __name__ == "__main__":
    check("lora_layer_dropout", globals())

# %% nbgrader={"grade": true, "grade_id": "lora_merge", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# `merge()` equals peft's merged weight, once; unmerge() restores the weight.
if __name__ == "__main__":
    check("lora_merge", globals())

# %% nbgrader={"grade": true, "grade_id": "lora_inject", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# `inject_lora` wraps peft's layers; trainable_parameters equals peft's count.
if __name__ == "__main__":
    check("lora_inject", globals())

# %% nbgrader={"grade": true, "grade_id": "lora_logits", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Whole stack: your inject_lora and LoRALinear together give peft's logits.
if __name__ == "__main__":
    check("lora_logits", globals())

# %% nbgrader={"grade": true, "grade_id": "lora_gradients", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Gradients reach lora_A and lora_B only.
if __name__ == "__main__":
    check("lora_gradients", globals())

# %% nbgrader={"grade": true, "grade_id": "lora_merge_and_unload", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# `merge_and_unload` gives plain Linear layers and peft's logits.
if __name__ == "__main__":
    check("lora_merge_and_unload", globals())

# %% nbgrader={"grade": true, "grade_id": "lora_save_adapter", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# `save_adapter` writes peft's format: PeftModel.from_pretrained gives the same logits.
if __name__ == "__main__":
    check("lora_save_adapter", globals())

# %% nbgrader={"grade": true, "grade_id": "lora_training", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Fine-tuning lowers the loss, moves only the adapters, keeps the base bit-identical.
if __name__ == "__main__":
    check("lora_training", globals())
