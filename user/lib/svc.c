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

static bool key_eq(const struct xcni_svc_key *a, const struct xcni_svc_key *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/* One Service's frontends, appended to out. */
static int build_one(const struct k8s_object *so, const struct k8s_object *const *slices,
		     size_t nslices, unsigned int flags, struct svc_list *out)
{
	const struct k8s_service *s = &so->svc;
	size_t room = 0;

	for (size_t j = 0; j < nslices; j++)
		room += slices[j]->eps.nendpoints;
	for (size_t i = 0; i < s->nports; i++) {
		const struct k8s_svc_port *p = &s->ports[i];
		struct svc_spec *sp = &out->specs[out->n];
		struct svc_be_spec *be = NULL;
		bool dup = false, unmatched = false;
		size_t nbe = 0;
		char ip[INET_ADDRSTRLEN];

		memset(sp, 0, sizeof(*sp));
		memcpy(sp->key.addr, &s->cluster_ip, 4);
		sp->key.port = htons(p->port);
		sp->key.family = XCNI_AF_INET;
		sp->key.proto = p->proto;
		sp->key.scope = XCNI_SCOPE_EXT;
		inet_ntop(AF_INET, &s->cluster_ip, ip, sizeof(ip));
		/* Frontends are unique: the Service that has it first (in name order) keeps it. */
		for (size_t k = 0; k < out->n && !dup; k++)
			dup = key_eq(&out->specs[k].key, &sp->key);
		if (dup) {
			if (add_err(out,
				    "Service %s/%s: spec.ports[%zu]: frontend %s:%u/%s is another "
				    "Service's already; left out",
				    so->meta.ns, so->meta.name, i, ip, p->port, proto_name(p->proto)))
				return -ENOMEM;
			continue;
		}
		/* Names longer than the map holds (none the API server accepts) are cut. */
		snprintf(sp->who.ns, sizeof(sp->who.ns), "%s", so->meta.ns);
		snprintf(sp->who.name, sizeof(sp->who.name), "%s", so->meta.name);
		snprintf(sp->who.port, sizeof(sp->who.port), "%s", p->name ? p->name : "");
		if (asprintf((char **)&sp->name, "%s/%s:%u/%s", so->meta.ns, so->meta.name, p->port,
			     proto_name(p->proto)) < 0) {
			sp->name = NULL;
			return -ENOMEM;
		}
		if (room && !(be = calloc(room, sizeof(*be)))) {
			free((char *)sp->name);
			return -ENOMEM;
		}
		for (size_t j = 0; j < nslices; j++) {
			const struct k8s_epslice *es = &slices[j]->eps;
			const struct k8s_eps_port *ep = slice_port(es, p);

			if (!ep) {
				/* A slice without ports serves none (upstream); one with ports
				 * but not this one is a mismatch worth saying. */
				if (es->nports && !unmatched) {
					unmatched = true;
					if (add_err(out,
						    "Service %s/%s: spec.ports[%zu].name: \"%s\" names "
						    "no %s port of EndpointSlice %s/%s",
						    so->meta.ns, so->meta.name, i, p->name ? p->name : "",
						    proto_name(p->proto), es->meta.ns, es->meta.name)) {
						free(be);
						free((char *)sp->name);
						return -ENOMEM;
					}
				}
				continue;
			}
			if (!ep->has_port)
				continue;
			for (size_t k = 0; k < es->nendpoints; k++)
				add_backend(be, &nbe, &es->endpoints[k], ep->port);
		}
		sp->be = be;
		sp->nbe = nbe;
		if (s->affinity_client_ip) {
			sp->flags |= XCNI_SVC_F_AFFINITY;
			sp->affinity_s = s->affinity_s;
		}
		if (flags & SVC_BUILD_MAGLEV)
			sp->flags |= XCNI_SVC_F_MAGLEV;
		out->n++;
	}
	return 0;
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

int svc_build(const struct cluster *c, unsigned int flags, struct svc_list *out)
{
	const struct k8s_object **sl = NULL;
	size_t nports = 0, nsl = 0, j = 0;
	int err = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < c->n[K8S_SERVICE]; i++)
		nports += c->objs[K8S_SERVICE][i]->svc.nports;
	if (nports && !(out->specs = calloc(nports, sizeof(*out->specs))))
		return -ENOMEM;
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
		if (so->svc.headless || so->svc.external_name || !so->svc.cluster_ip)
			continue; /* no frontend: DNS's business (headless, ExternalName) or not allocated */
		err = build_one(so, sl ? sl + j : NULL, k - j, flags, out);
	}
out:
	free(sl);
	if (err)
		svc_list_free(out);
	return err;
}
