"""Fork children that each take a large block of memory and sleep on it, once all hold theirs."""

import os
import time

ready, told = os.pipe()
for _ in range(3):
    try:
        if os.fork() == 0:
            try:
                hoard = b"\x01" * (400 * 2**20)  # every page written, so taken
                os.write(told, b"+")
                os.close(told)
                time.sleep(600)
            finally:
                os._exit(0)
    except OSError:
        break
os.close(told)
while os.read(ready, 1):  # EOF once every fork holds its block, or died trying
    pass
