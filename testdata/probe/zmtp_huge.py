"""A broken ZeroMQ peer: answers the ZMTP 3.0 greeting, then announces a
2^40 byte frame. A client that trusts the size allocates a terabyte.

usage: zmtp_huge.py PORT
"""
import socket
import struct
import sys

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(8)
print("listening", flush=True)
greeting = b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL" + b"\x00" * 16 + b"\x00" + b"\x00" * 31
assert len(greeting) == 64
while True:
    conn, _ = srv.accept()
    try:
        conn.sendall(greeting)
        conn.sendall(b"\x06" + struct.pack(">Q", 1 << 40))
        conn.recv(4096)
    except OSError:
        pass
