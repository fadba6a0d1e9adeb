#!/usr/bin/python3
# A small Kubernetes API server for xcnid's watch backend tests: the list and
# watch protocol of the real one (API concepts, "Efficient detection of
# changes"), over HTTPS, for Namespaces, Pods, Nodes and NetworkPolicies.
#
#   serve: HTTPS on --port (bearer token auth, 401 without it), plain HTTP
#          control on --ctl-port (what a test does to the cluster), state kept
#          in --state so that a killed and restarted server keeps its history.
#   ctl PORT OP [JSON]: one control request (JSON body from stdin if "-").
#
# Faithful where xcnid depends on it: one global resourceVersion counter;
# lists answer {"kind":"PodList","metadata":{"resourceVersion"},"items":[...]}
# with items lacking kind/apiVersion, paged by limit/continue; watches are
# chunked streams of one JSON event per line (ADDED, MODIFIED, DELETED,
# BOOKMARK when allowWatchBookmarks=true, ERROR with a Status), from the
# given resourceVersion; a resourceVersion older than the last compaction
# gets an ERROR event "410 Expired" (what kube-apiserver sends on a watch),
# or HTTP 410 when the test asks for that variant; timeoutSeconds ends a
# watch cleanly. Test-only knobs: events are written in two chunks (a line
# split across reads), a stream can get a garbage line, be cut inside an
# event, be closed, or be held back (a client falling behind).
import base64
import bisect
import copy
import http.server
import json
import os
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

KINDS = {
    "namespaces": ("Namespace", "v1", "/api/v1/namespaces", False),
    "pods": ("Pod", "v1", "/api/v1/pods", True),
    "nodes": ("Node", "v1", "/api/v1/nodes", False),
    "networkpolicies": ("NetworkPolicy", "networking.k8s.io/v1",
                        "/apis/networking.k8s.io/v1/networkpolicies", True),
    # Read by xcnid --kube-proxy-replacement only.
    "services": ("Service", "v1", "/api/v1/services", True),
    "endpointslices": ("EndpointSlice", "discovery.k8s.io/v1",
                       "/apis/discovery.k8s.io/v1/endpointslices", True),
}
# Served only when a state file holds them (bench/scale_sim.py --cnp): the
# tests' clusters have no such CRD, and a 404 is what xcnid sees there.
OPTIONAL = {
    "clusternetworkpolicies": ("ClusterNetworkPolicy", "policy.networking.k8s.io/v1alpha2",
                               "/apis/policy.networking.k8s.io/v1alpha2/clusternetworkpolicies",
                               False),
}
PATHS = {v[2]: k for k, v in KINDS.items()}
BY_KIND = {v[0]: k for k, v in KINDS.items()}


def serve_kind(r):
    KINDS[r] = OPTIONAL[r]
    PATHS[KINDS[r][2]], BY_KIND[KINDS[r][0]] = r, r


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class Cluster:
    """Objects, the event history per kind, and what the test asked streams to do."""

    def __init__(self, path, fixtures, volatile=False):
        self.path = path
        # volatile: --state is read at start and never written (benchmarks: a
        # 100k-pod cluster would be rewritten on every change).
        self.volatile = volatile
        self.split = True  # events in two chunks (tests); benchmarks turn it off
        self.sorted_cache = {}  # resource -> (rv, sorted items): lists page through it
        # resource -> {key: the object as JSON bytes}: list pages are joined from
        # these, so a list costs the server a join, not json.dumps of every item
        # (at 100k pods the dumps took as much CPU as xcnid's whole parse: a
        # benchmark of the agent measured this server). Entries go when the
        # object changes.
        self.ser = {r: {} for r in KINDS}
        self.cond = threading.Condition()
        self.stats = {"connections": 0, "tls_failures": 0, "unauthorized": 0, "lists": 0,
                      "watches": 0, "bookmark_watches": 0, "watch_410": 0}
        self.paused = set()  # kinds whose watches hold events back
        # Set through the control port ("set"): resources answered 403 (RBAC
        # forbids them), and EndpointSlices served as 1.20 does, at
        # discovery.k8s.io/v1beta1 only (v1 is a 404).
        self.forbidden = []
        # ... and resources whose requests get no answer at all (the connection
        # closed: a transport error for the client, as a proxy or an overloaded
        # server gives).
        self.dropped = []
        self.slices_beta = False
        self.directives = []  # (seq, resource, op)
        self.http410 = False
        self.bookmark_s = 1.0
        self.page_cap = 0
        if os.path.exists(path):
            with open(path) as f:
                s = json.load(f)
            self.rv, self.objs, self.history, self.compacted = (
                s["rv"], s["objs"], s["history"], s["compacted"])
            for r in OPTIONAL:
                if r in self.objs:
                    serve_kind(r)
                    self.ser[r] = {}
            # A state file may hold only some kinds (the scale simulator's): the
            # others are empty, as a real server's would be.
            for r in KINDS:
                self.objs.setdefault(r, {})
                self.history.setdefault(r, [])
                self.compacted.setdefault(r, self.rv)
            if volatile:
                self.serialise_all()
            return
        self.rv = 0
        self.objs = {r: {} for r in KINDS}
        self.history = {r: [] for r in KINDS}
        self.compacted = {r: 0 for r in KINDS}
        for r in KINDS:
            with open(os.path.join(fixtures, r + ".json")) as f:
                lst = json.load(f)
            for o in lst["items"]:
                self.rv = max(self.rv, int(o["metadata"]["resourceVersion"]))
                self.objs[r][self.key(r, o)] = o
            self.rv = max(self.rv, int(lst["metadata"]["resourceVersion"]))
        # Nothing before the fixtures' state can be watched from.
        self.compacted = {r: self.rv for r in KINDS}
        self.save()

    def serialise_all(self):
        """Benchmarks: every list page ready before the first request (and its sort)."""
        for r in self.objs:  # a state file may hold only some kinds
            for k, o in self.sorted_items(r):
                self.item_json(r, k, o)

    def item_json(self, r, k, o):
        b = self.ser[r].get(k)
        if b is None:
            b = self.ser[r][k] = json.dumps(o).encode()
        return b

    @staticmethod
    def key(r, o):
        m = o["metadata"]
        return (m.get("namespace", "default") + "/" if KINDS[r][3] else "") + m["name"]

    def save(self):
        if self.volatile:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"rv": self.rv, "objs": self.objs, "history": self.history,
                       "compacted": self.compacted}, f)
        os.rename(tmp, self.path)

    def typed(self, r, o):
        # Stored objects are never changed in place (apply and delete store
        # copies), so a shallow copy is enough to add kind and apiVersion.
        kind, api = KINDS[r][0], KINDS[r][1]
        if r == "endpointslices" and self.slices_beta:
            api = "discovery.k8s.io/v1beta1"
        return {"kind": kind, "apiVersion": api, **{k: v for k, v in o.items()
                                                     if k not in ("kind", "apiVersion")}}

    # Writes, as the API server does them: a new resourceVersion, server-set metadata.
    def apply(self, obj, save=True):
        with self.cond:
            r = BY_KIND[obj["kind"]]
            obj = copy.deepcopy(obj)
            obj.pop("kind", None)
            obj.pop("apiVersion", None)
            m = obj.setdefault("metadata", {})
            if KINDS[r][3]:
                m.setdefault("namespace", "default")
            k = self.key(r, obj)
            old = self.objs[r].get(k)
            self.rv += 1
            m["resourceVersion"] = str(self.rv)
            m["uid"] = old["metadata"]["uid"] if old else m.get("uid") or str(uuid.uuid4())
            m["creationTimestamp"] = (old["metadata"]["creationTimestamp"] if old
                                      else m.get("creationTimestamp") or now())
            m.setdefault("managedFields", []).append(
                {"manager": "kubectl-client-side-apply", "operation": "Update",
                 "apiVersion": KINDS[r][1], "time": now(), "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:metadata": {"f:labels": {}}}})
            if r == "namespaces":
                m.setdefault("labels", {})["kubernetes.io/metadata.name"] = m["name"]
            self.objs[r][k] = obj
            self.ser[r].pop(k, None)
            self.history[r].append([self.rv, "MODIFIED" if old else "ADDED", obj])
            if save:
                self.save()
            self.cond.notify_all()
            return self.rv

    def delete(self, r, key, save=True):
        with self.cond:
            obj = self.objs[r].pop(key)
            self.ser[r].pop(key, None)
            self.rv += 1
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(self.rv)
            obj["metadata"]["deletionTimestamp"] = now()
            obj["metadata"]["deletionGracePeriodSeconds"] = 0
            self.history[r].append([self.rv, "DELETED", obj])
            if save:
                self.save()
            self.cond.notify_all()
            return self.rv

    # Many writes at once (the benchmark's simulator): one save, one wakeup.
    def batch(self, ops):
        rvs = []
        with self.cond:
            for op in ops:
                if "delete" in op:
                    rvs.append(self.delete(op["delete"]["resource"], op["delete"]["key"], False))
                else:
                    rvs.append(self.apply(op["apply"], False))
            self.save()
        return rvs

    def sorted_items(self, r):
        """The kind's objects sorted by key, kept while nothing changes (paged lists)."""
        hit = self.sorted_cache.get(r)
        if hit and hit[0] == self.rv:
            return hit[1]
        items = sorted(self.objs[r].items())
        self.sorted_cache[r] = (self.rv, items)
        return items

    def since(self, r, last):
        """History entries of r after resourceVersion last (history is in rv order)."""
        h = self.history[r]
        i = bisect.bisect_right(h, last, key=lambda e: e[0])
        return h[i:]

    # etcd compaction: watching from before now is "410 Gone" from here on.
    def compact(self, r):
        with self.cond:
            self.compacted[r] = self.rv
            self.history[r] = []
            self.save()

    def directive(self, r, op):
        with self.cond:
            self.directives.append((len(self.directives) + 1, r, op))
            self.cond.notify_all()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as Go's net/http (the real API server) has it: headers and
    # body go out in two writes, and with Nagle the body waited for the
    # client's delayed ACK. Paging 100k pods sequentially spent 2.6-7.7 s of
    # its wall time in those waits (0.4 s without them); watch events too.
    disable_nagle_algorithm = True
    server_version = "kube-apiserver-test"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("apiserver: " + fmt % args + "\n")

    def setup(self):
        c = self.server.cluster
        with c.cond:
            c.stats["connections"] += 1
        # The certificate this connection was made under: after a "cert"
        # change, a kept-alive connection is dropped at its next request, as
        # if the server had restarted, so no answer passes under the old one.
        self.cert_gen = getattr(self.server, "cert_gen", 0)
        try:
            self.request = self.server.ctx.wrap_socket(self.request, server_side=True)
        except (ssl.SSLError, OSError):
            with c.cond:
                c.stats["tls_failures"] += 1
            raise
        super().setup()

    def handle(self):
        try:
            super().handle()
        except (ConnectionError, ssl.SSLError, BrokenPipeError):
            pass

    def send_json(self, code, body):
        self.send_bytes(code, json.dumps(body).encode())

    def send_bytes(self, code, data):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        c = self.server.cluster
        if self.cert_gen != getattr(self.server, "cert_gen", 0):
            self.close_connection = True
            return
        want = "Bearer " + open(self.server.token_file).read().strip()
        if self.headers.get("Authorization") != want:
            with c.cond:
                c.stats["unauthorized"] += 1
            return self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        r = PATHS.get(u.path)
        # A namespaced list (/api/v1/namespaces/NS/pods), as xcnictl lists the agents.
        parts = u.path.split("/")
        if not r and len(parts) == 6 and parts[:4] == ["", "api", "v1", "namespaces"] and \
                parts[5] in KINDS and KINDS[parts[5]][3]:
            r, q["_ns"] = parts[5], parts[4]
        if c.slices_beta:
            r = ("endpointslices" if u.path == "/apis/discovery.k8s.io/v1beta1/endpointslices"
                 else None if r == "endpointslices" else r)
        if not r:
            return self.send_json(404, status(404, "NotFound",
                                              "the server could not find the requested resource"))
        if r in c.dropped:
            self.close_connection = True
            return
        if r in c.forbidden:
            return self.send_json(403, status(
                403, "Forbidden", '%s is forbidden: User "xcnid" cannot list resource "%s" '
                "at the cluster scope" % (r, r)))
        if q.get("watch") in ("1", "true"):
            return self.watch(r, q)
        return self.list(r, q)

    def list(self, r, q):
        c = self.server.cluster
        with c.cond:
            c.stats["lists"] += 1
            items = c.sorted_items(r)
            rv = c.rv
            start = ""
            if q.get("continue"):
                tok = json.loads(base64.b64decode(q["continue"]))
                if tok["rv"] < c.compacted[r]:
                    return self.send_json(410, status(
                        410, "Expired", "The provided continue parameter is too old to "
                        "display a consistent list result. You can start a new list "
                        "without the continue parameter."))
                rv, start = tok["rv"], tok["start"]
            # A real server pages at exactly limit; the cap makes small lists page too.
            limit = int(q.get("limit") or 0)
            if c.page_cap and (not limit or limit > c.page_cap):
                limit = c.page_cap
            if start:
                items = items[bisect.bisect_right(items, start, key=lambda e: e[0]):]
            if "_ns" in q or q.get("labelSelector"):
                # Equality requirements only (k=v,k2=v2), as the agents' list sends.
                sel = [kv.split("=", 1) for kv in q.get("labelSelector", "").split(",") if kv]
                items = [(k, o) for k, o in items
                         if q.get("_ns", o["metadata"].get("namespace")) == o["metadata"].get("namespace")
                         and all(o["metadata"].get("labels", {}).get(a) == b for a, b in sel)]
            meta = {"resourceVersion": str(rv)}
            if limit and len(items) > limit:
                items = items[:limit]
                meta["continue"] = base64.b64encode(json.dumps(
                    {"rv": rv, "start": items[-1][0]}).encode()).decode()
                meta["remainingItemCount"] = len(c.objs[r]) - limit
            head = {"kind": KINDS[r][0] + "List", "apiVersion": KINDS[r][1], "metadata": meta}
            body = b"".join((json.dumps(head).encode()[:-1], b', "items": [',
                             b", ".join(c.item_json(r, k, o) for k, o in items), b"]}"))
        self.send_bytes(200, body)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def event(self, etype, obj, split=True):
        line = json.dumps({"type": etype, "object": obj}).encode() + b"\n"
        if split and self.server.cluster.split and len(line) > 20:
            # Two chunks, a moment apart: the client reads half a line first.
            half = len(line) // 2
            self.chunk(line[:half])
            time.sleep(0.005)
            self.chunk(line[half:])
        else:
            self.chunk(line)

    def watch(self, r, q):
        c = self.server.cluster
        kind, api = KINDS[r][0], KINDS[r][1]
        timeout = int(q.get("timeoutSeconds") or 1800)
        bookmarks = q.get("allowWatchBookmarks") in ("1", "true")
        with c.cond:
            c.stats["watches"] += 1
            c.stats["bookmark_watches"] += bookmarks
            rv = q.get("resourceVersion", "")
            seen = len(c.directives)
            too_old = rv not in ("", "0") and int(rv) < c.compacted[r]
            if too_old:
                c.stats["watch_410"] += 1
            if too_old and c.http410:
                return self.send_json(410, status(410, "Expired", "too old resource version: "
                                                  "%s (%d)" % (rv, c.compacted[r])))
            initial = [] if rv not in ("", "0") else [
                ("ADDED", c.typed(r, o)) for _, o in sorted(c.objs[r].items())]
            last = c.rv if rv in ("", "0") else int(rv)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if too_old:
            self.event("ERROR", status(410, "Expired", "too old resource version: %s (%d)" %
                                       (rv, c.compacted[r])), split=False)
            return self.end_stream()
        for t, o in initial:
            self.event(t, o)
        deadline = time.monotonic() + timeout
        next_bm = time.monotonic() + c.bookmark_s
        cut = False
        while True:
            with c.cond:
                c.cond.wait(timeout=min(0.2, c.bookmark_s))
                todo = [d for d in c.directives[seen:] if d[1] == r]
                seen = len(c.directives)
                if r in c.paused:
                    evs = []
                elif last < c.compacted[r]:
                    evs = None  # fell behind a compaction
                else:
                    evs = [(v, t, c.typed(r, o)) for v, t, o in c.since(r, last)]
                cur = c.rv
            for _, _, op in todo:
                if op == "garbage":
                    self.chunk(b"<html><body>502 Bad Gateway</body></html>\n")
                elif op == "cut":
                    cut = True
                elif op == "close":
                    return self.end_stream(close=True)
                elif op == "err410":
                    self.event("ERROR", status(410, "Expired", "too old resource version: "
                                               "%d (%d)" % (last, c.compacted[r])), split=False)
                    return self.end_stream()
            if evs is None:
                self.event("ERROR", status(410, "Expired", "too old resource version: %d (%d)"
                                           % (last, c.compacted[r])), split=False)
                return self.end_stream()
            for v, t, o in evs:
                if cut:
                    # Half an event, then the connection goes: no terminating chunk.
                    line = json.dumps({"type": t, "object": o}).encode()
                    self.chunk(line[:len(line) // 2])
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.event(t, o)
                last = v
            if time.monotonic() >= deadline:
                return self.end_stream()
            if bookmarks and time.monotonic() >= next_bm and r not in c.paused:
                # What kube-apiserver sends: the kind, and only the resourceVersion.
                bm = {"kind": kind, "apiVersion": api,
                      "metadata": {"resourceVersion": str(max(last, cur)),
                                   "creationTimestamp": None}}
                if r == "pods":
                    bm["spec"] = {"containers": None}
                    bm["status"] = {}
                self.event("BOOKMARK", bm, split=False)
                last = max(last, cur)
                next_bm = time.monotonic() + c.bookmark_s

    def end_stream(self, close=False):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        if close:
            self.close_connection = True


class Ctl(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        c, srv = self.server.cluster, self.server.api
        n = int(self.headers.get("Content-Length") or 0)
        arg = json.loads(self.rfile.read(n) or b"{}")
        op = self.path.strip("/")
        out = {}
        try:
            if op == "apply":
                out["rv"] = c.apply(arg)
            elif op == "batch":
                out["rvs"] = c.batch(arg["ops"])
            elif op == "delete":
                out["rv"] = c.delete(arg["resource"], arg["key"])
            elif op == "compact":
                c.compact(arg["resource"])
            elif op in ("garbage", "cut", "close", "err410"):
                c.directive(arg["resource"], op)
            elif op == "pause":
                with c.cond:
                    c.paused.add(arg["resource"])
            elif op == "resume":
                with c.cond:
                    c.paused.discard(arg["resource"])
                    c.cond.notify_all()
            elif op == "set":
                with c.cond:
                    for k, v in arg.items():
                        setattr(c, k, v)
            elif op == "cert":
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(arg["cert"], arg["key"])
                srv.ctx = ctx
                srv.cert_gen = getattr(srv, "cert_gen", 0) + 1
            elif op == "stats":
                with c.cond:
                    out = dict(c.stats, rv=c.rv)
            else:
                raise KeyError(op)
        except (KeyError, ValueError) as e:
            data = json.dumps({"error": repr(e)}).encode()
            self.send_response(400)
            self.end_headers()
            self.wfile.write(data)
            return
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # Failed handshakes are counted, and are what some tests are about.
        if getattr(self, "verbose", False):
            super().handle_error(request, client_address)


def serve(a):
    cluster = Cluster(a["state"], a.get("fixtures"), "volatile" in a)
    api = Server(("127.0.0.1", int(a["port"])), Handler)
    api.cluster, api.token_file, api.verbose = cluster, a["token-file"], "verbose" in a
    api.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    api.ctx.load_cert_chain(a["cert"], a["key"])
    ctl = Server(("127.0.0.1", int(a["ctl-port"])), Ctl)
    ctl.cluster, ctl.api = cluster, api
    threading.Thread(target=ctl.serve_forever, daemon=True).start()
    print("apiserver: serving on 127.0.0.1:%s (control %s), resourceVersion %d" %
          (a["port"], a["ctl-port"], cluster.rv), flush=True)
    api.serve_forever()


def ctl(port, op, body):
    import urllib.request
    if body == "-":
        body = sys.stdin.read()
    req = urllib.request.Request("http://127.0.0.1:%s/%s" % (port, op),
                                 data=(body or "{}").encode(), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            print(resp.read().decode())
    except urllib.error.HTTPError as e:
        print(e.read().decode(), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        args = {}
        it = iter(sys.argv[2:])
        for k in it:
            k = k.lstrip("-")
            args[k] = True if k in ("verbose", "volatile") else next(it)
        serve(args)
    elif sys.argv[1] == "ctl":
        ctl(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "")
    else:
        sys.exit("usage: apiserver.py serve --port P --ctl-port C --cert F --key F "
                 "--token-file F --state F --fixtures DIR [--volatile] | ctl PORT OP [JSON|-]")
