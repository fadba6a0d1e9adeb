// SPDX-License-Identifier: Apache-2.0
/* Services + EndpointSlices -> svcsync's frontends (svc.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc.h"

static const char *proto_name(uint8_t p)
{
	return p == IPPROTO_TCP ? "TCP" : p == IPPROTO_UDP ? "UDP" : "SCTP";
}

static int add_err(struct svc_list *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add_err(struct svc_list *l, const char *fmt, ...)
{
	char **v = realloc(l->errs, (l->nerrs + 1) * sizeof(*v));
	va_list ap;
	int n;

	if (!v)
		return -ENOMEM;
	l->errs = v;
	va_start(ap, fmt);
	n = vasprintf(&v[l->nerrs], fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	l->nerrs++;
	return 0;
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

void svc_list_free(struct svc_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free((char *)l->specs[i].name);
		free((void *)l->specs[i].be);
	}
	free(l->specs);
	for (size_t i = 0; i < l->nerrs; i++)
		free(l->errs[i]);
	free(l->errs);
	memset(l, 0, sizeof(*l));
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

/* Adds one endpoint as a backend of the frontend being built (be, *nbe, room for it). */
static void add_backend(struct svc_be_spec *be, size_t *nbe, const struct k8s_endpoint *e,
			uint16_t port)
{
	uint8_t state;

	if (e->ready)
		state = XCNI_BE_ACTIVE;
	else if (e->serving && e->terminating)
		state = XCNI_BE_TERMINATING;
	else
		return;
	for (size_t i = 0; i < *nbe; i++) {
		if (!memcmp(be[i].addr, &e->addr, 4) && be[i].port == htons(port)) {
			if (state == XCNI_BE_ACTIVE)
				be[i].state = XCNI_BE_ACTIVE;
			return;
		}
	}
	memset(&be[*nbe], 0, sizeof(be[*nbe]));
	memcpy(be[*nbe].addr, &e->addr, 4);
	be[*nbe].port = htons(port);
	be[*nbe].family = XCNI_AF_INET;
	be[*nbe].state = state;
	(*nbe)++;
}

/*
 * The frontends built so far, by key: open addressing over indexes into
 * out->specs (+1; 0 empty), so telling a frontend another Service has is
 * one lookup, not a walk over every frontend (10k Services: 50M compares).
 */
struct fe_set {
	uint32_t *slot;
	size_t mask;
};

static size_t key_hash(const struct xcni_svc_key *k)
{
	const unsigned char *p = (const unsigned char *)k;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return (size_t)(h ^ (h >> 32));
}

/* The slot holding k, or the empty one where it goes. */
static uint32_t *fe_set_find(const struct fe_set *fs, const struct svc_list *out,
			     const struct xcni_svc_key *k)
{
	for (size_t i = key_hash(k) & fs->mask;; i = (i + 1) & fs->mask)
		if (!fs->slot[i] || !memcmp(&out->specs[fs->slot[i] - 1].key, k, sizeof(*k)))
			return &fs->slot[i];
}

/* The backends one Service port has: every one, and those on this node. */
struct port_bes {
	struct svc_be_spec *all, *local;
	size_t nall, nlocal;
};

/* One frontend appended to out, with a copy of be. 0 or -ENOMEM. */
static int add_spec(struct svc_list *out, char *name, const struct xcni_svc_key *key,
		    uint8_t flags, uint32_t affinity_s, const struct svc_be_spec *be, size_t nbe)
{
	struct svc_spec *sp = &out->specs[out->n];
	struct svc_be_spec *copy = NULL;

	if (nbe && !(copy = malloc(nbe * sizeof(*copy)))) {
		free(name);
		return -ENOMEM;
	}
	if (nbe)
		memcpy(copy, be, nbe * sizeof(*copy));
	memset(sp, 0, sizeof(*sp));
	sp->name = name;
	sp->key = *key;
	sp->flags = flags;
	sp->affinity_s = affinity_s;
	sp->be = copy;
	sp->nbe = nbe;
	out->n++;
	return 0;
}

/* What every frontend of one Service port shares. */
struct port_ctx {
	const struct k8s_object *so;
	size_t i; /* spec.ports[i] */
	const struct k8s_svc_port *p;
	uint8_t flags; /* affinity, Maglev */
	const struct port_bes *b;
	struct fe_set *fs; /* every frontend built so far */
};

/* Who a frontend belongs to, for the name map (xcni_svcname); names longer
 * than the map holds (none the API server accepts) are cut. */
static void set_who(struct svc_spec *sp, const struct port_ctx *pc)
{
	snprintf(sp->who.ns, sizeof(sp->who.ns), "%s", pc->so->meta.ns);
	snprintf(sp->who.name, sizeof(sp->who.name), "%s", pc->so->meta.name);
	snprintf(sp->who.port, sizeof(sp->who.port), "%s", pc->p->name ? pc->p->name : "");
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
static int add_frontend(struct svc_list *out, const struct port_ctx *pc, uint32_t addr,
			uint16_t port, bool external, const char *field)
{
	const struct k8s_service *s = &pc->so->svc;
	struct xcni_svc_key k = {};
	const char *owner;
	uint32_t *slot;
	char ip[INET_ADDRSTRLEN], *name;
	uint8_t flags = pc->flags;
	bool local = external ? s->etp_local : s->itp_local;
	int err;

	memcpy(k.addr, &addr, 4);
	k.port = htons(port);
	k.family = XCNI_AF_INET;
	k.proto = pc->p->proto;
	k.scope = XCNI_SCOPE_EXT;
	inet_ntop(AF_INET, &addr, ip, sizeof(ip));
	/* Frontends are unique: the Service that has it first (in name order) keeps it. */
	slot = fe_set_find(pc->fs, out, &k);
	owner = *slot ? out->specs[*slot - 1].name : NULL;
	if (owner)
		return add_err(out,
			       "Service %s/%s: %s: frontend %s:%u/%s is another Service's already "
			       "(%s); left out",
			       pc->so->meta.ns, pc->so->meta.name, field, ip, port,
			       proto_name(k.proto), owner);
	if (local)
		flags |= external ? XCNI_SVC_F_ETP_LOCAL : XCNI_SVC_F_ITP_LOCAL;
	if (external && local)
		flags |= XCNI_SVC_F_TWO_SCOPES;
	if (!external)
		err = asprintf(&name, "%s/%s:%u/%s", pc->so->meta.ns, pc->so->meta.name, port,
			       proto_name(k.proto));
	else
		err = asprintf(&name, "%s/%s %s:%u/%s", pc->so->meta.ns, pc->so->meta.name, ip,
			       port, proto_name(k.proto));
	if (err < 0)
		return -ENOMEM;
	err = add_spec(out, name, &k, flags, s->affinity_s, local ? pc->b->local : pc->b->all,
		       local ? pc->b->nlocal : pc->b->nall);
	if (err)
		return err;
	set_who(&out->specs[out->n - 1], pc);
	*slot = (uint32_t)out->n;
	if (!(flags & XCNI_SVC_F_TWO_SCOPES))
		return 0;
	k.scope = XCNI_SCOPE_INT;
	if (asprintf(&name, "%s/%s %s:%u/%s (inside)", pc->so->meta.ns, pc->so->meta.name, ip,
		     port, proto_name(k.proto)) < 0)
		return -ENOMEM;
	slot = fe_set_find(pc->fs, out, &k);
	err = add_spec(out, name, &k, pc->flags, s->affinity_s, pc->b->all, pc->b->nall);
	if (!err) {
		set_who(&out->specs[out->n - 1], pc);
		*slot = (uint32_t)out->n;
	}
	return err;
}

/*
 * Another node's NodePort, for this node's pods: every backend, whatever the
 * traffic policy (kube-proxy, too, sends pods' traffic to an external frontend
 * to every endpoint). In the EXT scope the programs look up first: traffic from
 * outside to another node's address never reaches this node's underlay.
 */
static int add_peer_frontend(struct svc_list *out, const struct port_ctx *pc, uint32_t addr,
			     uint16_t port)
{
	struct xcni_svc_key k = { .family = XCNI_AF_INET, .proto = pc->p->proto,
				  .scope = XCNI_SCOPE_EXT };
	char ip[INET_ADDRSTRLEN], *name;
	uint32_t *slot;
	int err;

	memcpy(k.addr, &addr, 4);
	k.port = htons(port);
	slot = fe_set_find(pc->fs, out, &k);
	if (*slot)
		return 0; /* one of this node's own, or said already for another Service */
	inet_ntop(AF_INET, &addr, ip, sizeof(ip));
	if (asprintf(&name, "%s/%s %s:%u/%s (another node's)", pc->so->meta.ns, pc->so->meta.name,
		     ip, port, proto_name(k.proto)) < 0)
		return -ENOMEM;
	err = add_spec(out, name, &k, pc->flags, pc->so->svc.affinity_s, pc->b->all, pc->b->nall);
	if (err)
		return err;
	set_who(&out->specs[out->n - 1], pc);
	*slot = (uint32_t)out->n;
	return 0;
}

/* How many frontends (with their INT twins) one Service can have: room in out. */
static size_t frontends_max(const struct k8s_service *s, const struct svc_node *node)
{
	size_t per_port = 1 + s->nexternal_ips + s->nlb_ips;

	if (s->node_ports && node)
		per_port += node->naddrs + node->npeers;
	return 2 * per_port * s->nports;
}

/*
 * The port's backends from the slices. A slice with ports but not this one is
 * normal when some of the pods do not name the port (the EndpointSlice
 * controller groups endpoints by the ports they resolve); only a port that no
 * slice with ports carries is a mismatch worth saying.
 */
static int port_backends(const struct k8s_object *so, size_t i,
			 const struct k8s_object *const *slices, size_t nslices,
			 const struct svc_node *node, size_t room, struct port_bes *b,
			 struct svc_list *out)
{
	const struct k8s_svc_port *p = &so->svc.ports[i];
	const struct k8s_epslice *miss = NULL;
	bool matched = false;

	memset(b, 0, sizeof(*b));
	if (room && (!(b->all = calloc(room, sizeof(*b->all))) ||
		     !(b->local = calloc(room, sizeof(*b->local)))))
		return -ENOMEM;
	for (size_t j = 0; j < nslices; j++) {
		const struct k8s_epslice *es = &slices[j]->eps;
		const struct k8s_eps_port *ep = slice_port(es, p);

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

			add_backend(b->all, &b->nall, e, ep->port);
			/* Node-local: the endpoint's nodeName is this node's. */
			if (node && node->name && e->node_name && !strcmp(e->node_name, node->name))
				add_backend(b->local, &b->nlocal, e, ep->port);
		}
	}
	if (miss && !matched &&
	    add_err(out,
		    "Service %s/%s: spec.ports[%zu].name: \"%s\" names no %s port of "
		    "EndpointSlice %s/%s",
		    so->meta.ns, so->meta.name, i, p->name ? p->name : "", proto_name(p->proto),
		    miss->meta.ns, miss->meta.name))
		return -ENOMEM;
	return 0;
}

/* One Service's frontends, appended to out. */
static int build_one(const struct k8s_object *so, const struct k8s_object *const *slices,
		     size_t nslices, const struct svc_node *node, unsigned int flags,
		     struct fe_set *fs, struct svc_list *out)
{
	const struct k8s_service *s = &so->svc;
	uint16_t np_min = node && node->np_max ? node->np_min : SVC_NODEPORT_MIN;
	uint16_t np_max = node && node->np_max ? node->np_max : SVC_NODEPORT_MAX;
	size_t room = 0;
	int err = 0;

	for (size_t j = 0; j < nslices; j++)
		room += slices[j]->eps.nendpoints;
	for (size_t i = 0; i < s->nports && !err; i++) {
		const struct k8s_svc_port *p = &s->ports[i];
		struct port_bes b;
		struct port_ctx pc = { .so = so, .i = i, .p = p, .b = &b, .fs = fs };
		char fld[96];

		if (s->affinity_client_ip)
			pc.flags |= XCNI_SVC_F_AFFINITY;
		if (flags & SVC_BUILD_MAGLEV)
			pc.flags |= XCNI_SVC_F_MAGLEV;
		err = port_backends(so, i, slices, nslices, node, room, &b, out);
		snprintf(fld, sizeof(fld), "spec.ports[%zu]", i);
		if (!err && s->cluster_ip)
			err = add_frontend(out, &pc, s->cluster_ip, p->port, false, fld);
		snprintf(fld, sizeof(fld), "spec.ports[%zu].nodePort", i);
		if (!err && s->node_ports && p->node_port && node && node->naddrs &&
		    (p->node_port < np_min || p->node_port > np_max))
			err = add_err(out,
				      "Service %s/%s: %s: %u is outside the NodePort range %u-%u; "
				      "that frontend is refused",
				      so->meta.ns, so->meta.name, fld, p->node_port, np_min, np_max);
		else if (s->node_ports && p->node_port && node)
			for (size_t a = 0; a < node->naddrs + node->npeers && !err; a++)
				err = a < node->naddrs ?
				      add_frontend(out, &pc, node->addrs[a], p->node_port, true, fld) :
				      add_peer_frontend(out, &pc, node->peers[a - node->naddrs],
							p->node_port);
		for (size_t a = 0; a < s->nexternal_ips && !err; a++) {
			snprintf(fld, sizeof(fld), "spec.externalIPs[%zu]", a);
			err = add_frontend(out, &pc, s->external_ips[a], p->port, true, fld);
		}
		for (size_t a = 0; a < s->nlb_ips && !err; a++) {
			snprintf(fld, sizeof(fld), "status.loadBalancer.ingress[%zu].ip", a);
			err = add_frontend(out, &pc, s->lb_ips[a], p->port, true, fld);
		}
		free(b.all);
		free(b.local);
	}
	return err;
}

static int slice_cmp(const void *a, const void *b)
{
	const struct k8s_object *x = *(const struct k8s_object *const *)a;
	const struct k8s_object *y = *(const struct k8s_object *const *)b;
	int c = strcmp(x->meta.ns, y->meta.ns);

	if (!c)
		c = strcmp(x->eps.service, y->eps.service);
	return c ? c : strcmp(x->meta.name, y->meta.name);
}

int svc_build(const struct cluster *c, const struct svc_node *node, unsigned int flags,
	      struct svc_list *out)
{
	const struct k8s_object **sl = NULL;
	size_t nports = 0, nsl = 0, j = 0;
	struct fe_set fs = { NULL, 1 };
	int err = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < c->n[K8S_SERVICE]; i++)
		nports += frontends_max(&c->objs[K8S_SERVICE][i]->svc, node);
	if (nports && !(out->specs = calloc(nports, sizeof(*out->specs))))
		return -ENOMEM;
	/* At most half full: a power of two >= 2 x the frontends there can be. */
	while (fs.mask + 1 < 2 * nports)
		fs.mask = 2 * fs.mask + 1;
	if (!(fs.slot = calloc(fs.mask + 1, sizeof(*fs.slot)))) {
		err = -ENOMEM;
		goto out;
	}
	/* The slices that name a Service, by (namespace, service), then their own name. */
	if (c->n[K8S_ENDPOINTSLICE] && !(sl = calloc(c->n[K8S_ENDPOINTSLICE], sizeof(*sl)))) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < c->n[K8S_ENDPOINTSLICE]; i++)
		if (c->objs[K8S_ENDPOINTSLICE][i]->eps.service)
			sl[nsl++] = c->objs[K8S_ENDPOINTSLICE][i];
	/* The view is sorted by (namespace, name) and qsort is not stable: keep it a total order. */
	if (nsl)
		qsort(sl, nsl, sizeof(*sl), slice_cmp);
	for (size_t i = 0; i < c->n[K8S_SERVICE] && !err; i++) {
		const struct k8s_object *so = c->objs[K8S_SERVICE][i];
		int cmp = 1;
		size_t k;

		/* Both lists in (namespace, name) order: walk the slices along. */
		for (; j < nsl; j++) {
			cmp = strcmp(sl[j]->meta.ns, so->meta.ns);
			if (!cmp)
				cmp = strcmp(sl[j]->eps.service, so->meta.name);
			if (cmp >= 0)
				break;
		}
		for (k = j; k < nsl && !strcmp(sl[k]->meta.ns, so->meta.ns) &&
			    !strcmp(sl[k]->eps.service, so->meta.name);
		     k++)
			;
		/* No frontend: DNS's business (headless, ExternalName) or not allocated. */
		if (so->svc.headless || so->svc.external_name || !so->svc.cluster_ip)
			continue;
		err = build_one(so, sl ? sl + j : NULL, k - j, node, flags, &fs, out);
	}
out:
	free(fs.slot);
	free(sl);
	if (err)
		svc_list_free(out);
	return err;
}
