#!/usr/bin/python3
"""The client of bench/fqdn-race.sh, run in a pod's netns: one process, all loops.

  fqdn_race.py race SERVER NAME N FQDN_PIN   N loops: the pod's learned entry for
        NAME's address deleted from xcni_fqdn (pinned at FQDN_PIN), NAME asked of
        SERVER:53 (UDP, A), TCP connect to the answer's address :80 the instant it
        arrives. Prints "loops N fail F ms T" and each failure's reason (to stderr).
  fqdn_race.py control ADDR N FQDN_PIN     N connects to ADDR:80 after the delete,
        without asking: prints "loops N connected C" (C must be 0: the race is real)
  fqdn_race.py lat SERVER NAME N           N queries: each round trip (us), a line each

The delete makes every loop's connect depend on the answer just read: without
it, the address learned by the first loop stays held for its TTL.
"""
import ctypes
import os
import random
import socket
import struct
import sys
import time

NR_BPF = 321  # x86_64
BPF_MAP_DELETE_ELEM, BPF_MAP_GET_NEXT_KEY, BPF_OBJ_GET = 3, 4, 7
libc = ctypes.CDLL(None, use_errno=True)
KEY_LEN = 24  # struct xcni_fqdn_key: ep_id u32, family u8, pad[3], addr[16]


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    r = libc.syscall(NR_BPF, cmd, buf, 128)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r


def obj_get(path):
    p = ctypes.create_string_buffer(path.encode())
    return bpf(BPF_OBJ_GET, struct.pack("=QII", ctypes.addressof(p), 0, 0))


def keys(fd):
    """Every key of the map (xcni_fqdn: the lab's few)."""
    cur, nxt, out = None, ctypes.create_string_buffer(KEY_LEN), []
    while True:
        prev = ctypes.create_string_buffer(cur, KEY_LEN) if cur else None
        try:
            bpf(BPF_MAP_GET_NEXT_KEY, struct.pack("=IIQQ", fd, 0,
                ctypes.addressof(prev) if prev else 0, ctypes.addressof(nxt)))
        except OSError:
            return out
        cur = nxt.raw
        out.append(cur)


def delete(fd, key):
    k = ctypes.create_string_buffer(key, KEY_LEN)
    try:
        bpf(BPF_MAP_DELETE_ELEM, struct.pack("=IIQ", fd, 0, ctypes.addressof(k)))
    except OSError:
        pass  # absent: nothing learned since


def query(s, name):
    qid = random.getrandbits(16)
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0" + struct.pack("!HH", 1, 1)
    s.send(q)
    while True:
        msg = s.recv(2048)
        if len(msg) >= 16 and struct.unpack("!H", msg[:2])[0] == qid:
            if struct.unpack("!H", msg[6:8])[0] < 1:
                raise OSError("no answer record")
            return socket.inet_ntoa(msg[-4:])  # one A record, last (dnsmasq, no EDNS)


def udp(server):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.connect((server, 53))
    return s


def connect(addr, timeout):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.settimeout(timeout)
    try:
        c.connect((addr, 80))
        return None
    except OSError as e:
        return repr(e)
    finally:
        # RST on close: no TIME_WAIT piling up over thousands of loops
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()


def pod_key(fd, addr):
    """The pod's key for ADDR (the lab's node holds one pod that asks)."""
    want = socket.inet_aton(addr)
    ks = [k for k in keys(fd) if k[4] == socket.AF_INET and k[8:12] == want]
    if len(ks) != 1:
        sys.exit("fqdn_race: %d keys of xcni_fqdn hold %s, want 1" % (len(ks), addr))
    return ks[0]


def race(server, name, n, pin):
    s, fd = udp(server), obj_get(pin)
    key = pod_key(fd, query(s, name))
    fail, t0 = 0, time.monotonic()
    for i in range(n):
        delete(fd, key)
        try:
            err = connect(query(s, name), 1.0)
        except OSError as e:
            err = "query: " + repr(e)
        if err:
            fail += 1
            print("loop %d: %s" % (i, err), file=sys.stderr)
    print("loops %d fail %d ms %d" % (n, fail, (time.monotonic() - t0) * 1000))


def control(addr, n, pin):
    fd = obj_get(pin)
    key = pod_key(fd, addr)
    ok = 0
    for _ in range(n):
        delete(fd, key)
        ok += connect(addr, 0.5) is None
    print("loops %d connected %d" % (n, ok))


def lat(server, name, n):
    s, t = udp(server), []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        query(s, name)
        t.append((time.perf_counter_ns() - t0) // 1000)
    print("\n".join(map(str, t)))


if __name__ == "__main__":
    a = sys.argv
    if a[1] == "race":
        race(a[2], a[3], int(a[4]), a[5])
    elif a[1] == "control":
        control(a[2], int(a[3]), a[4])
    else:
        lat(a[2], a[3], int(a[4]))
