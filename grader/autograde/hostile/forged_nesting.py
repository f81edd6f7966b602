"""Send a result frame whose JSON nests lists 600 deep: the decoder's depth limit refuses it."""

import os

tree = '{"items": {"rmsnorm_init": {"outputs": ' + "[" * 600 + "]" * 600 + ', "error": null}}}'
metadata = '{"__metadata__": {"json": "' + tree.replace('"', '\\"') + '"}}'
body = len(metadata).to_bytes(8, "little") + metadata.encode()
for fd in range(3, 64):
    try:
        os.write(fd, len(body).to_bytes(8, "little") + body)
    except OSError:
        pass
os._exit(0)
