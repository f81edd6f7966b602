"""sys.exit, SystemExit and KeyboardInterrupt from the code the checks call."""

import sys

from torch import nn


class RMSNorm(nn.Module):
    calls = 0

    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        RMSNorm.calls += 1
        if RMSNorm.calls % 3 == 0:
            sys.exit(0)
        raise (SystemExit if RMSNorm.calls % 3 == 1 else KeyboardInterrupt)()
