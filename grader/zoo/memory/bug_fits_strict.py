"""fits with < instead of <=: a breakdown that fills the GPU exactly is refused."""

HINT = "fits"


def fits(breakdown, gpu_bytes):
    return breakdown.total < gpu_bytes
