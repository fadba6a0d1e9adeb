#!/usr/bin/env python3
# A small IPFIX (RFC 7011) collector for the tests, written from the RFC (not
# from xcni's exporter): listens on udp://ADDR:PORT (or tcp with --tcp),
# learns templates per observation domain, decodes data records with them and
# writes each as a JSON line to OUT, its fields by name (the IANA elements
# xcni sends, RFC 5103's reverse ones, xcni's own under PEN 32473; anything
# else as "PEN/ID" in hex). A data set whose template it has not seen is
# counted in OUT as {"unknown_template": ID}. Options templates (RFC 7011
# 3.4.2.2; xcni's RFC 5610 element type records) are read as templates.
# COPY (UDP): every message is sent on to ADDR:PORT as well (a second
# collector, nfcapd), from a socket of its own per exporter.
#
#   ipfix_collect.py [--tcp] ADDR PORT OUT [COPY]
import json, socket, struct, sys, threading

IANA = {4: "protocolIdentifier", 6: "tcpControlBits", 7: "sourceTransportPort",
        8: "sourceIPv4Address", 11: "destinationTransportPort", 12: "destinationIPv4Address",
        225: "postNATSourceIPv4Address", 227: "postNAPTSourceTransportPort",
        281: "postNATSourceIPv6Address", 27: "sourceIPv6Address", 28: "destinationIPv6Address", 85: "octetTotalCount",
        86: "packetTotalCount", 152: "flowStartMilliseconds", 153: "flowEndMilliseconds",
        1: "octetDeltaCount", 2: "packetDeltaCount", 89: "forwardingStatus", 136: "flowEndReason",
        303: "informationElementId", 339: "informationElementDataType",
        341: "informationElementName", 346: "privateEnterpriseNumber"}
REVERSE = {85: "reverseOctetTotalCount", 86: "reversePacketTotalCount",
           1: "reverseOctetDeltaCount", 2: "reversePacketDeltaCount"}  # PEN 29305
XCNI = {1: "xcniVerdict", 2: "xcniDropReasonCode", 3: "xcniDropReason", 4: "xcniPolicyName",
        5: "xcniRuleIndex", 6: "xcniPolicySide", 7: "xcniSourceIdentity",
        8: "xcniDestinationIdentity", 9: "xcniSourcePod", 10: "xcniDestinationPod",
        11: "xcniNode", 12: "xcniDropCount", 13: "xcniService", 14: "xcniBackend"}
STRINGS = {"informationElementName", "xcniDropReason", "xcniPolicyName", "xcniSourcePod", "xcniDestinationPod",
           "xcniNode", "xcniService", "xcniBackend"}
SIGNED = {"xcniDropReasonCode"}


def name_of(pen, ie):
    if pen == 0 and ie in IANA:
        return IANA[ie]
    if pen == 29305 and ie in REVERSE:
        return REVERSE[ie]
    if pen == 32473 and ie in XCNI:
        return XCNI[ie]
    return "%d/%d" % (pen, ie)


def value(name, b):
    if name.endswith("IPv4Address"):
        return socket.inet_ntop(socket.AF_INET, b)
    if name.endswith("IPv6Address"):
        return socket.inet_ntop(socket.AF_INET6, b)
    if name in STRINGS:
        return b.decode("utf-8", "replace")
    if len(b) in (1, 2, 4, 8):
        return int.from_bytes(b, "big", signed=name in SIGNED)
    return b.hex()


class Decoder:
    def __init__(self, out):
        self.templates = {}  # (domain, tid) -> [(name, len)]
        self.out = out
        self.lock = threading.Lock()

    def emit(self, obj):
        with self.lock:
            self.out.write(json.dumps(obj) + "\n")
            self.out.flush()

    def message(self, m):
        ver, length, extime, seq, domain = struct.unpack("!HHIII", m[:16])
        if ver != 10 or length != len(m):
            self.emit({"bad_message": m[:16].hex()})
            return
        off = 16
        while off + 4 <= length:
            sid, slen = struct.unpack("!HH", m[off:off + 4])
            body = m[off + 4:off + slen]
            if slen < 4:
                break
            if sid in (2, 3):
                self.template_set(domain, body, sid == 3)
            elif sid >= 256:
                self.data_set(domain, sid, body)
            off += slen

    def template_set(self, domain, b, options=False):
        o = 0
        while o + 4 <= len(b):
            tid, count = struct.unpack("!HH", b[o:o + 4])
            o += 6 if options else 4  # an options template: its scope field count
            fields = []
            for _ in range(count):
                ie, flen = struct.unpack("!HH", b[o:o + 4])
                o += 4
                pen = 0
                if ie & 0x8000:
                    pen = struct.unpack("!I", b[o:o + 4])[0]
                    o += 4
                    ie &= 0x7fff
                fields.append((name_of(pen, ie), flen))
            self.templates[(domain, tid)] = fields
            self.emit({"template": tid, "fields": [f[0] for f in fields]})

    def data_set(self, domain, tid, b):
        t = self.templates.get((domain, tid))
        if t is None:
            self.emit({"unknown_template": tid})
            return
        o = 0
        minlen = sum(1 if l == 65535 else l for _, l in t)
        while len(b) - o >= max(minlen, 1):
            rec = {"_template": tid}
            for name, flen in t:
                if flen == 65535:
                    flen = b[o]
                    o += 1
                    if flen == 255:
                        flen = struct.unpack("!H", b[o:o + 2])[0]
                        o += 2
                rec[name] = value(name, b[o:o + flen])
                o += flen
            self.emit(rec)


def main():
    tcp = sys.argv[1] == "--tcp"
    args = sys.argv[2:] if tcp else sys.argv[1:]
    addr, port, out = args[0], int(args[1]), open(args[2], "a")
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    d = Decoder(out)
    if not tcp:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.bind((addr, port))
        copy = args[3].rsplit(":", 1) if len(args) > 3 else None
        fwd = {}
        while True:
            m, src = s.recvfrom(65535)
            if copy:
                if src not in fwd:
                    fwd[src] = socket.socket(fam, socket.SOCK_DGRAM)
                fwd[src].sendto(m, (copy[0], int(copy[1])))
            d.message(m)
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(16)

    def conn(c):
        buf = b""
        while True:
            b = c.recv(65536)
            if not b:
                return
            buf += b
            while len(buf) >= 4:
                length = struct.unpack("!H", buf[2:4])[0]
                if len(buf) < length:
                    break
                d.message(buf[:length])
                buf = buf[length:]
    while True:
        c, _ = s.accept()
        threading.Thread(target=conn, args=(c,), daemon=True).start()


if __name__ == "__main__":
    main()
