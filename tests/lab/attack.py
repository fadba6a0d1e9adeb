#!/usr/bin/python3
# The attackers' packet forge for tests/lab/attack.sh: builds whole frames by
# hand (no scapy: every header is written here, checksums included, so a
# probe is exactly what its line says) and sends them from the namespace it
# runs in, through an AF_PACKET socket on DEV (any source MAC and address),
# or, for "sock" lines, through a plain UDP socket (what any process can do).
#
#   attack.py DEV DMAC < PROBES
#
# One probe a line, "KIND key=value ...", '#' comments. Every probe's payload
# starts with its tag (XT-<tag>), which tests/lab/recv.py looks for. Keys:
#   src dst           IPv4 or IPv6 addresses (the family follows dst)
#   smac dmac         the frame's MACs (default: DEV's own, and DMAC)
#   sport dport len   UDP ports (default 40000, 7001), payload length (64)
#   ttl               TTL / hop limit (default 64)
#   tag               the probe's tag, without XT-
# Kinds:
#   udp               one UDP datagram
#   icmp6 type= code= an ICMPv6 message of any type (ND/MLD included), len bytes
#   icmperr           an ICMP(v6) destination unreachable from src to dst quoting
#                     the UDP flow qsrc:qsport -> qdst:qdport (its payload tagged)
#   frag              a UDP datagram in two fragments: order=inorder|ooo (the
#                     second first) or overlap (a second first fragment,
#                     dport=odport, over the first)
#   geneve            Geneve (VNI 1) from src to dst:6081 around an inner UDP
#                     datagram isrc:isport (40000) -> idst:idport; dsr=ADDR:PORT names a
#                     frontend in xcni's DSR option (UDP)
#   sock              the same Geneve packet, sent by a UDP socket to dst:6081
#   flood             count UDP datagrams src -> dst:dport.., each of its own
#                     ports (a conntrack entry each), untagged
#   fragflood         count first fragments (more-fragments set, offset 0) of
#                     UDP datagrams src -> dst:dport whose later fragments never
#                     come, each datagram its own IP id, untagged
#   big               one UDP datagram of len bytes to dst:dport from a plain
#                     socket (the kernel fragments it past the MTU)
import ipaddress
import socket
import struct
import sys
import time

ETH_IP, ETH_IP6 = 0x0800, 0x86DD


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def v6(a):
    return ":" in a


def a2b(a):
    return socket.inet_pton(socket.AF_INET6 if v6(a) else socket.AF_INET, a)


def mac(m):
    return bytes(int(x, 16) for x in m.split(":"))


def payload(tag, n):
    t = ("XT-%s " % tag).encode()
    return t + b"\0" * max(0, n - len(t))


def ip4(src, dst, proto, body, ttl=64, ident=0x1234, frag=0x4000):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), ident, frag, ttl, proto, 0,
                    a2b(src), a2b(dst))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + body


def ip6(src, dst, nh, body, hl=64):
    return struct.pack("!IHBB16s16s", 6 << 28, len(body), nh, hl, a2b(src), a2b(dst)) + body


def l4sum(src, dst, proto, seg):
    if v6(dst):
        ph = a2b(src) + a2b(dst) + struct.pack("!IxxxB", len(seg), proto)
    else:
        ph = a2b(src) + a2b(dst) + struct.pack("!xBH", proto, len(seg))
    return csum(ph + seg)


def udp(src, dst, sport, dport, data):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    c = l4sum(src, dst, 17, seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def ip(src, dst, proto, seg, ttl):
    return ip6(src, dst, proto, seg, ttl) if v6(dst) else ip4(src, dst, proto, seg, ttl)


def udp_packet(src, dst, sport, dport, data, ttl=64):
    return ip(src, dst, 17, udp(src, dst, sport, dport, data), ttl)


def icmp6(src, dst, typ, code, body, hl):
    seg = struct.pack("!BBH", typ, code, 0) + body
    c = l4sum(src, dst, 58, seg)
    return ip6(src, dst, 58, seg[:2] + struct.pack("!H", c) + seg[4:], hl)


def icmperr(o):
    """Destination unreachable (port) about o's quoted UDP flow, tagged inside the quote."""
    q = udp_packet(o["qsrc"], o["qdst"], int(o["qsport"]), int(o["qdport"]),
                   payload(o["tag"], 32))
    if v6(o["dst"]):
        return icmp6(o["src"], o["dst"], 1, 4, b"\0" * 4 + q, int(o.get("ttl", 64)))
    seg = struct.pack("!BBHI", 3, 3, 0, 0) + q
    seg = seg[:2] + struct.pack("!H", csum(seg)) + seg[4:]
    return ip4(o["src"], o["dst"], 1, seg, int(o.get("ttl", 64)))


def frag(o):
    """Two fragments of one UDP datagram (32 + len bytes), in the order asked for."""
    src, dst, tag = o["src"], o["dst"], o["tag"]
    data = payload(tag, int(o.get("len", 64)))
    seg = udp(src, dst, int(o.get("sport", 40000)), int(o.get("dport", 7001)), data)
    a, b = seg[:16], seg[16:]
    order = o.get("order", "inorder")
    ident = 0x4000 + sum(tag.encode()) % 0x3FFF
    if v6(dst):
        def f(off, more, body):
            fh = struct.pack("!BBHI", 17, 0, (off // 8) << 3 | more, ident)
            return ip6(src, dst, 44, fh + body)
    else:
        def f(off, more, body):
            return ip4(src, dst, 17, body, ident=ident, frag=(off // 8) | (0x2000 if more else 0))
    first, second = f(0, 1, a), f(16, 0, b)
    if order == "ooo":
        return [second, first]
    if order == "overlap":
        # A second offset-0 fragment: the same datagram's header again, another
        # port, over the first (the port policy judged on the first).
        seg2 = udp(src, dst, int(o.get("sport", 40000)), int(o["odport"]), data)
        return [first, f(0, 1, seg2[:16]), second]
    return [first, second]


def geneve(o):
    """The UDP payload of a Geneve packet around o's inner datagram."""
    inner = udp_packet(o["isrc"], o["idst"], int(o.get("isport", 40000)), int(o.get("idport", 7001)),
                       payload(o["tag"], 64))
    fam = ETH_IP6 if v6(o["idst"]) else ETH_IP
    eth = b"\x02\0\0\0\0\x01" + b"\x02\0\0\0\0\x02" + struct.pack("!H", fam)
    opts = b""
    if "dsr" in o:
        addr, port = o["dsr"].rsplit(":", 1)
        addr = addr.strip("[]")
        fa = 10 if v6(addr) else 2  # AF_INET6, AF_INET
        ab = a2b(addr).ljust(16, b"\0")
        # xcni's option: class 0xfff0, type 0x81, 5 words: family, proto, port, address.
        opts = struct.pack("!HBBBBH16s", 0xFFF0, 0x81, 5, fa, 17, int(port), ab)
    flags = 0x40 if opts else 0  # C: a critical option is present (ours is)
    hdr = struct.pack("!BBHI", len(opts) // 4, flags, 0x6558, 1 << 8)
    return hdr + opts + eth + inner


def frames(o, kind):
    ttl = int(o.get("ttl", 64))
    if kind == "udp":
        return [udp_packet(o["src"], o["dst"], int(o.get("sport", 40000)),
                           int(o.get("dport", 7001)), payload(o["tag"], int(o.get("len", 64))), ttl)]
    if kind == "icmp6":
        return [icmp6(o["src"], o["dst"], int(o["type"]), int(o.get("code", 0)),
                      payload(o["tag"], int(o.get("len", 64))), ttl)]
    if kind == "icmperr":
        return [icmperr(o)]
    if kind == "frag":
        return frag(o)
    if kind == "geneve":
        return [udp_packet(o["src"], o["dst"], 40001, 6081, geneve(o), ttl)]
    raise SystemExit("attack.py: unknown kind " + kind)


def main():
    dev, dmac = sys.argv[1], sys.argv[2]
    s = own = None
    sent = 0
    for line in sys.stdin:
        line = line.split("#", 1)[0].split()
        if not line:
            continue
        kind, o = line[0], dict(kv.split("=", 1) for kv in line[1:])
        if kind == "big":
            fam = socket.AF_INET6 if v6(o["dst"]) else socket.AF_INET
            u = socket.socket(fam, socket.SOCK_DGRAM)
            u.sendto(payload(o["tag"], int(o.get("len", 4000))), (o["dst"], int(o.get("dport", 7001))))
            u.close()
            sent += 1
            continue
        if kind == "sock":
            fam = socket.AF_INET6 if v6(o["dst"]) else socket.AF_INET
            u = socket.socket(fam, socket.SOCK_DGRAM)
            u.sendto(geneve(o), (o["dst"], 6081))
            u.close()
            sent += 1
            continue
        if s is None:  # opened for the first frame: "sock" lines need no DEV
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            s.bind((dev, 0))
            own = open("/sys/class/net/%s/address" % dev).read().strip()
        eth = mac(o.get("dmac", dmac)) + mac(o.get("smac", own))
        if kind == "flood":
            src, dst, dport = o["src"], o["dst"], int(o.get("dport", 7001))
            base = bytearray(eth + struct.pack("!H", ETH_IP) +
                             ip4(src, dst, 17, struct.pack("!HHHH", 0, dport, 16, 0) + b"flooding"))
            for i in range(int(o["count"])):
                # UDP checksum 0 (none, IPv4): only the ports change, 64000
                # source ports to each destination port from dport on.
                base[34:38] = struct.pack("!HH", 1024 + i % 64000, dport + i // 64000)
                s.send(base)
                sent += 1
                # Paced: a burst past the receiving CPU's backlog (netdev_max_backlog,
                # 1000) is dropped before any program sees it, and a fast sender then
                # creates far fewer flows than it sends.
                if i % 256 == 255:
                    time.sleep(0.001)
            continue
        if kind == "fragflood":
            src, dst, dport = o["src"], o["dst"], int(o.get("dport", 7001))
            for i in range(int(o["count"])):
                # A first fragment of a 1408-byte datagram: its UDP header says
                # so, the rest never comes (checksum 0: none, IPv4).
                seg = struct.pack("!HHHH", 40000, dport, 8 + 1400, 0) + bytes(16)
                s.send(eth + struct.pack("!H", ETH_IP) +
                       ip4(src, dst, 17, seg, ident=0x100 + i, frag=0x2000))
                sent += 1
            continue
        for f in frames(o, kind):
            fam = ETH_IP6 if f[0] >> 4 == 6 else ETH_IP
            s.send(eth + struct.pack("!H", fam) + f)
            sent += 1
    print("attack.py: %d frames sent on %s" % (sent, dev))


if __name__ == "__main__":
    main()
