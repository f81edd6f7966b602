"""A bounded fork bomb: thousands of sleeping processes, forked at import."""

import os
import time

for _ in range(5000):
    try:
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
    except OSError:
        break
