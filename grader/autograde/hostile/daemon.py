"""Double-fork a daemon that outlives the submission and writes a marker later."""

import os
import time

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for _ in range(600):
            time.sleep(0.1)
            for path in ("__MARKER__", "/tmp/kit-daemon-was-here"):
                try:
                    with open(path, "a") as f:
                        f.write("still here\n")
                except OSError:
                    pass
    os._exit(0)
