"""Published configurations of real LLaMA models, written into the kit (nothing is downloaded).

`HF_CONFIGS` are the values of each model's `config.json` on the Hugging Face Hub that
determine its size; `META_PARAMS` are the same models' original `params.json` from Meta.
"""

from __future__ import annotations

# The linear layers of one decoder layer, by their Hugging Face names (what LoRA may adapt,
# with lm_head).
LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

HF_CONFIGS: dict[str, dict] = {
    "llama-2-7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                       num_attention_heads=32, num_key_value_heads=32, vocab_size=32000,
                       rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False),
    "llama-2-13b": dict(hidden_size=5120, intermediate_size=13824, num_hidden_layers=40,
                        num_attention_heads=40, num_key_value_heads=40, vocab_size=32000,
                        rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False),
    "llama-2-70b": dict(hidden_size=8192, intermediate_size=28672, num_hidden_layers=80,
                        num_attention_heads=64, num_key_value_heads=8, vocab_size=32000,
                        rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False),
    "llama-3-8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                       num_attention_heads=32, num_key_value_heads=8, vocab_size=128256,
                       rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=False),
    "llama-3-70b": dict(hidden_size=8192, intermediate_size=28672, num_hidden_layers=80,
                        num_attention_heads=64, num_key_value_heads=8, vocab_size=128256,
                        rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=False),
    "llama-3.2-1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                         num_attention_heads=32, num_key_value_heads=8, vocab_size=128256,
                         rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=True),
    "llama-3.2-3b": dict(hidden_size=3072, intermediate_size=8192, num_hidden_layers=28,
                         num_attention_heads=24, num_key_value_heads=8, vocab_size=128256,
                         rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=True),
}  # fmt: skip

META_PARAMS: dict[str, dict] = {
    "llama-2-7b": {"dim": 4096, "multiple_of": 256, "n_heads": 32, "n_layers": 32,
                   "norm_eps": 1e-05, "vocab_size": -1},
    "llama-2-13b": {"dim": 5120, "multiple_of": 256, "n_heads": 40, "n_layers": 40,
                    "norm_eps": 1e-05, "vocab_size": -1},
    "llama-2-70b": {"dim": 8192, "multiple_of": 4096, "ffn_dim_multiplier": 1.3, "n_heads": 64,
                    "n_kv_heads": 8, "n_layers": 80, "norm_eps": 1e-05, "vocab_size": -1},
    "llama-3-8b": {"dim": 4096, "n_layers": 32, "n_heads": 32, "n_kv_heads": 8,
                   "vocab_size": 128256, "multiple_of": 1024, "ffn_dim_multiplier": 1.3,
                   "norm_eps": 1e-05, "rope_theta": 500000.0},
    "llama-3-70b": {"dim": 8192, "n_layers": 80, "n_heads": 64, "n_kv_heads": 8,
                    "vocab_size": 128256, "multiple_of": 4096, "ffn_dim_multiplier": 1.3,
                    "norm_eps": 1e-05, "rope_theta": 500000.0},
    "llama-3.2-1b": {"dim": 2048, "n_layers": 16, "n_heads": 32, "n_kv_heads": 8,
                     "vocab_size": 128256, "ffn_dim_multiplier": 1.5, "multiple_of": 256,
                     "norm_eps": 1e-05, "rope_theta": 500000.0, "use_scaled_rope": True},
    "llama-3.2-3b": {"dim": 3072, "n_layers": 28, "n_heads": 24, "n_kv_heads": 8,
                     "vocab_size": 128256, "ffn_dim_multiplier": 1.0, "multiple_of": 256,
                     "norm_eps": 1e-05, "rope_theta": 500000.0, "use_scaled_rope": True},
}  # fmt: skip

# Parameter counts as published (model cards, `num_parameters()`), a check on the values above.
PARAMETERS = {
    "llama-2-7b": 6_738_415_616,
    "llama-2-13b": 13_015_864_320,
    "llama-2-70b": 68_976_648_192,
    "llama-3-8b": 8_030_261_248,
    "llama-3-70b": 70_553_706_496,
    "llama-3.2-1b": 1_235_814_400,
    "llama-3.2-3b": 3_212_749_824,
}
