#!/usr/bin/python3
# The conformance suite's judge (tests/lab/cnpconf.sh): what every probed pair
# should do, worked out from the policies the suite applied, read as the
# network-policy-api v1alpha2 text has it, and compared with `lab matrix`.
#
#   conf.py check MATRIX.json LAB.json CLUSTER.yaml POLICY.yaml... [-- POKE...]
#
# MATRIX.json: `xcnictl lab matrix PORT/PROTO --json` (both families in a dual
# stack lab); LAB.json: `xcnictl lab get --json` (nodes, pods, their IPs and
# ports, hostNetwork); CLUSTER.yaml: the Namespaces, Pods and Nodes applied
# (labels, named ports); POLICY.yaml: the ClusterNetworkPolicies and
# NetworkPolicies in force. POKE: "g0>h1:80/tcp=y" (poke_parse), a probe
# upstream's case makes and what it says of it, checked as written
# (independent of this evaluator; those of other ports are skipped).
#
# The model, from the API's text:
# - a connection passes when the source's egress and the destination's ingress
#   both allow it; a hostNetwork pod is its node: no policy of its own, and as
#   a peer only `nodes` and `networks` (its node's addresses) match it, never
#   `namespaces` or `pods`;
# - per direction: the Admin tier by (priority, name), each policy's rules in
#   order, first match wins (Accept and Deny final, Pass ends the tier); then
#   NetworkPolicy (a pod one selects for that direction is isolated: only its
#   rules' peers pass); then the Baseline tier the same way (Pass: allowed);
#   else allowed;
# - NetworkPolicy: traffic to and from the pod's own node is always allowed
#   (the tiers' `nodes` and `networks` peers do match it);
# - a named port is the destination pod's (containerPorts with that name);
# - a pod reaches itself whatever the policy (never leaves its netns), and
#   nothing answers on a port the destination does not serve.
# Prints the mismatches as a table; exit 0 when none.
import ipaddress
import json
import sys

import yaml


def load_all(paths):
    docs = []
    for p in paths:
        with open(p) as f:
            docs += [d for d in yaml.safe_load_all(f) if d]
    return docs


def sel_match(sel, labels):
    """A LabelSelector against labels; None (absent) matches nothing, {} everything."""
    if sel is None:
        return False
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


class Cluster:
    def __init__(self, lab, docs):
        self.ns_labels = {}
        self.pod_labels = {}
        self.pod_ports = {}  # name -> [(name, proto, port)]
        self.node_labels = {}
        for d in docs:
            md = d.get("metadata", {})
            if d["kind"] == "Namespace":
                lab_ = dict(md.get("labels") or {})
                lab_["kubernetes.io/metadata.name"] = md["name"]
                self.ns_labels[md["name"]] = lab_
            elif d["kind"] == "Pod":
                key = md["namespace"] + "/" + md["name"]
                self.pod_labels[key] = md.get("labels") or {}
                ports = []
                for c in d["spec"].get("containers", []):
                    for p in c.get("ports") or []:
                        ports.append((p.get("name"), p.get("protocol", "TCP").lower(), p["containerPort"]))
                self.pod_ports[key] = ports
            elif d["kind"] == "Node":
                self.node_labels[md["name"]] = md.get("labels") or {}
        self.nodes = {}
        for n in lab["nodes"]:
            self.node_labels.setdefault(n["name"], {}).setdefault("kubernetes.io/hostname", n["name"])
            self.nodes[n["name"]] = n
        self.pods = {p["namespace"] + "/" + p["name"]: p for p in lab["pods"]}

    def served(self, d, proto, port):
        p = self.pods[d]
        return f"{port}/{proto}" in (p.get("ports") or "").split(",")

    def addr(self, key, fam):
        p = self.pods[key]
        return ipaddress.ip_address(p["ip6"] if fam == "6" else p["ip"])


class Judge:
    def __init__(self, cl, pols):
        self.cl = cl
        self.cnp = {"Admin": [], "Baseline": []}
        self.np = []
        for d in pols:
            if d["kind"] == "ClusterNetworkPolicy":
                self.cnp[d["spec"]["tier"]].append(d)
            elif d["kind"] == "NetworkPolicy":
                self.np.append(d)
        for t in self.cnp.values():
            t.sort(key=lambda d: (d["spec"]["priority"], d["metadata"]["name"]))

    def selects(self, subj, pod):
        """A CNP subject selects pod (never a hostNetwork one)."""
        cl = self.cl
        ns = pod.split("/")[0]
        if cl.pods[pod].get("hostNetwork"):
            return False
        if "namespaces" in subj:
            return sel_match(subj["namespaces"], cl.ns_labels[ns])
        s = subj["pods"]
        return sel_match(s["namespaceSelector"], cl.ns_labels[ns]) and \
            sel_match(s["podSelector"], cl.pod_labels[pod])

    def peer_matches(self, peer, other, fam):
        cl = self.cl
        o = cl.pods[other]
        ns = other.split("/")[0]
        if "networks" in peer:
            a = cl.addr(other, fam)
            return any(a in ipaddress.ip_network(n, strict=False) for n in peer["networks"]
                       if ipaddress.ip_network(n, strict=False).version == a.version)
        if o.get("hostNetwork"):
            return "nodes" in peer and sel_match(peer["nodes"], cl.node_labels[o["node"]])
        if "namespaces" in peer:
            return sel_match(peer["namespaces"], cl.ns_labels[ns])
        if "pods" in peer:
            return sel_match(peer["pods"]["namespaceSelector"], cl.ns_labels[ns]) and \
                sel_match(peer["pods"]["podSelector"], cl.pod_labels[other])
        return False

    def ports_match(self, rule, dst, proto, port):
        if not rule.get("protocols"):
            return True
        for pr in rule["protocols"]:
            if "destinationNamedPort" in pr:
                if any(n == pr["destinationNamedPort"] and pp == proto and num == port
                       for n, pp, num in self.cl.pod_ports.get(dst, [])):
                    return True
                continue
            if proto not in pr:
                continue
            dp = (pr[proto] or {}).get("destinationPort")
            if dp is None:
                return True
            if "number" in dp and dp["number"] == port:
                return True
            if "range" in dp and dp["range"]["start"] <= port <= dp["range"]["end"]:
                return True
        return False

    def tier(self, name, pod, other, dst, ingress, proto, port, fam):
        """'Accept', 'Deny', 'Pass' or None (no rule matched)."""
        for pol in self.cnp[name]:
            sp = pol["spec"]
            if not self.selects(sp["subject"], pod):
                continue
            for rule in sp.get("ingress" if ingress else "egress") or []:
                peers = rule.get("from" if ingress else "to") or []
                if any(self.peer_matches(p, other, fam) for p in peers) and \
                        self.ports_match(rule, dst, proto, port):
                    return rule["action"]
        return None

    def np_verdict(self, pod, other, ingress, proto, port):
        """None: no NetworkPolicy isolates pod that way; else allowed or not."""
        cl = self.cl
        ns = pod.split("/")[0]
        kind = "Ingress" if ingress else "Egress"
        isolated, allowed = False, False
        for d in self.np:
            if d["metadata"]["namespace"] != ns:
                continue
            sp = d["spec"]
            if not sel_match(sp.get("podSelector") or {}, cl.pod_labels[pod]):
                continue
            types = sp.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in sp else []))
            if kind not in types:
                continue
            isolated = True
            for rule in sp.get("ingress" if ingress else "egress") or []:
                if rule.get("ports"):
                    if not any(p.get("protocol", "TCP").lower() == proto and p.get("port") in (None, port)
                               for p in rule["ports"]):
                        continue
                peers = rule.get("from" if ingress else "to")
                if peers is None:
                    allowed = True
                    continue
                o = cl.pods[other]
                for p in peers:
                    if o.get("hostNetwork"):
                        continue
                    ons = other.split("/")[0]
                    nsok = sel_match(p["namespaceSelector"], cl.ns_labels[ons]) if "namespaceSelector" in p \
                        else ons == ns
                    podok = sel_match(p["podSelector"], cl.pod_labels[other]) if "podSelector" in p else True
                    if ("namespaceSelector" in p or "podSelector" in p) and nsok and podok:
                        allowed = True
        if not isolated:
            return None
        if cl.pods[other].get("hostNetwork") and cl.pods[other]["node"] == cl.pods[pod]["node"]:
            return True
        return allowed

    def direction(self, pod, other, dst, ingress, proto, port, fam):
        if self.cl.pods[pod].get("hostNetwork"):
            return True
        a = self.tier("Admin", pod, other, dst, ingress, proto, port, fam)
        if a in ("Accept", "Deny"):
            return a == "Accept"
        n = self.np_verdict(pod, other, ingress, proto, port)
        if n is not None:
            return n
        b = self.tier("Baseline", pod, other, dst, ingress, proto, port, fam)
        return b != "Deny"

    def want(self, s, d, proto, port, fam):
        if not self.cl.served(d, proto, port):
            return False
        if s == d:
            return True
        return self.direction(s, d, d, False, proto, port, fam) and \
            self.direction(d, s, d, True, proto, port, fam)


# A poke as upstream's case writes it, shortened: "g0>h1:80/tcp=y" is
# gryffindor/harry-potter-0 to hufflepuff/cedric-diggory-1 on 80/TCP, connected.
SHORT = {"g": "gryffindor/harry-potter-", "s": "slytherin/draco-malfoy-", "h": "hufflepuff/cedric-diggory-",
         "r": "ravenclaw/luna-lovegood-", "c": "forbidden-forrest/centaur-"}


def poke_parse(pk):
    pair, rest = pk.split(":")
    pp, yes = rest.split("=")
    s, d = (SHORT[x[0]] + x[1:] for x in pair.split(">"))
    return s, d, pp, yes == "y"


def table(tag, pods, rows, wrong):
    width = max(len(p) for p in pods)
    print(f"# {tag}probed; '.' connected, 'X' blocked, wrong cells in brackets")
    for s in pods:
        cells = []
        for d in pods:
            c = "." if rows[s][d] else "X"
            cells.append(("[" + c + "]" if (s, d) in wrong else c).rjust(3))
        print("# " + s.ljust(width) + " " + "".join(cells))


def main():
    argv = sys.argv[2:]
    pokes = []
    if "--" in argv:
        i = argv.index("--")
        pokes = argv[i + 1:]
        argv = argv[:i]
    matrix = json.load(open(argv[0]))
    lab = json.load(open(argv[1]))
    cl = Cluster(lab, load_all([argv[2]]))
    judge = Judge(cl, load_all(argv[3:]))
    proto, port = matrix["protocol"], matrix["port"]
    fams = matrix.get("families") or {"4" if lab["pods"][0]["ip"] else "6": matrix}
    pods = matrix["pods"]
    bad = 0
    cells = npokes = 0
    for fam in sorted(fams):
        rows, answers = fams[fam]["rows"], fams[fam].get("answers", {})
        wrong = []
        for s in pods:
            for d in pods:
                want = judge.want(s, d, proto, port, fam)
                got = rows[s][d]
                cells += 1
                if got != want:
                    wrong.append((s, d, f"expected {'connected' if want else 'blocked'}, probed "
                                  f"{'connected' if got else 'blocked'}"))
                elif got and proto == "tcp" and answers.get(s, {}).get(d) != d:
                    wrong.append((s, d, f"answered by {answers.get(s, {}).get(d)}"))
        for pk in pokes:
            s, d, pp, yes = poke_parse(pk)
            if pp != f"{port}/{proto}":
                continue
            npokes += 1
            if rows[s][d] != yes:
                wrong.append((s, d, f"upstream's case says {'connected' if yes else 'blocked'}"))
        if wrong:
            bad = 1
            table(f"IPv{fam} {port}/{proto}: ", pods, rows, {(s, d) for s, d, _ in wrong})
            for s, d, why in wrong:
                print(f"# IPv{fam} {s} -> {d} {port}/{proto}: {why}")
    print(f"# {port}/{proto}: {cells} cells, {npokes} of upstream's probes")
    return bad


if __name__ == "__main__":
    sys.exit(main())
