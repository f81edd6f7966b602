"""Connect to a service on the grader's loopback and send it something."""

import socket

try:
    with socket.create_connection(("127.0.0.1", __PORT__), timeout=2) as connection:
        connection.sendall(b"submission was here")
except OSError:
    pass
