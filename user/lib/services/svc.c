// SPDX-License-Identifier: Apache-2.0
/*
 * Services + EndpointSlices -> svcsync's frontends (svc.h): one Service's
 * candidates (struct item), the frontends it asks for and the problems only it
 * has, in the order the whole list reports them. Which Service keeps a frontend
 * two of them ask for is settled by svc_incr.c, over the claims on each key.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/system/proto.h"
#include "lib/services/svc.h"
#include "lib/services/svc_int.h"
#include "lib/system/util.h"

static void spec_free(struct svc_spec *s)
{
	free((char *)s->name);
	free((void *)s->be);
	s->name = NULL;
	s->be = NULL;
}

static void item_free(struct item *it)
{
	free(it->err);
	spec_free(&it->fe);
	spec_free(&it->twin);
}

void svc_items_free(struct items *v)
{
	for (size_t i = 0; i < v->n; i++)
		item_free(&v->v[i]);
	free(v->v);
	memset(v, 0, sizeof(*v));
}

/* Room for one more item, zeroed; NULL on -ENOMEM. */
static struct item *item_new(struct items *v)
{
	if (XCNI_GROW(v->v, v->n, v->cap))
		return NULL;
	memset(&v->v[v->n], 0, sizeof(v->v[0]));
	return &v->v[v->n++];
}

/* The words of fmt (NULL: out of memory). */
static char *words(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *words(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

/* A problem candidate saying msg (owned; NULL: out of memory). 0 or -ENOMEM. */
static int item_err(struct items *v, char *msg)
{
	struct item *it = msg ? item_new(v) : NULL;

	if (!it) {
		free(msg);
		return -ENOMEM;
	}
	it->err = msg;
	return 0;
}

/* err, item_err's answer; when 0, the item it made refuses its Service for bound (SVC_BOUND_*). */
static int item_bound(struct items *v, uint8_t bound, int err)
{
	if (!err)
		v->v[v->n - 1].bound = bound;
	return err;
}

/* The field a candidate comes from, as its messages name it. */
static void field_name(uint8_t field, size_t i, char *buf, size_t len)
{
	static const char *const fmt[] = { "spec.ports[%zu]", "spec.ports[%zu].nodePort",
					   "spec.externalIPs[%zu]",
					   "status.loadBalancer.ingress[%zu].ip",
					   "spec.ports[%zu].nodePort" };

	snprintf(buf, len, fmt[field], i);
}

/* Candidate it of Service ns/name asks for a frontend candidate owner has: the words for it. */
char *svc_clash_msg(const struct item *it, const char *ns, const char *name,
		    const struct item *owner)
{
	char fld[96], ip[INET6_ADDRSTRLEN], *m;
	const char *fmt;
	int n;

	field_name(it->field, it->fidx, fld, sizeof(fld));
	inet_ntop(it->fe.key.family == XCNI_AF_INET6 ? AF_INET6 : AF_INET, it->fe.key.addr, ip,
		  sizeof(ip));
	/* An externalIP never takes what the cluster allocated; between two
	 * externalIPs the older Service keeps it (svc_incr.c's claim_cmp). */
	if (it->field != FIELD_EXTERNAL_IP)
		fmt = "Service %s/%s: %s: frontend %s:%u/%s is another Service's already (%s); "
		      "left out";
	else if (owner->field != FIELD_EXTERNAL_IP)
		fmt = "Service %s/%s: %s: frontend %s:%u/%s is allocated by the cluster to %s; "
		      "externalIP refused";
	else
		fmt = "Service %s/%s: %s: frontend %s:%u/%s is an older Service's externalIP (%s); "
		      "externalIP refused";
	n = asprintf(&m, fmt, ns, name, fld, ip, ntohs(it->fe.key.port),
		     proto_k8s_name(it->fe.key.proto), owner->fe.name);
	return n < 0 ? NULL : m;
}

const char *svc_ext_refused(const struct svc_ext_rules *r, const struct svc_node *node,
			    uint8_t family, const void *addr, char *buf, size_t len)
{
	static const char *const what[] = { "the Service range", "a pod range" };
	uint8_t fam = family == XCNI_AF_INET6 ? 6 : 4;
	char ip[INET6_ADDRSTRLEN], pfx[INET6_ADDRSTRLEN + 4];
	bool allowed = false;

	inet_ntop(fam == 6 ? AF_INET6 : AF_INET, addr, ip, sizeof(ip));
	for (size_t i = 0; r && i < r->nreserved; i++) {
		const struct svc_prefix *p = &r->reserved[i];

		if (p->p.family != fam || !xcni_prefix_has(p->p.addr, p->p.len, addr))
			continue;
		snprintf(buf, len, "%s is in %s %s", ip, what[p->what == SVC_PFX_POD],
			 xcni_prefix_str(&p->p, pfx, sizeof(pfx)));
		return buf;
	}
	/* Every node's address: at a nodePort that is another Service's frontend,
	 * at any other port the node's own (its kubelet, its SSH). */
	for (size_t i = 0; node && family == XCNI_AF_INET && i < node->naddrs + node->npeers; i++)
		if (!memcmp(i < node->naddrs ? &node->addrs[i] : &node->peers[i - node->naddrs],
			    addr, 4))
			goto node_addr;
	for (size_t i = 0; node && family == XCNI_AF_INET6 && i < node->naddrs6 + node->npeers6; i++)
		if (!memcmp(i < node->naddrs6 ? node->addrs6[i] : node->peers6[i - node->naddrs6],
			    addr, 16))
			goto node_addr;
	for (size_t i = 0; r && i < r->nallow && !allowed; i++)
		allowed = r->allow[i].family == fam &&
			  xcni_prefix_has(r->allow[i].addr, r->allow[i].len, addr);
	if (r && r->nallow && !allowed) {
		snprintf(buf, len, "%s is outside --external-ip-cidrs", ip);
		return buf;
	}
	return NULL;
node_addr:
	snprintf(buf, len, "%s is a node's address", ip);
	return buf;
}

const char *svc_lb_refused(const struct svc_ext_rules *r, const struct svc_node *node,
			   uint8_t family, const void *addr, char *buf, size_t len)
{
	struct svc_ext_rules lb = r ? *r : (struct svc_ext_rules){};

	lb.nallow = 0;
	return svc_ext_refused(&lb, node, family, addr, buf, len);
}

int svc_nodeport_range_parse(const char *s, uint16_t *min, uint16_t *max)
{
	unsigned long lo, hi;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	lo = strtoul(s, &end, 10);
	if (errno || *end != '-' || end[1] < '0' || end[1] > '9')
		return -EINVAL;
	hi = strtoul(end + 1, &end, 10);
	if (errno || *end || lo < 1 || lo > hi || hi > 65535)
		return -EINVAL;
	*min = (uint16_t)lo;
	*max = (uint16_t)hi;
	return 0;
}

/* The slice's port for Service port p: by p's name, else by a named targetPort. */
static const struct k8s_eps_port *slice_port(const struct k8s_epslice *s,
					     const struct k8s_svc_port *p)
{
	const char *name = p->name ? p->name : "";

	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1 && (!p->target_name || !strcmp(p->target_name, name)))
			break;
		for (size_t i = 0; i < s->nports; i++) {
			const struct k8s_eps_port *ep = &s->ports[i];

			if (ep->proto == p->proto && !strcmp(ep->name, pass ? p->target_name : name))
				return ep;
		}
	}
	return NULL;
}

/* Adds one endpoint of a slice of family (XCNI_AF_*) as a backend of the
 * frontend being built (be, *nbe, room for it). */
static void add_backend(struct svc_be_spec *be, size_t *nbe, const struct k8s_endpoint *e,
			uint8_t family, uint16_t port)
{
	const void *addr = family == XCNI_AF_INET6 ? (const void *)e->addr6 : &e->addr;
	size_t alen = family == XCNI_AF_INET6 ? 16 : 4;
	uint8_t state;

	if (e->ready)
		state = XCNI_BE_ACTIVE;
	else if (e->serving && e->terminating)
		state = XCNI_BE_TERMINATING;
	else
		return;
	for (size_t i = 0; i < *nbe; i++) {
		if (!memcmp(be[i].addr, addr, alen) && be[i].port == htons(port)) {
			if (state == XCNI_BE_ACTIVE)
				be[i].state = XCNI_BE_ACTIVE;
			return;
		}
	}
	memset(&be[*nbe], 0, sizeof(be[*nbe]));
	memcpy(be[*nbe].addr, addr, alen);
	be[*nbe].port = htons(port);
	be[*nbe].family = family;
	be[*nbe].state = state;
	(*nbe)++;
}

/* The backends one Service port has: every one, and those on this node;
 * node_of[i]: all[i]'s endpoint's nodeName (NULL: none), for another node's
 * NodePort under externalTrafficPolicy Local. */
struct port_bes {
	struct svc_be_spec *all, *local;
	size_t nall, nlocal;
	const char **node_of;
};

/* What every frontend of one Service port shares. */
struct port_ctx {
	const struct k8s_object *so;
	size_t i; /* spec.ports[i] */
	const struct k8s_svc_port *p;
	uint8_t flags; /* affinity, Maglev */
	const struct port_bes *b; /* the backends of the family being built */
	const struct k8s_object *const *slices; /* the Service's EndpointSlices */
	size_t nslices, room; /* room: the endpoints they list */
	const struct svc_node *node;
	uint16_t np_min, np_max; /* the NodePort range */
};

/*
 * Frontend sp of the port in pc: key k, named name (owned: freed on error),
 * with a copy of be. Who it belongs to, for the name map (xcni_svcname):
 * names longer than the map holds (none the API server accepts) are cut.
 */
static int spec_set(struct svc_spec *sp, const struct port_ctx *pc, char *name,
		    const struct xcni_svc_key *k, uint8_t flags, const struct svc_be_spec *be,
		    size_t nbe)
{
	struct svc_be_spec *copy = nbe ? malloc(nbe * sizeof(*copy)) : NULL;

	if (!name || (nbe && !copy)) {
		free(name);
		free(copy);
		return -ENOMEM;
	}
	if (nbe)
		memcpy(copy, be, nbe * sizeof(*copy));
	*sp = (struct svc_spec){ .name = name, .key = *k, .flags = flags,
				 .affinity_s = pc->so->svc.affinity_s, .nbe = nbe, .be = copy };
	snprintf(sp->who.ns, sizeof(sp->who.ns), "%s", pc->so->meta.ns);
	snprintf(sp->who.name, sizeof(sp->who.name), "%s", pc->so->meta.name);
	snprintf(sp->who.port, sizeof(sp->who.port), "%s", pc->p->name ? pc->p->name : "");
	return 0;
}

/* A frontend candidate from field[fidx] (spec_set's arguments); NULL on -ENOMEM. */
static struct item *fe_item(struct items *v, const struct port_ctx *pc, char *name,
			    const struct xcni_svc_key *k, uint8_t flags,
			    const struct svc_be_spec *be, size_t nbe, uint8_t field, size_t fidx)
{
	struct item *it = item_new(v);

	if (!it || spec_set(&it->fe, pc, name, k, flags, be, nbe)) {
		if (it)
			v->n--;
		else
			free(name);
		return NULL;
	}
	it->field = field;
	it->fidx = (uint16_t)fidx;
	return it;
}

/* The key of a frontend at addr:port of the port in pc (EXT scope); ip: addr as text. */
static struct xcni_svc_key fe_key(const struct port_ctx *pc, const void *addr, uint8_t family,
				  uint16_t port, char ip[INET6_ADDRSTRLEN])
{
	struct xcni_svc_key k = { .port = htons(port), .family = family, .proto = pc->p->proto,
				  .scope = XCNI_SCOPE_EXT };

	memcpy(k.addr, addr, family == XCNI_AF_INET6 ? 16 : 4);
	inet_ntop(family == XCNI_AF_INET6 ? AF_INET6 : AF_INET, addr, ip, INET6_ADDRSTRLEN);
	return k;
}

/*
 * A frontend at addr:port of the port in pc; field names where it comes from
 * for messages. External ones (NodePort, externalIPs, load-balancer IPs)
 * follow externalTrafficPolicy: under Local the EXT entry holds only this
 * node's backends (no other node's, the client's address is kept), and an
 * INT entry holds them all, for pods of this node reaching it (as kube-proxy
 * sends pods' traffic to external frontends cluster-wide). The ClusterIP
 * follows internalTrafficPolicy (Local: this node's backends only).
 */
static int add_frontend(struct items *v, const struct port_ctx *pc, const void *addr,
			uint8_t family, uint16_t port, uint8_t field, size_t fidx)
{
	const struct k8s_object *so = pc->so;
	const struct port_bes *b = pc->b;
	bool external = field != FIELD_PORT;
	bool local = external ? so->svc.etp_local : so->svc.itp_local;
	char ip[INET6_ADDRSTRLEN];
	struct xcni_svc_key k = fe_key(pc, addr, family, port, ip);
	const char *proto = proto_k8s_name(k.proto);
	uint8_t flags = pc->flags;
	struct item *it;

	/* The flag is what makes a frontend with no backend here drop (the
	 * Service has endpoints elsewhere: kube-proxy's DROP); with no
	 * endpoint anywhere it is refused, as kube-proxy REJECTs. */
	if (local && b->nall)
		flags |= external ? XCNI_SVC_F_ETP_LOCAL : XCNI_SVC_F_ITP_LOCAL;
	if (external && local)
		flags |= XCNI_SVC_F_TWO_SCOPES;
	/* The cluster's own: from_overlay refuses it to outside clients by default. */
	if (!external)
		flags |= XCNI_SVC_F_CLUSTERIP;
	/* Every backend the entry holds is here: the XDP fast path's cue to
	 * hand the packet to tc without choosing (the INT twin keeps pc's). */
	if (external && (local ? b->nlocal : b->nall) && (local || b->nlocal == b->nall))
		flags |= XCNI_SVC_F_LOCAL_BE;
	/* A dual-stack Service's IPv6 ClusterIP is told from its IPv4 one. */
	it = fe_item(v, pc,
		     external ? words("%s/%s %s:%u/%s", so->meta.ns, so->meta.name, ip, port, proto) :
				words("%s/%s:%u/%s%s", so->meta.ns, so->meta.name, port, proto,
				      family == XCNI_AF_INET6 ? " (IPv6)" : ""),
		     &k, flags, local ? b->local : b->all, local ? b->nlocal : b->nall, field, fidx);
	if (!it)
		return -ENOMEM;
	if (!(flags & XCNI_SVC_F_TWO_SCOPES))
		return 0;
	k.scope = XCNI_SCOPE_INT;
	if (!spec_set(&it->twin, pc,
		      words("%s/%s %s:%u/%s (inside)", so->meta.ns, so->meta.name, ip, port, proto),
		      &k, pc->flags, b->all, b->nall))
		return 0;
	item_free(it);
	v->n--;
	return -ENOMEM;
}

/*
 * Another node's NodePort (peer: that Node's name, NULL if not known), for
 * this node's pods. Under externalTrafficPolicy Cluster every backend (as
 * kube-proxy sends a pod's traffic to every endpoint). Under Local only
 * that node's own endpoints, with XCNI_SVC_F_ETP_LOCAL when the Service has
 * some elsewhere (none here then: the data plane drops): that node takes the
 * connection as external (upstream masquerades a pod's traffic to a node
 * address), and has no other to give it. In the EXT scope the programs look
 * up first: traffic from outside to another node's address never reaches
 * this node's underlay.
 */
static int add_peer_frontend(struct items *v, const struct port_ctx *pc, const void *addr,
			     const char *peer, uint8_t family, uint16_t port, size_t fidx)
{
	const struct port_bes *b = pc->b;
	char ip[INET6_ADDRSTRLEN];
	struct xcni_svc_key k = fe_key(pc, addr, family, port, ip);
	struct svc_be_spec *theirs = NULL;
	size_t nbe = b->nall;
	uint8_t flags = pc->flags;
	struct item *it;

	if (pc->so->svc.etp_local && peer) {
		nbe = 0;
		if (b->nall && !(theirs = calloc(b->nall, sizeof(*theirs))))
			return -ENOMEM;
		for (size_t i = 0; i < b->nall; i++)
			if (b->node_of[i] && !strcmp(b->node_of[i], peer))
				theirs[nbe++] = b->all[i];
		/* No endpoint anywhere is refused there as here (kube-proxy's
		 * REJECT); endpoints elsewhere only, dropped (its DROP). */
		if (b->nall)
			flags |= XCNI_SVC_F_ETP_LOCAL;
	}
	it = fe_item(v, pc,
		     words("%s/%s %s:%u/%s (another node's)", pc->so->meta.ns, pc->so->meta.name,
			   ip, port, proto_k8s_name(k.proto)),
		     &k, flags, theirs ? theirs : b->all, nbe, FIELD_PEER, fidx);
	free(theirs);
	return it ? 0 : -ENOMEM;
}

/*
 * spec.externalIPs[fidx] or status.loadBalancer.ingress[fidx].ip (field; addr)
 * at the port in pc: its frontend, or its refusal (svc_ext_refused), said
 * once, with the Service's first port. A load-balancer IP is judged as an
 * externalIP but for the allow-list (--external-ip-cidrs names where
 * externalIPs may point): whoever writes a Service's status (its controller,
 * or anyone granted services/status) must not take a node's address either.
 */
static int add_external(struct items *v, const struct port_ctx *pc, const void *addr,
			uint8_t family, uint8_t field, size_t fidx)
{
	const struct svc_node *node = pc->node;
	const struct svc_ext_rules *r = node ? node->ext : NULL;
	char why[192], fld[96];

	if (!(field == FIELD_LB_IP ? svc_lb_refused : svc_ext_refused)(r, node, family, addr, why,
								      sizeof(why)))
		return add_frontend(v, pc, addr, family, pc->p->port, field, fidx);
	if (pc->i)
		return 0;
	field_name(field, fidx, fld, sizeof(fld));
	if (item_err(v, words("Service %s/%s: %s: %s; %s refused", pc->so->meta.ns,
			      pc->so->meta.name, fld, why,
			      field == FIELD_LB_IP ? "load-balancer IP" : "externalIP")))
		return -ENOMEM;
	v->v[v->n - 1].refused = true;
	return 0;
}

/*
 * a * b, or SIZE_MAX when that does not fit: an object's counts (a Service of
 * 10^4 ports x 10^4 externalIPs) must not wrap into a small allocation.
 */
static size_t mul_sat(size_t a, size_t b)
{
	size_t r;

	return __builtin_mul_overflow(a, b, &r) ? SIZE_MAX : r;
}

static size_t add_sat(size_t a, size_t b)
{
	return a + b < a ? SIZE_MAX : a + b;
}

/* The frontend addresses of each port of s (node: NodePort addresses counted), saturating. */
static size_t addrs_per_port(const struct k8s_service *s, const struct svc_node *node)
{
	size_t n = add_sat(add_sat(1 + (size_t)s->has_ip6, s->nexternal_ips),
			   add_sat(s->nexternal_ips6, add_sat(s->nlb_ips, s->nlb_ips6)));

	if (s->node_ports && node)
		n = add_sat(n, add_sat(add_sat(node->naddrs, node->npeers),
				       add_sat(node->naddrs6, node->npeers6)));
	return n;
}

size_t svc_frontends_of(const struct k8s_service *s, const struct svc_node *node)
{
	/* externalTrafficPolicy Local: each external frontend has an INT twin. */
	return mul_sat(mul_sat(addrs_per_port(s, node), s->nports), s->etp_local ? 2 : 1);
}

static void port_bes_free(struct port_bes *b)
{
	free(b->all);
	free(b->local);
	free(b->node_of);
}

/*
 * The backends of the port in pc from the slices of family. A slice with
 * ports but not this one is normal when some of the pods do not name the port
 * (the EndpointSlice controller groups endpoints by the ports they resolve);
 * only a port that no slice with ports carries is a mismatch worth saying.
 */
static int port_backends(const struct port_ctx *pc, uint8_t family, struct port_bes *b,
			 struct items *v)
{
	const struct k8s_svc_port *p = pc->p;
	const char *here = pc->node ? pc->node->name : NULL;
	const struct k8s_epslice *miss = NULL;
	bool matched = false;

	memset(b, 0, sizeof(*b));
	if (pc->room && (!(b->all = calloc(pc->room, sizeof(*b->all))) ||
			 !(b->local = calloc(pc->room, sizeof(*b->local))) ||
			 !(b->node_of = calloc(pc->room, sizeof(*b->node_of)))))
		return -ENOMEM;
	for (size_t j = 0; j < pc->nslices; j++) {
		const struct k8s_epslice *es = &pc->slices[j]->eps;
		const struct k8s_eps_port *ep;

		/* A dual-stack Service has a slice per family: each family's
		 * frontends get that family's endpoints (FQDN slices none). */
		if (!(family == XCNI_AF_INET6 ? es->ipv6 : es->ipv4))
			continue;
		ep = slice_port(es, p);
		if (!ep) {
			/* A slice without ports serves none (upstream). */
			if (es->nports && !miss)
				miss = es;
			continue;
		}
		matched = true;
		if (!ep->has_port)
			continue;
		for (size_t k = 0; k < es->nendpoints; k++) {
			const struct k8s_endpoint *e = &es->endpoints[k];
			size_t before = b->nall;

			add_backend(b->all, &b->nall, e, family, ep->port);
			if (b->nall > before)
				b->node_of[before] = e->node_name;
			/* Node-local: the endpoint's nodeName is this node's. */
			if (here && e->node_name && !strcmp(e->node_name, here))
				add_backend(b->local, &b->nlocal, e, family, ep->port);
		}
	}
	if (miss && !matched)
		return item_err(v, words("Service %s/%s: spec.ports[%zu].name: \"%s\" names no %s "
					 "port of EndpointSlice %s/%s",
					 pc->so->meta.ns, pc->so->meta.name, pc->i,
					 p->name ? p->name : "", proto_k8s_name(p->proto),
					 miss->meta.ns, miss->meta.name));
	return 0;
}

/* Does the Service get frontends at all? Not headless, ExternalName or unallocated ones (DNS's). */
static bool has_frontends(const struct k8s_service *s)
{
	return !s->headless && !s->external_name && (s->cluster_ip || s->has_ip6);
}

/*
 * Port pc->i's frontends of one family outside the ClusterIP: NodePorts (the node's
 * addresses, then its peers'), externalIPs and load-balancer IPs, with pc's backends;
 * messages name each one's index in its list. A nodePort out of range: said when say.
 */
static int port_external(const struct port_ctx *pc, uint8_t fam, bool say, struct items *v)
{
	const struct k8s_object *so = pc->so;
	const struct k8s_service *s = &so->svc;
	const struct k8s_svc_port *p = pc->p;
	const struct svc_node *node = pc->node;
	bool v6 = fam == XCNI_AF_INET6;
	size_t al = v6 ? 16 : 4, i = pc->i, naddrs = 0, npeers = 0, next, nlb;
	const uint8_t *addrs = NULL, *peers = NULL, *ext, *lb;
	const char *const *pnames = NULL;
	const size_t *ext_at, *lb_at;
	char fld[96];
	int err = 0;

	if (node) {
		naddrs = v6 ? node->naddrs6 : node->naddrs;
		npeers = v6 ? node->npeers6 : node->npeers;
		addrs = v6 ? (const uint8_t *)node->addrs6 : (const uint8_t *)node->addrs;
		peers = v6 ? (const uint8_t *)node->peers6 : (const uint8_t *)node->peers;
		pnames = v6 ? node->peer_names6 : node->peer_names;
	}
	next = v6 ? s->nexternal_ips6 : s->nexternal_ips;
	ext = v6 ? (const uint8_t *)s->external_ips6 : (const uint8_t *)s->external_ips;
	ext_at = v6 ? s->external_ips6_at : s->external_ips_at;
	nlb = v6 ? s->nlb_ips6 : s->nlb_ips;
	lb = v6 ? (const uint8_t *)s->lb_ips6 : (const uint8_t *)s->lb_ips;
	lb_at = v6 ? s->lb_ips6_at : s->lb_ips_at;
	field_name(FIELD_NODEPORT, i, fld, sizeof(fld));
	if (s->node_ports && p->node_port && naddrs &&
	    (p->node_port < pc->np_min || p->node_port > pc->np_max)) {
		if (say)
			err = item_err(v, words("Service %s/%s: %s: %u is outside the NodePort range "
						"%u-%u; that frontend is refused",
						so->meta.ns, so->meta.name, fld, p->node_port,
						pc->np_min, pc->np_max));
	} else if (s->node_ports && p->node_port && node) {
		for (size_t a = 0; a < naddrs + npeers && !err; a++)
			err = a < naddrs ?
			      add_frontend(v, pc, addrs + a * al, fam, p->node_port, FIELD_NODEPORT,
					   i) :
			      add_peer_frontend(v, pc, peers + (a - naddrs) * al,
						pnames ? pnames[a - naddrs] : NULL, fam,
						p->node_port, i);
	}
	for (size_t a = 0; a < next && !err; a++)
		err = add_external(v, pc, ext + a * al, fam, FIELD_EXTERNAL_IP,
				   ext_at ? ext_at[a] : a);
	for (size_t a = 0; a < nlb && !err; a++)
		err = add_external(v, pc, lb + a * al, fam, FIELD_LB_IP, lb_at ? lb_at[a] : a);
	return err;
}

/*
 * Port pc.i's frontends of family fam with that family's backends: its
 * ClusterIP, then (the IPv4 pass of a dual-stack Service) every IPv6 one,
 * then NodePorts, externalIPs and load-balancer IPs. What both families would
 * say (a port's mismatch with the slices, a nodePort out of range) is said by
 * the first pass: IPv4, unless the Service has no IPv4 ClusterIP.
 */
static int port_frontends(struct port_ctx pc, uint8_t fam, struct items *v)
{
	const struct k8s_service *s = &pc.so->svc;
	bool v6 = fam == XCNI_AF_INET6, say = !v6 || !s->cluster_ip;
	struct items quiet = {};
	struct port_bes b;
	int err;

	pc.b = &b;
	err = port_backends(&pc, fam, &b, say ? v : &quiet);
	if (!err)
		err = add_frontend(v, &pc, v6 ? (const void *)s->cluster_ip6 : &s->cluster_ip, fam,
				   pc.p->port, FIELD_PORT, pc.i);
	if (!err && !v6 && s->has_ip6)
		err = port_frontends(pc, XCNI_AF_INET6, v);
	if (!err)
		err = port_external(&pc, fam, say, v);
	port_bes_free(&b);
	svc_items_free(&quiet);
	return err;
}

/*
 * The most backends one frontend holds: backend slots are 16 bits, and a
 * Maglev table of XCNI_MAGLEV_M slots takes fewer backends than slots.
 */
static size_t backends_bound(unsigned int flags)
{
	return flags & SVC_BUILD_MAGLEV ? XCNI_MAGLEV_M - 1 : UINT16_MAX;
}

/* The endpoints the slices list for port p in family (duplicates counted: a
 * bound on the port's backends, read before anything is sized from them). */
static size_t port_endpoints(const struct k8s_svc_port *p, uint8_t family,
			     const struct k8s_object *const *slices, size_t nslices)
{
	size_t n = 0;

	for (size_t j = 0; j < nslices; j++) {
		const struct k8s_epslice *es = &slices[j]->eps;
		const struct k8s_eps_port *ep = slice_port(es, p);

		if ((family == XCNI_AF_INET6 ? es->ipv6 : es->ipv4) && ep && ep->has_port)
			n = add_sat(n, es->nendpoints);
	}
	return n;
}

/* One Service's candidates (slices: its EndpointSlices by name), appended to v. */
int svc_build_one(const struct k8s_object *so, const struct k8s_object *const *slices,
		  size_t nslices, const struct svc_node *node, unsigned int flags,
		  struct items *v)
{
	const struct k8s_service *s = &so->svc;
	struct port_ctx pc = { .so = so, .slices = slices, .nslices = nslices, .node = node,
			       .np_min = node && node->np_max ? node->np_min : SVC_NODEPORT_MIN,
			       .np_max = node && node->np_max ? node->np_max : SVC_NODEPORT_MAX };
	int err = 0;

	if (!has_frontends(s))
		return 0;
	/* Past the bound: refused alone, named, before any allocation is sized from it. */
	if (svc_frontends_of(s, node) > SVC_FRONTENDS_BOUND)
		return item_bound(v, SVC_BOUND_FRONTENDS, item_err(v, words(
				"Service %s/%s: spec.ports (%zu) x addresses per port (%zu: "
				"clusterIPs, externalIPs, load-balancer IPs, node addresses) = "
				"%zu frontends%s, more than the bound %u; the Service is refused",
				so->meta.ns, so->meta.name, s->nports, addrs_per_port(s, node),
				svc_frontends_of(s, node),
				s->etp_local ? " (x2: externalTrafficPolicy Local)" : "",
				SVC_FRONTENDS_BOUND)));
	/* A frontend past its backends' bound could never be programmed, and the
	 * Service step would stop at it for everyone: the Service is refused alone. */
	for (size_t i = 0; i < s->nports; i++)
		for (uint8_t fam = XCNI_AF_INET; fam; fam = fam == XCNI_AF_INET ? XCNI_AF_INET6 : 0) {
			size_t n = port_endpoints(&s->ports[i], fam, slices, nslices);

			if (n > backends_bound(flags))
				return item_bound(v, SVC_BOUND_BACKENDS, item_err(v, words(
						"Service %s/%s: spec.ports[%zu]: its EndpointSlices list "
						"%zu IPv%c endpoints, more than a frontend holds (%zu%s); "
						"the Service is refused",
						so->meta.ns, so->meta.name, i, n,
						fam == XCNI_AF_INET ? '4' : '6', backends_bound(flags),
						flags & SVC_BUILD_MAGLEV ? ": a Maglev table's slots less one" : "")));
		}
	for (size_t j = 0; j < nslices; j++)
		pc.room += slices[j]->eps.nendpoints;
	if (s->affinity_client_ip)
		pc.flags |= XCNI_SVC_F_AFFINITY;
	if (flags & SVC_BUILD_MAGLEV)
		pc.flags |= XCNI_SVC_F_MAGLEV;
	/* IPv4 first (the ClusterIP and every external frontend: their addresses
	 * are IPv4 only, the IPv6 ones come with the IPv6 pass); an IPv6-only
	 * Service has only the IPv6 pass. */
	for (size_t i = 0; i < s->nports && !err; i++) {
		pc.i = i;
		pc.p = &s->ports[i];
		err = port_frontends(pc, s->cluster_ip ? XCNI_AF_INET : XCNI_AF_INET6, v);
	}
	return err;
}
