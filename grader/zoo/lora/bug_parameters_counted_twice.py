"""trainable_parameters counts a tied weight twice (named_parameters without deduplication)."""

HINT = "count_once"


def trainable_parameters(model):
    parameters = [p for _, p in model.named_parameters(remove_duplicate=False)]
    trainable = sum(p.numel() for p in parameters if p.requires_grad)
    return trainable, sum(p.numel() for p in parameters)
