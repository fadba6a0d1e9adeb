// SPDX-License-Identifier: Apache-2.0
/*
 * explain's core (explain.h): the policy verdict on a new flow, walked as
 * the programs walk it. It walks the lookups bpf/lib/policy.h makes for a
 * new flow, in the same order and with the same shortcuts, on the live maps:
 * what it says is what the programs would do with the flow's first packet
 * now, not what the manifests mean. Each side is decided by the node its pod
 * lives on, with that node's maps. Here, not in lib/observe: it is the
 * policy maps' reader, beside the names (polsync), the learned addresses
 * (fqdn_plan) and the near misses (nearmiss) it names.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "lib/observe/explain.h"
#include "lib/observe/flows.h"
#include "lib/policy/fqdn_plan.h"
#include "lib/policy/polsync.h"
#include "lib/system/bpfpin.h"
#include "lib/system/cidr.h"
#include "lib/system/proto.h"
#include "lib/system/util.h"

/* An error said where the caller reads it (explain_maps_open's why). */
static void say(const struct node_maps *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct node_maps *m, const char *fmt, ...)
{
	va_list ap;

	if (!m->why)
		return;
	va_start(ap, fmt);
	vsnprintf(m->why, m->whylen, fmt, ap);
	va_end(ap);
}

/* An address of either family into a (16 bytes): XCNI_AF_INET, XCNI_AF_INET6, or 0. */
static __u8 addr_parse(const char *s, __u8 a[16])
{
	memset(a, 0, 16);
	if (inet_pton(AF_INET, s, a) == 1)
		return XCNI_AF_INET;
	return inet_pton(AF_INET6, s, a) == 1 ? XCNI_AF_INET6 : 0;
}

const char *xcni_reserved_identity(__u32 id)
{
	switch (id) {
	case XCNI_ID_HOST: return "reserved:host";
	case XCNI_ID_WORLD: return "reserved:world";
	case XCNI_ID_UNMANAGED: return "reserved:unmanaged";
	case XCNI_ID_REMOTE_NODE: return "reserved:remote-node";
	}
	return NULL;
}

int explain_port_proto(const char *s, __u8 *proto, __u16 *port)
{
	static const struct { const char *name; __u8 proto; } protos[] = {
		{ "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP }, { "sctp", IPPROTO_SCTP },
	};
	const char *sl = strchr(s, '/');
	unsigned long v;
	char *end;

	if (!strcasecmp(s, "icmp")) {
		*proto = IPPROTO_ICMP;
		*port = 0;
		return 0;
	}
	if (!sl || s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end != sl || v < 1 || v > 65535)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(protos); i++)
		if (!strcasecmp(sl + 1, protos[i].name)) {
			*proto = protos[i].proto;
			*port = (__u16)v;
			return 0;
		}
	return -EINVAL;
}

unsigned int xcni_isolating_policies(int selfd, int namefd, __u32 ip, __u8 dir, bool json, char *buf,
				size_t len)
{
	struct xcni_polsel s;
	char name[340];
	size_t off = 0;
	unsigned int i, kept;

	buf[0] = '\0';
	if (selfd < 0 || dir >= XCNI_NR_POLICY_DIRS || bpf_map_lookup_elem(selfd, &ip, &s) ||
	    !s.n[dir])
		return 0;
	kept = s.n[dir] < XCNI_POLSEL_IDS ? s.n[dir] : XCNI_POLSEL_IDS;
	for (i = 0; i < kept && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s", !i ? "" : json ? "," : ", ",
				policy_name(namefd, s.ids[dir][i], name, sizeof(name)));
	if (!json && s.n[dir] > kept && off < len)
		snprintf(buf + off, len - off, " and %u more", s.n[dir] - kept);
	return s.n[dir];
}

/* A node's maps by pin name: the first six explain cannot do without; the
 * rest name things, or are IPv6's (an IPv6 end without them is refused
 * where it is resolved). */
static const struct {
	const char *name;
	size_t off;
} node_map_pins[] = {
#define NM(n, f) { "xcni_" n, offsetof(struct node_maps, f) }
	NM("ipcache", ipcache), NM("podname", podname), NM("polep", polep),
	NM("policy", policy), NM("polrange", polrange), NM("polcidr", polcidr),
	NM("polname", polname), NM("identity", identity), NM("polsel", polsel),
	NM("rulename", rulename), NM("ipcache6", ipcache6), NM("polkey6", k6.polkey6),
	NM("endpoints6", k6.endpoints6), NM("ifindex", k6.ifindex), NM("tunnel", tunnel),
	NM("tunnel6", tunnel6), NM("endpoints", endpoints), NM("fqdn", fqdn),
	NM("fqdn_pat", fqdn_pat),
#undef NM
};
#define NODE_MAP_FD(m, i) (*(int *)((char *)(m) + node_map_pins[i].off))

void explain_maps_close(struct node_maps *m)
{
	for (size_t i = 0; i < ARRAY_SIZE(node_map_pins); i++)
		xcni_close(&NODE_MAP_FD(m, i));
}

int explain_maps_open(const char *dir, struct node_maps *m, node_map_open_fn *opener, char *why,
		   size_t len)
{
	static const __u8 none6[16];
	struct xcni_config cfg;
	__u32 zero = 0;
	int fd, err;

	memset(m, 0, sizeof(*m));
	m->dir = dir;
	m->why = why;
	m->whylen = len;
	why[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(node_map_pins); i++)
		NODE_MAP_FD(m, i) = -1;
	fd = opener ? opener(dir, "xcni_config", false) : xcni_pin_get(dir, "xcni_config");
	if (fd < 0) {
		if (!opener)
			say(m, "%s/xcni_config: %s", dir, strerror(-fd));
		return fd;
	}
	err = bpf_map_lookup_elem(fd, &zero, &cfg) ? -errno : 0;
	close(fd);
	if (err) {
		say(m, "%s/xcni_config: lookup: %s", dir, strerror(-err));
		return err;
	}
	snprintf(m->node, sizeof(m->node), "%.*s",
		 (int)strnlen(cfg.node_name, sizeof(cfg.node_name)), cfg.node_name);
	m->pod_cidr = cfg.pod_cidr;
	m->enforcing = cfg.flags & XCNI_CFG_F_POLICY;
	m->pod_cidr_len = cfg.pod_cidr_len;
	m->ul4 = cfg.underlay_ifindex && cfg.node_ip;
	m->ul6 = cfg.underlay_ifindex && memcmp(cfg.node_ip6, none6, 16);
	for (size_t i = 0; i < ARRAY_SIZE(node_map_pins); i++) {
		fd = opener ? opener(dir, node_map_pins[i].name, i >= 6)
			    : xcni_pin_get(dir, node_map_pins[i].name);
		if (fd < 0 && i < 6) {
			if (!opener)
				say(m, "%s/%s: %s", dir, node_map_pins[i].name, strerror(-fd));
			explain_maps_close(m);
			return fd;
		}
		NODE_MAP_FD(m, i) = fd < 0 ? -1 : fd;
	}
	return 0;
}

/*
 * The node whose pod CIDR holds ip (this one, or one it tunnels to), into
 * node; false if none does.
 */
static bool pod_cidr_node(const struct node_maps *m, __u32 ip, char *node, size_t len)
{
	/* tunnel6: the nodes behind the IPv6 underlay (an agent before ABI 9 has none). */
	const int fds[] = { m->tunnel, m->tunnel6 };
	struct xcni_tunnel tn;
	__u8 key[16];

	if (m->pod_cidr_len && xcni_in_prefix4(ip, m->pod_cidr, m->pod_cidr_len)) {
		snprintf(node, len, "%s", m->node);
		return true;
	}
	/* Each walk: the kernel reads a key before it writes the next, one buffer for both. */
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		for (void *prev = NULL; fds[i] >= 0 && !bpf_map_get_next_key(fds[i], prev, key);
		     prev = key) {
			if (!bpf_map_lookup_elem(fds[i], key, &tn) && tn.pod_cidr_len &&
			    xcni_in_prefix4(ip, tn.pod_cidr, tn.pod_cidr_len)) {
				snprintf(node, len, "%.*s", (int)strnlen(tn.node, sizeof(tn.node)),
					 tn.node);
				return true;
			}
		}
	return false;
}

/*
 * SRC or DST: a pod by name or an address, which must be in the ipcache.
 * The ipcache's 0.0.0.0/0 makes every address "world", which is right for
 * the internet (ipBlock rules are about it) but not for an address in a pod
 * CIDR: no pod has it, the programs drop it (drop-unknown-dst), and it is
 * most likely a typo.
 */
/* A pod's name and node from podname under key (its IPv4, or its IPv6's policy key). */
static void end_podname(const struct node_maps *m, __u32 key, struct flow_end *e)
{
	struct xcni_podname pn;

	if (!key || bpf_map_lookup_elem(m->podname, &key, &pn))
		return;
	e->is_pod = true;
	snprintf(e->pod, sizeof(e->pod), "%.*s/%.*s", (int)strnlen(pn.ns, sizeof(pn.ns)), pn.ns,
		 (int)strnlen(pn.name, sizeof(pn.name)), pn.name);
	snprintf(e->node, sizeof(e->node), "%.*s", (int)strnlen(pn.node, sizeof(pn.node)),
		 pn.node);
}

/* The IPv6 ipcache entry of a (longest prefix); a miss is world, as in the programs. */
static int ipcache6_get(const struct node_maps *m, const __u8 a[16], struct xcni_ipcache_val *v)
{
	struct xcni_ipcache6_key k = { .prefixlen = 128 };

	memcpy(k.addr, a, 16);
	memset(v, 0, sizeof(*v));
	v->identity = XCNI_ID_WORLD;
	if (bpf_map_lookup_elem(m->ipcache6, &k, v) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	say(m, "xcni_ipcache6: lookup: %s", strerror(errno));
	return -errno;
}

/* The IPv6 a node keys under key (polsync_key6), of the pods it has (polkey6, endpoints6). */
static bool ip6_of_key(const struct node_maps *m, __u32 key, __u8 a[16])
{
	const int fds[] = { m->k6.polkey6, m->k6.endpoints6 };
	struct xcni_in6 k;

	for (size_t i = 0; key && i < ARRAY_SIZE(fds); i++)
		for (void *prev = NULL; fds[i] >= 0 && !bpf_map_get_next_key(fds[i], prev, &k);
		     prev = &k)
			if (polsync_key6(&m->k6, k.addr) == key) {
				memcpy(a, k.addr, 16);
				return true;
			}
	return false;
}

/* The key a node's podname holds pod "ns/name" under (v6only: one in 0.0.0.0/8,
 * an IPv6-only pod's): found? */
static bool podname_key(const struct node_maps *m, const char *arg, bool v6only, __u32 *out)
{
	const char *sl = strchr(arg, '/');
	struct xcni_podname pn;
	__u32 key;

	for (void *prev = NULL; sl && !bpf_map_get_next_key(m->podname, prev, &key); prev = &key)
		if (!(v6only && (ntohl(key) & XCNI_POLKEY6_MASK)) &&
		    !bpf_map_lookup_elem(m->podname, &key, &pn) &&
		    strlen(pn.ns) == (size_t)(sl - arg) && !strncmp(pn.ns, arg, sl - arg) &&
		    !strcmp(pn.name, sl + 1)) {
			*out = key;
			return true;
		}
	return false;
}

/*
 * An IPv6 end, as the source node (ms[0]) sees it: an address (the
 * ipcache6's identity, world when it has none: ipBlock rules are about such
 * peers), or a pod by name standing for its IPv6. A pod of another node is
 * found in that node's maps (ms[1], --pin-dir-dst): the source node keys
 * only its own pods' IPv6 (polkey6), so an IPv6-only pod elsewhere has no
 * name there. e->ip: the pod's policy key on the source node, 0 if it is no
 * pod of it.
 */
static int flow_end_resolve6(const struct node_maps *const *ms, size_t nms, const char *arg,
			     const __u8 *a, struct flow_end *e)
{
	const struct node_maps *m = ms[0], *named = NULL;
	bool known = false;
	__u32 key = 0;
	int err;

	e->v6 = true;
	for (size_t i = 0; i < nms; i++)
		if (ms[i]->ipcache6 < 0 || ms[i]->k6.polkey6 < 0) {
			say(m, "%s: node %s has no IPv6 maps (an agent from before them)", arg,
			       ms[i]->node[0] ? ms[i]->node : ms[i]->dir);
			return -ENOENT;
		}
	if (a) {
		memcpy(e->ip6, a, 16);
		for (size_t i = 0; i < nms && !named; i++)
			if ((key = polsync_key6(&ms[i]->k6, e->ip6)))
				named = ms[i];
	} else {
		for (size_t i = 0; i < nms && !named; i++) {
			if (!podname_key(ms[i], arg, false, &key))
				continue;
			known = true;
			if (ip6_of_key(ms[i], key, e->ip6))
				named = ms[i];
		}
		if (!named) {
			if (!known)
				say(m, "%s: no such pod in the cluster state xcnid holds", arg);
			else
				say(m, "%s: no IPv6 address of this pod in the maps of node %s%s (an "
				       "IPv4-only pod, or one of another node: give its node's pin "
				       "dir with --pin-dir-dst)", arg, m->node[0] ? m->node : m->dir,
				       nms > 1 ? " or the destination's" : "");
			return -ENOENT;
		}
	}
	err = ipcache6_get(m, e->ip6, &e->ipc);
	if (err < 0)
		return err;
	if (named)
		end_podname(named, key, e);
	e->ip = named == m ? key : 0;
	if (!e->is_pod)
		e->is_pod = e->ipc.flags & XCNI_IPC_POD;
	return 0;
}

/*
 * Whether an end makes the flow IPv6: an IPv6 address, or a pod by name
 * whose only address is IPv6 (podname has it under a key in 0.0.0.0/8).
 * Silent: whatever is wrong with arg is said when it is resolved.
 */
bool explain_end_is_v6(const struct node_maps *m, const char *arg)
{
	__u8 a[16], fam = addr_parse(arg, a);
	__u32 key;

	return fam ? fam == XCNI_AF_INET6 : podname_key(m, arg, true, &key);
}

const struct node_maps *explain_maps_of(const struct node_maps *m, const char *node,
				     const struct node_maps *dflt)
{
	for (size_t i = 0; node && node[0] && i < m->npeers; i++)
		if (!strcmp(m->peers[i].node, node))
			return &m->peers[i];
	return dflt;
}

/*
 * SRC or DST into e, on the source node's maps m; alt: the destination
 * node's (NULL, or m itself: none other), where an IPv6 pod of that node is
 * found by name.
 */
int explain_end_resolve(const struct node_maps *m, const struct node_maps *alt, const char *arg,
		     bool v6, struct flow_end *e)
{
	struct xcni_ipcache_key k = { .prefixlen = 32 };
	char buf[INET_ADDRSTRLEN];
	const char *sl = strchr(arg, '/');
	__u8 a[16], fam = addr_parse(arg, a);
	int err;

	if (v6) {
		/* m first, then the destination's, then (--node all) every other node's. */
		const struct node_maps *ms[2 + 32] = { m }; /* --node all: CTL_EXPLAIN_MAX_NODES */
		size_t nms = 1;

		if (alt && alt != m)
			ms[nms++] = alt;
		for (size_t i = 0; i < m->npeers && nms < ARRAY_SIZE(ms); i++)
			if (&m->peers[i] != m && &m->peers[i] != alt)
				ms[nms++] = &m->peers[i];
		if (fam == XCNI_AF_INET) {
			say(m, "%s: an IPv4 address in an IPv6 flow (the other end is IPv6, or "
			       "--family 6)", arg);
			return -EINVAL;
		}
		return flow_end_resolve6(ms, nms, arg, fam ? a : NULL, e);
	}
	if (fam == XCNI_AF_INET6) {
		say(m, "%s: an IPv6 address in an IPv4 flow (--family 4)", arg);
		return -EINVAL;
	}
	if (fam) {
		memcpy(&e->ip, a, 4);
	} else if (!sl || sl == arg || !sl[1]) {
		say(m, "%s: not a pod (NAMESPACE/NAME) or an IPv4 address", arg);
		return -EINVAL;
	} else if (!podname_key(m, arg, false, &e->ip)) {
		say(m, "%s: no such pod in the cluster state xcnid holds", arg);
		return -ENOENT;
	}
	k.addr = e->ip;
	/* An LPM trie's lookup is longest-prefix, as in the programs. */
	if (bpf_map_lookup_elem(m->ipcache, &k, &e->ipc)) {
		err = -errno;
		if (err == -ENOENT)
			say(m, "%s: %s is not in the ipcache of node %s: xcni knows no such "
			       "address (the data plane would see it as reserved:world)", arg,
			    xcni_ip4_str(e->ip, buf), m->node[0] ? m->node : m->dir);
		else
			say(m, "xcni_ipcache: lookup: %s", strerror(-err));
		return err;
	}
	if (e->ipc.identity == XCNI_ID_WORLD && pod_cidr_node(m, e->ip, e->node, sizeof(e->node))) {
		say(m, "%s: no pod has address %s (in the pod CIDR of node %s), and the ipcache "
		       "of node %s has no entry for it", arg, xcni_ip4_str(e->ip, buf),
		    e->node[0] ? e->node : "?", m->node[0] ? m->node : m->dir);
		return -ENOENT;
	}
	end_podname(m, e->ip, e);
	/* Else a pod address whose name has not reached this node yet. */
	if (!e->is_pod)
		e->is_pod = e->ipc.flags & XCNI_IPC_POD;
	return 0;
}

enum side_why {
	WHY_SELF, /* a pod to itself: the packet never leaves it */
	WHY_NOT_POD, /* this end is no pod: no NetworkPolicy applies to it */
	WHY_REMOTE, /* the pod lives on a node whose maps were not given */
	WHY_DEFAULT, /* no policy selects the pod in this direction */
	WHY_HOST, /* the peer is the pod's own node: always allowed */
	WHY_RULE, /* an allow entry matched */
	WHY_ISOLATED, /* isolated, nothing allows */
	WHY_PENDING, /* no polep entry where xcnid enforces policy: not judged yet */
	WHY_OVERFLOW, /* its policy did not fit the maps: closed */
	WHY_CONTESTED, /* another live pod claims its address: closed */
};

static const char *const why_names[] = {
	[WHY_SELF] = "self", [WHY_NOT_POD] = "not-a-pod", [WHY_REMOTE] = "remote",
	[WHY_DEFAULT] = "default", [WHY_HOST] = "host", [WHY_RULE] = "rule",
	[WHY_ISOLATED] = "isolated", [WHY_PENDING] = "pending", [WHY_OVERFLOW] = "overflow", [WHY_CONTESTED] = "contested",
};

/* What one side decided, and the lookups that decided it. */
struct side {
	const char *name; /* "egress", "ingress" */
	__u8 dir; /* XCNI_DIR_FROM_POD, XCNI_DIR_TO_POD */
	enum side_why why;
	char node[64]; /* the node that decides (WHY_REMOTE: where the pod is) */
	__u32 peer_id; /* the peer's identity in the deciding node's ipcache */
	struct xcni_policy_val hit; /* WHY_RULE */
	char policy[340];
	char rule_name[XCNI_RULENAME_LEN]; /* WHY_RULE: the rule's name, "" if none */
	char domain[700]; /* WHY_RULE by an address learned by name: the names, "" if none */
	/* Admin -> NetworkPolicy -> Baseline, each tier's step ("" where no tier applies) */
	char tiers[1400];
	char match[1400]; /* WHY_RULE: the entry that matched, in words */
	char walk[1536]; /* the lookups, "; "-separated */
	/* WHY_ISOLATED: the policies that isolate the pod, if the maps say */
	unsigned int nisolators;
	char isolators[800], isolators_json[800];
	/* WHY_ISOLATED: the allow rules of those policies whose port took the flow
	 * but whose peer did not (lib/policy/nearmiss.h), "; "-joined; "" if none */
	char near[2048];
	size_t off;
};

/* A lookup into the side's trace, "; "-separated; full: cut short (the verdict stays right). */
#define walk_add(s, ...)                                                              \
	(xcni_bufadd((s)->walk, sizeof((s)->walk), &(s)->off, "%s", (s)->off ? "; " : ""),    \
	 xcni_bufadd((s)->walk, sizeof((s)->walk), &(s)->off, __VA_ARGS__))

/* "tcp/80", "tcp/any", "any": the protocol and port a lookup key asks for. */
static const char *key_pp(__u8 proto, __u16 port_be, char *buf, size_t len)
{
	const char *pn = proto_name(proto);
	char num[8];

	if (!proto)
		return "any protocol";
	if (!pn) {
		snprintf(num, sizeof(num), "%u", proto);
		pn = num;
	}
	if (port_be)
		snprintf(buf, len, "%s/%u", pn, ntohs(port_be));
	else
		snprintf(buf, len, "%s/any", pn);
	return buf;
}

/* "policy[peer 123 tcp/80] miss": one lookup of an allow entry. */
static void walk_policy(struct side *s, const char *map, __u32 peer, __u8 proto, __u16 port_be,
			int hit)
{
	char pp[24];

	if (peer == XCNI_ID_ANY)
		walk_add(s, "%s[any peer, %s] %s", map, key_pp(proto, port_be, pp, sizeof(pp)),
			 hit > 0 ? "hit" : "miss");
	else
		walk_add(s, "%s[%s %u, %s] %s", map, peer >= XCNI_ID_CIDR_BASE ? "group" : "peer",
			 peer, key_pp(proto, port_be, pp, sizeof(pp)), hit > 0 ? "hit" : "miss");
}

/* A lookup the programs make: 1 hit, 0 miss, -errno (said). */
static int lookup_step(const struct node_maps *m, int fd, const char *map, const void *key,
		       void *val)
{
	if (bpf_map_lookup_elem(fd, key, val) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	say(m, "%s: lookup: %s", map, strerror(errno));
	return -errno;
}

/*
 * peer_lookup() of bpf/lib/policy.h: exact port, any port of the protocol,
 * anything, then port ranges, skipping kinds the pod has none of. *how says
 * which one hit. 1, 0 or -errno.
 */
static int explain_peer(const struct node_maps *m, struct side *s, struct xcni_polhash_key *k,
			__u32 peer, __u8 has, const char **how)
{
	struct xcni_policy_key rk = {};
	__u8 proto = k->proto;
	__u16 port = k->port;
	int hit;

	k->peer = peer;
	hit = lookup_step(m, m->policy, "xcni_policy", k, &s->hit);
	walk_policy(s, "policy", peer, k->proto, k->port, hit);
	*how = k->port ? "port" : "protocol"; /* no port: ICMP's entry for the protocol */
	/* The data plane's order (bpf/lib/policy.h peer_lookup): most specific first. */
	if (!hit && port && (has & XCNI_HAS_RANGE)) {
		rk.prefixlen = XCNI_POLICY_PREFIX_FULL;
		rk.ep = k->ep;
		rk.peer = peer;
		rk.version = k->version;
		rk.dir = k->dir;
		rk.proto = proto;
		rk.port = port;
		hit = lookup_step(m, m->polrange, "xcni_polrange", &rk, &s->hit);
		walk_policy(s, "polrange", peer, proto, port, hit);
		*how = "port range";
	}
	if (!hit && port && (has & XCNI_HAS_ANY_PORT)) {
		k->port = 0;
		hit = lookup_step(m, m->policy, "xcni_policy", k, &s->hit);
		walk_policy(s, "policy", peer, k->proto, 0, hit);
		k->port = port;
		*how = "any port";
	}
	if (!hit && (has & XCNI_HAS_ANY_PROTO)) {
		k->proto = 0;
		k->port = 0;
		hit = lookup_step(m, m->policy, "xcni_policy", k, &s->hit);
		walk_policy(s, "policy", peer, 0, 0, hit);
		k->proto = proto;
		k->port = port;
		*how = "any protocol";
	}
	return hit;
}

/* The longest ipBlock prefix of the pod's live version holding ip, for people. */
static bool polcidr_prefix(int fd, const struct xcni_polcidr_key *want, char *buf, size_t len)
{
	struct xcni_polcidr_key k;
	int best = -1;

	for (void *prev = NULL; !bpf_map_get_next_key(fd, prev, &k); prev = &k) {
		int plen = (int)k.prefixlen - XCNI_POLCIDR_PREFIX_BASE;

		/* Prefixes of the flow's family only (the key's v6 byte says). */
		if (k.ep != want->ep || k.version != want->version || k.dir != want->dir ||
		    k.v6 != want->v6 || plen < 0 || plen > (k.v6 ? 128 : 32) || plen <= best ||
		    !xcni_prefix_has(k.v6 ? k.addr6 : (const __u8 *)&k.addr, (unsigned int)plen,
				     k.v6 ? want->addr6 : (const __u8 *)&want->addr))
			continue;
		best = plen;
		xcni_cidr_str(k.v6 ? AF_INET6 : AF_INET, k.v6 ? (const void *)k.addr6 : &k.addr,
			      (unsigned int)plen, buf, len);
	}
	return best >= 0;
}

/* The peer of a matched entry in words: any, a reserved name, labels, or an ipBlock. */
static void peer_words(const struct node_maps *m, __u32 peer, const char *cidr, char *buf,
		       size_t len)
{
	struct xcni_idlabels l;

	if (peer == XCNI_ID_ANY)
		snprintf(buf, len, "any peer");
	else if (peer >= XCNI_ID_CIDR_BASE)
		snprintf(buf, len, "ipBlock %s (group %u)", cidr, peer);
	else if (xcni_reserved_identity(peer))
		snprintf(buf, len, "%s", xcni_reserved_identity(peer));
	else if (m->identity >= 0 && bpf_map_lookup_elem(m->identity, &peer, &l) == 0)
		snprintf(buf, len, "%.*s (identity %u)", (int)strnlen(l.labels, sizeof(l.labels)),
			 l.labels, peer);
	else
		snprintf(buf, len, "identity %u", peer);
}

/*
 * The entry's endpoint is the one xcnictl's tunnel_str prints: tunnel_ip6 when
 * XCNI_IPC_TUN6 says the node is sent to over IPv6 (a node of both families
 * has both addresses), and its name is in the map of that family.
 */
const char *explain_tunnel_of(const struct node_maps *m, const struct xcni_ipcache_val *v,
		      char addr[INET6_ADDRSTRLEN], char *node, size_t len)
{
	bool v6 = v->flags & XCNI_IPC_TUN6;
	int fd = v6 ? m->tunnel6 : m->tunnel;
	struct xcni_tunnel tn;

	node[0] = '\0';
	if (!(v6 ? inet_ntop(AF_INET6, v->tunnel_ip6, addr, INET6_ADDRSTRLEN) :
		   v->tunnel_ip ? xcni_ip4_str(v->tunnel_ip, addr) : NULL))
		return NULL;
	if (fd >= 0 && bpf_map_lookup_elem(fd, v6 ? (const void *)v->tunnel_ip6 :
						     (const void *)&v->tunnel_ip, &tn) == 0)
		snprintf(node, len, "%.*s", (int)strnlen(tn.node, sizeof(tn.node)), tn.node);
	return addr;
}

/*
 * Whether this node decides the side at all: 1 and s->why set when it does
 * not need to look (a pod to itself, no pod, a pod on another node), 0 to go
 * on, -errno.
 */
static int side_locate(const struct node_maps *m, struct side *s, const struct flow_end *pod,
		       const struct flow_end *peer)
{
	struct xcni_ipcache_key ik = { .prefixlen = 32, .addr = pod->ip };
	struct xcni_ipcache_val pv;
	struct xcni_podname pn;
	char a6[INET6_ADDRSTRLEN], tn[64];
	int err;

	snprintf(s->node, sizeof(s->node), "%s", m->node);
	if (pod->v6 ? !memcmp(pod->ip6, peer->ip6, 16) && pod->is_pod :
		      pod->ip == peer->ip && pod->is_pod) {
		s->why = WHY_SELF;
		return 1;
	}
	if (!pod->is_pod) {
		s->why = WHY_NOT_POD;
		return 1;
	}
	/* An IPv6 pod without a policy key here is no pod of this node: its
	 * name's node, else the one its ipcache6 entry tunnels to. */
	if (pod->v6 && !pod->ip) {
		const char *ta = explain_tunnel_of(m, &pod->ipc, a6, s->node, sizeof(s->node));

		s->why = WHY_REMOTE;
		if (pod->node[0])
			snprintf(s->node, sizeof(s->node), "%s", pod->node);
		else if (!s->node[0])
			snprintf(s->node, sizeof(s->node), "%s", ta ?: "?");
		return 1;
	}
	/* On another node: its ipcache entry names a tunnel, or its Pod object
	 * names another node (without an overlay there is no tunnel to see). */
	err = pod->v6 ? ipcache6_get(m, pod->ip6, &pv) :
			lookup_step(m, m->ipcache, "xcni_ipcache", &ik, &pv);
	if (err < 0)
		return err;
	if (lookup_step(m, m->podname, "xcni_podname", &pod->ip, &pn) > 0 && pn.node[0] &&
	    m->node[0] && strncmp(pn.node, m->node, sizeof(pn.node))) {
		s->why = WHY_REMOTE;
		snprintf(s->node, sizeof(s->node), "%.*s", (int)strnlen(pn.node, sizeof(pn.node)),
			 pn.node);
		return 1;
	}
	if (err > 0 && explain_tunnel_of(m, &pv, a6, tn, sizeof(tn))) {
		s->why = WHY_REMOTE;
		snprintf(s->node, sizeof(s->node), "%s", pod->node[0] ? pod->node : tn[0] ? tn : a6);
		return 1;
	}
	return 0;
}

/* WHY_RULE: the entry that matched, in words, into s->match. */
static void side_match(const struct node_maps *m, struct side *s, const struct flow *f,
		       __u32 peer, const char *cidr, const char *how, __u16 port_be)
{
	char peer_s[1200], pp[24];

	peer_words(m, peer, cidr, peer_s, sizeof(peer_s));
	if (!strcmp(how, "any protocol"))
		snprintf(s->match, sizeof(s->match), "%s, any protocol and port", peer_s);
	else if (!strcmp(how, "any port"))
		snprintf(s->match, sizeof(s->match), "%s, any port of %s", peer_s,
			 proto_name(f->proto) ?: "the protocol");
	else
		snprintf(s->match, sizeof(s->match), "%s, %s%s", peer_s,
			 !strcmp(how, "port range") ? "a port range holding " : "",
			 key_pp(f->proto, port_be, pp, sizeof(pp)));
}

/* The peer's identity as this node's programs see it (pa: its address), walked. */
static int side_peer(const struct node_maps *m, struct side *s, const struct flow_end *peer,
		     char *pa, size_t palen)
{
	struct xcni_ipcache_key ik = { .prefixlen = 32, .addr = peer->ip };
	char tn[64], ta[INET6_ADDRSTRLEN];
	struct xcni_ipcache_val pv;
	int err;

	if (peer->v6)
		inet_ntop(AF_INET6, peer->ip6, pa, (socklen_t)palen);
	else
		xcni_ip4_str(peer->ip, pa);
	err = peer->v6 ? ipcache6_get(m, peer->ip6, &pv) :
			 lookup_step(m, m->ipcache, "xcni_ipcache", &ik, &pv);
	if (err < 0)
		return err;
	s->peer_id = err ? pv.identity : XCNI_ID_WORLD;
	/* Egress towards a pod of another node: the packet leaves in Geneve to
	 * the underlay address (of either family) its entry names, and that
	 * node judges ingress. */
	if (err > 0 && s->dir == XCNI_DIR_FROM_POD && explain_tunnel_of(m, &pv, ta, tn, sizeof(tn))) {
		walk_add(s, "%s[%s] identity %u, tunnel %s%s%s%s", peer->v6 ? "ipcache6" : "ipcache",
			 pa, s->peer_id, ta, tn[0] ? " (node " : "", tn, tn[0] ? ")" : "");
	} else {
		walk_add(s, "%s[%s] %s %u", peer->v6 ? "ipcache6" : "ipcache", pa,
			 err ? "identity" : "miss: world", s->peer_id);
	}
	return 0;
}

/*
 * The pod's policy endpoint (*pe), as policy_judge reads it: 1 and s->why set
 * when that decides the side (the node, not judged yet, contested, overflow,
 * not isolated, a closed peer), 0 to look the entries up, -errno.
 */
static int side_polep(const struct node_maps *m, struct side *s, const struct flow_end *pod,
		      struct xcni_polep *pe)
{
	char a[INET_ADDRSTRLEN];
	bool host_judged;
	__u8 has;
	int err = lookup_step(m, m->polep, "xcni_polep", &pod->ip, pe);

	if (err < 0)
		return err;
	/* As policy_judge: the node first (but the pod's egress to it as its tiers
	 * say, XCNI_POLEP_HOST_EGRESS), then a pod not judged yet or closed. */
	host_judged = s->peer_id == XCNI_ID_HOST && s->dir == XCNI_DIR_FROM_POD && err > 0 &&
		      (pe->isolated & (XCNI_POLEP_HOST_EGRESS | XCNI_POLEP_OVERFLOW)) ==
			      XCNI_POLEP_HOST_EGRESS;
	if (s->peer_id == XCNI_ID_HOST &&
	    (!err || ((pe->isolated & XCNI_POLEP_OVERFLOW) &&
		      !(s->dir == XCNI_DIR_FROM_POD && (pe->isolated & XCNI_POLEP_HOST_EGRESS))))) {
		walk_add(s, "polep[%s] %s", xcni_ip4_str(pod->ip, a), err ? "overflow" : "none");
		s->why = WHY_HOST;
		return 1;
	}
	if (!err && m->enforcing) {
		walk_add(s, "polep[%s] none: not judged by xcnid yet", xcni_ip4_str(pod->ip, a));
		s->why = WHY_PENDING;
		return 1;
	}
	if (err && (pe->isolated & XCNI_POLEP_CONTESTED)) {
		walk_add(s, "polep[%s] contested: another live pod claims the address",
			 xcni_ip4_str(pod->ip, a));
		s->why = WHY_CONTESTED;
		return 1;
	}
	if (err && (pe->isolated & XCNI_POLEP_OVERFLOW)) {
		walk_add(s, "polep[%s] overflow: its policy did not fit the maps", xcni_ip4_str(pod->ip, a));
		s->why = WHY_OVERFLOW;
		return 1;
	}
	if (!err || !(pe->isolated & XCNI_ISOLATED(s->dir))) {
		walk_add(s, "polep[%s] %s%s", xcni_ip4_str(pod->ip, a),
			 err ? "not isolated for " : "none", err ? s->name : "");
		s->why = WHY_DEFAULT;
		return 1;
	}
	has = pe->has[s->dir & 1];
	walk_add(s, "polep[%s] isolated for %s, version %u, entries: exact%s%s%s%s",
		 xcni_ip4_str(pod->ip, a), s->name, pe->version,
		 has & XCNI_HAS_ANY_PORT ? ", any-port" : "",
		 has & XCNI_HAS_ANY_PROTO ? ", any-proto" : "", has & XCNI_HAS_RANGE ? ", range" : "",
		 has & XCNI_HAS_CIDR ? ", cidr" : "");
	/* The pod's own node may always reach it and be reached (kubelet probes);
	 * the pod's egress to it is judged where a tier names the node's addresses. */
	if (s->peer_id == XCNI_ID_HOST && !host_judged) {
		s->why = WHY_HOST;
		return 1;
	}
	if (host_judged)
		walk_add(s, "egress to its own node: judged by address (a ClusterNetworkPolicy names it)");
	/* As policy_judge: a closed address is judged by no entry. */
	if (s->peer_id == XCNI_ID_UNMANAGED) {
		walk_add(s, "the peer's address is closed (reserved:unmanaged: changing owner, or "
			    "contested): no entry judges it");
		s->why = WHY_ISOLATED;
		return 1;
	}
	return 0;
}

/*
 * policy_judge's first step for an outside address the pod's DNS answers
 * taught it (fqdn_group): that address's group under its rule's polcidr dir
 * takes the identity's place. 1 a hit (s->domain: the name the pod asked, where
 * the domainNames rule itself decided: fqdn_decided), 0.
 */
static int side_fqdn(const struct node_maps *m, struct side *s, const struct flow_end *pod,
		     const struct flow_end *peer, const struct xcni_polep *pe,
		     struct xcni_polhash_key *k, char *cidr, size_t cidrlen, const char **how)
{
	struct xcni_polcidr_key ck = { .ep = pod->ip, .version = pe->version, .v6 = peer->v6 };
	const void *addr = peer->v6 ? (const void *)peer->ip6 : &peer->ip;
	__u8 fam = peer->v6 ? XCNI_AF_INET6 : XCNI_AF_INET;
	struct xcni_endpoint ep;
	struct fqdn_why w;
	char a[INET6_ADDRSTRLEN];
	__u32 group;
	int ref;

	if (s->dir != XCNI_DIR_FROM_POD || s->peer_id != XCNI_ID_WORLD ||
	    !(pe->has[s->dir & 1] & XCNI_HAS_FQDN) ||
	    bpf_map_lookup_elem(pod->v6 ? m->k6.endpoints6 : m->endpoints,
				pod->v6 ? (const void *)pod->ip6 : &pod->ip, &ep))
		return 0;
	ref = fqdn_learned(m->fqdn, m->fqdn_pat, ep.ep_id, fam, addr, &w);
	if (ref <= 0 || ref > XCNI_FQDN_RULES_MAX)
		return 0;
	ck.prefixlen = XCNI_POLCIDR_PREFIX_BASE + (peer->v6 ? 128 : 32);
	ck.dir = (__u8)(XCNI_POLCIDR_DIR_FQDN + ref - 1);
	if (peer->v6)
		memcpy(ck.addr6, peer->ip6, 16);
	else
		ck.addr = peer->ip;
	if (lookup_step(m, m->polcidr, "xcni_polcidr", &ck, &group) <= 0 || group >= 0x80000000u)
		return 0;
	polcidr_prefix(m->polcidr, &ck, cidr, cidrlen);
	walk_add(s, "fqdn[%s] rule_ref %d: polcidr group %u", w.name, ref, group);
	if (explain_peer(m, s, k, group, pe->has[s->dir & 1], how) <= 0)
		return 0;
	/* The domain is named only where its rule decided, as flows names it. */
	if (fqdn_decided(m->fqdn, m->fqdn_pat, ep.ep_id, fam, addr, s->hit.policy_id, s->hit.rule,
			 &w) == 1)
		snprintf(s->domain, sizeof(s->domain), "%s (learned %s, TTL %lld s)", w.name,
			 peer->v6 ? inet_ntop(AF_INET6, peer->ip6, a, sizeof(a)) :
				    xcni_ip4_str(peer->ip, a),
			 (long long)w.left);
	return 1;
}

/*
 * The isolated pod's entries for the flow, as policy_judge looks them up: the
 * peer's identity, then its CIDR group (cidr: the prefix), then any peer.
 * 1 a hit (*k the key that hit, *how its kind), 0 none, -errno.
 */
static int side_entries(const struct node_maps *m, struct side *s, const struct flow *f,
			const struct flow_end *pod, const struct flow_end *peer,
			const struct xcni_polep *pe, const char *pa, char *cidr, size_t cidrlen,
			struct xcni_polhash_key *k, const char **how)
{
	struct xcni_polcidr_key ck = {};
	__u8 has = pe->has[s->dir & 1];
	__u32 group = 0;
	int hit;

	k->ep = pod->ip;
	k->version = pe->version;
	k->dir = s->dir;
	k->proto = f->proto;
	/* Port 0 means "any" in the map; no port-carrying packet has port 0 to match it. */
	if (f->proto == IPPROTO_TCP || f->proto == IPPROTO_UDP || f->proto == IPPROTO_SCTP)
		k->port = htons(f->port);
	hit = side_fqdn(m, s, pod, peer, pe, k, cidr, cidrlen, how);
	if (!hit)
		hit = explain_peer(m, s, k, s->peer_id, has, how);
	if (!hit && (has & XCNI_HAS_CIDR)) {
		ck.prefixlen = XCNI_POLCIDR_PREFIX_BASE + (peer->v6 ? 128 : 32);
		ck.ep = pod->ip;
		ck.version = pe->version;
		ck.dir = s->dir;
		ck.v6 = peer->v6;
		if (peer->v6)
			memcpy(ck.addr6, peer->ip6, 16);
		else
			ck.addr = peer->ip;
		hit = lookup_step(m, m->polcidr, "xcni_polcidr", &ck, &group);
		if (hit > 0) {
			polcidr_prefix(m->polcidr, &ck, cidr, cidrlen);
			walk_add(s, "polcidr[%s] group %u (%s)", pa, group, cidr[0] ? cidr : "?");
			hit = explain_peer(m, s, k, group, has, how);
		} else if (!hit) {
			walk_add(s, "polcidr[%s] miss", pa);
		}
	}
	if (!hit)
		hit = explain_peer(m, s, k, XCNI_ID_ANY, has, how);
	return hit;
}

/*
 * One side of the flow: the policy of pod (egress: the source, ingress: the
 * destination) towards or from peer, as policy_allows() takes it, on the
 * maps of the node the pod lives on. 0 or -errno; the answer is in *s.
 */
static int explain_side(const struct node_maps *m, struct side *s, const struct flow *f,
			const struct flow_end *pod, const struct flow_end *peer)
{
	struct xcni_polep pe;
	struct xcni_polhash_key k = {};
	char cidr[INET6_ADDRSTRLEN + 4] = "", pa[INET6_ADDRSTRLEN];
	const char *how = NULL;
	int hit, err;

	err = side_locate(m, s, pod, peer);
	if (err)
		return err < 0 ? err : 0;
	if ((err = side_peer(m, s, peer, pa, sizeof(pa))))
		return err;
	err = side_polep(m, s, pod, &pe);
	if (err)
		return err < 0 ? err : 0;
	hit = side_entries(m, s, f, pod, peer, &pe, pa, cidr, sizeof(cidr), &k, &how);
	if (hit < 0)
		return hit;
	if (!hit) {
		s->why = WHY_ISOLATED;
		s->nisolators = xcni_isolating_policies(m->polsel, m->polname, pod->ip, s->dir, false,
						   s->isolators, sizeof(s->isolators));
		xcni_isolating_policies(m->polsel, m->polname, pod->ip, s->dir, true, s->isolators_json,
				   sizeof(s->isolators_json));
		/* Near misses: the objects the node's agent reads (by the caller's
		 * means), matched against the two ends; the walk stands without. */
		if (pod->pod[0] && m->near)
			m->near(m->near_arg, m, pod, peer,
				s->dir == XCNI_DIR_TO_POD ? NM_INGRESS : NM_EGRESS, f->proto, f->port,
				s->near, sizeof(s->near));
		return 0;
	}
	s->why = WHY_RULE;
	policy_name(m->polname, s->hit.policy_id, s->policy, sizeof(s->policy));
	if (!polsync_rule_name(m->rulename, s->hit.policy_id, s->dir, s->hit.rule, s->rule_name,
	                       sizeof(s->rule_name)))
		s->rule_name[0] = '\0';
	side_match(m, s, f, k.peer, cidr, how, k.port);
	return 0;
}

static bool side_decided(const struct side *s)
{
	return s->why != WHY_REMOTE;
}

/* A verdict entry that denies (tiered policy, XCNI_POLV_DENY), unless only audited. */
static bool rule_denies(const struct side *s)
{
	return s->why == WHY_RULE && (s->hit.flags & XCNI_POLV_DENY) &&
	       !(s->hit.flags & XCNI_POLV_AUDIT);
}

static bool side_allows(const struct side *s)
{
	return s->why != WHY_ISOLATED && s->why != WHY_REMOTE && s->why != WHY_PENDING &&
	       s->why != WHY_OVERFLOW && s->why != WHY_CONTESTED && !rule_denies(s);
}

/*
 * A verdict entry's sentence: NetworkPolicy's allow as before; a tier's
 * Accept or Deny named with the tier, the policy (its priority) and the rule;
 * an audited denial as "audit: would deny, by ...".
 */
static void rule_text(struct ptable *t, const struct side *s, const char *who)
{
	__u16 fl = s->hit.flags;
	unsigned int tier = XCNI_POLV_TIER(fl);
	const char *tname = tier == XCNI_TIER_ADMIN ? "Admin" : tier == XCNI_TIER_BASELINE ? "Baseline" :
						 "NetworkPolicy";
	char by[1400];

	if (tier == XCNI_TIER_DEFAULT) {
		pt_strf(t, "allow: no tier and no NetworkPolicy decides for %s's %s: allowed by "
			   "default, by its entry for %s (node %s)",
			who, s->name, s->match, s->node);
		return;
	}
	if (tier == XCNI_TIER_NP && !s->hit.policy_id)
		snprintf(by, sizeof(by), "NetworkPolicy: %s is isolated for %s, nothing allows", who,
			 s->name);
	else
		snprintf(by, sizeof(by), "%s%s%s rule %u%s%s%s (%s)%s%s", tier == XCNI_TIER_NP ? "" : tname,
			 tier == XCNI_TIER_NP ? "" : " tier: ", s->policy, s->hit.rule,
			 s->rule_name[0] ? " \"" : "", s->rule_name, s->rule_name[0] ? "\"" : "",
			 fl & XCNI_POLV_DENY ? "Deny" : tier == XCNI_TIER_NP ? "allows" : "Accept",
			 s->domain[0] ? ": domain " : "", s->domain);
	if ((fl & XCNI_POLV_DENY) && (fl & XCNI_POLV_AUDIT))
		pt_strf(t, "audit: would deny, by %s, by its entry for %s; allowed (audit mode, node %s)",
			by, s->match, s->node);
	else
		pt_strf(t, "%s: %s, by its entry for %s (node %s)", fl & XCNI_POLV_DENY ? "deny" : "allow",
			by, s->match, s->node);
}

/* "name [Admin 5] rule 2 "ya"": a rule as the walk names it. */
static const char *rule_words(const struct node_maps *m, __u32 policy_id, __u16 rule,
			      const char *rname, char *buf, size_t len)
{
	char pn[340];

	snprintf(buf, len, "%s rule %u%s%s%s", policy_name(m->polname, policy_id, pn, sizeof(pn)),
		 rule, rname[0] ? " \"" : "", rname, rname[0] ? "\"" : "");
	return buf;
}

/*
 * The walk the compiler made for this side, read back from the entry that
 * decides (its tier, and the Pass it went through, XCNI_POLV_PASS): Admin,
 * then NetworkPolicy, then Baseline, then the default, each step named,
 * ending at the one that decided. Audit entries hold the decision the
 * audited policies would make: the step says so.
 */
static void tier_walk(const struct node_maps *m, struct side *s, const char *who)
{
	struct xcni_rulename pass = { 0 };
	__u16 fl = s->hit.flags;
	unsigned int tier = XCNI_POLV_TIER(fl);
	bool audit = (fl & XCNI_POLV_DENY) && (fl & XCNI_POLV_AUDIT);
	bool has_pass =
		s->why == WHY_RULE && !polsync_rule_pass(m->rulename, XCNI_POLV_PASS(fl), &pass);
	bool pass_admin = false;
	const char *act = fl & XCNI_POLV_DENY ? (audit ? "would Deny (audit mode: allowed)" : "Deny") :
						"Accept";
	char pw[600] = "", dw[600];
	size_t o = 0;

	s->tiers[0] = '\0';
	if (s->why == WHY_DEFAULT) {
		snprintf(s->tiers, sizeof(s->tiers),
			 "Admin: no rule for %s -> NetworkPolicy: none selects it for %s -> "
			 "Baseline: no rule -> default: allowed",
			 who, s->name);
		return;
	}
	if (s->why == WHY_ISOLATED) {
		snprintf(s->tiers, sizeof(s->tiers),
			 "Admin: no rule for %s -> NetworkPolicy: isolated for %s, nothing allows: "
			 "Deny",
			 who, s->name);
		return;
	}
	if (s->why != WHY_RULE)
		return;
	if (has_pass) {
		struct xcni_polname pn;

		pass_admin = m->polname < 0 || bpf_map_lookup_elem(m->polname, &pass.policy_id, &pn) ||
			     strncmp(pn.ns, XCNI_POLNAME_CNP "Baseline", strlen(XCNI_POLNAME_CNP) + 8);
		rule_words(m, pass.policy_id, pass.rule, pass.name, pw, sizeof(pw));
	}
	rule_words(m, s->hit.policy_id, s->hit.rule, s->rule_name, dw, sizeof(dw));
#define STEP(...) xcni_bufadd(s->tiers, sizeof(s->tiers), &o, __VA_ARGS__)
	if (tier == XCNI_TIER_ADMIN) {
		STEP("Admin: %s %s: decides", dw, act);
		return;
	}
	if (has_pass && pass_admin)
		STEP("Admin: Pass by %s -> ", pw);
	else
		STEP("Admin: no rule decides -> ");
	if (tier == XCNI_TIER_NP) {
		if (!s->hit.policy_id)
			STEP("NetworkPolicy: %s is isolated for %s, nothing allows: %s", who, s->name,
			     audit ? "would Deny (audit mode: allowed)" : "Deny");
		else
			STEP("NetworkPolicy: %s allows: decides", dw);
		return;
	}
	STEP("NetworkPolicy: none isolates %s for %s -> ", who, s->name);
	if (tier == XCNI_TIER_BASELINE) {
		STEP("Baseline: %s %s: decides", dw, act);
		return;
	}
	if (has_pass && !pass_admin)
		STEP("Baseline: Pass by %s -> default: allowed", pw);
	else
		STEP("Baseline: no rule decides -> default: allowed");
#undef STEP
}

/* The sentence for one side: "allow: ..." or "deny: ...". */
static void side_text(struct ptable *t, const struct side *s, const struct flow_end *pod,
		      const char *who, const char *flag)
{
	switch (s->why) {
	case WHY_SELF:
		pt_strf(t, "allow: a pod's traffic to itself never leaves it");
		break;
	case WHY_NOT_POD:
		pt_strf(t, "allow: %s is no pod (%s): no NetworkPolicy applies", who,
			xcni_reserved_identity(pod->ipc.identity) ?: "not a pod address");
		break;
	case WHY_REMOTE:
		pt_strf(t, "not decided here: %s lives on node %s, whose %s policy decides "
			   "(give its pin dir with %s)", who, s->node, s->name, flag);
		break;
	case WHY_DEFAULT:
		pt_strf(t, "allow: no policy selects %s for %s: allowed by default (node %s)", who,
			s->name, s->node);
		break;
	case WHY_HOST:
		pt_strf(t, "allow: the peer is %s's own node (reserved:host), always allowed "
			   "(node %s)", who, s->node);
		break;
	case WHY_RULE:
		rule_text(t, s, who);
		break;
	case WHY_PENDING:
		pt_strf(t, "deny: xcnid has not judged %s yet: closed until it has "
			   "(drop-policy-pending, node %s)", who, s->node);
		break;
	case WHY_OVERFLOW:
		pt_strf(t, "deny: %s's policy did not fit the maps: closed (drop-policy-overflow, "
			   "node %s)", who, s->node);
		break;
	case WHY_CONTESTED:
		pt_strf(t, "deny: another live pod claims %s's address: closed until one is gone "
			   "(drop-addr-contested, node %s)", who, s->node);
		break;
	case WHY_ISOLATED:
		if (s->nisolators)
			pt_strf(t, "deny: %s is isolated for %s, nothing allows; %s %s it (node %s)%s%s",
				who, s->name, s->isolators, s->nisolators > 1 ? "isolate" : "isolates",
				s->node, s->near[0] ? "; near miss: " : "", s->near);
		else
			pt_strf(t, "deny: %s is isolated for %s, nothing allows (node %s)%s%s", who,
				s->name, s->node, s->near[0] ? "; near miss: " : "", s->near);
		break;
	}
}

static void side_row(struct ptable *t, const struct node_maps *m, struct side *s,
		     const struct flow_end *pod, const char *flag)
{
	char a[INET6_ADDRSTRLEN];
	const char *who = pod->pod[0] ? pod->pod :
			  pod->v6 ? inet_ntop(AF_INET6, pod->ip6, a, sizeof(a)) : xcni_ip4_str(pod->ip, a);
	static const char *const tw[] = { "networkpolicy", "admin", "baseline", "default" };

	side_text(t, s, pod, who, flag);
	tier_walk(m, s, who);
	pt_str(t, s->tiers[0] ? s->tiers : NULL);
	pt_str(t, side_decided(s) ? (side_allows(s) ? "allow" : "deny") : NULL);
	pt_str(t, why_names[s->why]);
	pt_str(t, s->node[0] ? s->node : NULL);
	if (s->why == WHY_RULE) {
		pt_str(t, s->policy);
		pt_uint(t, s->hit.rule);
		pt_str(t, s->rule_name[0] ? s->rule_name : NULL);
		pt_str(t, s->domain[0] ? s->domain : NULL);
		pt_str(t, tw[XCNI_POLV_TIER(s->hit.flags)]);
		pt_str(t, !(s->hit.flags & XCNI_POLV_DENY) ? "accept" :
			  s->hit.flags & XCNI_POLV_AUDIT ? "audit" : "deny"); /* not a fate: an action */
		pt_str(t, s->match);
	} else {
		for (int i = 0; i < 7; i++)
			pt_null(t);
	}
	pt_str(t, s->why == WHY_ISOLATED && s->nisolators ? s->isolators_json : NULL);
	pt_str(t, s->why == WHY_ISOLATED && s->near[0] ? s->near : NULL);
	pt_str(t, s->off ? s->walk : NULL);
}

#define EXPLAIN_SIDE_COLS(T, k)                                                       \
	{ T, k "_text", PT_STR }, { T "-TIERS", k "_tiers", PT_STR },                         \
	{ NULL, k, PT_STR }, { NULL, k "_reason", PT_STR },                              \
	{ NULL, k "_node", PT_STR }, { NULL, k "_policy", PT_STR },                      \
	{ NULL, k "_rule", PT_UINT }, { NULL, k "_rule_name", PT_STR },                  \
	{ NULL, k "_domain", PT_STR },                                                   \
	{ NULL, k "_tier", PT_STR }, { NULL, k "_action", PT_STR },                      \
	{ NULL, k "_match", PT_STR },                                                    \
	{ NULL, k "_isolated_by", PT_STR },                                              \
	{ NULL, k "_near_misses", PT_STR },                                              \
	{ T "-LOOKUPS", k "_lookups", PT_STR }

const struct pt_col explain_cols[] = {
	/* Each text column keyed too: an agent's answer (--kubeconfig) is printed again. */
	{ "SRC", "src_text", PT_STR },
	{ NULL, "src", PT_STR },
	{ NULL, "src_ip", PT_STR },
	{ NULL, "src_identity", PT_UINT },
	{ NULL, "src_node", PT_STR },
	{ "DST", "dst_text", PT_STR },
	{ NULL, "dst", PT_STR },
	{ NULL, "dst_ip", PT_STR },
	{ NULL, "dst_identity", PT_UINT },
	{ NULL, "dst_node", PT_STR },
	{ "PROTO", "proto", PT_STR },
	{ "PORT", "port", PT_UINT },
	/* The destination on another node: Geneve to its underlay address. */
	{ "TUNNEL", "tunnel_text", PT_STR },
	{ NULL, "tunnel_ip", PT_STR },
	{ NULL, "tunnel_node", PT_STR },
	EXPLAIN_SIDE_COLS("EGRESS", "egress"),
	EXPLAIN_SIDE_COLS("INGRESS", "ingress"),
	{ "VERDICT", "verdict_text", PT_STR },
	{ NULL, "verdict", PT_STR },
};
const size_t explain_ncols = ARRAY_SIZE(explain_cols);

void explain_end_row(struct ptable *t, const struct flow_end *e)
{
	char a[INET6_ADDRSTRLEN];
	const char *id = xcni_reserved_identity(e->ipc.identity);

	if (e->v6)
		inet_ntop(AF_INET6, e->ip6, a, sizeof(a));
	else
		xcni_ip4_str(e->ip, a);
	if (e->pod[0])
		pt_strf(t, "%s %s, identity %u, node %s", e->pod, a, e->ipc.identity,
			e->node[0] ? e->node : "?");
	else
		pt_strf(t, "%s, identity %u%s%s", a, e->ipc.identity, id ? " " : "", id ?: "");
	pt_str(t, e->pod[0] ? e->pod : NULL);
	pt_str(t, a);
	pt_uint(t, e->ipc.identity);
	pt_str(t, e->node[0] ? e->node : NULL);
}

/*
 * The policy verdict on flow f (src, dst, proto and port resolved): both
 * sides walked, into a record of explain_cols (*out); *verdict "allowed",
 * "denied" or "unknown". 0 or -errno.
 */
int explain_flow(const struct node_maps *sm, const struct node_maps *dm, const struct flow *f,
		 struct ptable **out, const char **verdict)
{
	struct side eg = { .name = "egress", .dir = XCNI_DIR_FROM_POD };
	struct side in = { .name = "ingress", .dir = XCNI_DIR_TO_POD };
	struct flow_end dst = f->dst;
	char tn[64] = "", ta6[INET6_ADDRSTRLEN] = "";
	struct ptable *t;
	bool eg_deny, in_deny, fam_drop, send6, tunneled;
	const char *pn;
	int err;

	/* An IPv6 pod's policy key is its node's (polkey6 is per node): the
	 * destination's, as the destination node's programs find it. */
	if (dst.v6)
		dst.ip = polsync_key6(&dm->k6, dst.ip6);
	if ((err = explain_side(sm, &eg, f, &f->src, &f->dst)) ||
	    (err = explain_side(dm, &in, f, &dst, &f->src)))
		return err;
	t = pt_new(explain_cols, ARRAY_SIZE(explain_cols), PT_RECORD);
	explain_end_row(t, &f->src);
	explain_end_row(t, &f->dst);
	if ((pn = proto_name(f->proto)))
		pt_str(t, pn);
	else
		pt_strf(t, "%u", f->proto);
	if (f->port)
		pt_uint(t, f->port);
	else
		pt_null(t);
	/* The destination's tunnel, and whether the source node (with an
	 * overlay) has no underlay address of its family: a pod there the data
	 * plane drops (drop-tunnel-family), whatever policy says. */
	send6 = f->dst.ipc.flags & XCNI_IPC_TUN6;
	tunneled = explain_tunnel_of(sm, &f->dst.ipc, ta6, tn, sizeof(tn));
	fam_drop = (sm->ul4 || sm->ul6) && (f->dst.ipc.flags & XCNI_IPC_POD) && tunneled &&
		   !(send6 ? sm->ul6 : sm->ul4);
	if (fam_drop) {
		pt_strf(t, "none: node %s's underlay address %s is IPv%d, a family node %s has no "
			"underlay address in (drop-tunnel-family)", f->dst.node[0] ? f->dst.node : "?",
			ta6, send6 ? 6 : 4, sm->node[0] ? sm->node : "?");
		pt_str(t, ta6);
		pt_str(t, f->dst.node[0] ? f->dst.node : NULL);
	} else if (tunneled) {
		if (!tn[0])
			snprintf(tn, sizeof(tn), "%s", f->dst.node);
		pt_strf(t, "Geneve to %s (node %s's underlay address): egress judged at the "
			"source, ingress at node %s", ta6, tn[0] ? tn : "?", tn[0] ? tn : "?");
		pt_str(t, ta6);
		pt_str(t, tn[0] ? tn : NULL);
	} else {
		pt_null(t);
		pt_null(t);
		pt_null(t);
	}
	side_row(t, sm, &eg, &f->src, "--pin-dir");
	side_row(t, dm, &in, &f->dst, "--pin-dir-dst");
	eg_deny = side_decided(&eg) && !side_allows(&eg);
	in_deny = side_decided(&in) && !side_allows(&in);
	/* Both ends must allow; one that denies decides even if the other is unknown. */
	if (fam_drop) {
		pt_str(t, "denied: no underlay family in common with the destination's node "
			  "(drop-tunnel-family): give one of the nodes an address of the other's "
			  "family (xcnid --node-ip once per family)");
		*verdict = flow_verdict_name(FLOW_DENIED);
	} else if (eg_deny || in_deny) {
		pt_strf(t, "denied: %s", eg_deny && in_deny ? "by egress at the source and ingress "
							      "at the destination" :
					 eg_deny ? "by egress at the source" :
						   "by ingress at the destination");
		*verdict = flow_verdict_name(FLOW_DENIED);
	} else if (!side_decided(&eg) || !side_decided(&in)) {
		pt_strf(t, "unknown: the %s side is decided on node %s (in a lab, --node all "
			"reads each side on its node)", side_decided(&eg) ? "ingress" : "egress",
			side_decided(&eg) ? in.node : eg.node);
		*verdict = "unknown";
	} else {
		pt_str(t, eg.why == WHY_SELF ? "allowed: a pod reaches itself" :
			  "allowed: both sides allow; the flow's replies pass via conntrack");
		*verdict = flow_verdict_name(FLOW_ALLOWED);
	}
	pt_str(t, *verdict);
	*out = t;
	return 0;
}
