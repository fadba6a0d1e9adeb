// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl lab: Services.
 *
 * A Service applied to the lab gets a ClusterIP from LAB_SVC_NET/LAB_SVC_PLEN
 * (a headless one, clusterIP None, none) and is kept as
 * services/<ns>.<name>.json in the lab directory (under kube-proxy iptables
 * xcnid never reads Services: the lab's kube-proxy does, kproxy.c; under
 * kube-proxy none slice.c puts them in the cluster state). Its endpoints are the
 * running pods its selector matches, with the targetPort resolved, by name
 * through the pods' containerPorts.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab/svc.h"
#include "lab/underlay.h"
#include "lib/system/util.h"

void lab_svc_list_free(struct lab_svc_list *l)
{
	/* The objects are the index's: only the array is the list's. */
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void lab_svc_file(const struct lab *lab, const char *ns, const char *name, char *out,
			 size_t len)
{
	lab_path(lab, out, len, "services/%s.%s.json", ns, name);
}

int lab_svc_ips_get(const json_t *raw, struct lab_svc_ips *out)
{
	json_t *spec = json_object_get(raw, "spec"), *ips = json_object_get(spec, "clusterIPs"), *v;
	const char *one = json_string_value(json_object_get(spec, "clusterIP"));
	size_t i;

	memset(out, 0, sizeof(*out));
	if (one && !strcmp(one, "None")) {
		out->headless = true;
		return 0;
	}
	/* clusterIPs (clusterIP is its first), or clusterIP alone. */
	if (!json_array_size(ips) && one && *one) {
		ips = json_pack("[s]", one);
		if (!ips)
			return -ENOMEM;
	} else {
		json_incref(ips);
	}
	json_array_foreach(ips, i, v) {
		const char *a = json_string_value(v) ?: "";

		if (!*a)
			continue;
		if (!strcmp(a, "None")) {
			out->headless = true;
		} else if (strchr(a, ':')) {
			if (out->has6 || inet_pton(AF_INET6, a, &out->ip6) != 1)
				goto bad;
			out->has6 = true;
			out->order = out->order ?: LAB_FAM_V6;
		} else {
			if (out->has4 || inet_pton(AF_INET, a, &out->ip4) != 1)
				goto bad;
			out->has4 = true;
			out->order = out->order ?: LAB_FAM_V4;
		}
	}
	json_decref(ips);
	return 0;
bad:
	json_decref(ips);
	return -EINVAL;
}

const char *lab_svc_ip_str(const struct lab_svc_ips *ips, unsigned int fam, char *buf, size_t len)
{
	buf[0] = '\0';
	if (fam == LAB_FAM_V4 && ips->has4)
		inet_ntop(AF_INET, &ips->ip4, buf, (socklen_t)len);
	else if (fam == LAB_FAM_V6 && ips->has6)
		inet_ntop(AF_INET6, &ips->ip6, buf, (socklen_t)len);
	return buf;
}

/* ---- ClusterIPs ------------------------------------------------------------------- */

/*
 * Families are LAB_FAM_V4/V6 throughout; a ClusterIP of either is held in a
 * struct lab_svc_ips (the other fields unset). The ranges: LAB_SVC_NET/PLEN
 * and LAB_SVC_NET6/PLEN6, index LAB_DNS_IP_INDEX of each kept for the DNS.
 */
static uint32_t svc_base(void)
{
	struct in_addr a;

	inet_pton(AF_INET, LAB_SVC_NET, &a);
	return ntohl(a.s_addr);
}

/* The IPv6 range's index-th address (index < 2^(128 - LAB_SVC_PLEN6) fits 32 bits). */
static struct in6_addr svc6_at(uint32_t index)
{
	struct in6_addr a;
	uint32_t w;

	inet_pton(AF_INET6, LAB_SVC_NET6, &a);
	memcpy(&w, &a.s6_addr[12], 4);
	w = htonl(ntohl(w) + index);
	memcpy(&a.s6_addr[12], &w, 4);
	return a;
}

/* ---- the index ----------------------------------------------------------------- */

/*
 * The lab's Services, read once per command from one scan of services/, then
 * kept up to date by every apply and delete beside the file it writes: the
 * objects sorted by namespace and name, a bit per ClusterIP of each range
 * that is taken, and the holder of each nodePort. So an apply of N Services
 * costs N writes, not N scans of everything applied before (which made a
 * large manifest quadratic).
 *
 * The files stay the only record. Each is swapped in whole
 * (lab_write_atomic), so a command that dies leaves every Service either old
 * or new, and the next command's scan reads exactly what is there. An index
 * file beside them would be a second record, written apart from the first: a
 * crash between the two writes would leave it disagreeing with the Services
 * (an address free in one, taken in the other, allocated twice).
 */
#define SVC_RANGE_BITS 20 /* both ranges hold 2^20 addresses */
_Static_assert(32 - LAB_SVC_PLEN == SVC_RANGE_BITS && 128 - LAB_SVC_PLEN6 == SVC_RANGE_BITS,
	       "the ClusterIP bitmaps are sized for a /12 and a /108");

struct lab_svc_index {
	size_t n, cap;
	struct k8s_object **v; /* sorted by namespace, then name */
	uint64_t ip4[(1u << SVC_RANGE_BITS) / 64], ip6[(1u << SVC_RANGE_BITS) / 64];
	const struct k8s_object *np[3][65536]; /* TCP, UDP, SCTP: the nodePort's Service */
};

static int proto_slot(uint8_t proto)
{
	return proto == IPPROTO_UDP ? 1 : proto == IPPROTO_SCTP ? 2 : 0;
}

/* The ClusterIP of family fam's offset in its range, or -1 outside it. */
static long svc_off(const struct lab_svc_ips *ips, unsigned int fam)
{
	struct in6_addr base = svc6_at(0);
	uint32_t a = ntohl(ips->ip4), b = svc_base();

	if (fam == LAB_FAM_V6) {
		if (memcmp(ips->ip6.s6_addr, base.s6_addr, 12))
			return -1;
		memcpy(&a, &ips->ip6.s6_addr[12], 4);
		memcpy(&b, &base.s6_addr[12], 4);
		a = ntohl(a), b = ntohl(b);
	}
	return a - b < (1u << SVC_RANGE_BITS) ? (long)(a - b) : -1;
}

static void bit_put(uint64_t *map, long off, bool on)
{
	if (off < 0)
		return;
	if (on)
		map[off / 64] |= 1ull << (off % 64);
	else
		map[off / 64] &= ~(1ull << (off % 64));
}

static bool bit_get(const uint64_t *map, long off)
{
	return off >= 0 && (map[off / 64] >> (off % 64) & 1);
}

/* Marks (on) or frees what Service o holds: its ClusterIPs, its nodePorts. */
static void idx_mark(struct lab_svc_index *ix, const struct k8s_object *o, bool on)
{
	struct lab_svc_ips ips;

	if (!lab_svc_ips_get(o->raw, &ips)) {
		if (ips.has4)
			bit_put(ix->ip4, svc_off(&ips, LAB_FAM_V4), on);
		if (ips.has6)
			bit_put(ix->ip6, svc_off(&ips, LAB_FAM_V6), on);
	}
	for (size_t j = 0; j < o->svc.nports; j++) {
		const struct k8s_svc_port *p = &o->svc.ports[j];
		const struct k8s_object **slot = &ix->np[proto_slot(p->proto)][p->node_port];

		if (!p->node_port)
			continue;
		if (on)
			*slot = o;
		else if (*slot == o)
			*slot = NULL;
	}
}

static int svc_cmp(const char *ns, const char *name, const struct k8s_object *o)
{
	int c = strcmp(ns, o->meta.ns);

	return c ? c : strcmp(name, o->meta.name);
}

/* Where ns/name is (*found) or would go in the sorted objects. */
static size_t idx_pos(const struct lab_svc_index *ix, const char *ns, const char *name, bool *found)
{
	size_t lo = 0, hi = ix->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = svc_cmp(ns, name, ix->v[mid]);

		if (!c) {
			*found = true;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*found = false;
	return lo;
}

/* Takes o (replacing and freeing the object of the same name). */
static int idx_put(struct lab_svc_index *ix, struct k8s_object *o)
{
	bool found;
	size_t at = idx_pos(ix, o->meta.ns, o->meta.name, &found);

	if (found) {
		idx_mark(ix, ix->v[at], false);
		k8s_free(ix->v[at]);
	} else {
		if (XCNI_GROW(ix->v, ix->n, ix->cap))
			return -ENOMEM;
		memmove(&ix->v[at + 1], &ix->v[at], (ix->n - at) * sizeof(*ix->v));
		ix->n++;
	}
	ix->v[at] = o;
	idx_mark(ix, o, true);
	return 0;
}

static void idx_del(struct lab_svc_index *ix, const char *ns, const char *name)
{
	bool found;
	size_t at = idx_pos(ix, ns, name, &found);

	if (!found)
		return;
	idx_mark(ix, ix->v[at], false);
	k8s_free(ix->v[at]);
	memmove(&ix->v[at], &ix->v[at + 1], (ix->n - at - 1) * sizeof(*ix->v));
	ix->n--;
}

static void idx_free(struct lab_svc_index *ix)
{
	for (size_t i = 0; i < ix->n; i++)
		k8s_free(ix->v[i]);
	free(ix->v);
	free(ix);
}

static int idx_take(struct k8s_object *o, void *ix)
{
	int err = idx_put(ix, o);

	if (err)
		k8s_free(o);
	return err;
}

/* The lab's index, read from services/ the first time a command needs it. */
static int idx_get(struct lab *lab, struct lab_svc_index **out)
{
	struct lab_svc_index *ix = lab->svc_index;
	int err;

	if (!ix) {
		if (!(ix = calloc(1, sizeof(*ix))))
			return -ENOMEM;
		if ((err = lab_objects_each(lab, "services", idx_take, ix))) {
			idx_free(ix);
			return err;
		}
		lab->svc_index = ix;
		lab->svc_index_free = idx_free;
	}
	*out = ix;
	return 0;
}

/* Every Service of the lab, sorted by namespace and name (the index's objects, borrowed). */
int lab_svc_list_load(struct lab *lab, struct lab_svc_list *l)
{
	struct lab_svc_index *ix;
	int err = idx_get(lab, &ix);

	l->n = 0;
	l->v = NULL;
	if (err)
		return err;
	l->v = malloc((ix->n + 1) * sizeof(*l->v));
	if (!l->v)
		return -ENOMEM;
	memcpy(l->v, ix->v, ix->n * sizeof(*l->v));
	l->n = ix->n;
	return 0;
}

static const struct k8s_object *svc_find(const struct lab_svc_index *ix, const char *ns,
					 const char *name)
{
	bool found;
	size_t at = idx_pos(ix, ns, name, &found);

	return found ? ix->v[at] : NULL;
}

/*
 * Is ClusterIP ip (of family ip->order) taken by a Service other than the
 * one whose stored addresses are self (NULL: none)?
 */
static bool ip_taken(const struct lab_svc_index *ix, const struct lab_svc_ips *ip,
		     const struct lab_svc_ips *self)
{
	if (ip->order == LAB_FAM_V4) {
		if (self && self->has4 && self->ip4 == ip->ip4)
			return false;
		return bit_get(ix->ip4, svc_off(ip, LAB_FAM_V4));
	}
	if (self && self->has6 && !memcmp(&self->ip6, &ip->ip6, sizeof(ip->ip6)))
		return false;
	return bit_get(ix->ip6, svc_off(ip, LAB_FAM_V6));
}

/* The lowest free ClusterIP of family fam (.0 is the network's; DNS's .10 only on request). */
static int svc_allocate(const struct lab_svc_index *ix, unsigned int fam, struct lab_svc_ips *out)
{
	const uint64_t *map = fam == LAB_FAM_V4 ? ix->ip4 : ix->ip6;
	const uint32_t size = 1u << SVC_RANGE_BITS;

	for (uint32_t w = 0; w < size / 64; w++) {
		uint64_t free_bits = ~map[w];

		if (w == 0)
			free_bits &= ~(1ull | 1ull << LAB_DNS_IP_INDEX);
		if (w == size / 64 - 1)
			free_bits &= ~(1ull << 63); /* the last: the range's broadcast */
		if (!free_bits)
			continue;
		uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(free_bits);

		if (fam == LAB_FAM_V4) {
			out->has4 = true;
			out->ip4 = htonl(svc_base() + i);
		} else {
			out->has6 = true;
			out->ip6 = svc6_at(i);
		}
		return 0;
	}
	return -ENOSPC;
}

/*
 * The families Service o asks for, in order (the first is clusterIP's), as the
 * API server decides them: spec.ipFamilies if given, else the families of the
 * ClusterIPs it gives, else by spec.ipFamilyPolicy: SingleStack (the default)
 * the lab's first family, PreferDualStack and RequireDualStack every family
 * of the lab (RequireDualStack needs both). fams[0..*n). -EINVAL (said).
 */
static int svc_families(const struct lab *lab, const struct k8s_object *o, const char *src,
			unsigned int fams[2], size_t *n)
{
	json_t *spec = json_object_get(o->raw, "spec"), *v;
	const char *pol = json_string_value(json_object_get(spec, "ipFamilyPolicy"));
	const unsigned int first = lab->family & LAB_FAM_V4 ? LAB_FAM_V4 : LAB_FAM_V6;
	struct lab_svc_ips given;
	size_t i;

	*n = 0;
	if (pol && strcmp(pol, "SingleStack") && strcmp(pol, "PreferDualStack") &&
	    strcmp(pol, "RequireDualStack")) {
		return said(-EINVAL, "lab apply: %s: Service %s/%s: spec.ipFamilyPolicy: \"%s\" is "
			    "not SingleStack, PreferDualStack or RequireDualStack\n", src,
			    o->meta.ns, o->meta.name, pol);
	}
	if (lab_svc_ips_get(o->raw, &given))
		return said(-EINVAL, "lab apply: %s: Service %s/%s: spec.clusterIPs: not IP "
			    "addresses (at most one of each family)\n", src, o->meta.ns,
			    o->meta.name);
	json_array_foreach(json_object_get(spec, "ipFamilies"), i, v) {
		const char *f = json_string_value(v) ?: "";
		unsigned int fam = !strcmp(f, "IPv4") ? LAB_FAM_V4 : !strcmp(f, "IPv6") ? LAB_FAM_V6 : 0;

		if (!fam || i > 1 || (i == 1 && fams[0] == fam))
			return said(-EINVAL,
				    "lab apply: %s: Service %s/%s: spec.ipFamilies[%zu]: \"%s\": "
					    "IPv4 or IPv6, each at most once\n", src, o->meta.ns,
				    o->meta.name, i, f);
		fams[(*n)++] = fam;
	}
	if (!*n && (given.has4 || given.has6)) {
		fams[(*n)++] = given.order;
		if (given.has4 && given.has6)
			fams[(*n)++] = given.order == LAB_FAM_V4 ? LAB_FAM_V6 : LAB_FAM_V4;
	}
	if (!*n) {
		fams[(*n)++] = first;
		if (pol && strcmp(pol, "SingleStack") && lab->family == LAB_FAM_DUAL)
			fams[(*n)++] = LAB_FAM_V6;
	}
	if (pol && !strcmp(pol, "RequireDualStack") && (lab->family != LAB_FAM_DUAL || *n < 2))
		return said(-EINVAL, "lab apply: %s: Service %s/%s: spec.ipFamilyPolicy: "
			    "RequireDualStack, but %s\n", src, o->meta.ns, o->meta.name,
			    lab->family != LAB_FAM_DUAL ?
			    "the lab is not dual stack (lab up --ip-family dual)" :
			    "spec.ipFamilies names one family");
	if ((!pol || !strcmp(pol, "SingleStack")) && *n > 1)
		return said(-EINVAL,
			    "lab apply: %s: Service %s/%s: spec.ipFamilyPolicy: SingleStack, but "
				    "two families are asked for\n", src, o->meta.ns, o->meta.name);
	for (i = 0; i < *n; i++)
		if (!(lab->family & fams[i]))
			return said(-EINVAL, "lab apply: %s: Service %s/%s: spec.ipFamilies: %s is "
				    "not configured in this lab (lab up --ip-family: it is %s)\n",
				    src, o->meta.ns, o->meta.name,
				    fams[i] == LAB_FAM_V4 ? "IPv4" : "IPv6",
				    lab_family_word(lab->family));
	/* A given address must be of a family asked for. */
	if ((given.has4 && fams[0] != LAB_FAM_V4 && (*n < 2 || fams[1] != LAB_FAM_V4)) ||
	    (given.has6 && fams[0] != LAB_FAM_V6 && (*n < 2 || fams[1] != LAB_FAM_V6)) ||
	    (given.order && given.order != fams[0])) {
		return said(-EINVAL, "lab apply: %s: Service %s/%s: spec.clusterIPs: do not match "
				"spec.ipFamilies (the first address is the first family's)\n", src,
			o->meta.ns, o->meta.name);
	}
	return 0;
}

/* ---- NodePorts ------------------------------------------------------------------ */

/* The Service (other than ns/name) that has nodePort np for proto, or NULL. */
static const struct k8s_object *np_owner(const struct lab_svc_index *ix, uint16_t np, uint8_t proto,
					 const char *ns, const char *name)
{
	const struct k8s_object *o = ix->np[proto_slot(proto)][np];

	return o && svc_cmp(ns, name, o) ? o : NULL;
}

/*
 * What the API server would refuse about a Service's type and nodePorts: a
 * type the lab does not serve, a headless NodePort, a nodePort outside the
 * range or another Service's. A LoadBalancer's status is the manifest's (the
 * lab plays its controller: status.loadBalancer.ingress as written).
 */
static int svc_validate_type(const struct lab *lab, const struct lab_svc_index *l,
			     const struct k8s_object *o, const char *src)
{
	const char *type = json_string_value(json_object_get(json_object_get(o->raw, "spec"), "type"));
	const struct k8s_service *s = &o->svc;

	if (type && strcmp(type, "ClusterIP") && strcmp(type, "NodePort") &&
	    strcmp(type, "LoadBalancer")) {
		return said(-EINVAL, "lab apply: %s: Service %s/%s: spec.type: \"%s\" is not "
			    "served by the lab (only ClusterIP, NodePort and LoadBalancer)\n", src,
			    o->meta.ns, o->meta.name, type);
	}
	if (s->node_ports && s->headless)
		return said(-EINVAL,
			    "lab apply: %s: Service %s/%s: spec.clusterIP: None may not be set "
				    "for a NodePort Service\n", src, o->meta.ns, o->meta.name);
	for (size_t i = 0; i < s->nports; i++) {
		const struct k8s_svc_port *p = &s->ports[i];
		const struct k8s_object *owner;

		if (!p->node_port)
			continue;
		if (p->node_port < lab->np_min || p->node_port > lab->np_max)
			return said(-EINVAL, "lab apply: %s: Service %s/%s: "
				    "spec.ports[%zu].nodePort: %u is outside the NodePort range "
				    "%u-%u (lab up --node-port-range)\n", src, o->meta.ns,
				    o->meta.name, i, p->node_port, lab->np_min, lab->np_max);
		owner = np_owner(l, p->node_port, p->proto, o->meta.ns, o->meta.name);
		for (size_t k = 0; !owner && k < i; k++)
			if (s->ports[k].node_port == p->node_port && s->ports[k].proto == p->proto)
				owner = o;
		if (owner)
			return said(-EINVAL, "lab apply: %s: Service %s/%s: "
				    "spec.ports[%zu].nodePort: %u/%s is already allocated (to "
				    "%s/%s)\n", src, o->meta.ns, o->meta.name, i, p->node_port,
				    proto_name(p->proto), owner->meta.ns, owner->meta.name);
	}
	return 0;
}

/*
 * The nodePort of port i of NodePort Service o: the manifest's, else the one
 * the stored Service has for that port, else the lowest one free in the range
 * (taken: by another Service, or by an earlier port of o, in *given). 0: full.
 */
static uint16_t np_pick(const struct lab *lab, const struct lab_svc_index *l,
			const struct k8s_object *o, const struct k8s_object *old, size_t i,
			const uint16_t *given)
{
	const struct k8s_svc_port *p = &o->svc.ports[i];

	if (p->node_port)
		return p->node_port;
	for (size_t k = 0; old && old->svc.node_ports && k < old->svc.nports; k++)
		if (old->svc.ports[k].port == p->port && old->svc.ports[k].proto == p->proto &&
		    old->svc.ports[k].node_port)
			return old->svc.ports[k].node_port;
	for (uint32_t np = lab->np_min; np <= lab->np_max; np++) {
		bool mine = false;

		for (size_t k = 0; k < o->svc.nports; k++)
			mine |= given[k] == np && o->svc.ports[k].proto == p->proto;
		if (!mine && !np_owner(l, (uint16_t)np, p->proto, o->meta.ns, o->meta.name))
			return (uint16_t)np;
	}
	return 0;
}

/* Puts the nodePorts into the stored doc's spec.ports (NodePort Services). */
static int np_assign(const struct lab *lab, const struct lab_svc_index *l, const struct k8s_object *o,
		     json_t *spec)
{
	const struct k8s_object *old = svc_find(l, o->meta.ns, o->meta.name);
	json_t *ports = json_object_get(spec, "ports");
	uint16_t *given;
	int err = 0;

	if (!o->svc.node_ports)
		return 0;
	given = calloc(o->svc.nports + 1, sizeof(*given));
	if (!given)
		return -ENOMEM;
	/* The manifest's first, so an allocation never takes one asked for further down. */
	for (size_t i = 0; i < o->svc.nports; i++)
		given[i] = o->svc.ports[i].node_port;
	for (size_t i = 0; !err && i < o->svc.nports; i++) {
		given[i] = np_pick(lab, l, o, old, i, given);
		if (!given[i]) {
			err = said(-ENOSPC, "lab apply: Service %s/%s: spec.ports[%zu].nodePort: "
				   "the range %u-%u is full\n", o->meta.ns, o->meta.name, i,
				   lab->np_min, lab->np_max);
		} else if (json_object_set_new(json_array_get(ports, i), "nodePort",
					       json_integer(given[i]))) {
			err = -ENOMEM;
		}
	}
	free(given);
	return err;
}

/* A ClusterIP of family fam (given: it is there), checked against the old object's, the range, the others'. */
static int svc_validate_ip(const struct lab_svc_index *l, const struct k8s_object *o,
			   const struct lab_svc_ips *ips, const struct lab_svc_ips *old, unsigned int fam,
			   const char *src)
{
	struct lab_svc_ips one = { .order = fam, .ip4 = ips->ip4, .ip6 = ips->ip6 };
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	bool had = old && (fam == LAB_FAM_V4 ? old->has4 : old->has6);

	/* The first address is spec.clusterIP's too: named as the API server names it. */
	const char *field = ips->order == fam ? "spec.clusterIP" : "spec.clusterIPs[1]";

	lab_svc_ip_str(ips, fam, a, sizeof(a));
	if (had && strcmp(a, lab_svc_ip_str(old, fam, b, sizeof(b))))
		return said(-EINVAL, "lab apply: %s: Service %s/%s: %s: %s, but it is %s and the "
			    "field is immutable\n", src, o->meta.ns, o->meta.name, field, a, b);
	if (svc_off(ips, fam) < 0)
		return said(-EINVAL, "lab apply: %s: Service %s/%s: %s: %s is not in the "
				"service range %s/%d\n", src, o->meta.ns, o->meta.name, field, a,
			fam == LAB_FAM_V4 ? LAB_SVC_NET : LAB_SVC_NET6,
			fam == LAB_FAM_V4 ? LAB_SVC_PLEN : LAB_SVC_PLEN6);
	if (ip_taken(l, &one, old))
		return said(-EINVAL, "lab apply: %s: Service %s/%s: %s: %s is already "
				     "allocated\n", src, o->meta.ns, o->meta.name, field, a);
	return 0;
}

/* What the API server would refuse about a Service: its ClusterIPs and families, type and nodePorts. */
int lab_svc_validate(struct lab *lab, const struct k8s_object *o, const char *src)
{
	struct lab_svc_ips ips, oips;
	struct lab_svc_index *l;
	const struct k8s_object *old;
	unsigned int fams[2];
	size_t nfam;
	int err = 0;

	if (idx_get(lab, &l))
		return -EIO;
	old = svc_find(l, o->meta.ns, o->meta.name);
	if (old && lab_svc_ips_get(old->raw, &oips))
		old = NULL;
	if (lab_svc_ips_get(o->raw, &ips)) {
		err = said(-EINVAL, "lab apply: %s: Service %s/%s: spec.clusterIPs: not IP "
			   "addresses (at most one of each family, or None)\n", src, o->meta.ns,
			   o->meta.name);
	} else if (old && oips.headless != ips.headless) {
		/* None is a ClusterIP value like any other: immutable both ways. */
		err = said(-EINVAL, "lab apply: %s: Service %s/%s: spec.clusterIP: %s, but it is "
			   "%s and the field is immutable\n", src, o->meta.ns, o->meta.name,
			   ips.headless ? "None" : "an address",
			   oips.headless ? "None" : "an address");
	} else if (!ips.headless) {
		err = svc_families(lab, o, src, fams, &nfam);
		if (!err && ips.has4)
			err = svc_validate_ip(l, o, &ips, old ? &oips : NULL, LAB_FAM_V4, src);
		if (!err && ips.has6)
			err = svc_validate_ip(l, o, &ips, old ? &oips : NULL, LAB_FAM_V6, src);
	}
	if (!err)
		err = svc_validate_type(lab, l, o, src);
	return err;
}

/* Writes the Service's stored object doc (unless it is the one stored: old) and indexes it. */
static int svc_write(struct lab *lab, struct lab_svc_index *ix, const struct k8s_object *old,
		     json_t *doc, bool *changed, const char **word)
{
	char path[PATH_MAX], dir[PATH_MAX];
	struct k8s_error kerr;
	struct k8s_object *o;
	int err;

	*word = !old ? "created" : json_equal(old->raw, doc) ? "unchanged" : "configured";
	if (!strcmp(*word, "unchanged"))
		return 0;
	/* Parsed before it is written: the index never lacks a Service that is stored. */
	err = k8s_parse_lb(doc, &o, &kerr);
	if (err)
		return said(err, "lab: %s\n", kerr.msg);
	lab_path(lab, dir, sizeof(dir), "services");
	if (mkdir(dir, 0755) && errno != EEXIST) {
		err = -errno;
		goto fail;
	}
	lab_svc_file(lab, o->meta.ns, o->meta.name, path, sizeof(path));
	err = lab_write_json(path, doc);
	if (err)
		goto fail;
	*changed = true;
	return idx_put(ix, o);
fail:
	k8s_free(o);
	return err;
}

/* Is o's spec.type LoadBalancer (its status then read as the manifest writes it)? */
static bool lb_type(const struct k8s_object *o)
{
	const char *t = json_string_value(json_object_get(json_object_get(o->raw, "spec"), "type"));

	return t && !strcmp(t, "LoadBalancer");
}

/*
 * Stores the Service with a ClusterIP of each family it asks for (given, kept,
 * or the lowest free one), in spec.clusterIP(s) and spec.ipFamilies.
 */
int lab_svc_apply(struct lab *lab, const struct k8s_object *o, bool *changed, FILE *say)
{
	char a[2][INET6_ADDRSTRLEN];
	struct lab_svc_ips ips, oips;
	const struct k8s_object *old, *stored;
	struct lab_svc_index *l;
	unsigned int fams[2];
	const char *word;
	json_t *doc = NULL, *spec, *cips = NULL, *families = NULL;
	size_t nfam = 0;
	int err;

	err = idx_get(lab, &l);
	if (err)
		return err;
	old = stored = svc_find(l, o->meta.ns, o->meta.name);
	if (old && lab_svc_ips_get(old->raw, &oips))
		old = NULL;
	err = lab_svc_ips_get(o->raw, &ips);
	/* Headless (clusterIP: None): no address, so no frontend; DNS names its pods. */
	if (!err && !ips.headless)
		err = svc_families(lab, o, "", fams, &nfam);
	for (size_t i = 0; !err && i < nfam; i++) {
		bool given = fams[i] == LAB_FAM_V4 ? ips.has4 : ips.has6;
		bool kept = old && (fams[i] == LAB_FAM_V4 ? oips.has4 : oips.has6);

		if (!given && kept && fams[i] == LAB_FAM_V4) {
			ips.has4 = true;
			ips.ip4 = oips.ip4;
		} else if (!given && kept) {
			ips.has6 = true;
			ips.ip6 = oips.ip6;
		} else if (!given && svc_allocate(l, fams[i], &ips)) {
			err = said(-ENOSPC, "lab apply: Service %s/%s: spec.clusterIP: the range "
				   "%s/%d is full\n", o->meta.ns, o->meta.name,
				   fams[i] == LAB_FAM_V4 ? LAB_SVC_NET : LAB_SVC_NET6,
				   fams[i] == LAB_FAM_V4 ? LAB_SVC_PLEN : LAB_SVC_PLEN6);
		}
		lab_svc_ip_str(&ips, fams[i], a[i], sizeof(a[i]));
	}
	if (err)
		goto out;
	err = -ENOMEM;
	doc = json_deep_copy(o->raw);
	cips = json_array();
	families = json_array();
	if (!doc || !cips || !families)
		goto out;
	if (ips.headless)
		snprintf(a[0], sizeof(a[0]), "None");
	for (size_t i = 0; i < (ips.headless ? 1 : nfam); i++)
		if (json_array_append_new(cips, json_string(a[i])))
			goto out;
	for (size_t i = 0; i < nfam; i++)
		if (json_array_append_new(families, json_string(fams[i] == LAB_FAM_V4 ? "IPv4" : "IPv6")))
			goto out;
	spec = json_object_get(doc, "spec");
	if (json_object_set_new(json_object_get(doc, "metadata"), "namespace",
				json_string(o->meta.ns)) ||
	    json_object_set_new(spec, "clusterIP", json_string(a[0])) ||
	    json_object_set(spec, "clusterIPs", cips) ||
	    json_object_set_new(spec, "type", json_string(!o->svc.node_ports ? "ClusterIP" :
							  lb_type(o) ? "LoadBalancer" : "NodePort")))
		goto out;
	/* Only when the lab has IPv6: an IPv4 lab's objects stay as they were. */
	if (lab->family != LAB_FAM_V4 && !ips.headless &&
	    (json_object_set(spec, "ipFamilies", families) ||
	     (!json_object_get(spec, "ipFamilyPolicy") &&
	      json_object_set_new(spec, "ipFamilyPolicy", json_string("SingleStack")))))
		goto out;
	err = np_assign(lab, l, o, spec);
	if (!err)
		err = svc_write(lab, l, stored, doc, changed, &word);
	/* The matrix makes its Services as it goes: it only tells what it changed. */
	if (!err && (say == stdout || strcmp(word, "unchanged")))
		fprintf(say, "service %s/%s %s\n", o->meta.ns, o->meta.name, word);
out:
	json_decref(doc);
	json_decref(cips);
	json_decref(families);
	return err;
}

/* 1 deleted, 0 there was none, -errno. */
int lab_svc_delete(struct lab *lab, const char *ns, const char *name)
{
	char path[PATH_MAX];

	lab_svc_file(lab, ns, name, path, sizeof(path));
	if (unlink(path))
		return errno == ENOENT ? 0 : -errno;
	if (lab->svc_index)
		idx_del(lab->svc_index, ns, name);
	return 1;
}

int lab_svc_lookup(struct lab *lab, const char *ns, const char *name, struct lab_svc_ips *ips)
{
	struct k8s_object *o;
	char path[PATH_MAX];
	int err;

	lab_svc_file(lab, ns, name, path, sizeof(path));
	if ((err = lab_object_load(path, &o)))
		return err == -ENOENT ? err : -EIO;
	err = lab_svc_ips_get(o->raw, ips);
	if (!err && ips->headless)
		err = -ENXIO;
	k8s_free(o);
	return err;
}

/*
 * The Service of pod p for `lab matrix --via-service`: svc-<pod> in its
 * namespace, selecting the pod's labels, with port (named as the pod names
 * it, and then targeted by that name) added if missing. Its ClusterIP in *ip.
 */
int lab_svc_for_pod(struct lab *lab, const struct lab_pod *p, const struct lab_port *port,
		    struct lab_svc_ips *ips, bool *changed)
{
	struct k8s_object *pod = NULL, *svc = NULL, *old = NULL;
	char path[PATH_MAX], name[64], pname[32];
	const char *cname = NULL, *proto = port->proto == IPPROTO_UDP ? "UDP" : "TCP";
	json_t *doc = NULL, *sel, *ports, *pj;
	struct k8s_error kerr;
	int err = -ENOMEM;

	snprintf(name, sizeof(name), "svc-%.59s", p->name);
	lab_object_file(lab, K8S_POD, p->ns, p->name, path, sizeof(path));
	if (lab_object_load(path, &pod))
		return said(-EIO, "lab: pod %s/%s: its object (%s) cannot be read\n", p->ns,
			    p->name, path);
	if (!pod->meta.labels.n) {
		err = said(-EINVAL, "lab: pod %s/%s has no labels: a Service cannot select it\n",
			   p->ns, p->name);
		goto out;
	}
	for (size_t i = 0; i < pod->pod.nports; i++)
		if (pod->pod.ports[i].name && pod->pod.ports[i].port == port->port &&
		    pod->pod.ports[i].proto == port->proto)
			cname = pod->pod.ports[i].name;
	snprintf(pname, sizeof(pname), "%s-%u", proto_name(port->proto), port->port);
	sel = json_object();
	for (size_t i = 0; sel && i < pod->meta.labels.n; i++)
		json_object_set_new(sel, pod->meta.labels.v[i].key,
				    json_string(pod->meta.labels.v[i].value));
	/* Keep the ports it has (other matrix runs), refresh the selector. */
	lab_svc_file(lab, p->ns, name, path, sizeof(path));
	if (!lab_object_load(path, &old))
		ports = json_deep_copy(json_object_get(json_object_get(old->raw, "spec"), "ports"));
	else
		ports = json_array();
	if (!sel || !ports)
		goto out_json;
	for (size_t i = 0; old && i < old->svc.nports; i++)
		if (old->svc.ports[i].port == port->port && old->svc.ports[i].proto == port->proto)
			goto have_port;
	pj = json_pack("{s:s,s:s,s:i}", "name", cname ? cname : pname, "protocol", proto, "port",
		       port->port);
	if (!pj || json_object_set_new(pj, "targetPort",
				       cname ? json_string(cname) : json_integer(port->port)) ||
	    json_array_append_new(ports, pj))
		goto out_json;
have_port:
	doc = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:O,s:O}}", "apiVersion", "v1", "kind", "Service",
			"metadata", "name", name, "namespace", p->ns, "spec", "selector", sel,
			"ports", ports);
	if (!doc)
		goto out_json;
	/* Its ClusterIPs kept; in a dual stack lab one of each family. */
	if (old) {
		json_object_set(json_object_get(doc, "spec"), "clusterIP",
				json_object_get(json_object_get(old->raw, "spec"), "clusterIP"));
		json_object_set(json_object_get(doc, "spec"), "clusterIPs",
				json_object_get(json_object_get(old->raw, "spec"), "clusterIPs"));
	}
	if (lab->family == LAB_FAM_DUAL)
		json_object_set_new(json_object_get(doc, "spec"), "ipFamilyPolicy",
				    json_string("PreferDualStack"));
	err = k8s_parse_lb(doc, &svc, &kerr);
	if (err) {
		fprintf(stderr, "lab: %s\n", kerr.msg);
		goto out_json;
	}
	err = lab_svc_apply(lab, svc, changed, stderr);
	if (!err)
		err = lab_svc_lookup(lab, p->ns, name, ips);
out_json:
	json_decref(doc);
	json_decref(sel);
	json_decref(ports);
out:
	k8s_free(svc);
	k8s_free(old);
	k8s_free(pod);
	return err;
}

/* ---- endpoints ---------------------------------------------------------------- */

void lab_ep_pods_free(struct lab_ep_pod *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		k8s_free(v[i].obj);
	free(v);
}

/* The running pods with their objects, sorted by IP (kube-proxy sorts endpoints too). */
int lab_ep_pods_load(struct lab *lab, struct lab_ep_pod **out, size_t *n)
{
	struct lab_ep_pod *v = calloc(lab->npods + 1, sizeof(*v));
	char path[PATH_MAX];

	*n = 0;
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < lab->npods; i++) {
		if (!lab->pods[i].ip[0] && !lab->pods[i].ip6[0])
			continue;
		lab_object_file(lab, K8S_POD, lab->pods[i].ns, lab->pods[i].name, path, sizeof(path));
		if (!lab_object_load(path, &v[*n].obj))
			v[(*n)++].pod = &lab->pods[i];
	}
	*out = v;
	return 0;
}

/* Does svc's selector take pod ep (same namespace, labels matching)? */
bool lab_svc_selects(const struct k8s_object *svc, const struct lab_ep_pod *ep)
{
	/* spec.selector is matchLabels alone: the one selector matcher decides. */
	const struct k8s_selector sel = { .match_labels = svc->svc.selector };

	return svc->svc.has_selector && !strcmp(ep->pod->ns, svc->meta.ns) &&
	       k8s_selector_matches(&sel, &ep->obj->meta.labels);
}

/*
 * The port Service port sp of svc reaches on pod ep: 0 if the pod is no endpoint
 * of it (another namespace, the selector does not match, no such named port).
 */
uint16_t lab_endpoint_port(const struct k8s_object *svc, const struct k8s_svc_port *sp,
			      const struct lab_ep_pod *ep)
{
	const struct k8s_pod *p = &ep->obj->pod;

	if (!lab_svc_selects(svc, ep))
		return 0;
	if (!sp->target_name)
		return sp->target_port;
	for (size_t i = 0; i < p->nports; i++)
		if (p->ports[i].name && p->ports[i].proto == sp->proto &&
		    !strcmp(p->ports[i].name, sp->target_name))
			return p->ports[i].port;
	return 0;
}
