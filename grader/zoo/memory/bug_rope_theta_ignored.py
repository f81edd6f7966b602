"""Leaves rope_theta at LlamaConfig's default: Llama 3's 500000 from params.json is lost."""

HINT = "meta_config"

_correct_config = config_from_meta_params  # noqa: F821  (the chapter's own)


def config_from_meta_params(params, vocab_size):
    return _correct_config({k: v for k, v in params.items() if k != "rope_theta"}, vocab_size)
