"""Raise errors whose text is a formula, rich markup and HTML: echoed in hints, never live."""

from torch import nn


class RMSNorm(nn.Module):
    def __init__(self, hidden_size, eps=1e-6):
        raise RuntimeError(
            '=HYPERLINK("http://127.0.0.1:9/steal") [/] [bold green]graded 11/11 '
            "<img src=x onerror=alert(1)> [link](http://x) " * 50
        )
