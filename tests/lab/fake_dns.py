#!/usr/bin/python3
"""A DNS server that is not the cluster's, and a client to ask it (tests/lab/fqdn.sh).

  fake_dns.py serve PORT ADDR      answers one question with one A record, ADDR, TTL 300,
                                   and exits (nothing left running)
  fake_dns.py ask SERVER NAME      asks SERVER:53 for NAME's A record, prints the address
  fake_dns.py ask-tcp SERVER NAME  the same over TCP (answers xcni does not read)
"""
import socket
import struct
import sys


def question(name):
    q = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    return q + struct.pack("!HH", 1, 1)


def serve(port, addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    print("ready", flush=True)
    s.settimeout(20)
    while True:
        msg, peer = s.recvfrom(2048)
        if len(msg) < 12:
            continue
        end = 12
        while end < len(msg) and msg[end]:
            end += msg[end] + 1
        q = msg[12:end + 5]
        rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + socket.inet_aton(addr)
        s.sendto(msg[:2] + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0) + q + rr, peer)
        return


def ask(server, name, tcp=False):
    q = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + question(name)
    if tcp:
        s = socket.create_connection((server, 53), timeout=2)
        s.sendall(struct.pack("!H", len(q)) + q)
        msg = b""
        while len(msg) < 2 or len(msg) < 2 + struct.unpack("!H", msg[:2])[0]:
            chunk = s.recv(2048)
            if not chunk:
                break
            msg += chunk
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        s.sendto(q, (server, 53))
        msg = s.recv(2048)
    print(socket.inet_ntoa(msg[-4:]))


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]), sys.argv[3])
    else:
        ask(sys.argv[2], sys.argv[3], sys.argv[1] == "ask-tcp")
