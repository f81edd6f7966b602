"""Chapter 4's probes: the learner's counts and bytes for a case's config.

An item that grades a total lends the learner the parts it is built from (`count_parameters`
and `bytes_per_parameter` inside `weight_memory_bytes`, say) as tables of Hugging Face's
answers for the case's config and dtype (`grader.probes.lending`): one bug costs only its own
part's points.
"""

from __future__ import annotations

import torch

from grader.probes.config import llama_config, stand_ins
from grader.probes.lending import LENT, lent
from grader.registry import Case, Output

STAND_INS = stand_ins()  # the learner's `from transformers import LlamaConfig`, in kit grade
FIELDS = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "vocab_size",
    "rms_norm_eps",
)


# The lent parts' signatures, as the exercise states them: a call is looked up in a lent
# table with its arguments bound to these, defaults included.
def ffn_hidden_dim(dim, multiple_of, ffn_dim_multiplier=None): ...


def count_parameters(config): ...


def bytes_per_parameter(dtype): ...


def weight_memory_bytes(config, dtype): ...


def lora_parameter_count(config, r, target_modules): ...


PARTS = {
    part.__name__: part
    for part in (
        ffn_hidden_dim,
        count_parameters,
        bytes_per_parameter,
        weight_memory_bytes,
        lora_parameter_count,
    )
}


def lent_parts(impl, case: Case) -> dict:
    """Stand-ins for the parts the case lends, from its tables."""
    return {name: lent(impl, name, PARTS[name], table) for name, table in case[LENT].items()}


def probe_ffn(impl, case: Case) -> Output:
    params = case["params"]
    return {
        "value": impl.ffn_hidden_dim(
            params["dim"], params["multiple_of"], params.get("ffn_dim_multiplier")
        )
    }


def probe_meta_config(impl, case: Case) -> Output:
    with impl.substituted(lent_parts(impl, case)):
        config = impl.config_from_meta_params(case["params"], case["vocab_size"])
    values = {field: getattr(config, field, None) for field in FIELDS}
    parameters = getattr(config, "rope_parameters", None) or {}
    return {**values, "rope_theta": parameters.get("rope_theta")}


def probe_count(impl, case: Case) -> Output:
    return {"count": impl.count_parameters(llama_config(case["config"]))}


def probe_bytes_per_parameter(impl, case: Case) -> Output:
    return {"values": [impl.bytes_per_parameter(dtype) for dtype in case["dtypes"]]}


def probe_weights(impl, case: Case) -> Output:
    dtype = getattr(torch, case["dtype"])
    with impl.substituted(lent_parts(impl, case)):
        return {"bytes": impl.weight_memory_bytes(llama_config(case["config"]), dtype)}


def probe_quantized(impl, case: Case) -> Output:
    config = llama_config(case["config"])
    with impl.substituted(lent_parts(impl, case)):
        value = impl.quantized_weight_memory_bytes(
            config, 4, case["blocksize"], case["double_quant"], torch.bfloat16
        )
    return {"bytes": value}


def probe_lora(impl, case: Case) -> Output:
    config = llama_config(case["config"])
    return {"count": impl.lora_parameter_count(config, case["r"], list(case["targets"]))}


def probe_kv_cache(impl, case: Case) -> Output:
    config, dtype = llama_config(case["config"]), getattr(torch, case["dtype"])
    with impl.substituted(lent_parts(impl, case)):
        return {"bytes": impl.kv_cache_bytes(config, case["batch"], case["seq"], dtype)}


def probe_training(impl, case: Case) -> Output:
    config = llama_config(case["config"])
    dtype = getattr(torch, case["dtype"])
    with impl.substituted(lent_parts(impl, case)):
        one = impl.training_memory(config, dtype, lora=case["lora"], batch_size=1, seq_len=16)
        two = impl.training_memory(config, dtype, lora=case["lora"], batch_size=2, seq_len=16)
    fields = ("weights", "gradients", "optimizer_states", "activations")
    return {
        **{field: getattr(one, field) for field in fields},
        "activations_batch_2": two.activations,
    }


def probe_fits(impl, case: Case) -> Output:
    breakdown = impl.MemoryBreakdown(*case["parts"])
    return {"fits": [impl.fits(breakdown, gpu) for gpu in case["gpus"]]}
