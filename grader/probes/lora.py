"""Chapter 5's probes: the learner's LoRALinear, injection, merging, saving and training.

The model the learner adapts is LLaMA in plain torch (`grader.probes.parts.llama`), with the
case's weights: transformers' LlamaForCausalLM, to the bit, and no part of peft. An item that
grades one function runs with the chapter's other parts lent (`lent_parts`: peft's layer and
injection in the chapter's layout), so one bug costs only its own part's points; in kit grade
its child holds those parts alone (`lends`), never the one it grades.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from torch import nn

from grader.chapters import one_line
from grader.probes.config import llama_config, stand_ins
from grader.probes.parts import lends
from grader.probes.parts.llama import LlamaForCausalLM
from grader.registry import Case, CheckFailed, Output

NAMES = "Use peft's names: base_layer, lora_A and lora_B as bias-free nn.Linear layers."
STAND_INS = stand_ins()  # the probes' LlamaConfig, in kit grade
# The plain model's parts: every child of this chapter holds them (none holds any LoRA).
MODEL = ("rmsnorm", "attention", "mlp", "decoder", "llama")


def lent_parts(*names: str, layer_class: type | None = None) -> dict:
    """The lent LoRALinear ("lora_linear") and inject_lora ("inject_lora", wrapping in
    `layer_class`, else the lent LoRALinear), by the learner's names. Imported here, on
    demand: a child that is not lent one has no such file."""
    parts = {}
    if "lora_linear" in names:
        from grader.probes.parts.lora_linear import LoRALinear

        parts["LoRALinear"] = layer_class = LoRALinear
    if "inject_lora" in names:
        from grader.probes.parts.inject_lora import inject_lora_with

        parts["inject_lora"] = inject_lora_with(layer_class)
    return parts


def base_linear(case: Case) -> nn.Linear:
    out_features, in_features = case["weight"].shape
    base = nn.Linear(in_features, out_features, bias=False)
    with torch.no_grad():
        base.weight.copy_(case["weight"])
    return base


def learner_layer(impl, case: Case, with_weights: bool = True) -> nn.Module:
    """The learner's LoRALinear around the case's base, with the case's A and B if asked."""
    layer = impl.LoRALinear(
        base_linear(case), case["r"], case["lora_alpha"], case["lora_dropout"], case["use_rslora"]
    )
    if with_weights:
        try:
            with torch.no_grad():
                layer.lora_A.weight.copy_(case["lora_A"])
                layer.lora_B.weight.copy_(case["lora_B"])
        except (AttributeError, RuntimeError) as error:
            raise CheckFailed(
                f"could not set LoRALinear's lora_A and lora_B ({one_line(error, 100)}). " + NAMES
            ) from None
    return layer


@lends(*MODEL)
def probe_init(impl, case: Case) -> Output:
    layer = learner_layer(impl, case, with_weights=False).eval()
    with torch.no_grad():
        y = layer(case["x"])
    return {
        "A": layer.lora_A.weight,
        "B": layer.lora_B.weight,
        "scaling": float(layer.scaling),
        "base_trainable": any(p.requires_grad for p in layer.base_layer.parameters()),
        "lora_trainable": layer.lora_A.weight.requires_grad and layer.lora_B.weight.requires_grad,
        "y": y,
    }


@lends(*MODEL)
def probe_forward(impl, case: Case) -> Output:
    layer = learner_layer(impl, case).eval()
    with torch.no_grad():
        return {"y": layer(case["x"])}


def one_hot_rows(case: Case) -> torch.Tensor:
    """64 inputs with one nonzero feature each: dropout on x keeps or drops a row's LoRA term
    whole, whatever the random mask, so the check needs no particular random stream."""
    in_features = case["weight"].shape[1]
    rows = torch.arange(64)
    return torch.eye(in_features)[rows % in_features] * (1.0 + rows % 3)[:, None]


@lends(*MODEL)
def probe_dropout(impl, case: Case) -> Output:
    fresh = learner_layer(impl, case, with_weights=False).train()  # B = 0: only the base path
    torch.manual_seed(0)
    with torch.no_grad():
        y_train_at_init = fresh(case["x"])
        layer = learner_layer(impl, case)
        y_train = layer.train()(one_hot_rows(case))
        y_eval = layer.eval()(case["x"])
    return {"y_train_at_init": y_train_at_init, "y_train": y_train, "y_eval": y_eval}


@lends(*MODEL)
def probe_merge(impl, case: Case) -> Output:
    layer = learner_layer(impl, case).eval()
    with torch.no_grad():
        y = layer(case["x"])
        layer.merge()
        merged_weight = layer.base_layer.weight.clone()
        y_merged = layer(case["x"])
        flag_merged = bool(layer.merged)
        layer.merge()
        twice = layer.base_layer.weight.clone()
        layer.unmerge()
        restored = layer.base_layer.weight.clone()
        layer.unmerge()
        restored_twice = layer.base_layer.weight.clone()
    return {
        "y": y,
        "merged_weight": merged_weight,
        "y_merged": y_merged,
        "flag_merged": flag_merged,
        "flag_after_unmerge": bool(layer.merged),
        "merged_twice": twice,
        "restored": restored,
        "restored_twice": restored_twice,
    }


def learner_model(impl, case: Case, with_adapters: bool = True):
    """The case's base model with the learner's inject_lora, and the case's adapter weights."""
    model = LlamaForCausalLM(llama_config(case["config"]))
    model.load_state_dict(case["base"])
    model = impl.inject_lora(
        model, list(case["targets"]), case["r"], case["lora_alpha"], 0.0, case["use_rslora"]
    )
    if with_adapters:
        try:
            with torch.no_grad():
                for name, tensor in case["adapters"].items():
                    model.get_parameter(name).copy_(tensor)
        except AttributeError as error:
            raise CheckFailed(
                f"the adapted model has no parameter {one_line(error, 100)}. {NAMES}"
            ) from None
    return model.eval()


@lends(*MODEL, "lora_linear")
def probe_inject(impl, case: Case) -> Output:
    with impl.substituted(lent_parts("lora_linear")):
        model = learner_model(impl, case, with_adapters=False)
        trainable, total = impl.trainable_parameters(model)
    wrapped = sorted(
        name
        for name, module in model.named_modules()
        if hasattr(module, "lora_A") and hasattr(module, "base_layer")
    )
    frozen = [
        name for name, p in model.named_parameters() if p.requires_grad and ".lora_" not in name
    ]
    return {"trainable": trainable, "total": total, "wrapped": wrapped, "trainable_base": frozen}


@lends(*MODEL)
def probe_logits(impl, case: Case) -> Output:
    with torch.no_grad():
        return {"logits": learner_model(impl, case)(case["input_ids"]).logits}


@lends(*MODEL, "inject_lora")
def probe_gradients(impl, case: Case) -> Output:
    with impl.substituted(lent_parts("inject_lora", layer_class=impl.LoRALinear)):
        model = learner_model(impl, case, with_adapters=False).train()
    model(case["input_ids"], labels=case["input_ids"]).loss.backward()
    return {
        "with_grad": sorted(name for name, p in model.named_parameters() if p.grad is not None),
        "nonzero_grad": sorted(
            name
            for name, p in model.named_parameters()
            if p.grad is not None and p.grad.count_nonzero()
        ),
    }


@lends(*MODEL, "lora_linear", "inject_lora")
def probe_unload(impl, case: Case) -> Output:
    with impl.substituted(lent_parts("lora_linear", "inject_lora")):
        model = impl.merge_and_unload(learner_model(impl, case))
    kinds = sorted(
        {
            type(module).__name__
            for name, module in model.named_modules()
            if name.split(".")[-1] in case["targets"]
        }
    )
    with torch.no_grad():
        return {"logits": model(case["input_ids"]).logits, "kinds": kinds}


@lends(*MODEL, "lora_linear", "inject_lora")
def probe_save(impl, case: Case) -> Output:
    with impl.substituted(lent_parts("lora_linear", "inject_lora")):
        model = learner_model(impl, case)
    with tempfile.TemporaryDirectory() as directory:
        impl.save_adapter(
            model,
            directory,
            list(case["targets"]),
            case["r"],
            case["lora_alpha"],
            0.0,
            case["use_rslora"],
        )
        config = (Path(directory) / "adapter_config.json").read_text()
        from safetensors.torch import load_file

        tensors = load_file(Path(directory) / "adapter_model.safetensors")
    with torch.no_grad():
        logits = model(case["input_ids"]).logits
    return {
        "config": config,
        "names": sorted(tensors),
        "tensors": [tensors[name] for name in sorted(tensors)],
        "logits": logits,
    }


@lends(*MODEL, "lora_linear", "inject_lora")
def probe_training(impl, case: Case) -> Output:
    with impl.substituted(lent_parts("lora_linear", "inject_lora")):
        model = learner_model(impl, case, with_adapters=False)
    losses = impl.fine_tune(model, case["input_ids"], 20, 1e-2)
    state = model.state_dict()
    base = {
        name: state[name.replace(".weight", ".base_layer.weight")]
        if name.replace(".weight", ".base_layer.weight") in state
        else state[name]
        for name in case["base"]
    }
    lora_b = [tensor for name, tensor in state.items() if ".lora_B." in name]
    return {
        "losses": [float(loss) for loss in losses],
        "base_names": list(base),
        "base": list(base.values()),
        "lora_B_moved": bool(lora_b) and all(t.count_nonzero() > 0 for t in lora_b),
    }
