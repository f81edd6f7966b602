"""Send a result frame whose JSON holds a malformed tagged float: decoding it must fail softly."""

import json
import os

tree = {"items": {"rmsnorm_init": {"outputs": [{"$float": "not-a-number"}], "error": None}}}
header = json.dumps({"__metadata__": {"json": json.dumps(tree)}}).encode()
body = len(header).to_bytes(8, "little") + header
for fd in range(3, 64):
    try:
        os.write(fd, len(body).to_bytes(8, "little") + body)
    except OSError:
        pass
os._exit(0)
