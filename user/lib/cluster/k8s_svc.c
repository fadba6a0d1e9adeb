// SPDX-License-Identifier: Apache-2.0
/*
 * Services and EndpointSlices from their JSON trees, validated as the API
 * server validates them (k8s.io/kubernetes pkg/apis/{core,discovery}/
 * validation): what k8s_parse_all and k8s_parse_lb read besides k8s.c's kinds
 * (xcnid replacing kube-proxy, the lab). The helpers every parser uses are
 * in k8s_json.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cluster/k8s.h"
#include "lib/cluster/k8s_int.h"
#include "lib/cluster/k8s_json.h"
#include "lib/system/proto.h"

/* ---- Service ---- */

static int parse_svc_port(struct kj_ctx *c, json_t *j, size_t nports, json_t *names,
			  struct k8s_svc_port *p)
{
	const char *name = NULL, *tname;
	long long v;
	bool present;
	json_t *t;
	int err;

	err = kj_get_int(c, j, "port", 1, 65535, &v, &present);
	if (err)
		return err;
	if (!present)
		return kj_fail_in(c, "port", "required");
	p->port = v;
	/* Any port here: whether it is in the node's NodePort range is the
	 * agent's to say (svc_incr), refusing that frontend alone. */
	err = kj_get_int(c, j, "nodePort", 0, 65535, &v, &present);
	if (err)
		return err;
	p->node_port = present ? v : 0;
	err = kj_parse_proto(c, j, &p->proto);
	if (!err)
		err = kj_get_str(c, j, "name", &name);
	if (err)
		return err;
	if (name && *name) {
		err = kj_port_name_take(c, names, name, PN_DNS_LABEL, &p->name);
		if (err)
			return err;
	} else if (nports > 1) {
		return kj_fail_in(c, "name", "required when the Service has more than one port");
	}
	t = kj_get(j, "targetPort");
	if (!t) {
		p->target_port = p->port;
		return 0;
	}
	if (json_is_integer(t)) {
		err = kj_get_int(c, j, "targetPort", 1, 65535, &v, &present);
		p->target_port = v;
		return err;
	}
	if (!json_is_string(t))
		return kj_fail_in(c, "targetPort", "must be a port number or a port name");
	tname = json_string_value(t);
	if (!kj_is_port_name(tname))
		return kj_fail_in(c, "targetPort", "\"%s\" is not a valid port name (%s)", tname,
				  PORT_NAME_RULE);
	p->target_name = strdup(tname);
	return p->target_name ? 0 : -ENOMEM;
}

/* spec.sessionAffinity and spec.sessionAffinityConfig.clientIP.timeoutSeconds. */
static int parse_affinity(struct kj_ctx *c, json_t *spec, struct k8s_service *s)
{
	json_t *cfg, *cip;
	const char *aff;
	long long v;
	bool present;
	size_t o;
	int err;

	err = kj_get_str(c, spec, "sessionAffinity", &aff);
	if (err)
		return err;
	if (aff && !strcmp(aff, "ClientIP"))
		s->affinity_client_ip = true;
	else if (aff && *aff && strcmp(aff, "None"))
		return kj_fail_in(c, "sessionAffinity", "\"%s\" is not supported (None, ClientIP)",
				  aff);
	err = kj_get_obj(c, spec, "sessionAffinityConfig", &cfg);
	if (err || !cfg)
		goto dflt;
	o = kj_field(c, "sessionAffinityConfig");
	err = kj_get_obj(c, cfg, "clientIP", &cip);
	if (!err && cip) {
		size_t o2 = kj_field(c, "clientIP");

		err = kj_get_int(c, cip, "timeoutSeconds", 1, 86400, &v, &present);
		if (!err && present) {
			if (!s->affinity_client_ip)
				err = kj_fail_in(c, "timeoutSeconds",
						 "must not be set when sessionAffinity is None");
			s->affinity_s = v;
		}
		kj_pop(c, o2);
	}
	kj_pop(c, o);
	if (err)
		return err;
dflt:
	if (s->affinity_client_ip && !s->affinity_s)
		s->affinity_s = 10800;
	return err;
}

/*
 * A list of IP addresses (field NULL), or of objects carrying one in field
 * (an entry without it names none: a LoadBalancer ingress with a hostname
 * only, as some clouds give): IPv4 ones into out, IPv6 ones into out6, each
 * with its index in the list (at, at6).
 */
static int parse_ip_list(struct kj_ctx *c, json_t *parent, const char *key, const char *field,
			 size_t *n, uint32_t **out, size_t **at, size_t *n6, uint8_t (**out6)[16],
			 size_t **at6)
{
	json_t *arr, *a;
	size_t i, o, len;
	int err = kj_get_arr(c, parent, key, &arr);

	if (err || !arr || !(len = json_array_size(arr)))
		return err;
	/* Freed with the Service (k8s_service_free) on any return. */
	if (!(*out = calloc(len, sizeof(**out))) || !(*at = calloc(len, sizeof(**at))) ||
	    !(*out6 = calloc(len, sizeof(**out6))) || !(*at6 = calloc(len, sizeof(**at6))))
		return -ENOMEM;
	o = kj_field(c, key);
	json_array_foreach(arr, i, a) {
		const char *str = json_string_value(a);
		size_t o2 = kj_idx(c, i);

		if (field && !json_is_object(a))
			err = kj_fail(c, "must be an object");
		else if (field)
			err = kj_get_str(c, a, field, &str);
		else if (!str)
			err = kj_fail(c, "must be a string");
		if (!err && str && (*str || !field)) {
			if (field)
				kj_field(c, field);
			if (kj_parse_ipv4(str, &(*out)[*n]))
				(*at)[(*n)++] = i;
			else if (!kj_is_ipv6(str))
				err = kj_fail(c, "\"%s\" is not a valid IP address", str);
			else if (inet_pton(AF_INET6, str, (*out6)[*n6]) == 1)
				(*at6)[(*n6)++] = i;
		}
		kj_pop(c, o2);
		if (err)
			break;
	}
	kj_pop(c, o);
	return err;
}

/* spec.externalTrafficPolicy / internalTrafficPolicy: Cluster (the default) or Local. */
static int parse_traffic_policy(struct kj_ctx *c, json_t *spec, const char *key, bool *local)
{
	const char *v;
	int err = kj_get_str(c, spec, key, &v);

	if (err || !v || !*v || !strcmp(v, "Cluster"))
		return err;
	if (strcmp(v, "Local"))
		return kj_fail_in(c, key, "\"%s\" is not supported (Cluster, Local)", v);
	*local = true;
	return 0;
}

/* 4 or 6: the family of an IP address, 0 if it is none. */
static int ip_family(const char *str)
{
	uint8_t a[16];

	if (inet_pton(AF_INET, str, a) == 1)
		return 4;
	return inet_pton(AF_INET6, str, a) == 1 ? 6 : 0;
}

/*
 * Dual stack (spec.clusterIPs, ipFamilies, ipFamilyPolicy), as the API server
 * checks them: clusterIPs[0] is clusterIP, a second one is of the other family,
 * ipFamilies[i] names clusterIPs[i]'s family, SingleStack has one. The IPv6
 * ClusterIP lands in cluster_ip6 (has_ip6), the IPv4 one in cluster_ip.
 */
static int parse_cluster_ips(struct kj_ctx *c, json_t *spec, const char *ip0, struct k8s_service *s)
{
	json_t *ips, *fams, *v;
	const char *pol, *str;
	int fam[2] = { 0, 0 };
	size_t i, o, n = 0;
	int err;

	err = kj_get_arr(c, spec, "clusterIPs", &ips);
	if (!err)
		err = kj_get_arr(c, spec, "ipFamilies", &fams);
	if (!err)
		err = kj_get_str(c, spec, "ipFamilyPolicy", &pol);
	if (err)
		return err;
	if (pol && strcmp(pol, "SingleStack") && strcmp(pol, "PreferDualStack") &&
	    strcmp(pol, "RequireDualStack"))
		return kj_fail_in(c, "ipFamilyPolicy",
				  "\"%s\" is not one of SingleStack, PreferDualStack, "
				  "RequireDualStack", pol);
	if (ips && json_array_size(ips) > 2)
		return kj_fail_in(c, "clusterIPs", "must have at most 2 entries (one per family)");
	if (fams && json_array_size(fams) > 2)
		return kj_fail_in(c, "ipFamilies", "must have at most 2 entries");
	if (ips && json_array_size(ips) > 1 && pol && !strcmp(pol, "SingleStack"))
		return kj_fail_in(c, "clusterIPs", "ipFamilyPolicy SingleStack allows one entry");
	o = kj_field(c, "ipFamilies");
	json_array_foreach(fams, i, v) {
		size_t o2 = kj_idx(c, i);

		str = json_string_value(v);
		if (!str || (strcmp(str, "IPv4") && strcmp(str, "IPv6")))
			err = kj_fail(c, "must be \"IPv4\" or \"IPv6\"");
		else if (i == 1 && fam[0] == (str[3] == '4' ? 4 : 6))
			err = kj_fail(c, "\"%s\" twice: a dual-stack Service has one of each", str);
		else
			fam[i] = str[3] == '4' ? 4 : 6;
		kj_pop(c, o2);
		if (err)
			break;
	}
	kj_pop(c, o);
	if (err || !ips || !json_array_size(ips))
		return err;
	o = kj_field(c, "clusterIPs");
	json_array_foreach(ips, i, v) {
		size_t o2 = kj_idx(c, i);
		int f;

		str = json_string_value(v);
		f = str ? ip_family(str) : 0;
		if (!str)
			err = kj_fail(c, "must be a string");
		else if (i == 0 && (ip0 && *ip0 ? strcmp(str, ip0) : !!*str))
			err = kj_fail(c, "\"%s\" is not spec.clusterIP (\"%s\")", str,
				      ip0 ? ip0 : "");
		else if (i == 0)
			; /* clusterIP, parsed already ("None" included) */
		else if (!f)
			err = kj_fail(c, "\"%s\" is not a valid IP address", str);
		else if (s->headless)
			err = kj_fail(c,
				      "a headless Service (clusterIP None) has no other ClusterIP");
		else if (f == (s->has_ip6 ? 6 : 4))
			err = kj_fail(c,
				      "\"%s\" is of the same family as clusterIPs[0]: a dual-stack "
				      "Service has one of each",
				      str);
		else if (f == 6)
			inet_pton(AF_INET6, str, s->cluster_ip6), s->has_ip6 = true;
		else
			kj_parse_ipv4(str, &s->cluster_ip);
		/* ipFamilies[i] names the family of clusterIPs[i]. */
		if (!err && f && fam[i] && f != fam[i])
			err = kj_fail(c, "\"%s\" is not of family ipFamilies[%zu] (IPv%d)", str, i,
				      fam[i]);
		kj_pop(c, o2);
		if (err)
			break;
	}
	kj_pop(c, o);
	n = json_array_size(ips);
	if (!err && n > 1 && !(s->cluster_ip && s->has_ip6))
		err = kj_fail_in(c, "clusterIPs", "dual stack needs an IPv4 and an IPv6 address");
	return err;
}

/* status.loadBalancer.ingress[].ip: the addresses a LoadBalancer Service is reached at. */
static int parse_lb_status(struct kj_ctx *c, json_t *doc, struct k8s_service *s)
{
	json_t *status, *lb;
	size_t o1, o2;
	int err = kj_get_obj(c, doc, "status", &status);

	if (err || !status)
		return err;
	o1 = kj_field(c, "status");
	err = kj_get_obj(c, status, "loadBalancer", &lb);
	if (!err && lb) {
		o2 = kj_field(c, "loadBalancer");
		err = parse_ip_list(c, lb, "ingress", "ip", &s->nlb_ips, &s->lb_ips, &s->lb_ips_at,
				    &s->nlb_ips6, &s->lb_ips6, &s->lb_ips6_at);
		kj_pop(c, o2);
	}
	kj_pop(c, o1);
	return err;
}

/* spec.type: ClusterIP always; NodePort, LoadBalancer and ExternalName where Services are served. */
static int parse_svc_type(struct kj_ctx *c, json_t *spec, struct k8s_service *s, bool *lb_type)
{
	const char *type;
	int err = kj_get_str(c, spec, "type", &type);

	if (err || !type)
		return err;
	if (c->lb && (!strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer"))) {
		s->node_ports = true;
		*lb_type = !strcmp(type, "LoadBalancer");
	} else if (c->lb && !strcmp(type, "ExternalName")) {
		s->external_name = true; /* a DNS name: no frontend, no ports required */
	} else if (strcmp(type, "ClusterIP")) {
		return kj_fail_in(c, "type", "\"%s\" is not served here (only ClusterIP%s)", type,
				  c->lb ? ", NodePort, LoadBalancer, ExternalName" : "");
	}
	return 0;
}

/* spec.clusterIP (else the first of spec.clusterIPs): an address of either family, or None. */
static int parse_svc_cluster_ip(struct kj_ctx *c, json_t *spec, struct k8s_service *s)
{
	const char *ip;
	int err = kj_get_str(c, spec, "clusterIP", &ip);

	if (err)
		return err;
	/* Only clusterIPs given: the API server's defaulting makes its first
	 * one spec.clusterIP, so a manifest may leave clusterIP out. */
	if (!ip || !*ip) {
		json_t *ips = json_object_get(spec, "clusterIPs");

		if (json_is_array(ips) && json_is_string(json_array_get(ips, 0)))
			ip = json_string_value(json_array_get(ips, 0));
	}
	if (ip && !strcmp(ip, "None")) {
		s->headless = true;
	} else if (ip && *ip && !kj_parse_ipv4(ip, &s->cluster_ip)) {
		if (inet_pton(AF_INET6, ip, s->cluster_ip6) != 1)
			return kj_fail_in(c, "clusterIP", "\"%s\" is not a valid IP address (or None)",
					  ip);
		s->has_ip6 = true;
	}
	return parse_cluster_ips(c, spec, ip, s);
}

/*
 * spec.ports: at least one (but for headless and ExternalName Services, as
 * the API server), each unique by port and protocol, a nodePort only where
 * the type has them.
 */
struct svc_ports {
	const struct k8s_service *s;
	json_t *names;
	size_t n;
};

static int svc_port_at(struct kj_ctx *c, json_t *v, void *elem, const void *arg)
{
	const struct svc_ports *a = arg;
	struct k8s_svc_port *p = elem;
	int err = parse_svc_port(c, v, a->n, a->names, p);

	/* As the API server: only these types get a nodePort. */
	if (!err && p->node_port && !a->s->node_ports)
		err = kj_fail_in(c, "nodePort", "only NodePort and LoadBalancer Services have one");
	for (const struct k8s_svc_port *k = a->s->ports; !err && k < p; k++)
		if (k->port == p->port && k->proto == p->proto)
			err = kj_fail(c, "duplicate port %u/%s", p->port, proto_k8s_name(p->proto));
	return err;
}

static int parse_svc_ports(struct kj_ctx *c, json_t *spec, struct k8s_service *s)
{
	struct svc_ports a = { s, NULL, 0 };
	json_t *ports;
	int err = kj_get_arr(c, spec, "ports", &ports);

	if (err)
		return err;
	if (!ports || !json_array_size(ports))
		return s->headless || s->external_name ?
			       0 : kj_fail_in(c, "ports", "required (at least one port)");
	a.n = json_array_size(ports);
	if (!(a.names = json_object()))
		return -ENOMEM;
	err = kj_parse_list(c, "ports", ports, sizeof(*s->ports), (void **)&s->ports, &s->nports,
			    svc_port_at, &a);
	json_decref(a.names);
	return err;
}

int kj_parse_service(struct kj_ctx *c, json_t *doc, struct k8s_service *s)
{
	json_t *spec, *sel;
	bool lb_type = false;
	size_t o1;
	int err;

	err = kj_get_obj(c, doc, "spec", &spec);
	if (err)
		return err;
	o1 = kj_field(c, "spec");
	err = parse_svc_type(c, spec, s, &lb_type);
	if (!err)
		err = kj_get_obj(c, spec, "selector", &sel);
	if (!err)
		err = kj_parse_labels(c, spec, "selector", &s->selector);
	if (!err) {
		s->has_selector = sel && json_object_size(sel);
		err = parse_svc_cluster_ip(c, spec, s);
	}
	if (!err)
		err = parse_affinity(c, spec, s);
	if (!err && c->lb)
		err = parse_ip_list(c, spec, "externalIPs", NULL, &s->nexternal_ips, &s->external_ips,
				    &s->external_ips_at, &s->nexternal_ips6, &s->external_ips6,
				    &s->external_ips6_at);
	if (!err && c->lb)
		err = parse_traffic_policy(c, spec, "externalTrafficPolicy", &s->etp_local);
	if (!err && c->lb)
		err = parse_traffic_policy(c, spec, "internalTrafficPolicy", &s->itp_local);
	if (!err)
		err = parse_svc_ports(c, spec, s);
	kj_pop(c, o1);
	if (!err && lb_type)
		err = parse_lb_status(c, doc, s);
	return err;
}

void kj_service_free(struct k8s_service *s)
{
	k8s_labels_free(&s->selector);
	for (size_t i = 0; i < s->nports; i++) {
		free(s->ports[i].name);
		free(s->ports[i].target_name);
	}
	free(s->ports);
	free(s->uid);
	free(s->external_ips);
	free(s->external_ips6);
	free(s->lb_ips);
	free(s->lb_ips6);
	free(s->external_ips_at);
	free(s->external_ips6_at);
	free(s->lb_ips_at);
	free(s->lb_ips6_at);
}

/* ---- EndpointSlice ---- */

static int get_bool(struct kj_ctx *c, json_t *parent, const char *key, bool dflt, bool *out)
{
	json_t *v = kj_get(parent, key);

	*out = dflt;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return kj_fail_in(c, key, "must be a boolean");
	*out = json_is_true(v);
	return 0;
}

static int parse_endpoint(struct kj_ctx *c, json_t *j, void *elem, const void *slice)
{
	bool ipv4 = ((const struct k8s_epslice *)slice)->ipv4;
	bool ipv6 = ((const struct k8s_epslice *)slice)->ipv6;
	struct k8s_endpoint *e = elem;
	uint8_t addr6[16];
	json_t *addrs, *a, *cond;
	const char *node;
	size_t o, i;
	int err;

	err = kj_get_arr(c, j, "addresses", &addrs);
	if (err)
		return err;
	if (!addrs || !json_array_size(addrs) || json_array_size(addrs) > 100)
		return kj_fail_in(c, "addresses", "must have 1 to 100 entries");
	o = kj_field(c, "addresses");
	json_array_foreach(addrs, i, a) {
		size_t o2 = kj_idx(c, i);
		const char *s = json_string_value(a);
		uint32_t addr;

		if (!s)
			err = kj_fail(c, "must be a string");
		else if (ipv4 && !kj_parse_ipv4(s, i ? &addr : &e->addr))
			err = kj_fail(c, "\"%s\" is not a valid IPv4 address", s);
		else if (ipv6 && (strchr(s, '.') ||
				  inet_pton(AF_INET6, s, i ? addr6 : e->addr6) != 1))
			/* An IPv4-mapped address is no IPv6 endpoint either. */
			err = kj_fail(c, "\"%s\" is not a valid IPv6 address", s);
		kj_pop(c, o2);
		if (err)
			break;
	}
	kj_pop(c, o);
	if (err)
		return err;
	err = kj_get_obj(c, j, "conditions", &cond);
	if (err)
		return err;
	o = kj_field(c, "conditions");
	err = get_bool(c, cond, "ready", true, &e->ready);
	if (!err)
		err = get_bool(c, cond, "serving", e->ready, &e->serving); /* nil: as ready */
	if (!err)
		err = get_bool(c, cond, "terminating", false, &e->terminating);
	kj_pop(c, o);
	if (err)
		return err;
	err = kj_get_str(c, j, "nodeName", &node);
	/* v1beta1 (1.20 and before) names the node in topology only. */
	if (!err && (!node || !*node) && json_is_object(kj_get(j, "topology")))
		node = json_string_value(kj_get(kj_get(j, "topology"), "kubernetes.io/hostname"));
	if (!err && node && *node && !(e->node_name = strdup(node)))
		err = -ENOMEM;
	return err;
}

static int parse_eps_port(struct kj_ctx *c, json_t *j, void *elem, const void *names)
{
	struct k8s_eps_port *p = elem;
	const char *name = NULL;
	long long v;
	int err;

	err = kj_get_str(c, j, "name", &name);
	if (err)
		return err;
	err = kj_port_name_take(c, (json_t *)names, name ? name : "", PN_DNS_LABEL, &p->name);
	if (err)
		return err;
	err = kj_parse_proto(c, j, &p->proto);
	if (!err)
		err = kj_get_int(c, j, "port", 1, 65535, &v, &p->has_port);
	if (!err && p->has_port)
		p->port = v;
	return err;
}

int kj_parse_epslice(struct kj_ctx *c, json_t *doc, struct k8s_epslice *s)
{
	json_t *eps, *ports, *names;
	const char *at;
	int err;

	err = kj_get_str(c, doc, "addressType", &at);
	if (err)
		return err;
	if (!at)
		return kj_fail_in(c, "addressType", "required");
	if (!strcmp(at, "IPv4"))
		s->ipv4 = true;
	else if (!strcmp(at, "IPv6"))
		s->ipv6 = true;
	else if (strcmp(at, "FQDN"))
		return kj_fail_in(c, "addressType", "\"%s\" is not supported (IPv4, IPv6, FQDN)",
				  at);
	s->service = k8s_label_get(&s->meta.labels, "kubernetes.io/service-name");
	err = kj_get_arr(c, doc, "endpoints", &eps);
	if (err)
		return err;
	if (eps && json_array_size(eps) > 1000)
		return kj_fail_in(c, "endpoints", "must have at most 1000 entries");
	err = kj_parse_list(c, "endpoints", eps, sizeof(*s->endpoints), (void **)&s->endpoints,
			    &s->nendpoints, parse_endpoint, s);
	if (err)
		return err;
	if (!s->ipv4 && !s->ipv6) { /* FQDN: parsed for validation, not used */
		for (size_t i = 0; i < s->nendpoints; i++)
			free(s->endpoints[i].node_name);
		s->nendpoints = 0;
	}
	err = kj_get_arr(c, doc, "ports", &ports);
	if (err || !ports || !json_array_size(ports))
		return err;
	if (json_array_size(ports) > 100)
		return kj_fail_in(c, "ports", "must have at most 100 entries");
	if (!(names = json_object()))
		return -ENOMEM;
	err = kj_parse_list(c, "ports", ports, sizeof(*s->ports), (void **)&s->ports, &s->nports,
			    parse_eps_port, names);
	json_decref(names);
	return err;
}

void kj_epslice_free(struct k8s_epslice *s)
{
	for (size_t i = 0; i < s->nendpoints; i++)
		free(s->endpoints[i].node_name);
	free(s->endpoints);
	for (size_t i = 0; i < s->nports; i++)
		free(s->ports[i].name);
	free(s->ports);
}
