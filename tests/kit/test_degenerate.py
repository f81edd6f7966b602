"""No item awards points to a degenerate part: zeros, NaN, a constant or a copied input
(issue 12, section 5). Each patch replaces one part; every item grading that part must fail."""

import pytest

from grader import registry
from grader.chapters import SOLUTIONS, load_chapter
from grader.runner import run_item

RMSNORM = """
import torch

class RMSNorm(RMSNorm):
    def forward(self, x):
        return {}
"""
RMSNORM_ITEMS = {item.grade_id for item in registry.items("rmsnorm")} - {"rmsnorm_init"}

CASES = [
    *(
        ("rmsnorm", RMSNORM.format(output), RMSNORM_ITEMS)
        for output in (
            "torch.zeros_like(x)",
            "torch.full_like(x, float('nan'))",
            "torch.ones_like(x)",
            "x",
            "x * self.weight",
        )
    ),
    (
        "attention",
        "def apply_rope(q, k, cos, sin):\n    return q, k\n",
        {"attention_apply_rope", "attention_rope_properties"},
    ),
    (
        "attention",
        "def scaled_dot_product_attention(q, k, v, is_causal=True, attention_mask=None):\n"
        "    return v.repeat_interleave(q.shape[1] // v.shape[1], 1)\n",
        {"attention_sdpa", "attention_sdpa_properties"},
    ),
    (
        "attention",
        "class Attention(Attention):\n"
        "    def forward(self, hidden_states, position_ids=None, attention_mask=None):\n"
        "        return hidden_states * 0\n",
        {"attention_module", "attention_module_half"},
    ),
    (
        "llama",
        "class DecoderLayer(DecoderLayer):\n"
        "    def forward(self, hidden_states, position_ids=None, attention_mask=None):\n"
        "        return hidden_states\n",
        {"llama_decoder_layer", "llama_own_stack"},
    ),
    (
        "llama",
        "import torch\n\nclass Llama(Llama):\n"
        "    def forward(self, input_ids, position_ids=None, attention_mask=None):\n"
        "        return torch.zeros(*input_ids.shape, self.config.vocab_size)\n",
        {"llama_logits", "llama_logits_half", "llama_own_stack"},
    ),
]


@pytest.mark.parametrize(("chapter", "source", "grade_ids"), CASES)
def test_degenerate_part_earns_nothing(chapter, source, grade_ids, tmp_path):
    patch = tmp_path / "degenerate.py"
    patch.write_text(source)
    impl = load_chapter(SOLUTIONS, chapter, patch=patch)
    passed = {gid for gid in sorted(grade_ids) if run_item(registry.get(gid), impl).passed}
    assert not passed, f"{sorted(passed)} award points to:\n{source}"
