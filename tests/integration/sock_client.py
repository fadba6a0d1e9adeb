#!/usr/bin/env python3
"""A client as an application sees it, for the socket load-balancing suite.

  sock_client.py tcp IP PORT   connect, then "peer IP:PORT" (getpeername) and
                               the first line the server sent
  sock_client.py udp IP PORT   unconnected sendto, then "from IP:PORT" (recvfrom)
                               and the reply
  sock_client.py churn IP PORT N
                               N TCP connections one after another, each reads
                               its line and closes: "connected K" (K said hello)
  sock_client.py late IP PORT  unconnected sendto, "sent", then at SOCK_GATE
                               what udp prints: the reply read late (a
                               resolver waiting for its answer)
  sock_client.py hold IP PORT N
                               N unconnected UDP sockets held open (issue 52's
                               attack): the first asks as udp does; every other
                               one sends, then reads its reply (10 s at most for
                               all: each record used, as a resolver's is) and
                               "answered K from IP:PORT" counts those from
                               IP:PORT; "held N" until SOCK_GATE
  sock_client.py netns IP PORT N
                               issue 65's attack: a user namespace, then N
                               network namespaces made in it (unshare, as a
                               pod may under the kubelet's default seccomp),
                               from each 2 TCP sockets connecting to IP:PORT
                               (the socket LB records each at connect, then
                               the empty namespace has no route); "netns N"
                               until SOCK_GATE. SOCK_CGDIR=DIR (its cgroup):
                               every 20 namespaces it also makes a cgroup
                               below its own and moves into it, as a root
                               process in a container may
  sock_client.py pong IP PORT  the server: one process on IP:PORT answering
                               each datagram "pong" to its sender (socat's
                               fork a datagram lost its server under load)
An error prints its errno name (e.g. "error ECONNREFUSED") and exits 1.
SOCK_GATE=FILE: the sockets stay open until FILE exists (a record listed);
tcp then prints "local port N" first and "peer again IP:PORT" after.
"""
import ctypes
import errno
import os
import resource
import socket
import sys
import time


def hold():
    gate = os.environ.get("SOCK_GATE")
    while gate and not os.path.exists(gate):
        time.sleep(0.05)


def udp_socket(ip):
    s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    return s


def ask(s, ip, port, prefix=""):
    s.sendto(b"ping\n", (ip, port))
    data, src = s.recvfrom(100)
    print("%sfrom %s:%d" % ((prefix,) + src[:2]))
    print(data.decode().strip(), flush=True)


def hold_many(ip, port, n):
    resource.setrlimit(resource.RLIMIT_NOFILE, (n + 64, n + 64))
    socks = [udp_socket(ip) for _ in range(n)]
    ask(socks[0], ip, port)
    answered = 0
    for s in socks[1:]:
        s.sendto(b"ping\n", (ip, port))
    deadline = time.monotonic() + 10
    for s in socks[1:]:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            answered += s.recvfrom(100)[1][:2] == (ip, port)
        except socket.timeout:
            pass
    print("answered %d from %s:%d" % (answered, ip, port))
    print("held %d" % n, flush=True)
    hold()


def netns_many(ip, port, n):
    libc = ctypes.CDLL(None, use_errno=True)
    newuser, newnet = 0x10000000, 0x40000000
    resource.setrlimit(resource.RLIMIT_NOFILE, (2 * n + 64, 2 * n + 64))
    socks = []
    cg = os.environ.get("SOCK_CGDIR")
    for i in range(n):
        if cg and i and i % 20 == 0:
            cg = os.path.join(cg, "x%d" % i)
            os.mkdir(cg)
            with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        if libc.unshare(newnet | (newuser if i == 0 else 0)):
            raise OSError(ctypes.get_errno(), "unshare")
        for _ in range(2):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.connect((ip, port))
            except OSError as e:
                if e.errno != errno.ENETUNREACH:
                    raise
            socks.append(s)
    print("netns %d" % n, flush=True)
    hold()


def pong(ip, port):
    s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind((ip, port))
    while True:
        s.sendto(b"pong\n", s.recvfrom(100)[1])


def main():
    kind, ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    try:
        if kind == "tcp":
            s = socket.create_connection((ip, port), timeout=2)
            peer = s.getpeername()
            print("peer %s:%d" % peer[:2])  # IPv6: (host, port, flowinfo, scope)
            print(s.recv(100).decode().strip(), flush=True)
            if os.environ.get("SOCK_GATE"):
                print("local port %d" % s.getsockname()[1], flush=True)
                hold()
                print("peer again %s:%d" % s.getpeername()[:2])
        elif kind == "churn":
            n, ok = int(sys.argv[4]), 0
            for _ in range(n):
                with socket.create_connection((ip, port), timeout=3) as c:
                    ok += c.recv(100).strip() == b"hello"
            print("connected %d" % ok)
        elif kind == "late":
            s = udp_socket(ip)
            s.sendto(b"ping\n", (ip, port))
            print("sent", flush=True)
            hold()
            data, src = s.recvfrom(100)
            print("from %s:%d" % src[:2])
            print(data.decode().strip(), flush=True)
        elif kind == "netns":
            netns_many(ip, port, int(sys.argv[4]))
        elif kind == "pong":
            pong(ip, port)
        elif kind == "hold":
            hold_many(ip, port, int(sys.argv[4]))
        else:
            s = udp_socket(ip)  # named: a temporary would close before hold()
            ask(s, ip, port)
            hold()
    except socket.timeout:
        print("error timeout")
        return 1
    except OSError as e:
        print("error %s" % errno.errorcode.get(e.errno, e.errno))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
