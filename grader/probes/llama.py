"""Chapter 3's probes: the learner's MLP, DecoderLayer and Llama on a case.

An item that grades one class runs it with the parts around it lent (`Impl.substituted`):
LLaMA's modules in plain torch (`grader.probes.parts`), never the class it grades. In kit
grade, the items run in one child per set of parts lent (`lends`), which holds those files
alone: the child of `llama_decoder_layer` holds an MLP and no DecoderLayer, the children of
the model items a DecoderLayer and no Llama.
"""

from __future__ import annotations

import importlib

import torch

from grader.chapters import one_line
from grader.probes.config import llama_config, stand_in_module, stand_ins
from grader.probes.parts import attention, defined_in, lends, rmsnorm
from grader.registry import Case, CheckFailed, Output

NAMES = (
    "Use Hugging Face's names and nesting: model.embed_tokens, model.layers[i]"
    ".{self_attn,mlp,input_layernorm,post_attention_layernorm}, model.norm, lm_head."
)
# Chapters 1 and 2, which the locked cell imports (from the learner's files next to this one,
# else from `grader.reference`): in kit grade the file comes alone, so every child of this
# chapter holds these two parts, and `grader.reference` is a module of them.
EARLIER = ("rmsnorm", "attention")
STAND_INS = {
    **stand_ins(),  # the learner's `from transformers import LlamaConfig`
    "grader.reference": stand_in_module(
        "grader.reference", "chapters 1 and 2", **defined_in(rmsnorm, attention)
    ),
}


def given(case: Case) -> dict:
    """The keyword arguments a case passes besides the ids: position_ids, attention_mask."""
    return {name: case[name] for name in ("position_ids", "attention_mask") if name in case}


def load_into(model: torch.nn.Module, state_dict: dict, what: str) -> None:
    """load_state_dict(strict=True), failing with the names that do not match."""
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as error:
        raise CheckFailed(
            f"a Hugging Face state_dict does not load into {what} ({one_line(error, 140)}). {NAMES}"
        ) from None


# The class each module of `grader.probes.parts` holds, by module name.
CLASSES = {"rmsnorm": "RMSNorm", "attention": "Attention", "mlp": "MLP", "decoder": "DecoderLayer"}


def lent_parts(names: tuple[str, ...]) -> dict[str, type]:
    """The lent classes, by the name the learner's code calls them. Each module is imported on
    demand: a child that is not lent it has no such file."""
    modules = {name: importlib.import_module(f"grader.probes.parts.{name}") for name in names}
    return {CLASSES[name]: getattr(module, CLASSES[name]) for name, module in modules.items()}


@lends(*EARLIER)
def probe_mlp(impl, case: Case) -> Output:
    mlp = impl.MLP(case["hidden_size"], case["intermediate_size"]).to(case["x"].dtype)
    load_into(mlp, case["state_dict"], "MLP")
    with torch.no_grad():
        return {"y": mlp(case["x"])}


LAYER_LENDS = (*EARLIER, "mlp")


@lends(*LAYER_LENDS)
def probe_layer(impl, case: Case) -> Output:
    with impl.substituted(lent_parts(LAYER_LENDS)), torch.no_grad():
        layer = impl.DecoderLayer(llama_config(case["config"]))
        load_into(layer, case["state_dict"], "DecoderLayer")
        return {"y": layer(case["x"], **given(case))}


MODEL_LENDS = (*LAYER_LENDS, "decoder")


@lends(*MODEL_LENDS)
def probe_model(impl, case: Case) -> Output:
    """The learner's Llama with every part lent, in the case's dtype."""
    dtype = getattr(torch, case.get("dtype_name", "float32"))
    with impl.substituted(lent_parts(MODEL_LENDS)):
        model = impl.Llama(llama_config(case["config"])).to(dtype)
        load_into(model, {k: v.to(dtype) for k, v in case["state_dict"].items()}, "Llama")
        with torch.no_grad():
            logits = model(case["input_ids"], **given(case))
    return {"logits": logits}


@lends(*MODEL_LENDS)
def probe_structure(impl, case: Case) -> Output:
    with impl.substituted(lent_parts(MODEL_LENDS)):
        model = impl.Llama(llama_config(case["config"]))
    state = model.state_dict()
    load_error = None
    try:
        model.load_state_dict(case["state_dict"])
    except RuntimeError as error:
        load_error = one_line(error, 140)
    embed, head = getattr(model, "model", None), getattr(model, "lm_head", None)
    tied = (
        embed is not None
        and head is not None
        and getattr(getattr(embed, "embed_tokens", None), "weight", None) is head.weight
    )
    return {
        "names": sorted(state),
        "shapes": [list(state[name].shape) for name in sorted(state)],
        "load_error": load_error,
        "tied": tied,
    }


def traced(model: torch.nn.Module, run) -> tuple[list[str], list[torch.Tensor]]:
    """Run `run()` with a forward hook on every named submodule: names and tensor outputs,
    in the order the modules finished (a module called twice keeps its first output)."""
    names, outputs, handles = [], [], []

    def record(name: str):
        def hook(_module, _args, output) -> None:
            if isinstance(output, tuple):
                output = output[0]  # HF's attention returns (output, weights)
            if isinstance(output, torch.Tensor) and name not in names:
                names.append(name)
                outputs.append(output.detach().clone())

        return hook

    for name, module in model.named_modules():
        if name:
            handles.append(module.register_forward_hook(record(name)))
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    return names, outputs


@lends(*EARLIER)
def probe_own_stack(impl, case: Case) -> Output:
    """The learner's whole stack, their own chapters included (in kit grade, the file comes
    alone: chapters 1 and 2 are lent), with every module's output; and a changed future."""
    model = impl.Llama(llama_config(case["config"]))
    load_into(model, case["state_dict"], "Llama")
    ids = case["input_ids"]
    changed = ids.clone()
    changed[:, -2:] = (changed[:, -2:] + 1) % case["config"]["vocab_size"]
    with torch.no_grad():
        logits = []
        names, outputs = traced(model, lambda: logits.append(model(ids, **given(case))))
        return {
            "logits": logits[0],
            "logits_changed_future": model(changed, **given(case)),
            "module_names": names,
            "module_outputs": outputs,
        }
