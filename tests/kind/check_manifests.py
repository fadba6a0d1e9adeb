#!/usr/bin/python3
"""Checks examples/kind/ without a cluster (called by tests/kind/run.sh).

Prints one line per check: "ok<TAB>what", "not ok<TAB>what<TAB>why" or
"skip<TAB>what<TAB>why". Needs python3-yaml.
"""
import glob
import ipaddress
import os
import re
import subprocess
import sys

import yaml

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
KIND = os.path.join(ROOT, "examples", "kind")

# Registries and mirrors no file may name (images and packages come from the
# machine's own configuration).
REGISTRY_HOSTS = [
    "docker.io", "registry-1.docker.io", "index.docker.io", "gcr.io", "k8s.gcr.io",
    "registry.k8s.io", "quay.io", "ghcr.io", "public.ecr.aws", "mcr.microsoft.com",
    "deb.debian.org", "security.debian.org", "snapshot.debian.org", "ftp.debian.org",
    "registry.npmjs.org", "proxy.golang.org", "pypi.org", "files.pythonhosted.org",
    "github.com", "githubusercontent.com",
]

# What xcnid watches (core v1, networking.k8s.io/v1, policy.networking.k8s.io/v1alpha2
# and, with --kube-proxy-replacement only, discovery.k8s.io/v1), and the verbs it may
# use: xcni.yaml grants the first (beside kube-proxy), kpr-rbac.yaml adds the last.
WANT_RESOURCES = {("", "namespaces"), ("", "pods"), ("", "nodes"), ("", "services"),
                  ("networking.k8s.io", "networkpolicies"),
                  ("policy.networking.k8s.io", "clusternetworkpolicies")}
KPR_RESOURCES = WANT_RESOURCES | {("discovery.k8s.io", "endpointslices")}
WANT_VERBS = {"list", "watch"}
# The one rule beside them: each policy version's Event (user/agent/polstatus.c
# reads it, makes it or adds its node: get, create, update; nothing else).
EVENT_GRANTS = {("", "events", v) for v in ("get", "create", "update")}

HOSTPATHS = {"/sys/fs/bpf", "/opt/cni/bin", "/etc/cni/net.d", "/var/lib/cni", "/run/xcni"}


def out(status, what, why=""):
    why = " ".join(str(why).split())
    print(f"{status}\t{what}\t{why}" if why else f"{status}\t{what}")


def check(what, cond, why=""):
    out("ok" if cond else "not ok", what, "" if cond else why)
    return cond


def read(p):
    with open(p) as f:
        return f.read()


def image_has_registry(ref):
    """A reference names a registry when its first component has a dot, a colon or
    is localhost, and more components follow (docker's rule)."""
    if "/" not in ref:
        return False
    first = ref.split("/", 1)[0]
    return "." in first or ":" in first or first == "localhost"



def json_patch(doc, ops):
    """RFC 6902 add, replace and test (what kpr-patch.yaml and metrics-patch.yaml use) on a deep copy of doc."""
    import copy
    doc = copy.deepcopy(doc)
    for op in ops:
        parts = [x.replace("~1", "/").replace("~0", "~") for x in op["path"].split("/")[1:]]
        parent = doc
        for k in parts[:-1]:
            parent = parent[int(k)] if isinstance(parent, list) else parent[k]
        last = parts[-1]
        if op["op"] == "add" and isinstance(parent, list):
            if last == "-":
                parent.append(op["value"])
            else:
                parent.insert(int(last), op["value"])
        elif op["op"] == "test":
            got = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if got != op["value"]:
                raise ValueError(f"test {op['path']}: {got!r}, not {op['value']!r}")
        elif op["op"] in ("add", "replace"):
            if op["op"] == "replace" and (last not in parent if isinstance(parent, dict) else int(last) >= len(parent)):
                raise KeyError(f"replace {op['path']}: nothing there")
            parent[int(last) if isinstance(parent, list) else last] = op["value"]
        else:
            raise ValueError(f"op {op['op']} not handled here")
    return doc


def patched(docs, ds, name):
    """ds with NAME's JSON patch applied, checked to apply; None where it does not."""
    try:
        got = json_patch(ds, (docs.get(name) or [[]])[0])
    except Exception as e:  # noqa: BLE001 - any failure is the patch not applying
        check(f"{name} applies to xcni.yaml's DaemonSet", False, e)
        return None
    check(f"{name} applies to xcni.yaml's DaemonSet", True)
    return got


def check_flows(docs, ds):
    """flows-patch.yaml: the flows port on the node's InternalIP (status.hostIP), not 0.0.0.0."""
    got = patched(docs, ds, "flows-patch.yaml")
    if got is None:
        return
    c = got["spec"]["template"]["spec"]["containers"][0]
    gargs = c.get("args") or []
    env = {e.get("name"): e for e in c.get("env") or []}
    host = (((env.get("HOST_IP") or {}).get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
    check("flows-patch.yaml: --flows-listen $(HOST_IP):4244 once, HOST_IP the downward API's status.hostIP (not 0.0.0.0)",
          gargs.count("--flows-listen") == 1 and gargs[gargs.index("--flows-listen") + 1] == "$(HOST_IP):4244"
          and host == "status.hostIP", (gargs, host))
    check("flows-patch.yaml: --flows-tls with it (never plaintext)", gargs.count("--flows-tls") == 1, gargs)


def check_metrics(docs, ds):
    """Metrics on the node's loopback by default; metrics-patch.yaml the documented opt-in."""
    tmpl = ds.get("spec", {}).get("template", {})
    args = ((tmpl.get("spec", {}).get("containers") or [{}])[0]).get("args") or []
    ann = (tmpl.get("metadata") or {}).get("annotations") or {}
    # A host-network pod's 0.0.0.0 is the node's every address: every pod's to read.
    check("DaemonSet agent: metrics on the node's loopback only (pods cannot reach them)",
          args.count("--metrics-addr") == 1 and args[args.index("--metrics-addr") + 1] in ("127.0.0.1:9962", "[::1]:9962"),
          args)
    check("DaemonSet agent: no --http-allow-remote (xcnid serves loopback only)",
          "--http-allow-remote" not in args, args)
    # Flows are on by default in xcnid: the manifest leaves them on, bounded.
    check("DaemonSet agent: flow records on (no --flows=false / --no-flows), window bounded (--flows-window <= 65536)",
          not any(a in ("--no-flows", "--flows=false") for a in args) and args.count("--flows-window") == 1
          and 0 < int(args[args.index("--flows-window") + 1]) <= 65536, args)
    check("DaemonSet: no prometheus.io annotations by default (they would point a scraper at a closed port)",
          not any(k.startswith("prometheus.io/") for k in ann), ann)
    got = patched(docs, ds, "metrics-patch.yaml")
    if got is None:
        return
    gt = got["spec"]["template"]
    gargs = gt["spec"]["containers"][0]["args"]
    check("metrics-patch.yaml: --metrics-addr 0.0.0.0:9962 (the node's addresses), the flag once",
          gargs.count("--metrics-addr") == 1 and gargs[gargs.index("--metrics-addr") + 1] == "0.0.0.0:9962", gargs)
    # Without it xcnid refuses a non-loopback address (exit 2): the pod would crash-loop.
    check("metrics-patch.yaml: --http-allow-remote, once (xcnid's consent to 0.0.0.0)",
          gargs.count("--http-allow-remote") == 1, gargs)
    check("metrics-patch.yaml: prometheus.io/scrape and port 9962 annotations",
          (gt.get("metadata") or {}).get("annotations") == {"prometheus.io/scrape": "true", "prometheus.io/port": "9962"},
          gt.get("metadata"))
    rest = json_patch(got, [])
    rest["spec"]["template"]["spec"]["containers"][0]["args"] = args
    del rest["spec"]["template"]["metadata"]["annotations"]
    check("metrics-patch.yaml: nothing else differs from xcni.yaml's", rest == ds, "more than the address and annotations")
    moved = json_patch(ds, [{"op": "add", "path": "/spec/template/spec/containers/0/args/0", "value": "-v"}])
    try:
        json_patch(moved, (docs.get("metrics-patch.yaml") or [[]])[0])
        check("metrics-patch.yaml: refused when the arguments moved (its test op)", False, "applied")
    except ValueError:
        check("metrics-patch.yaml: refused when the arguments moved (its test op)", True)


def role_grants(role):
    """A ClusterRole's rules as (apiGroup, resource, verb) triples, and what else they hold."""
    grants, extra = set(), []
    for r in role.get("rules") or []:
        for key in ("resourceNames", "nonResourceURLs"):
            if key in r:
                extra.append(key)
        for g in r.get("apiGroups") or []:
            for res in r.get("resources") or []:
                for v in r.get("verbs") or []:
                    grants.add((g, res, v))
    return grants, extra


def kpr_role(docs, role):
    """xcni.yaml's ClusterRole with kpr-rbac.yaml applied (None: it does not apply)."""
    try:
        return json_patch(role, (docs.get("kpr-rbac.yaml") or [[]])[0])
    except (KeyError, IndexError, ValueError, TypeError, AttributeError):
        return None


def check_kpr(docs, ds, role):
    """kind without kube-proxy: kind-config-kpr.yaml, kustomization.yaml, kpr-patch.yaml, kpr-rbac.yaml."""
    kc = docs.get("kind-config.yaml", [{}])[0]
    kk = (docs.get("kind-config-kpr.yaml") or [{}])[0]
    net = kk.get("networking") or {}
    check("kind-config-kpr.yaml: networking.kubeProxyMode is \"none\"", net.get("kubeProxyMode") == "none", net)
    same = {k: v for k, v in net.items() if k != "kubeProxyMode"}
    check("kind-config-kpr.yaml: otherwise kind-config.yaml (networking, nodes)",
          same == (kc.get("networking") or {}) and kk.get("nodes") == kc.get("nodes")
          and kk.get("kind") == kc.get("kind") and kk.get("apiVersion") == kc.get("apiVersion"), (same, kk.get("nodes")))
    ku = (docs.get("kustomization.yaml") or [{}])[0]
    pt = [p for p in ku.get("patches") or []]
    bypath = {p.get("path"): p.get("target") or {} for p in pt}
    check("kustomization.yaml: xcni.yaml with kpr-patch.yaml on DaemonSet kube-system/xcni",
          ku.get("resources") == ["xcni.yaml"] and bypath.get("kpr-patch.yaml", {}).get("kind") == "DaemonSet"
          and bypath.get("kpr-patch.yaml", {}).get("name") == "xcni",
          ku)
    # EndpointSlices (every Service's backends, every pod's address) are granted
    # only where xcnid reads them: with --kube-proxy-replacement.
    check("kustomization.yaml: kpr-rbac.yaml on ClusterRole xcni (rbac.authorization.k8s.io), and no other patch",
          len(pt) == 2 and bypath.get("kpr-rbac.yaml", {}).get("kind") == "ClusterRole"
          and bypath.get("kpr-rbac.yaml", {}).get("group") == "rbac.authorization.k8s.io"
          and bypath.get("kpr-rbac.yaml", {}).get("name") == "xcni", pt)
    krole = kpr_role(docs, role)
    kgrants, _ = role_grants(krole or {})
    pgrants, _ = role_grants(role)
    check("kpr-rbac.yaml: adds exactly list and watch on discovery.k8s.io/endpointslices to xcni.yaml's ClusterRole",
          krole is not None and kgrants - pgrants == {("discovery.k8s.io", "endpointslices", v) for v in WANT_VERBS}
          and pgrants <= kgrants, sorted(kgrants ^ pgrants) if krole is not None else "does not apply")
    got = patched(docs, ds, "kpr-patch.yaml")
    if got is None:
        return
    pod = (got.get("spec") or {}).get("template", {}).get("spec") or {}
    agent = (pod.get("containers") or [{}])[0]
    init = (pod.get("initContainers") or [{}])[0]
    args = agent.get("args") or []
    check("kpr DaemonSet: xcnid --kube-proxy-replacement", "--kube-proxy-replacement" in args, args)
    src = read(os.path.join(ROOT, "user", "agent", "xcnid_opts.c"))
    check("kpr DaemonSet: xcnid has --kube-proxy-replacement (user/agent/xcnid_opts.c)",
          '"kube-proxy-replacement"' in src)
    for what, c in (("agent", agent), ("init container", init)):
        env = {e.get("name"): e.get("value") for e in c.get("env") or []}
        host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
        check(f"kpr DaemonSet {what}: API server on the control-plane node (KUBERNETES_SERVICE_HOST/PORT "
              "kind-control-plane:6443, not a ClusterIP)",
              host == "kind-control-plane" and port == "6443", env)
        check(f"kpr DaemonSet {what}: each variable once (no duplicate names)",
              len(c.get("env") or []) == len(env), c.get("env"))
    check("kpr DaemonSet: dnsPolicy Default (CoreDNS's ClusterIP is out of a host-network pod's reach)",
          pod.get("dnsPolicy") == "Default", pod.get("dnsPolicy"))
    # Socket LB: the node's cgroup2 root (a kind node's own cgroup namespace:
    # this node's processes, pods included) mounted into the agent, and
    # XCNI_CGROUP_ROOT telling the entry point where, which gives xcnid
    # --cgroup-root when it is a cgroup2 mount (tests/kind/run.sh runs that).
    aenv = {e.get("name"): e.get("value") for e in agent.get("env") or []}
    cgdir = aenv.get("XCNI_CGROUP_ROOT")
    check("kpr DaemonSet agent: XCNI_CGROUP_ROOT=/host/sys/fs/cgroup (the entry point gives xcnid --cgroup-root)",
          cgdir == "/host/sys/fs/cgroup", aenv)
    vols = {v.get("name"): v for v in pod.get("volumes") or []}
    cgvols = [n for n, v in vols.items() if (v.get("hostPath") or {}).get("path") == "/sys/fs/cgroup"]
    cgvol = vols.get(cgvols[0]) if len(cgvols) == 1 else {}
    check("kpr DaemonSet: one hostPath volume of the node's /sys/fs/cgroup, type Directory",
          len(cgvols) == 1 and (cgvol.get("hostPath") or {}).get("type") == "Directory", cgvols or list(vols))
    am = [m for m in agent.get("volumeMounts") or [] if cgvols and m.get("name") == cgvols[0]]
    check("kpr DaemonSet agent: mounts it at XCNI_CGROUP_ROOT, read-only (attaching needs no write)",
          len(am) == 1 and am[0].get("mountPath") == cgdir and am[0].get("readOnly") is True
          and "mountPropagation" not in am[0], am)
    check("kpr DaemonSet init container: does not mount it",
          not any(cgvols and m.get("name") == cgvols[0] for m in init.get("volumeMounts") or []),
          init.get("volumeMounts"))
    check("kpr DaemonSet agent: no --cgroup-root in the arguments (the entry point adds it, cgroup v2 only)",
          not any(a.startswith("--cgroup-root") for a in args), args)
    check("xcnid has --cgroup-root (user/agent/xcnid_opts.c)", '"cgroup-root"' in src)
    rest = json_patch(got, [])
    for k in ("dnsPolicy",):
        rest["spec"]["template"]["spec"][k] = ds["spec"]["template"]["spec"][k]
    rest_pod = rest["spec"]["template"]["spec"]
    rest_pod["volumes"] = [v for v in rest_pod.get("volumes") or [] if v.get("name") not in cgvols]
    rest_agent = rest_pod["containers"][0]
    rest_agent["volumeMounts"] = [m for m in rest_agent.get("volumeMounts") or [] if m.get("name") not in cgvols]
    rest_agent["env"] = [e for e in rest_agent.get("env") or [] if e.get("name") != "XCNI_CGROUP_ROOT"]
    check("kpr DaemonSet: nothing else differs from xcni.yaml's",
          json_patch(ds, []) == json_patch(rest, [
              {"op": "replace", "path": "/spec/template/spec/containers/0/args", "value": args[:-1]},
              {"op": "replace", "path": "/spec/template/spec/containers/0/env", "value": rest_agent["env"][:-2]},
              {"op": "replace", "path": "/spec/template/spec/initContainers/0/env", "value": (init.get("env") or [])[:-2]},
          ]) and args[-1] == "--kube-proxy-replacement",
          "more than args, env, the cgroup volume and mount, and dnsPolicy changed")
    # kubectl's own kustomize, when there is one: it renders the same DaemonSet.
    import shutil
    if not shutil.which("kubectl"):
        out("skip", "kubectl kustomize examples/kind renders the same DaemonSet", "no kubectl")
        return
    r = subprocess.run(["kubectl", "kustomize", KIND], capture_output=True, text=True, timeout=120)
    rendered = [d for d in yaml.safe_load_all(r.stdout) if d] if r.returncode == 0 else []
    kds = [d for d in rendered if d.get("kind") == "DaemonSet"]
    check("kubectl kustomize examples/kind renders the same DaemonSet",
          r.returncode == 0 and len(kds) == 1 and kds[0] == got, r.stderr.strip()[:300] or "a different DaemonSet")
    krs = [d for d in rendered if d.get("kind") == "ClusterRole"]
    check("kubectl kustomize examples/kind renders the same ClusterRole (kpr-rbac.yaml applied)",
          r.returncode == 0 and len(krs) == 1 and krs[0] == krole, r.stderr.strip()[:300] or "a different ClusterRole")

def check_families(docs):
    """Dual stack and IPv6-only: kind-config-dual.yaml and kind-config-ipv6.yaml.

    Each is kind-config.yaml but for ipFamily, podSubnet and serviceSubnet: one
    network per family the cluster has, the IPv4 ones those of kind-config.yaml,
    pod subnets large enough for the controller manager's per-node masks (/24,
    /64), Service subnets within what the API server takes (IPv6 at most /108
    wide). The entry point reads podCIDRs and gives xcnid a flag per family."""
    kc = (docs.get("kind-config.yaml") or [{}])[0]
    base = kc.get("networking") or {}
    for name, family, fams in (("kind-config-dual.yaml", "dual", (4, 6)), ("kind-config-ipv6.yaml", "ipv6", (6,))):
        d = docs.get(name) or []
        c = d[0] if len(d) == 1 else {}
        check(f"{name}: one kind Cluster of kind.x-k8s.io/v1alpha4",
              len(d) == 1 and c.get("kind") == "Cluster" and c.get("apiVersion") == "kind.x-k8s.io/v1alpha4",
              [(x.get("kind"), x.get("apiVersion")) for x in d])
        net = c.get("networking") or {}
        check(f"{name}: networking.ipFamily is {family}", net.get("ipFamily") == family, net.get("ipFamily"))
        check(f"{name}: networking.disableDefaultCNI is true", net.get("disableDefaultCNI") is True, net)
        nets = {}
        for key in ("podSubnet", "serviceSubnet"):
            try:
                ns = [ipaddress.ip_network(x.strip()) for x in str(net.get(key, "")).split(",")]
            except ValueError as e:
                check(f"{name}: {key} is a list of networks", False, e)
                continue
            nets[key] = ns
            check(f"{name}: {key} has one network per family {fams}, in kind's order (IPv4 first)",
                  tuple(n.version for n in ns) == fams, [str(n) for n in ns])
        pods = {n.version: n for n in nets.get("podSubnet", [])}
        svcs = {n.version: n for n in nets.get("serviceSubnet", [])}
        if 4 in fams:
            check(f"{name}: the IPv4 subnets are kind-config.yaml's",
                  str(pods.get(4)) == base.get("podSubnet") and str(svcs.get(4)) == base.get("serviceSubnet"),
                  (str(pods.get(4)), str(svcs.get(4))))
        if 6 in pods:
            check(f"{name}: the IPv6 podSubnet holds /64s per node (at most /60: 16 nodes and more)",
                  pods[6].prefixlen <= 60, pods[6])
        if 6 in svcs:
            check(f"{name}: the IPv6 serviceSubnet is /108 or narrower (the API server's limit)",
                  svcs[6].prefixlen >= 108, svcs[6])
        check(f"{name}: pod and Service subnets do not overlap",
              not any(p.overlaps(v) for p in pods.values() for v in svcs.values()), (pods, svcs))
        same = {k: v for k, v in net.items() if k not in ("ipFamily", "podSubnet", "serviceSubnet")}
        check(f"{name}: otherwise kind-config.yaml (networking, nodes)",
              same == {k: v for k, v in base.items() if k not in ("ipFamily", "podSubnet", "serviceSubnet")}
              and c.get("nodes") == kc.get("nodes"), (same, c.get("nodes")))
    # The Service ranges xcnid is given (xcni.yaml, one DaemonSet for every
    # config): each config's serviceSubnet, family by family, so from_pod and
    # from_pod6 hand ClusterIP flows to kube-proxy before egress is judged.
    ds = [x for x in docs.get("xcni.yaml") or [] if x.get("kind") == "DaemonSet"]
    agent = next((c for c in (((ds[0].get("spec") or {}).get("template") or {}).get("spec") or {})
                  .get("containers") or [] if c.get("name") == "xcnid"), {}) if ds else {}
    args = agent.get("args") or []
    given = {}
    if "--service-cidr" in args and args.index("--service-cidr") + 1 < len(args):
        try:
            for x in args[args.index("--service-cidr") + 1].split(","):
                n = ipaddress.ip_network(x.strip())
                given.setdefault(n.version, []).append(n)
        except ValueError as e:
            given = {"bad": str(e)}
    check("xcni.yaml: xcnid --service-cidr has one range of each family (what xcnid takes)",
          sorted(given) == [4, 6] and all(len(v) == 1 for v in given.values()), given)
    for name in ("kind-config.yaml", "kind-config-dual.yaml", "kind-config-ipv6.yaml"):
        net = (((docs.get(name) or [{}])[0]) or {}).get("networking") or {}
        try:
            svcs = [ipaddress.ip_network(x.strip()) for x in str(net.get("serviceSubnet", "")).split(",")]
        except ValueError as e:
            check(f"{name}: serviceSubnet is xcnid's --service-cidr of its family", False, e)
            continue
        check(f"{name}: serviceSubnet {','.join(map(str, svcs))} is xcnid's --service-cidr of its family",
              all(isinstance(given.get(n.version), list) and given[n.version] == [n] for n in svcs),
              (given, svcs))
    # What makes them work with xcni.yaml unchanged: the entry point and xcnid.
    ep = read(os.path.join(KIND, "entrypoint.sh"))
    check("entrypoint.sh: reads spec.podCIDRs (both families), not podCIDR alone",
          ".podCIDRs" in ep, "no podCIDRs in entrypoint.sh")
    check("entrypoint.sh: gives xcnid --pod-cidr6 for the IPv6 pod CIDR", "--pod-cidr6" in ep)
    src = read(os.path.join(ROOT, "user", "agent", "xcnid_opts.c"))
    check("xcnid has --pod-cidr6 (user/agent/xcnid_opts.c)", '"pod-cidr6"' in src)
    # The underlay family each config's nodes get from --node-ip $(HOST_IP):
    # status.hostIP is the first of the Node's InternalIPs, in kind's order
    # (the ipFamily's first: IPv4 for ipv4 and dual, IPv6 for ipv6), and xcnid
    # takes an address of either family there (user/agent/xcnid_opts.c).
    for name, first in (("kind-config.yaml", 4), ("kind-config-dual.yaml", 4), ("kind-config-ipv6.yaml", 6)):
        net = (((docs.get(name) or [{}])[0]) or {}).get("networking") or {}
        fam = {"ipv4": 4, None: 4, "dual": 4, "ipv6": 6}.get(net.get("ipFamily"))
        try:
            pod0 = ipaddress.ip_network(str(net.get("podSubnet", "")).split(",")[0].strip()).version
        except ValueError:
            pod0 = None
        check(f"{name}: nodes' status.hostIP is IPv{first} (ipFamily {net.get('ipFamily') or 'ipv4'}, "
              "first podSubnet family): the underlay xcnid runs Geneve over", fam == first and pod0 == first,
              (net.get("ipFamily"), pod0))
    check("xcnid --node-ip takes IPv4 and IPv6, once per family (user/agent/xcnid_opts.c parse_node_ip)",
          "parse_node_ip" in src and "AF_INET6" in src and re.search(r"once per\s+(\*\s*)?family", src))
    readme = " ".join(read(os.path.join(ROOT, "docs", "kind.md")).split())
    check("docs/kind.md: says how to use both configs, and which underlay address xcnid takes",
          "kind-config-dual.yaml" in readme and "kind-config-ipv6.yaml" in readme
          and "status.hostIP" in readme and "--node-ip" in readme, "docs/kind.md does not name them or the address")


def main():
    docs = {}
    # 1. Every document of every examples/kind/*.yaml parses.
    for p in sorted(glob.glob(os.path.join(KIND, "*.yaml")) + glob.glob(os.path.join(KIND, "*.yml"))):
        name = os.path.relpath(p, ROOT)
        try:
            d = [x for x in yaml.safe_load_all(read(p)) if x is not None]
            ok = check(f"{name}: every document parses ({len(d)})", len(d) > 0, "no documents")
            if ok:
                docs[os.path.basename(p)] = d
        except yaml.YAMLError as e:
            check(f"{name}: every document parses", False, e)

    # 2. The kind cluster.
    kc = docs.get("kind-config.yaml", [])
    c = kc[0] if len(kc) == 1 else {}
    check("kind-config.yaml: one kind Cluster of kind.x-k8s.io/v1alpha4",
          len(kc) == 1 and c.get("kind") == "Cluster" and c.get("apiVersion") == "kind.x-k8s.io/v1alpha4",
          [(x.get("kind"), x.get("apiVersion")) for x in kc])
    net = c.get("networking") or {}
    check("kind-config.yaml: networking.disableDefaultCNI is true", net.get("disableDefaultCNI") is True, net)
    try:
        ps = ipaddress.ip_network(net.get("podSubnet", ""))
        check("kind-config.yaml: podSubnet is an IPv4 network of /24s or more", ps.version == 4 and ps.prefixlen <= 24, ps)
    except ValueError as e:
        check("kind-config.yaml: podSubnet is an IPv4 network", False, e)
    check("kind-config.yaml: ipFamily is ipv4 (or unset)", net.get("ipFamily", "ipv4") == "ipv4", net.get("ipFamily"))
    roles = [n.get("role") for n in c.get("nodes") or []]
    check("kind-config.yaml: one control-plane and at least 2 workers",
          roles.count("control-plane") == 1 and roles.count("worker") >= 2, roles)

    # 3. The xcni manifest: the objects and their API versions.
    objs = docs.get("xcni.yaml", [])
    byk = {}
    for o in objs:
        byk.setdefault(o.get("kind"), []).append(o)
    want = {"ServiceAccount": "v1", "ClusterRole": "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding": "rbac.authorization.k8s.io/v1", "DaemonSet": "apps/v1",
            "Namespace": "v1", "Role": "rbac.authorization.k8s.io/v1",
            "RoleBinding": "rbac.authorization.k8s.io/v1"}
    check("xcni.yaml: exactly a ServiceAccount, ClusterRole, ClusterRoleBinding, DaemonSet, "
          "Namespace, Role and RoleBinding",
          sorted(byk) == sorted(want) and all(len(v) == 1 for v in byk.values()),
          {k: len(v) for k, v in byk.items()})
    for k, av in want.items():
        o = (byk.get(k) or [{}])[0]
        md = o.get("metadata") or {}
        home = {"ServiceAccount": "kube-system", "DaemonSet": "kube-system", "Role": "xcni",
                "RoleBinding": "xcni"}.get(k)
        ns_ok = md.get("namespace") == home if home else "namespace" not in md
        check(f"xcni.yaml: {k} xcni is {av}" + (f" in {home}" if home else ""),
              o.get("apiVersion") == av and md.get("name") == "xcni" and ns_ok,
              (o.get("apiVersion"), md.get("name"), md.get("namespace")))

    # 4. RBAC: list and watch on exactly the six resources (beside kube-proxy), and
    # EndpointSlices with kpr-rbac.yaml (without it).
    role = (byk.get("ClusterRole") or [{}])[0]
    grants, extra = role_grants(role)
    ev = {g for g in grants if g[:2] == ("", "events")}
    check("ClusterRole: events get, create and update only (the policy version's Event)",
          ev == EVENT_GRANTS, sorted(ev ^ EVENT_GRANTS))
    grants -= ev
    granted_res = {(g, r) for g, r, _ in grants}
    check("ClusterRole: no wildcard, resourceNames or nonResourceURLs",
          not extra and not any("*" in (g + r + v) for g, r, v in grants), extra or grants)
    check("ClusterRole: exactly namespaces, pods, nodes, services (core), networkpolicies "
          "(networking.k8s.io) and clusternetworkpolicies (policy.networking.k8s.io)",
          granted_res == WANT_RESOURCES, sorted(granted_res ^ WANT_RESOURCES))
    check("ClusterRole of xcni.yaml (beside kube-proxy): no endpointslices (xcnid reads them only with "
          "--kube-proxy-replacement: kpr-rbac.yaml)",
          ("discovery.k8s.io", "endpointslices") not in granted_res, sorted(granted_res))
    bad = sorted((g, r, v) for g, r, v in grants if v not in WANT_VERBS)
    missing = sorted((g, r, v) for g, r in WANT_RESOURCES for v in WANT_VERBS if (g, r, v) not in grants)
    check("ClusterRole: exactly list and watch on each", not bad and not missing,
          f"beyond list/watch: {bad}; missing: {missing}")
    rb = (byk.get("ClusterRoleBinding") or [{}])[0]
    check("ClusterRoleBinding: ClusterRole xcni to ServiceAccount kube-system/xcni",
          rb.get("roleRef") == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "xcni"}
          and rb.get("subjects") == [{"kind": "ServiceAccount", "name": "xcni", "namespace": "kube-system"}],
          (rb.get("roleRef"), rb.get("subjects")))

    # The policy Events' Leases (agent/polstatus.c, docs/decisions/policy-events.md):
    # in namespace xcni alone, exactly the verbs the poster uses.
    lr = (byk.get("Role") or [{}])[0]
    lgrants, lextra = role_grants(lr)
    want_l = {("coordination.k8s.io", "leases", v) for v in ("get", "list", "create", "update", "patch")}
    check("Role xcni/xcni: leases get, list, create, update, patch and nothing else (the policy "
          "Events' reports and writer)", lgrants == want_l and not lextra,
          sorted(lgrants ^ want_l) or lextra)
    pol = read(os.path.join(ROOT, "user", "agent", "polstatus.c"))
    check("user/agent/polstatus.c: its Leases are in namespace xcni (the Role's)",
          '#define EV_NS "xcni"' in pol and "/apis/coordination.k8s.io/v1/namespaces/\" EV_NS" in pol)
    lb = (byk.get("RoleBinding") or [{}])[0]
    check("RoleBinding xcni/xcni: Role xcni to ServiceAccount kube-system/xcni",
          lb.get("roleRef") == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "xcni"}
          and lb.get("subjects") == [{"kind": "ServiceAccount", "name": "xcni", "namespace": "kube-system"}],
          (lb.get("roleRef"), lb.get("subjects")))

    # 5. The DaemonSet.
    ds = (byk.get("DaemonSet") or [{}])[0]
    tpl = (ds.get("spec") or {}).get("template") or {}
    sel = ((ds.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    labels = (tpl.get("metadata") or {}).get("labels") or {}
    check("DaemonSet: selector matches the pod labels",
          sel and all(labels.get(k) == v for k, v in sel.items()), (sel, labels))
    pod = tpl.get("spec") or {}
    check("DaemonSet: hostNetwork", pod.get("hostNetwork") is True, pod.get("hostNetwork"))
    check("DaemonSet: serviceAccountName xcni", pod.get("serviceAccountName") == "xcni", pod.get("serviceAccountName"))
    check("DaemonSet: priorityClassName system-node-critical",
          pod.get("priorityClassName") == "system-node-critical", pod.get("priorityClassName"))
    check("DaemonSet: tolerates every taint (operator Exists, no key, no effect)",
          any(t.get("operator") == "Exists" and "key" not in t and "effect" not in t
              for t in pod.get("tolerations") or []), pod.get("tolerations"))
    vols = {v.get("name"): (v.get("hostPath") or {}).get("path") for v in pod.get("volumes") or []}
    check("DaemonSet: hostPath volumes " + ", ".join(sorted(HOSTPATHS)),
          set(vols.values()) == HOSTPATHS and None not in vols.values(), vols)
    byname = {p: n for n, p in vols.items()}
    inits = pod.get("initContainers") or []
    ctrs = pod.get("containers") or []
    check("DaemonSet: one init container and one container", len(inits) == 1 and len(ctrs) == 1,
          (len(inits), len(ctrs)))
    init = inits[0] if inits else {}
    agent = ctrs[0] if ctrs else {}
    check("DaemonSet init container: privileged (it mounts bpffs on the node)",
          (init.get("securityContext") or {}).get("privileged") is True, init.get("securityContext"))
    # The agent's memory request holds what it costs (docs/decisions/map-sizes.md:
    # its maps are charged to its cgroup, beside its RSS), and no limit below it.
    ms = read(os.path.join(ROOT, "docs", "decisions", "map-sizes.md"))
    maps = re.search(r"\| \*\*\d+ maps, a node\*\* \|.*\*\*([\d.]+)\*\* \|\s*$", ms, re.M)
    rss = re.search(r"^\| xcnid RSS \|.*\| ([\d.]+) \|\s*$", ms, re.M)
    res = agent.get("resources") or {}
    def mib(v):
        m = re.fullmatch(r"(\d+)(Mi|Gi)", str(v or ""))
        return int(m.group(1)) * (1024 if m.group(2) == "Gi" else 1) if m else 0
    need = float(maps.group(1)) + float(rss.group(1)) if maps and rss else None
    req, lim = mib((res.get("requests") or {}).get("memory")), (res.get("limits") or {}).get("memory")
    check("DaemonSet agent: memory request >= its maps + RSS (map-sizes.md) with a quarter more, "
          "no memory limit", need is not None and req >= need * 1.25 and lim is None,
          (req, need, lim))
    # The agent with least privilege (issue 65 item 6): the lab's list (user/lab/sys.h).
    sc = agent.get("securityContext") or {}
    caps = sc.get("capabilities") or {}
    labcaps = re.search(r"#define LAB_AGENT_CAPS \((.*)\)", read(os.path.join(ROOT, "user", "lab", "sys.h")))
    labcaps = sorted(re.findall(r"CAP_(\w+)", labcaps.group(1))) if labcaps else None
    check("DaemonSet agent: not privileged, no privilege escalation",
          not sc.get("privileged") and sc.get("allowPrivilegeEscalation") is False, sc)
    check("DaemonSet agent: capabilities drop ALL, add exactly the lab's LAB_AGENT_CAPS (no SYS_ADMIN)",
          caps.get("drop") == ["ALL"] and sorted(caps.get("add") or []) == labcaps
          and "SYS_ADMIN" not in (caps.get("add") or []), (caps, labcaps))
    check("DaemonSet agent: read-only root filesystem, seccompProfile RuntimeDefault",
          sc.get("readOnlyRootFilesystem") is True
          and (sc.get("seccompProfile") or {}).get("type") == "RuntimeDefault", sc)
    for what, ct, prop in (("init container", init, "Bidirectional"), ("agent", agent, "HostToContainer")):
        check(f"DaemonSet {what}: image xcni:dev (no registry host)",
              ct.get("image") == "xcni:dev" and not image_has_registry(ct.get("image", "")), ct.get("image"))
        env = {e.get("name"): e for e in ct.get("env") or []}
        check(f"DaemonSet {what}: NODE_NAME from spec.nodeName",
              ((env.get("NODE_NAME") or {}).get("valueFrom") or {}).get("fieldRef", {}).get("fieldPath")
              == "spec.nodeName", env.get("NODE_NAME"))
        mounts = {m.get("name"): m for m in ct.get("volumeMounts") or []}
        bpf = mounts.get(byname.get("/sys/fs/bpf")) or {}
        check(f"DaemonSet {what}: /sys/fs/bpf mounted at /sys/fs/bpf with {prop} propagation",
              bpf.get("mountPath") == "/sys/fs/bpf" and bpf.get("mountPropagation") == prop, bpf)
        check(f"DaemonSet {what}: every mount names a volume", set(mounts) <= set(vols), set(mounts) - set(vols))
    im = {m.get("name"): m.get("mountPath") for m in init.get("volumeMounts") or []}
    check("DaemonSet init container: mounts /opt/cni/bin, /etc/cni/net.d and /run/xcni",
          all(byname.get(p) in im for p in ("/opt/cni/bin", "/etc/cni/net.d", "/run/xcni")), im)
    check("DaemonSet init container: runs the entry point's install",
          (init.get("command") or []) + (init.get("args") or []) == ["/usr/local/bin/xcni-entrypoint", "install"],
          init.get("command"))
    am = {m.get("name"): m.get("mountPath") for m in agent.get("volumeMounts") or []}
    check("DaemonSet agent: mounts /run/xcni where the entry point reads node.env",
          am.get(byname.get("/run/xcni")) == "/run/xcni" and im.get(byname.get("/run/xcni")) == "/run/xcni", (im, am))
    cmd = (agent.get("command") or []) + (agent.get("args") or [])
    check("DaemonSet agent: runs the entry point's agent", cmd[:2] == ["/usr/local/bin/xcni-entrypoint", "agent"], cmd)
    args = cmd[2:]
    pairs = {}
    for i, a in enumerate(args):
        if a.startswith("--") and i + 1 < len(args) and not args[i + 1].startswith("--"):
            pairs[a] = args[i + 1]
    wanted = {"--k8s-api": "in-cluster", "--node-name": "$(NODE_NAME)", "--underlay-dev": "eth0",
              "--metrics-addr": "127.0.0.1:9962", "--log-format": "json"}
    check("DaemonSet agent: xcnid " + " ".join(f"{k} {v}" for k, v in wanted.items()),
          all(pairs.get(k) == v for k, v in wanted.items()), pairs)
    check("DaemonSet agent: --pod-cidr left to the entry point (the node's spec.podCIDR)",
          "--pod-cidr" not in args, args)
    # The underlay address: the Node's own (status.hostIP, its first InternalIP:
    # IPv4 in kind-config.yaml and -dual, IPv6 in -ipv6), not whatever kind's eth0
    # carries (both families in every config). The kubelet expands $(HOST_IP)
    # only when the container's env defines it (else xcnid gets it verbatim).
    check("DaemonSet agent: xcnid --node-ip $(HOST_IP), once",
          pairs.get("--node-ip") == "$(HOST_IP)" and args.count("--node-ip") == 1, args)
    aenv = {e.get("name"): e for e in agent.get("env") or []}
    check("DaemonSet agent: HOST_IP from the downward API's status.hostIP",
          ((aenv.get("HOST_IP") or {}).get("valueFrom") or {}).get("fieldRef", {}).get("fieldPath") == "status.hostIP"
          and "value" not in (aenv.get("HOST_IP") or {}), aenv.get("HOST_IP"))
    # Every option the agent passes is one xcnid has (user/agent/xcnid_opts.c's option table).
    src = read(os.path.join(ROOT, "user", "agent", "xcnid_opts.c"))
    # xopts[]: { "name", 'c' or a number, ARG or NULL, help } (one table for getopt and --help)
    longopts = set(re.findall(r'\{\s*"([a-z0-9-]+)"\s*,\s*(?:\'.\'|\d+)\s*,', src))
    for a in args:
        if not a.startswith("--"):
            continue
        o = a[2:].split("=", 1)[0]
        if o in longopts:
            out("ok", f"DaemonSet agent: xcnid has --{o}")
        elif o in ("k8s-api", "kubeconfig"):
            out("skip", f"DaemonSet agent: xcnid has --{o}", "the Kubernetes API backend is not in user/agent/xcnid_opts.c yet")
        else:
            out("not ok", f"DaemonSet agent: xcnid has --{o}", f"not in user/agent/xcnid_opts.c's options {sorted(longopts)}")
    probe = (agent.get("readinessProbe") or {}).get("httpGet") or {}
    # Ready means this container's agent applied a generation, not that a pin
    # (which outlives the agent) exists: xcnid's own /readyz, where
    # --metrics-addr serves it (the node's loopback: the kubelet's probe of a
    # host-network pod comes from the node).
    maddr = pairs.get("--metrics-addr") or ""
    check("DaemonSet agent: readinessProbe is xcnid's GET /readyz on --metrics-addr (%s)" % maddr,
          probe.get("path") == "/readyz" and maddr == "%s:%s" % (probe.get("host"), probe.get("port"))
          and not (agent.get("readinessProbe") or {}).get("exec"), probe)
    ep = read(os.path.join(KIND, "entrypoint.sh"))
    check("entrypoint.sh ready: xcnid is PID 1 and xcni_config's applied_gen > 0",
          "/proc/1/comm" in ep and "applied_gen" in ep, "do_ready changed")
    ports = [p.get("containerPort") for p in agent.get("ports") or []]
    check("DaemonSet agent: port 9962 (metrics) declared", 9962 in ports, ports)

    check_metrics(docs, ds)
    check_flows(docs, ds)

    # 5a. Without kube-proxy: the second config and the DaemonSet variant.
    check_kpr(docs, ds, role)
    # 5b'. Dual stack and IPv6-only: two more configs, the same manifests.
    check_families(docs)

    # 5b''. kubectl reads YAML 1.1 (sigs.k8s.io/yaml over go-yaml v2), where a
    # bare y, n, yes, no, on, off is a boolean: "namespace: y" reaches the API
    # server as true and is refused ("expects \" or n, but found t"). Every
    # name, namespace, label and selector value of the manifests a user
    # applies with kubectl is a string as PyYAML (YAML 1.1 too) reads it.
    def not_strings(d, path=""):
        bad = []
        if isinstance(d, dict):
            for k, v in d.items():
                p = f"{path}.{k}"
                if k in ("name", "namespace") or path.endswith(("labels", "matchLabels", "selector", "nodeSelector")) \
                        or (k == "values" and isinstance(v, list)):
                    vals = v if isinstance(v, list) else [v]
                    bad += [f"{p}: {x!r}" for x in vals if isinstance(x, bool)]
                bad += not_strings(v, p)
        elif isinstance(d, list):
            for i, v in enumerate(d):
                bad += not_strings(v, f"{path}[{i}]")
        return bad
    class Yaml11(yaml.SafeLoader):  # go-yaml v2's booleans: PyYAML's and y, Y, n, N
        bool_values = dict(yaml.SafeLoader.bool_values, y=True, n=False)
    Yaml11.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"), list("yYnN"))
    for p in sorted(glob.glob(os.path.join(KIND, "*.yaml")) + glob.glob(os.path.join(ROOT, "examples", "lab", "*.yaml"))):
        bad = [b for d in yaml.load_all(read(p), Loader=Yaml11) if d for b in not_strings(d)]
        check(f"{os.path.relpath(p, ROOT)}: names, namespaces and labels are strings to kubectl's YAML 1.1 (a bare y is true)",
              not bad, bad[:4])

    # 5b. The pods for examples/lab's policies: what 30-allow.yaml selects exists.
    pods = docs.get("netpol-pods.yaml", [])
    labdir = os.path.join(ROOT, "examples", "lab")
    labns = set()
    if os.path.exists(os.path.join(labdir, "00-namespaces.yaml")):
        labns = {(d.get("metadata") or {}).get("name")
                 for d in yaml.safe_load_all(read(os.path.join(labdir, "00-namespaces.yaml"))) if d}
    check("netpol-pods.yaml: v1 Pods in namespaces of examples/lab/00-namespaces.yaml",
          pods and all(p.get("kind") == "Pod" and p.get("apiVersion") == "v1"
                       and (p.get("metadata") or {}).get("namespace") in labns for p in pods),
          [(p.get("kind"), (p.get("metadata") or {}).get("namespace")) for p in pods])
    pmap = {((p.get("metadata") or {}).get("namespace"), (p.get("metadata") or {}).get("name")): p for p in pods}
    xa = pmap.get(("x", "a")) or {}
    xa_ports = [pt.get("name") for c in (xa.get("spec") or {}).get("containers") or [] for pt in c.get("ports") or []]
    check("netpol-pods.yaml: x/a (pod=a) serves serve-80-tcp and y/b is pod=b, as 30-allow.yaml selects",
          ((xa.get("metadata") or {}).get("labels") or {}).get("pod") == "a" and "serve-80-tcp" in xa_ports
          and (((pmap.get(("y", "b")) or {}).get("metadata") or {}).get("labels") or {}).get("pod") == "b",
          (xa_ports, list(pmap)))

    # 6. The Dockerfile.
    dpath = os.path.join(KIND, "Dockerfile")
    df = read(dpath)
    lines = re.sub(r"\\\n", " ", df).splitlines()
    instr = [l.strip() for l in lines if l.strip() and not l.strip().startswith("#")]
    froms = [l.split()[1:] for l in instr if l.split()[0].upper() == "FROM"]
    check("Dockerfile: two FROM stages, debian:bookworm (build) then debian:bookworm-slim",
          len(froms) == 2 and froms[0][0] == "debian:bookworm" and froms[1][0] == "debian:bookworm-slim",
          froms)
    check("Dockerfile: no image from a registry host", not any(image_has_registry(f[0]) for f in froms), froms)
    runs = [l for l in instr if l.split()[0].upper() in ("RUN", "ADD", "ENTRYPOINT", "CMD")]
    dl = [l for l in runs if re.search(r"\b(wget|curl)\b[^|;&]*\bhttps?://|\bwget\b|^ADD\s+\S*https?://", l)]
    check("Dockerfile: nothing fetched with curl/wget/ADD URL", not dl, dl)
    for stage, body in enumerate(re.split(r"(?m)^FROM ", df)[1:]):
        check(f"Dockerfile stage {stage + 1}: bookworm-backports derived from the image's own sources",
              "imagetool.sh backports" in body, "no imagetool.sh backports")
    check("Dockerfile: make all in the build stage", re.search(r"\bmake\b[^&]*\ball\b", df) is not None)
    check("Dockerfile: host-local, loopback and portmap from containernetworking-plugins",
          "containernetworking-plugins" in df and all(f"/usr/lib/cni/{p}" in df for p in ("host-local", "loopback", "portmap")))
    check("Dockerfile: libbpf and bpftool from bookworm-backports",
          re.search(r"-t bookworm-backports[^&]*libbpf-dev[^&]*bpftool", df) is not None)
    check("Dockerfile: runtime stage has xcni, xcnid, xcnictl and the entry point",
          all(f"build/{b}" in df for b in ("xcni", "xcnid", "xcnictl")) and "xcni-entrypoint" in df)
    # Every COPY source exists and gets through Dockerfile.dockerignore.
    ign = os.path.join(KIND, "Dockerfile.dockerignore")
    allow = [l[1:].strip() for l in read(ign).splitlines() if l.startswith("!")] if os.path.exists(ign) else None
    for l in instr:
        w = l.split()
        if w[0].upper() != "COPY" or any(x.startswith("--from") for x in w):
            continue
        for s in w[1:-1]:
            check(f"Dockerfile: COPY {s} exists", os.path.exists(os.path.join(ROOT, s)), s)
            if allow is not None:
                check(f"Dockerfile.dockerignore lets {s} through", s in allow, allow)
    # Build dependencies: each pkg-config module of the Makefile has its -dev
    # package in the Dockerfile (found through dpkg on this machine).
    mk = read(os.path.join(ROOT, "Makefile"))
    m = re.search(r"(?m)^PKGS\s*:?=\s*(.*)$", mk)
    for mod in (m.group(1).split() if m else []):
        pcs = glob.glob(f"/usr/lib/*/pkgconfig/{mod}.pc") + glob.glob(f"/usr/lib/pkgconfig/{mod}.pc") + \
            glob.glob(f"/usr/share/pkgconfig/{mod}.pc")
        pkg = None
        for pc in pcs:
            r = subprocess.run(["dpkg-query", "-S", pc], capture_output=True, text=True)
            if r.returncode == 0:
                pkg = r.stdout.split(":")[0]
                break
        if not pkg:
            out("skip", f"Dockerfile: builds with pkg-config module {mod}", "no .pc file of a Debian package here")
            continue
        check(f"Dockerfile: installs {pkg} (pkg-config {mod} in the Makefile)",
              re.search(rf"(?<![\w.+-]){re.escape(pkg)}(?![\w.+-])", df) is not None, f"{pkg} not in the Dockerfile")

    # 7. No file under examples/kind names a registry or a mirror.
    for p in sorted(glob.glob(os.path.join(KIND, "*"))):
        t = read(p)
        hosts = [h for h in REGISTRY_HOSTS if re.search(rf"(?<![\w.-]){re.escape(h)}\b", t)]
        lit = re.findall(r"https?://([A-Za-z0-9][A-Za-z0-9.-]*)", t)
        imgs = [i for i in re.findall(r"(?m)^\s*-?\s*image:\s*[\"']?([^\s\"']+)", t) if image_has_registry(i)]
        check(f"{os.path.relpath(p, ROOT)}: names no registry, mirror or URL host",
              not hosts and not lit and not imgs, hosts + lit + imgs)

    # 8. The resources the API backend requests have a matching rule (and the
    # rules hold nothing it does not request).
    srcs = sorted(glob.glob(os.path.join(ROOT, "user", "lib", "cluster", "k8sapi*.c")))
    if not srcs:
        out("skip", "ClusterRole covers the API paths of user/lib/cluster/k8sapi.c", "user/lib/cluster/k8sapi.c does not exist yet")
    else:
        code = "".join(read(s) for s in srcs)
        # The kinds it watches are paths of k8s.c's table of kinds (k8s_kinds[]).
        kinds = os.path.join(ROOT, "user", "lib", "cluster", "k8s.c")
        km = re.search(r"k8s_kinds\[[^]]*\]\s*=\s*\{.*?\n\};", read(kinds), re.S) if os.path.exists(kinds) else None
        if km:
            code += km.group(0)
            srcs.append(kinds)
        code = re.sub(r"/\*.*?\*/", " ", code, flags=re.S)
        code = re.sub(r"(?m)(^|[ \t;{}])//[^\n]*", " ", code)  # not what comments say
        used, unknown, gets = set(), [], set()
        for lit in re.findall(r'"(/apis?/[^"]*)"', code):
            parts = [x for x in lit.split("?", 1)[0].split("/") if x]
            if parts[0] == "api" and len(parts) >= 2:
                group, rest = "", parts[2:]
            elif parts[0] == "apis" and len(parts) >= 3:
                group, rest = parts[1], parts[3:]
            else:
                unknown.append(lit)
                continue
            if len(rest) >= 3 and rest[0] == "namespaces":
                rest = rest[2:]  # /namespaces/NS/<resource>
            if not rest:
                continue  # a discovery or prefix literal, completed elsewhere
            if rest[0].startswith("%"):
                unknown.append(lit)
                continue
            used.add((group, rest[0]))
            if len(rest) >= 2:
                gets.add((group, rest[0]))
        name = ", ".join(os.path.relpath(s, ROOT) for s in srcs)
        check(f"{name}: the API paths it requests are readable here", used and not unknown,
              f"paths this test cannot read: {unknown}" if unknown else "no /api or /apis path found")
        # xcnid in its widest mode (--kube-proxy-replacement): xcni.yaml's role with kpr-rbac.yaml.
        kgrants, _ = role_grants(kpr_role(docs, role) or role)
        kgrants -= EVENT_GRANTS
        kres = {(g, r) for g, r, _ in kgrants}
        for g, r in sorted(used):
            need = {"list", "watch"} | ({"get"} if (g, r) in gets else set())
            have = {v for gg, rr, v in kgrants if (gg, rr) == (g, r)}
            check(f"ClusterRole (with kpr-rbac.yaml) grants {'/'.join(sorted(need))} on {g or 'core'}/{r} ({name} requests it)",
                  need <= have, f"granted {sorted(have)}")
        check(f"ClusterRole (with kpr-rbac.yaml) holds only resources {name} requests", kres <= used,
              sorted(kres - used))
    readme_checks(docs)
    return 0


def readme_checks(docs):
    """9. docs/kind.md (the kind guide README.md points to) against the files it describes."""
    readme = read(os.path.join(ROOT, "docs", "kind.md"))
    ep = read(os.path.join(KIND, "entrypoint.sh"))
    df = read(os.path.join(KIND, "Dockerfile"))
    ds = [o for o in docs.get("xcni.yaml", []) if o.get("kind") == "DaemonSet"]
    cs = ((((ds[0] if ds else {}).get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or [{}]
    args = [str(a) for a in cs[0].get("args") or []]
    # The command line docs/kind.md shows is the manifest's, word for word (the entry
    # point adds --pod-cidr/--pod-cidr6 in front).
    m = re.search(r"^xcnid --pod-cidr <the node's> (.*)$", readme, re.M)
    check("docs/kind.md: the kind agent's xcnid command line equals xcni.yaml's args",
          m is not None and m.group(1).split() == args,
          f"docs/kind.md: {m.group(1).split() if m else 'no line starting xcnid --pod-cidr <the node' + chr(39) + 's>'}; xcni.yaml: {args}")
    # A user's order (issue 39): prerequisites, install, status, the
    # connectivity test, flows and the map; then the internals, the uninstall.
    heads = [h.lower() for h in re.findall(r"^## (.*)$", readme, re.M)]
    want = ["prerequisites", "install", "xcnictl status", "connectivity test",
            "flows", "how it is put together", "uninstall"]
    pos = [next((i for i, h in enumerate(heads) if w in h), -1) for w in want]
    check("docs/kind.md: its sections in a user's order: " + ", ".join(want),
          -1 not in pos and pos == sorted(pos), f"sections: {heads}")
    pre = readme.split("## Prerequisites", 1)[-1].split("\n## ", 1)[0]
    check("docs/kind.md: the prerequisites name Docker, kind, kubectl and the kernel with its check",
          all(w in pre for w in ("Docker", "kind", "kubectl", "Linux 5.13", "uname -r")), pre[:200])
    # The conflist's name sorts before the ones a kind node may already have.
    cm = re.search(r"^CONFLIST=(\S+)$", ep, re.M)
    name = cm.group(1) if cm else ""
    others = ["10-kindnet.conflist", "10-calico.conflist", "10-flannel.conflist", "87-podman-bridge.conflist"]
    check(f"entrypoint.sh: the conflist ({name}) sorts before {', '.join(others)} (the runtime takes the first)",
          name and all(name < o for o in others), name)
    check(f"docs/kind.md: names {name} and says what happens to other conflists",
          name in readme and "10-kindnet.conflist" in readme, "not in docs/kind.md")
    # Every command docs/kind.md runs in the image (kubectl exec into ds/xcni or an
    # xcni pod) is there: a binary the Dockerfile copies, or a package it installs.
    final = df.rsplit("\nFROM ", 1)[-1]
    copied = set()
    for line in final.splitlines():
        if line.startswith("COPY --from=build") and line.rstrip().endswith("/usr/local/bin/"):
            copied |= {os.path.basename(x) for x in line.split()[2:-1]}
    pkg = {"nft": "nftables", "curl": "curl", "jq": "jq", "ip": "iproute2", "tc": "iproute2",
           "bpftool": "bpftool", "tcpdump": "tcpdump"}
    base = {"ls", "cat", "sh", "bash", "sleep", "test", "env"}
    cmds = set(re.findall(r"exec\s+(?:-it\s+)?(?:ds/xcni|\"\$\(xcni_on [^)]*\)\")\s+(?:-c\s+\S+\s+)?--\s+([\w.-]+)", readme))
    check("docs/kind.md: runs commands inside the xcni image (kubectl exec ... -- CMD) that this test sees",
          len(cmds) > 0, "none found")
    for c in sorted(cmds):
        have = c in copied or c in base or (c in pkg and re.search(rf"\b{pkg[c]}\b", final))
        check(f"docs/kind.md runs `{c}` in the image: the Dockerfile's final stage has it",
              bool(have), f"copied {sorted(copied)}; {c}: package {pkg.get(c, '?')} not installed")


if __name__ == "__main__":
    sys.exit(main())
