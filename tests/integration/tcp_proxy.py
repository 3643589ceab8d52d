#!/usr/bin/env python3
"""tcp_proxy.py LISTEN_PORT_FILE TARGET_HOST TARGET_PORT [LISTEN_PORT]

A plain TCP relay on 127.0.0.1 (a free port, written to LISTEN_PORT_FILE) to
the target. Killing it cuts every connection at once: the tests use it to make
the API server unreachable in the middle of a sync. Stops by itself after 10
minutes. With LISTEN_PORT it listens there (to bring a relay back on the port a
killed one had).
"""
import socket
import sys
import threading
import time


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.close()
            except OSError:
                pass


def main():
    port_file, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(sys.argv[4]) if len(sys.argv) > 4 else 0))
    listener.listen(64)
    with open(port_file, "w") as f:
        f.write(str(listener.getsockname()[1]))
    deadline = time.time() + 600
    listener.settimeout(1)
    while time.time() < deadline:
        try:
            client, _ = listener.accept()
        except socket.timeout:
            continue
        try:
            upstream = socket.create_connection((host, port))
        except OSError:
            client.close()
            continue
        threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()


main()
