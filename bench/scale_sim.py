#!/usr/bin/python3
# The cluster simulator behind bench/scale.sh: a Kubernetes cluster of N Nodes,
# P Pods and Q NetworkPolicies, written straight into the state file of the
# test API server (tests/apiwatch/apiserver.py --state), then churned through
# its control port while the latency of each change to the pinned maps is
# measured (the maps are read with the bpf(2) syscall through ctypes).
#
#   gen   --nodes N --pods P [--policies Q] --state FILE      the initial cluster
#         [--services S --endpoints E]   S Services (ClusterIP, one TCP port) in
#                                        namespace svc-bench, each with one
#                                        EndpointSlice of E ready endpoints on
#                                        other nodes (xcnid --kube-proxy-replacement)
#   count --nodes N --pods P [--policies Q] --node NAME       expected map contents
#   churn --nodes N --pods P [--policies Q] --ctl PORT --pin DIR --rate R --seconds T
#         --out FILE                                          the churn phase
#   Opt-in (gen and churn alike; the default cluster and churn are unchanged):
#   --cnp C        C ClusterNetworkPolicies (policy.networking.k8s.io/v1alpha2),
#                  and 4% of the churn edits one (its port: a delta or a whole
#                  compile of every rule it reaches)
#   --ns-churn 1   2% of the churn toggles a label of a Namespace (every pod's
#                  identity there changes)
#   --cnp-scope few  each ClusterNetworkPolicy's subject one Namespace by name, all of
#                  them a tenth of the Namespaces (default "all": one team's, which
#                  cover every Namespace between 8 of them)
#
# The cluster is a pure function of (N, P, Q, seed), so every subcommand
# rebuilds the same one.
#   namespaces: kube-system + max(4, P/2000) more; labels team, env, and some
#               istio-injection; kubernetes.io/metadata.name as the API server sets
#   deployments: max(20, P/200) (1k pods: 20, 100k: 500), round-robin over the
#               namespaces; pod labels app, pod-template-hash, tier, version;
#               containers name ports http 8080 and metrics 9090
#   pods:       round-robin over deployments and nodes (100 per node at P = 100 N);
#               node-0000 is the agent's, so it has P/N local pods at every size
#   policies:   max(10, P/100): per namespace default-deny-ingress and
#               allow-same-namespace, then per deployment, cycling, app-to-app
#               (from the previous deployment of the namespace, port http),
#               cross-namespace (namespaceSelector team + podSelector tier,
#               8080), ipBlock egress (0.0.0.0/0 except 10.0.0.0/8, 443, plus
#               DNS to kube-system), monitoring (from ns monitoring, port metrics)
#   cluster policies (--cnp C): Admin (even) and Baseline (odd), priority k;
#               subject: the namespaces of team-(k % 8) (1/8 of them; 8 or more
#               cover every one), with --cnp-scope few namespace ns-(k % (NS / 10));
#               ingress from env=dev namespaces to 8080 (Deny in Admin, Accept
#               in Baseline), egress to 192.0.2.0/24 denied
import ctypes
import hashlib
import json
import os
import random
import struct
import sys
import threading
import time
import urllib.request

TIERS = ["web", "api", "worker", "db", "cache"]
ENVS = ["prod", "staging", "dev"]
TS = "2026-11-23T09:00:00Z"


def h10(s):
    return hashlib.sha1(s.encode()).hexdigest()[:10]


def ip_str(a):
    return "%d.%d.%d.%d" % (a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255)


class Model:
    def __init__(self, nodes, pods, policies=None, seed=1, cnp=0, cnp_scope="all"):
        self.N, self.P = nodes, pods
        self.Q = policies if policies is not None else max(10, pods // 100)
        self.rng = random.Random(seed)
        self.namespaces = ["kube-system"] + ["ns-%03d" % i for i in range(max(4, pods // 2000))]
        self.ns_labels = {}
        for i, n in enumerate(self.namespaces):
            lab = {"kubernetes.io/metadata.name": n, "team": "team-%d" % (i % 8),
                   "env": ENVS[i % 3]}
            if i % 4 == 1:
                lab["istio-injection"] = "enabled"
            self.ns_labels[n] = lab
        self.D = max(20, pods // 200)
        self.deploys = []
        for d in range(self.D):
            ns = self.namespaces[d % len(self.namespaces)]
            name = "kube-dns" if d == 0 else "app-%03d" % d
            self.deploys.append({"ns": ns, "name": name, "hash": h10(name + ns)[:10],
                                 "labels": {"app": name, "pod-template-hash": h10(name + ns)[:10],
                                            "tier": TIERS[d % 5], "version": "v%d" % (d % 3 + 1)}})
        self.next_host = [2] * nodes  # next free host number per node's /24
        self.free = [[] for _ in range(nodes)]
        self.pods = {}  # "ns/name" -> pod object
        self.seq = 0
        # Pod j on node j % N, of deployment (j / N + 7 (j % N)) % D: every node a
        # window of consecutive deployments, every deployment used.
        for j in range(pods):
            self.new_pod((j // nodes + 7 * (j % nodes)) % self.D, j % nodes)
        self.nodes = {}
        for i in range(nodes):
            self.nodes[self.node_name(i)] = self.node(i)
        self.policies = {}
        for p in self.gen_policies():
            m = p["metadata"]
            self.policies[m["namespace"] + "/" + m["name"]] = p
        self.cnp_scope = cnp_scope
        self.cnps = {"bench-cnp-%03d" % k: self.cnp(k) for k in range(cnp)}

    def cnp(self, k, port=8080):
        adm = k % 2 == 0
        few = self.namespaces[1 + k % max(1, (len(self.namespaces) - 1) // 10)]
        subj = {"kubernetes.io/metadata.name": few} if self.cnp_scope == "few" else \
            {"team": "team-%d" % (k % 8)}
        return {"metadata": {"name": "bench-cnp-%03d" % k, "uid": "cnp-%d" % k,
                             "resourceVersion": "1", "generation": 1, "creationTimestamp": TS},
                "spec": {"tier": "Admin" if adm else "Baseline", "priority": k % 1000,
                         "subject": {"namespaces": {"matchLabels": subj}},
                         "ingress": [{"name": "from-dev", "action": "Deny" if adm else "Accept",
                                      "from": [{"namespaces": {"matchLabels": {"env": "dev"}}}],
                                      "protocols": [{"tcp": {"destinationPort": {"number": port}}}]}],
                         "egress": [{"name": "no-doc-net", "action": "Deny",
                                     "to": [{"networks": ["192.0.2.0/24"]}]}]}}
    @staticmethod
    def node_name(i):
        return "node-%04d" % i

    @staticmethod
    def node_cidr(i):
        return (10 << 24) | ((64 + i // 256) << 16) | ((i % 256) << 8)

    @staticmethod
    def node_ip(i):
        return (172 << 24) | (16 << 16) | ((i // 250) << 8) | (i % 250 + 1)

    def node(self, i):
        n = self.node_name(i)
        cidr = ip_str(self.node_cidr(i)) + "/24"
        return {"metadata": {"name": n, "uid": "node-uid-%d" % i, "resourceVersion": "1",
                             "creationTimestamp": TS,
                             "labels": {"kubernetes.io/hostname": n, "kubernetes.io/os": "linux",
                                        "kubernetes.io/arch": "amd64",
                                        "topology.kubernetes.io/zone": "zone-%d" % (i % 3)}},
                "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
                "status": {"addresses": [{"type": "InternalIP", "address": ip_str(self.node_ip(i))},
                                         {"type": "Hostname", "address": n}],
                           "conditions": [{"type": "Ready", "status": "True"}]}}

    def alloc_ip(self, node):
        # Freed addresses are reused last and oldest first, so a delete and the
        # next create never land in one sync of the agent (its delete unseen).
        h = self.next_host[node]
        if h > 254:
            return self.free[node].pop(0) if self.free[node] else None
        self.next_host[node] += 1
        return self.node_cidr(node) | h

    def new_pod(self, d, node, extra=None):
        ip = self.alloc_ip(node)
        if ip is None:
            return None
        dep = self.deploys[d]
        self.seq += 1
        name = "%s-%s-%s" % (dep["name"], dep["hash"], format(self.seq, "x").rjust(5, "0"))
        labels = dict(dep["labels"], **(extra or {}))
        pod = {"metadata": {"name": name, "namespace": dep["ns"], "uid": "pod-uid-%d" % self.seq,
                            "resourceVersion": "1", "creationTimestamp": TS, "labels": labels,
                            "generateName": "%s-%s-" % (dep["name"], dep["hash"]),
                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                 "name": "%s-%s" % (dep["name"], dep["hash"]),
                                                 "uid": "rs-" + dep["hash"], "controller": True}]},
               "spec": {"nodeName": self.node_name(node), "restartPolicy": "Always",
                        "serviceAccountName": "default",
                        "containers": [{"name": dep["name"], "image": "registry.local/%s:1.0" %
                                        dep["name"], "ports": [
                                            {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                                            {"name": "metrics", "containerPort": 9090,
                                             "protocol": "TCP"}]}]},
               "status": {"phase": "Running", "hostIP": ip_str(self.node_ip(node)),
                          "podIP": ip_str(ip), "podIPs": [{"ip": ip_str(ip)}],
                          "conditions": [{"type": "Ready", "status": "True"}]}}
        self.pods[dep["ns"] + "/" + name] = pod
        return pod

    def gen_policies(self):
        out = []

        def np(ns, name, spec):
            return {"metadata": {"name": name, "namespace": ns, "uid": "np-" + h10(ns + name),
                                 "resourceVersion": "1", "generation": 1,
                                 "creationTimestamp": TS}, "spec": spec}
        for ns in self.namespaces[1:]:
            out.append(np(ns, "default-deny-ingress", {"podSelector": {},
                                                       "policyTypes": ["Ingress"]}))
            out.append(np(ns, "allow-same-namespace", {"podSelector": {}, "policyTypes": ["Ingress"],
                                                       "ingress": [{"from": [{"podSelector": {}}]}]}))
        prev = {}
        k = 0
        while len(out) < self.Q:
            d = 1 + k % (self.D - 1)
            dep = self.deploys[d]
            shape = (k // (self.D - 1) + d) % 4
            sel = {"matchLabels": {"app": dep["name"]}}
            name = "%s-%d" % (dep["name"], k)
            if shape == 0:
                src = prev.get(dep["ns"], self.deploys[0])
                spec = {"podSelector": sel, "policyTypes": ["Ingress"], "ingress": [{
                    "from": [{"podSelector": {"matchLabels": {"app": src["name"]}}}],
                    "ports": [{"protocol": "TCP", "port": "http"}]}]}
            elif shape == 1:
                spec = {"podSelector": sel, "policyTypes": ["Ingress"], "ingress": [{
                    "from": [{"namespaceSelector": {"matchLabels": {"team": "team-%d" % (k % 8)}},
                              "podSelector": {"matchLabels": {"tier": "web"}}}],
                    "ports": [{"protocol": "TCP", "port": 8080}]}]}
            elif shape == 2:
                spec = {"podSelector": sel, "policyTypes": ["Egress"], "egress": [
                    {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}],
                     "ports": [{"protocol": "TCP", "port": 443}]},
                    {"to": [{"namespaceSelector": {"matchLabels": {
                        "kubernetes.io/metadata.name": "kube-system"}}}],
                     "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}
            else:
                spec = {"podSelector": sel, "policyTypes": ["Ingress"], "ingress": [{
                    "from": [{"namespaceSelector": {"matchLabels": {
                        "kubernetes.io/metadata.name": "monitoring"}}}],
                    "ports": [{"protocol": "TCP", "port": "metrics"}]}]}
            out.append(np(dep["ns"], name, spec))
            prev[dep["ns"]] = dep
            k += 1
        return out[:self.Q] if self.Q >= 2 * (len(self.namespaces) - 1) else out

    def namespace_objs(self):
        return {n: {"metadata": {"name": n, "uid": "ns-" + n, "resourceVersion": "1",
                                 "creationTimestamp": TS, "labels": self.ns_labels[n]},
                    "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
                for n in self.namespaces}


def services(n, neps):
    """n Services in svc-bench (10.96.0.0/16 on), each with one slice of neps endpoints."""
    svcs, slices = {}, {}
    for i in range(n):
        name = "s%05d" % i
        meta = {"name": name, "namespace": "svc-bench", "uid": "svc-" + name,
                "resourceVersion": "1", "creationTimestamp": TS}
        svcs["svc-bench/" + name] = {
            "metadata": meta, "spec": {"type": "ClusterIP", "clusterIP": ip_str(0x0a600001 + i),
                                       "selector": {"app": name},
                                       "ports": [{"name": "http", "port": 80, "protocol": "TCP",
                                                  "targetPort": 8080}]}}
        eps = [{"addresses": [ip_str(0x0a800000 + i * neps + j)], "nodeName": "node-other",
                "conditions": {"ready": True, "serving": True, "terminating": False}}
               for j in range(neps)]
        slices["svc-bench/%s-1" % name] = {
            "metadata": {"name": name + "-1", "namespace": "svc-bench", "uid": "eps-" + name,
                         "resourceVersion": "1", "creationTimestamp": TS,
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "endpoints": eps,
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}
    return svcs, slices


def cmd_gen(m, a):
    rv = 1000
    objs = {"namespaces": m.namespace_objs(), "pods": m.pods, "nodes": m.nodes,
            "networkpolicies": m.policies}
    if m.cnps:  # the API server serves the kind only then
        objs["clusternetworkpolicies"] = m.cnps
    if int(a.get("services", 0)):
        objs["services"], objs["endpointslices"] = services(int(a["services"]),
                                                            int(a.get("endpoints", 10)))
        objs["namespaces"]["svc-bench"] = {
            "metadata": {"name": "svc-bench", "uid": "ns-svc-bench", "resourceVersion": "1",
                         "creationTimestamp": TS,
                         "labels": {"kubernetes.io/metadata.name": "svc-bench"}},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
    with open(a["state"] + ".tmp", "w") as f:
        json.dump({"rv": rv, "objs": objs, "history": {r: [] for r in objs},
                   "compacted": {r: rv for r in objs}}, f, separators=(",", ":"))
    os.rename(a["state"] + ".tmp", a["state"])
    print(json.dumps(dict({"nodes": len(m.nodes), "pods": len(m.pods), "policies": len(m.policies),
                           "namespaces": len(m.namespaces), "deployments": m.D},
                          **({"cluster_policies": len(m.cnps), "cnp_scope": m.cnp_scope}
                             if m.cnps else {}))))


def canon(pod_labels, ns_labels):
    return ",".join(["k8s:%s=%s" % kv for kv in sorted(pod_labels.items())] +
                    ["ns:%s=%s" % kv for kv in sorted(ns_labels.items())])


def cmd_count(m, a):
    """What the agent on node a["node"] must hold, counted from the model alone."""
    ids = set()
    local = isolated = 0
    # Selected by some policy: podSelector {} or matchLabels (the only shapes made).
    sel = [(p["metadata"]["namespace"], p["spec"]["podSelector"].get("matchLabels", {}))
           for p in m.policies.values()]
    for p in m.pods.values():
        md = p["metadata"]
        ids.add(canon(md["labels"], m.ns_labels[md["namespace"]]))
        if p["spec"]["nodeName"] != a["node"]:
            continue
        local += 1
        isolated += any(ns == md["namespace"] and all(md["labels"].get(k) == v
                                                      for k, v in ml.items()) for ns, ml in sel)
    print(json.dumps({"identities": len(ids), "pod_ipcache": len(m.pods),
                      "node_ipcache": len(m.nodes), "local_pods": local,
                      "isolated_pods": isolated, "policies": len(m.policies)}))


# ---- bpf(2) through ctypes: look up a pinned map's entry ------------------------
libc = ctypes.CDLL(None, use_errno=True)
NR_BPF = 321  # x86_64
BPF_MAP_LOOKUP_ELEM, BPF_OBJ_GET = 1, 7
ID_WORLD = 2  # XCNI_ID_WORLD


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    r = libc.syscall(NR_BPF, cmd, buf, 128)
    return r, buf


def obj_get(path):
    p = ctypes.create_string_buffer(path.encode())
    r, _ = bpf(BPF_OBJ_GET, struct.pack("=QII", ctypes.addressof(p), 0, 0))
    if r < 0:
        raise OSError(ctypes.get_errno(), "bpf_obj_get " + path)
    return r


class MapReader:
    """xcni_ipcache (LPM: {prefixlen, addr}) and xcni_polep (pod IP) lookups."""

    def __init__(self, pin):
        self.ipc = obj_get(pin + "/xcni_ipcache")
        self.fd_polep = obj_get(pin + "/xcni_polep")
        self.fd_config = obj_get(pin + "/xcni_config")
        self.key = ctypes.create_string_buffer(8)
        self.val = ctypes.create_string_buffer(4096)

    def lookup(self, fd, key):
        ctypes.memmove(self.key, key, len(key))
        attr = struct.pack("=IIQQQ", fd, 0, ctypes.addressof(self.key),
                           ctypes.addressof(self.val), 0)
        r, _ = bpf(BPF_MAP_LOOKUP_ELEM, attr)
        return None if r < 0 else self.val.raw

    def ipcache_id(self, ip):
        v = self.lookup(self.ipc, struct.pack("=I", 32) + struct.pack("!I", ip))
        ident = None if v is None else struct.unpack("=I", v[:4])[0]
        # The trie answers the longest match: 0.0.0.0/0 (world) when the /32 is gone.
        return None if ident in (None, ID_WORLD) else ident

    def polep(self, ip):
        return self.lookup(self.fd_polep, struct.pack("!I", ip))

    def applied_gen(self):
        # struct xcni_config: applied_gen after the node name (offset 88).
        v = self.lookup(self.fd_config, struct.pack("=I", 0))
        return 0 if v is None else struct.unpack_from("=Q", v, 88)[0]


def ip_int(s):
    a = [int(x) for x in s.split(".")]
    return (a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]


class Ctl:
    def __init__(self, port):
        self.url = "http://127.0.0.1:%s/" % port

    def post(self, op, body):
        req = urllib.request.Request(self.url + op, data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())


def cmd_churn(m, a):
    """Pod creates and deletes, label changes, policy edits, node joins and leaves at
    a["rate"] events per second; each pod event's latency to its ipcache entry."""
    ctl, maps = Ctl(a["ctl"]), MapReader(a["pin"])
    rate, secs = float(a["rate"]), float(a["seconds"])
    rng = random.Random(7)
    # The opt-in kinds draw from their own generator: without them the
    # default churn is the same sequence as ever.
    rng_opt = random.Random(11)
    ns_churn = a.get("ns-churn", "0") not in ("0", "")
    pending = []  # [t0, kind, check]
    lat = {}
    lock = threading.Lock()
    done = threading.Event()
    timeouts = {}

    def watcher():
        while not (done.is_set() and not pending):
            now = time.monotonic()
            with lock:
                keep = []
                for t0, kind, check in pending:
                    if check():
                        lat.setdefault(kind, []).append(time.monotonic() - t0)
                    elif now - t0 > 10:
                        timeouts[kind] = timeouts.get(kind, 0) + 1
                    else:
                        keep.append((t0, kind, check))
                pending[:] = keep
            time.sleep(0.0002)
    th = threading.Thread(target=watcher, daemon=True)
    th.start()
    keys = list(m.pods)
    extra_nodes = []
    counts = {}
    t_start = time.monotonic()
    i = 0
    while True:
        t_next = t_start + i / rate
        now = time.monotonic()
        if t_next - t_start >= secs:
            break
        if t_next > now:
            time.sleep(t_next - now)
        i += 1
        ro = rng_opt.random() if m.cnps or ns_churn else 1.0
        opt = "cnp" if ro < 0.04 and m.cnps else "ns" if 0.04 <= ro < 0.06 and ns_churn else None
        r = 1.0 if opt else rng.random()
        # Mostly pods: 40% create, 40% delete, 14% label change; 4% policy, 2% node.
        if (r < 0.40 or not keys) and not opt:
            node = rng.randrange(m.N) if rng.random() > 0.1 else 0
            pod = m.new_pod(rng.randrange(m.D), node)
            if pod is None:
                continue
            key = pod["metadata"]["namespace"] + "/" + pod["metadata"]["name"]
            keys.append(key)
            ip = ip_int(pod["status"]["podIP"])
            kind = "pod-create-local" if node == 0 else "pod-create"
            obj = dict(pod, kind="Pod", apiVersion="v1")
            t0 = time.monotonic()
            ctl.post("apply", obj)
            chk = (lambda ip=ip: maps.polep(ip) is not None) if node == 0 else \
                (lambda ip=ip: maps.ipcache_id(ip) is not None)
        elif r < 0.80:
            key = keys.pop(rng.randrange(len(keys)))
            pod = m.pods.pop(key)
            ip = ip_int(pod["status"]["podIP"])
            m.free[int(pod["spec"]["nodeName"][5:])].append(ip)
            kind = "pod-delete"
            t0 = time.monotonic()
            ctl.post("delete", {"resource": "pods", "key": key})
            chk = lambda ip=ip: maps.ipcache_id(ip) is None
        elif r < 0.94:
            key = keys[rng.randrange(len(keys))]
            pod = m.pods[key]
            lab = dict(pod["metadata"]["labels"])
            if lab.pop("track", None) is None:
                lab["track"] = "canary"
            pod = dict(pod, metadata=dict(pod["metadata"], labels=lab))
            m.pods[key] = pod
            ip = ip_int(pod["status"]["podIP"])
            old = maps.ipcache_id(ip)
            kind = "pod-label"
            t0 = time.monotonic()
            ctl.post("apply", dict(pod, kind="Pod", apiVersion="v1"))
            chk = lambda ip=ip, old=old: maps.ipcache_id(ip) not in (old, None)
        elif opt == "cnp":
            name = rng_opt.choice(sorted(m.cnps))
            k = int(name.rsplit("-", 1)[1])
            port = m.cnps[name]["spec"]["ingress"][0]["protocols"][0]["tcp"]
            port = 8081 if port["destinationPort"]["number"] != 8081 else 8080
            m.cnps[name] = m.cnp(k, port)
            kind = "cnp-edit"
            # Seen in the maps: the agent's applied generation passes the one
            # it had before the post (the earliest any delta could show).
            g0 = maps.applied_gen()
            t0 = time.monotonic()
            ctl.post("apply", dict(m.cnps[name], kind="ClusterNetworkPolicy",
                                   apiVersion="policy.networking.k8s.io/v1alpha2"))
            chk = lambda g0=g0: maps.applied_gen() > g0
        elif opt == "ns":
            ns = m.namespaces[1 + rng_opt.randrange(len(m.namespaces) - 1)]
            lab = dict(m.ns_labels[ns])
            if lab.pop("xcni-bench", None) is None:
                lab["xcni-bench"] = "on"
            m.ns_labels[ns] = lab
            # One pod of it: its identity changes with the namespace's labels.
            key = next((k for k in keys if k.startswith(ns + "/")), None)
            ip = ip_int(m.pods[key]["status"]["podIP"]) if key else None
            old = maps.ipcache_id(ip) if key else None
            kind = "ns-label"
            obj = {"kind": "Namespace", "apiVersion": "v1", "metadata": {
                "name": ns, "uid": "ns-" + ns, "creationTimestamp": TS, "labels": lab},
                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
            t0 = time.monotonic()
            ctl.post("apply", obj)
            chk = (lambda ip=ip, old=old: maps.ipcache_id(ip) not in (old, None)) if key else None
        elif r < 0.98:
            key = rng.choice(sorted(m.policies))
            p = json.loads(json.dumps(m.policies[key]))
            spec = p["spec"]
            rules = spec.get("ingress") or spec.get("egress") or []
            if rules and rules[0].get("ports"):
                pt = rules[0]["ports"][0]
                pt["port"] = 8081 if pt.get("port") != 8081 else 8080
            else:
                spec.setdefault("policyTypes", ["Ingress"])
            m.policies[key] = p
            kind = "policy-edit"
            t0 = time.monotonic()
            ctl.post("apply", dict(p, kind="NetworkPolicy", apiVersion="networking.k8s.io/v1"))
            chk = None
        else:
            if extra_nodes and rng.random() < 0.5:
                n = extra_nodes.pop()
                ip = m.node_ip(n)
                kind = "node-leave"
                t0 = time.monotonic()
                ctl.post("delete", {"resource": "nodes", "key": m.node_name(n)})
                chk = lambda ip=ip: maps.ipcache_id(ip) is None
            else:
                n = m.N + len(extra_nodes) + 1
                extra_nodes.append(n)
                ip = m.node_ip(n)
                kind = "node-join"
                t0 = time.monotonic()
                ctl.post("apply", dict(m.node(n), kind="Node", apiVersion="v1"))
                chk = lambda ip=ip: maps.ipcache_id(ip) is not None
        counts[kind] = counts.get(kind, 0) + 1
        if chk:
            with lock:
                pending.append((t0, kind, chk))
    elapsed = time.monotonic() - t_start
    done.set()
    th.join(timeout=15)
    ids = {canon(p["metadata"]["labels"], m.ns_labels[p["metadata"]["namespace"]])
           for p in m.pods.values()}
    res = {"events": i, "seconds": round(elapsed, 2), "counts": counts, "timeouts": timeouts,
           "latency_ms": {}, "final": {"identities": len(ids), "pod_ipcache": len(m.pods)}}
    alls = []
    for kind, v in sorted(lat.items()):
        v.sort()
        if kind not in ("cnp-edit", "ns-label"):  # the opt-in kinds stand apart
            alls += v
        res["latency_ms"][kind] = {"n": len(v), "p50": round(v[len(v) // 2] * 1e3, 2),
                                   "p99": round(v[min(len(v) - 1, int(len(v) * 0.99))] * 1e3, 2),
                                   "max": round(v[-1] * 1e3, 2)}
    alls.sort()
    if alls:
        res["latency_ms"]["all-pod-and-node"] = {
            "n": len(alls), "p50": round(alls[len(alls) // 2] * 1e3, 2),
            "p99": round(alls[min(len(alls) - 1, int(len(alls) * 0.99))] * 1e3, 2),
            "max": round(alls[-1] * 1e3, 2)}
    with open(a["out"], "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res))


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("gen", "count", "churn"):
        sys.exit(__doc__ if __doc__ else "usage: scale_sim.py gen|count|churn ...")
    a, it = {}, iter(sys.argv[2:])
    for k in it:
        a[k.lstrip("-")] = next(it)
    m = Model(int(a["nodes"]), int(a["pods"]),
              int(a["policies"]) if "policies" in a else None, int(a.get("seed", 1)),
              int(a.get("cnp", 0)), a.get("cnp-scope", "all"))
    {"gen": cmd_gen, "count": cmd_count, "churn": cmd_churn}[sys.argv[1]](m, a)


if __name__ == "__main__":
    main()
