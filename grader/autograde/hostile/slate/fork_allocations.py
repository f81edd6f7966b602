"""Fork children that each take a large block of memory and sleep on it."""

import os
import time

for _ in range(3):
    try:
        if os.fork() == 0:
            try:
                hoard = b"\x01" * (400 * 2**20)  # every page written, so taken
                time.sleep(600)
            finally:
                os._exit(0)
    except OSError:
        break
