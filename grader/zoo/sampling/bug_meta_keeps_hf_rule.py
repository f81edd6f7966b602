"""Meta's filter written with >= : that is HF's rule again, not Meta's."""

import torch

HINT = "meta"


def meta_top_p_filter(logits, top_p, filter_value=-float("inf")):
    probs = logits.float().softmax(dim=-1)
    sorted_probs, order = torch.sort(probs, descending=True)
    mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs
    remove_sorted = mass_before >= top_p
    return logits.masked_fill(remove_sorted.scatter(-1, order, remove_sorted), filter_value)
