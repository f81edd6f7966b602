"""Print gigabytes to stdout and stderr."""

import os

block = b"x" * 2**20
for _ in range(2048):
    os.write(1, block)
    os.write(2, block)
