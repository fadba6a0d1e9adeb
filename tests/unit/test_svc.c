// SPDX-License-Identifier: Apache-2.0
/* Services + EndpointSlices -> svcsync frontends (user/lib/services/svc.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "lib/services/svc.h"
#include "k8s_fx.h"
#include "svc_fx.h"

static struct store *st;
static struct svc_list l;

/* A store holding the objects of yaml (parsed as xcnid with --kube-proxy-replacement),
 * built for node (NULL: none). */
static void load_for(const char *yaml, const struct svc_node *node)
{
	struct cluster c;

	st = store_of(yaml, k8s_parse_lb);
	store_view(st, &c);
	assert_int_equal(svc_build(&c, node, 0, &l), 0);
}

static void build_from(const char *yaml)
{
	load_for(yaml, NULL);
}

static int teardown(void **state)
{
	(void)state;
	svc_list_free(&l);
	store_free(st);
	st = NULL;
	return 0;
}

static uint32_t ip4(const uint8_t *a)
{
	uint32_t v;

	memcpy(&v, a, 4);
	return ntohl(v);
}

/* The spec named name, or fail. */
static const struct svc_spec *spec(const char *name)
{
	for (size_t i = 0; i < l.n; i++)
		if (!strcmp(l.specs[i].name, name))
			return &l.specs[i];
	fail_msg("no frontend %s", name);
	return NULL;
}

/* The backend at addr (host order) and port, or NULL. */
static const struct svc_be_spec *be(const struct svc_spec *s, uint32_t addr, uint16_t port)
{
	for (size_t i = 0; i < s->nbe; i++)
		if (ip4(s->be[i].addr) == addr && ntohs(s->be[i].port) == port)
			return &s->be[i];
	return NULL;
}

#define SVC(name, spec) \
	"apiVersion: v1\nkind: Service\nmetadata: {name: " name ", namespace: y}\nspec: " spec "\n---\n"
#define EPS(name, svc, body)                                                                \
	"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: " name         \
	", namespace: y, labels: {kubernetes.io/service-name: " svc "}}\naddressType: IPv4\n" \
	body "\n---\n"

#define EPS6(name, svc, body)                                                               \
	"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: " name         \
	", namespace: y, labels: {kubernetes.io/service-name: " svc "}}\naddressType: IPv6\n" \
	body "\n---\n"

/* Does spec s have the IPv6 backend a (text) at port? */
static bool has_be6(const struct svc_spec *s, const char *a, uint16_t port)
{
	uint8_t want[16];

	inet_pton(AF_INET6, a, want);
	for (size_t i = 0; i < s->nbe; i++)
		if (s->be[i].family == XCNI_AF_INET6 && !memcmp(s->be[i].addr, want, 16) &&
		    ntohs(s->be[i].port) == port)
			return true;
	return false;
}

/*
 * Dual stack (issue 14): a Service with an IPv4 and an IPv6 ClusterIP and a
 * slice per family gets a frontend per family, each with its own family's
 * endpoints; an IPv6-only Service one IPv6 frontend (and no IPv4 NodePort).
 */
static void dual_stack(void **state)
{
	uint32_t addrs[1] = { htonl(0x0a000001) };
	uint8_t a6[2][16]; /* the node's IPv6 InternalIP, then another Node's */
	struct svc_node node = { .name = "n1", .naddrs = 1, .addrs = addrs, .naddrs6 = 1,
				 .addrs6 = (const uint8_t(*)[16])a6, .npeers6 = 1,
				 .peers6 = (const uint8_t(*)[16])(a6 + 1) };
	const struct svc_spec *s;
	uint8_t want[16];

	inet_pton(AF_INET6, "fd00:77::1", a6[0]);
	inet_pton(AF_INET6, "fd00:77::2", a6[1]);

	(void)state;
	load_for(SVC("web", "{selector: {app: web}, clusterIP: 10.96.0.10, clusterIPs: [10.96.0.10, "
			    "\"fd00:96::a\"], ipFamilies: [IPv4, IPv6], ipFamilyPolicy: "
			    "PreferDualStack, sessionAffinity: ClientIP, ports: [{name: http, port: 80}]}")
		 SVC("six", "{selector: {app: six}, type: NodePort, clusterIP: \"fd00:96::b\", "
			    "ipFamilies: [IPv6], externalIPs: [192.0.2.9, \"2001:db8::9\"], "
			    "ports: [{name: http, port: 81, nodePort: 30081}]}")
		 EPS("web-4", "web",
		     "endpoints: [{addresses: [10.1.0.5]}]\nports: [{name: http, port: 8080}]")
		 EPS6("web-6", "web",
		      "endpoints: [{addresses: [\"fd00:1::5\"]}, {addresses: [\"fd00:1::6\"], "
		      "conditions: {ready: false, serving: true, terminating: true}}]\n"
		      "ports: [{name: http, port: 8080}]")
		 EPS6("six-6", "six",
		      "endpoints: [{addresses: [\"fd00:1::7\"]}]\nports: [{name: http, port: 9090}]"),
		 &node);
	assert_int_equal(l.nerrs, 0);
	/* web's two ClusterIPs, six's IPv6 one, six's IPv6 NodePorts (on the
	 * node's IPv6 address and, for pods, on the other Node's) and its IPv6
	 * externalIP (its IPv4 one has no IPv4 backends to go with: none). */
	assert_int_equal(l.n, 6);
	s = spec("y/six 2001:db8::9:81/TCP");
	assert_int_equal(s->key.family, XCNI_AF_INET6);
	assert_int_equal(s->key.scope, XCNI_SCOPE_EXT);
	assert_true(has_be6(s, "fd00:1::7", 9090));
	s = spec("y/six fd00:77::1:30081/TCP");
	assert_int_equal(s->key.family, XCNI_AF_INET6);
	assert_int_equal(s->key.scope, XCNI_SCOPE_EXT);
	assert_memory_equal(s->key.addr, a6[0], 16);
	assert_int_equal(ntohs(s->key.port), 30081);
	assert_int_equal(s->nbe, 1);
	assert_true(has_be6(s, "fd00:1::7", 9090));
	s = spec("y/six fd00:77::2:30081/TCP (another node's)");
	assert_int_equal(s->key.family, XCNI_AF_INET6);
	assert_true(has_be6(s, "fd00:1::7", 9090));
	s = spec("y/web:80/TCP");
	assert_int_equal(s->key.family, XCNI_AF_INET);
	assert_int_equal(s->nbe, 1); /* the IPv4 slice's only */
	assert_non_null(be(s, 0x0a010005, 8080));
	s = spec("y/web:80/TCP (IPv6)");
	assert_int_equal(s->key.family, XCNI_AF_INET6);
	inet_pton(AF_INET6, "fd00:96::a", want);
	assert_memory_equal(s->key.addr, want, 16);
	assert_int_equal(s->flags, XCNI_SVC_F_AFFINITY | XCNI_SVC_F_CLUSTERIP);
	assert_int_equal(s->nbe, 2);
	assert_true(has_be6(s, "fd00:1::5", 8080));
	assert_true(has_be6(s, "fd00:1::6", 8080));
	for (size_t i = 0; i < s->nbe; i++)
		if (has_be6(s, "fd00:1::6", 8080) && s->be[i].addr[15] == 6)
			assert_int_equal(s->be[i].state, XCNI_BE_TERMINATING);
	s = spec("y/six:81/TCP (IPv6)");
	assert_true(has_be6(s, "fd00:1::7", 9090));
}

/* Two Services asking for one IPv6 ClusterIP: the second is told, naming the address. */
static void dual_stack_clash(void **state)
{
	(void)state;
	build_from(SVC("a", "{clusterIP: \"fd00:96::a\", ports: [{port: 80}]}")
	     SVC("b", "{clusterIP: \"fd00:96::a\", ports: [{port: 80}]}"));
	assert_int_equal(l.n, 1);
	assert_int_equal(l.nerrs, 1);
	if (!strstr(l.errs[0], "Service y/b: spec.ports[0]: frontend fd00:96::a:80/TCP is another"))
		fail_msg("%s", l.errs[0]);
}

static void named_multi_port(void **state)
{
	const struct svc_spec *s;

	(void)state;
	build_from(SVC("web", "{selector: {app: web}, clusterIP: 10.96.0.10, ports: [{name: http, port: 80, "
			"targetPort: web}, {name: dns, port: 53, protocol: UDP, targetPort: 5353}, "
			"{name: sctp, port: 9, protocol: SCTP}]}")
	     EPS("web-1", "web",
		 "endpoints: [{addresses: [10.1.0.5]}, {addresses: [10.1.0.6]}]\n"
		 "ports: [{name: http, port: 8080}, {name: dns, port: 5353, protocol: UDP}, "
		 "{name: sctp, port: 9, protocol: SCTP}]"));
	assert_int_equal(l.nerrs, 0);
	assert_int_equal(l.n, 3);
	s = spec("y/web:80/TCP");
	assert_int_equal(ip4(s->key.addr), 0x0a60000a);
	assert_int_equal(ntohs(s->key.port), 80);
	assert_int_equal(s->key.proto, IPPROTO_TCP);
	assert_int_equal(s->key.family, XCNI_AF_INET);
	assert_int_equal(s->key.scope, XCNI_SCOPE_EXT);
	assert_int_equal(s->flags, XCNI_SVC_F_CLUSTERIP); /* a NodePort's lacks it (below) */
	assert_int_equal(s->nbe, 2);
	/* the name xcni_svcname gets: the Service and the port's name */
	assert_string_equal(s->who.ns, "y");
	assert_string_equal(s->who.name, "web");
	assert_string_equal(s->who.port, "http");
	/* the named targetPort, as the slice controller resolved it */
	assert_non_null(be(s, 0x0a010005, 8080));
	assert_non_null(be(s, 0x0a010006, 8080));
	s = spec("y/web:53/UDP");
	assert_int_equal(s->key.proto, IPPROTO_UDP);
	assert_string_equal(s->who.port, "dns");
	assert_non_null(be(s, 0x0a010005, 5353));
	s = spec("y/web:9/SCTP");
	assert_int_equal(s->key.proto, IPPROTO_SCTP);
	assert_non_null(be(s, 0x0a010006, 9));
}

static void conditions_and_slices(void **state)
{
	const struct svc_spec *s;

	(void)state;
	/* Two slices; one endpoint in both (ready in one); an endpoint neither ready nor
	 * terminating-serving is no backend; another Service's slice does not count. */
	build_from(SVC("a", "{selector: {app: a}, clusterIP: 10.96.0.1, ports: [{port: 80}]}")
	     EPS("a-1", "a",
		 "endpoints:\n- {addresses: [10.1.0.1]}\n"
		 "- {addresses: [10.1.0.2], conditions: {ready: false, serving: true, terminating: true}}\n"
		 "- {addresses: [10.1.0.3], conditions: {ready: false}}\n"
		 "- {addresses: [10.1.0.4], conditions: {ready: false, serving: false, terminating: true}}\n"
		 "- {addresses: [10.1.0.7], conditions: {ready: false, serving: true}}\n"
		 "ports: [{port: 8080}]")
	     EPS("a-2", "a",
		 "endpoints: [{addresses: [10.1.0.2]}, {addresses: [10.1.0.5], conditions: "
		 "{ready: false, serving: true, terminating: true}}]\nports: [{port: 8080}]")
	     EPS("b-1", "b", "endpoints: [{addresses: [10.1.0.9]}]\nports: [{port: 8080}]"));
	assert_int_equal(l.nerrs, 0);
	s = spec("y/a:80/TCP");
	assert_int_equal(s->nbe, 3);
	assert_string_equal(s->who.port, ""); /* an unnamed port */
	assert_int_equal(be(s, 0x0a010001, 8080)->state, XCNI_BE_ACTIVE);
	assert_int_equal(be(s, 0x0a010002, 8080)->state, XCNI_BE_ACTIVE); /* ready wins */
	assert_int_equal(be(s, 0x0a010005, 8080)->state, XCNI_BE_TERMINATING);
	assert_null(be(s, 0x0a010003, 8080));
	assert_null(be(s, 0x0a010004, 8080));
	assert_null(be(s, 0x0a010007, 8080));
	assert_null(be(s, 0x0a010009, 8080));
}

static void terminating_only(void **state)
{
	const struct svc_spec *s;

	(void)state;
	/* Only terminating-but-serving endpoints: they are the backends (the data plane uses
	 * them since no active one is left). */
	build_from(SVC("a", "{clusterIP: 10.96.0.1, ports: [{port: 80}]}")
	     EPS("a-1", "a",
		 "endpoints: [{addresses: [10.1.0.2], conditions: {ready: false, serving: true, "
		 "terminating: true}}]\nports: [{port: 80}]"));
	s = spec("y/a:80/TCP");
	assert_int_equal(s->nbe, 1);
	assert_int_equal(s->be[0].state, XCNI_BE_TERMINATING);
}

static void affinity(void **state)
{
	const struct svc_spec *s;

	(void)state;
	build_from(SVC("a", "{clusterIP: 10.96.0.1, sessionAffinity: ClientIP, sessionAffinityConfig: "
		      "{clientIP: {timeoutSeconds: 60}}, ports: [{port: 80}]}")
	     SVC("b", "{clusterIP: 10.96.0.2, sessionAffinity: ClientIP, ports: [{port: 80}]}"));
	s = spec("y/a:80/TCP");
	assert_int_equal(s->flags, XCNI_SVC_F_AFFINITY | XCNI_SVC_F_CLUSTERIP);
	assert_int_equal(s->affinity_s, 60);
	assert_int_equal(s->nbe, 0); /* no slice: refused */
	s = spec("y/b:80/TCP");
	assert_int_equal(s->affinity_s, 10800);
}

static void headless_unallocated_no_selector(void **state)
{
	const struct svc_spec *s;

	(void)state;
	build_from(SVC("h", "{clusterIP: None, selector: {app: h}, ports: [{port: 80}]}")
	     EPS("h-1", "h", "endpoints: [{addresses: [10.1.0.1]}]\nports: [{port: 80}]")
	     SVC("u", "{selector: {app: u}, ports: [{port: 80}]}")
	     SVC("en", "{type: ExternalName, externalName: db.example.com, clusterIP: 10.96.0.8}")
	     SVC("np", "{type: NodePort, clusterIP: 10.96.0.9, ports: [{port: 80, nodePort: 30080}]}")
	     /* No selector: a hand-written slice, its port named after the named targetPort. */
	     SVC("ext", "{clusterIP: 10.96.0.3, ports: [{name: web, port: 80, targetPort: http}]}")
	     EPS("ext-x", "ext", "endpoints: [{addresses: [192.0.2.1]}]\nports: [{name: http, port: 8000}]")
	     EPS("orphan", "gone", "endpoints: [{addresses: [10.1.0.1]}]\nports: [{port: 80}]"));
	assert_int_equal(l.nerrs, 0);
	assert_int_equal(l.n, 2); /* headless, ExternalName and unallocated: no frontend */
	assert_int_equal(spec("y/np:80/TCP")->nbe, 0); /* NodePort: its ClusterIP */
	s = spec("y/ext:80/TCP");
	assert_int_equal(s->nbe, 1);
	assert_non_null(be(s, 0xc0000201, 8000));
}

/*
 * Pods that do not all name a port: the controller puts them in slices of their
 * own port sets, so a slice without the port is no mismatch while another
 * slice carries it: nothing said, each port's backends from the slices with it.
 */
static void slices_by_port_set(void **state)
{
	const struct svc_spec *s;

	(void)state;
	build_from(SVC("m", "{clusterIP: 10.96.0.5, ports: [{name: http, port: 80, targetPort: http}, "
		      "{name: metrics, port: 9090, targetPort: metrics}]}")
	     EPS("m-both", "m",
		 "endpoints: [{addresses: [10.1.0.1]}]\nports: [{name: http, port: 8080}, "
		 "{name: metrics, port: 9100}]")
	     EPS("m-http", "m", "endpoints: [{addresses: [10.1.0.2]}]\nports: [{name: http, port: 8080}]"));
	assert_int_equal(l.nerrs, 0);
	s = spec("y/m:80/TCP");
	assert_int_equal(s->nbe, 2);
	s = spec("y/m:9090/TCP");
	assert_int_equal(s->nbe, 1);
	assert_non_null(be(s, 0x0a010001, 9100));
}

static void bad_input(void **state)
{
	const struct svc_spec *s;

	(void)state;
	/* A Service port no slice port matches (name, then protocol), and a second Service on
	 * the same frontend: both said, naming the object and field; the rest is built. */
	build_from(SVC("a", "{clusterIP: 10.96.0.1, ports: [{name: http, port: 80}, {name: dns, port: 53, "
		      "protocol: UDP}]}")
	     EPS("a-1", "a",
		 "endpoints: [{addresses: [10.1.0.1]}]\nports: [{name: htttp, port: 8080}, "
		 "{name: dns, port: 53, protocol: TCP}]")
	     SVC("b", "{clusterIP: 10.96.0.1, ports: [{port: 80}]}")
	     SVC("c", "{clusterIP: 10.96.0.4, ports: [{port: 80}]}")
	     EPS("c-1", "c", "endpoints: [{addresses: [10.1.0.1]}]"));
	assert_int_equal(l.nerrs, 3);
	assert_string_equal(l.errs[0], "Service y/a: spec.ports[0].name: \"http\" names no TCP port "
				       "of EndpointSlice y/a-1");
	assert_string_equal(l.errs[1], "Service y/a: spec.ports[1].name: \"dns\" names no UDP port "
				       "of EndpointSlice y/a-1");
	assert_string_equal(l.errs[2], "Service y/b: spec.ports[0]: frontend 10.96.0.1:80/TCP is "
				       "another Service's already (y/a:80/TCP); left out");
	assert_int_equal(l.n, 3);
	assert_int_equal(spec("y/a:80/TCP")->nbe, 0);
	assert_int_equal(spec("y/a:53/UDP")->nbe, 0);
	s = spec("y/c:80/TCP"); /* a slice without ports serves none (upstream), silently */
	assert_int_equal(s->nbe, 0);
}

/*
 * Issue 52 item 3: a Service past SVC_FRONTENDS_BOUND (256 ports x 256
 * externalIPs: 65792 frontends) is refused alone, naming the object and the
 * fields, before anything is sized from it; the other Service is built, by
 * the whole build and by the incremental one. The count saturates instead
 * of wrapping (10^4 x 10^4 and past size_t).
 */
static void size_bound(void **state)
{
	size_t len = 0, cap = 1 << 16;
	char *y = malloc(cap);
	struct k8s_service huge = { .nports = (size_t)1 << 40, .nexternal_ips = (size_t)1 << 40 };
	struct k8s_service big = { .nports = 10000, .nexternal_ips = 10000 };
	const struct svc_delta *d;
	struct store_change *ch;
	struct svc_incr *si;
	struct cluster c;
	size_t nch;
	bool all;

	(void)state;
	assert_non_null(y);
	len += (size_t)snprintf(y + len, cap - len, "apiVersion: v1\nkind: Service\nmetadata: "
				"{name: huge, namespace: y}\nspec: {clusterIP: 10.96.0.9, ports: [");
	for (int i = 0; i < 256; i++)
		len += (size_t)snprintf(y + len, cap - len, "%s{name: p%d, port: %d}", i ? ", " : "",
					i, 1000 + i);
	len += (size_t)snprintf(y + len, cap - len, "], externalIPs: [");
	for (int i = 0; i < 256; i++)
		len += (size_t)snprintf(y + len, cap - len, "%s10.200.0.%d", i ? ", " : "", i);
	len += (size_t)snprintf(y + len, cap - len, "]}\n---\n%s",
				SVC("ok", "{clusterIP: 10.96.0.1, ports: [{port: 80}]}"));
	assert_true(len < cap);
	build_from(y);
	free(y);
	assert_int_equal(l.nerrs, 1);
	assert_string_equal(l.errs[0], "Service y/huge: spec.ports (256) x addresses per port (257: "
				       "clusterIPs, externalIPs, load-balancer IPs, node addresses) = "
				       "65792 frontends, more than the bound 65535; the Service is "
				       "refused");
	assert_int_equal(l.n, 1);
	assert_non_null(spec("y/ok:80/TCP"));
	/* The incremental builder: the same. */
	si = svc_incr_new();
	assert_non_null(si);
	store_view(st, &c);
	assert_int_equal(store_journal_take(st, &ch, &nch, &all), 0);
	assert_int_equal(svc_incr_update(si, &c, NULL, 0, ch, nch, all, false, &d), 0);
	store_changes_free(ch, nch);
	assert_int_equal(d->nput, 1);
	assert_int_equal(d->nerrs, 1);
	assert_string_equal(d->errs[0], l.errs[0]);
	svc_incr_free(si);
	assert_int_equal(svc_frontends_of(&big, NULL), (size_t)10000 * 10001);
	assert_int_equal(svc_frontends_of(&huge, NULL), SIZE_MAX);
	huge.etp_local = true;
	huge.nports = 3;
	huge.nexternal_ips = SIZE_MAX;
	assert_int_equal(svc_frontends_of(&huge, NULL), SIZE_MAX);
}

/*
 * Issue 52 item 3: a frontend's backends are bounded (16-bit slots; under
 * Maglev fewer than the table's XCNI_MAGLEV_M slots). A Service whose
 * EndpointSlices list more (17 slices of 1000) is refused alone, named, where
 * the sync stopped at it for every Service before; without Maglev it fits.
 */
static void backends_bound(void **state)
{
	size_t len = 0, cap = 1 << 20;
	char *y = malloc(cap);
	struct cluster c;

	(void)state;
	assert_non_null(y);
	len += (size_t)snprintf(y + len, cap - len, "%s%s",
				SVC("many", "{clusterIP: 10.96.0.7, ports: [{port: 80}]}"),
				SVC("ok", "{clusterIP: 10.96.0.1, ports: [{port: 80}]}"));
	for (int s = 0; s < 17; s++) {
		len += (size_t)snprintf(y + len, cap - len,
					"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
					"metadata: {name: many-%d, namespace: y, labels: "
					"{kubernetes.io/service-name: many}}\naddressType: IPv4\n"
					"ports: [{port: 8080}]\nendpoints: [", s);
		for (int e = 0; e < 1000; e++)
			len += (size_t)snprintf(y + len, cap - len, "%s{addresses: [10.2.%d.%d]}",
						e ? ", " : "", (s * 1000 + e) / 250, (s * 1000 + e) % 250 + 1);
		len += (size_t)snprintf(y + len, cap - len, "]\n---\n");
	}
	assert_true(len < cap);
	build_from(y);
	free(y);
	assert_int_equal(l.nerrs, 0);
	assert_int_equal(spec("y/many:80/TCP")->nbe, 17000);
	svc_list_free(&l);
	store_view(st, &c);
	assert_int_equal(svc_build(&c, NULL, SVC_BUILD_MAGLEV, &l), 0);
	assert_int_equal(l.nerrs, 1);
	assert_string_equal(l.errs[0], "Service y/many: spec.ports[0]: its EndpointSlices list 17000 "
				       "IPv4 endpoints, more than a frontend holds (16380: a Maglev "
				       "table's slots less one); the Service is refused");
	assert_int_equal(l.n, 1);
	assert_non_null(spec("y/ok:80/TCP"));
}

static void maglev_flag_and_empty(void **state)
{
	struct cluster c;

	(void)state;
	build_from(SVC("a", "{clusterIP: 10.96.0.1, ports: [{port: 80}]}"));
	svc_list_free(&l);
	store_view(st, &c);
	assert_int_equal(svc_build(&c, NULL, SVC_BUILD_MAGLEV, &l), 0);
	assert_int_equal(l.specs[0].flags, XCNI_SVC_F_MAGLEV | XCNI_SVC_F_CLUSTERIP);
	svc_list_free(&l);
	memset(&c, 0, sizeof(c));
	assert_int_equal(svc_build(&c, NULL, 0, &l), 0);
	assert_int_equal(l.n, 0);
}

/* Node n1 at 192.168.1.1 and 10.0.0.1 (InternalIP and underlay). */
static const uint32_t n1_addrs[2] = { 0x0101a8c0, 0x0100000a };
static const struct svc_node n1 = { .name = "n1", .naddrs = 2, .addrs = n1_addrs };

static const struct svc_spec *find(uint32_t addr, uint16_t port, uint8_t scope)
{
	for (size_t i = 0; i < l.n; i++)
		if (ip4(l.specs[i].key.addr) == addr && ntohs(l.specs[i].key.port) == port &&
		    l.specs[i].key.scope == scope)
			return &l.specs[i];
	return NULL;
}

/* A Service in namespace ns, created at time t (uid u): its metadata and spec. */
#define NSVC(ns, name, t, u, spec)                                                           \
	"apiVersion: v1\nkind: Service\nmetadata: {name: " name ", namespace: " ns               \
	", creationTimestamp: '" t "', uid: " #u "}\nspec: " spec "\n---\n"

/* The problem naming what, or fail. */
static const char *err_with(const char *what)
{
	for (size_t i = 0; i < l.nerrs; i++)
		if (strstr(l.errs[i], what))
			return l.errs[i];
	for (size_t i = 0; i < l.nerrs; i++)
		print_message("%s\n", l.errs[i]);
	fail_msg("no problem says %s", what);
	return NULL;
}

/*
 * Issue 52 item 2: a tenant's externalIPs take nothing the cluster allocated,
 * whatever its namespace's name (aaa sorts before kube-system and zzz): the
 * cluster DNS's ClusterIP:53 stays the DNS's, another Service's LB IP stays
 * its; between two externalIPs the older Service keeps the frontend.
 */
static void ext_ip_by_class_and_age(void **state)
{
	const struct svc_spec *s;

	(void)state;
	build_from(NSVC("kube-system", "kube-dns", "2026-01-01T00:00:00Z", u1,
		  "{clusterIP: 10.96.0.10, ports: [{name: dns, port: 53, protocol: UDP}]}")
	     NSVC("zzz", "lb", "2026-03-01T00:00:00Z", u2,
		  "{type: LoadBalancer, clusterIP: 10.96.0.20, ports: [{port: 80, nodePort: 30080}]}"
		  "\nstatus: {loadBalancer: {ingress: [{ip: 198.51.100.2}]}}")
	     NSVC("zzz", "old", "2026-02-01T00:00:00Z", u3,
		  "{clusterIP: 10.96.0.30, externalIPs: [192.0.2.5], ports: [{port: 80}]}")
	     NSVC("aaa", "evil", "2026-04-01T00:00:00Z", u4,
		  "{clusterIP: 10.96.0.40, externalIPs: [10.96.0.10, 198.51.100.2, 192.0.2.5], "
		  "ports: [{name: dns, port: 53, protocol: UDP}, {name: web, port: 80}]}"));
	s = find(0x0a60000a, 53, XCNI_SCOPE_EXT);
	assert_non_null(s);
	assert_string_equal(s->who.ns, "kube-system");
	s = find(0xc6336402, 80, XCNI_SCOPE_EXT);
	assert_non_null(s);
	assert_string_equal(s->who.name, "lb");
	s = find(0xc0000205, 80, XCNI_SCOPE_EXT);
	assert_non_null(s);
	assert_string_equal(s->who.name, "old");
	/* What evil keeps: its ClusterIP at both ports, its externalIPs where no one else is. */
	assert_non_null(spec("aaa/evil 10.96.0.10:80/TCP"));
	assert_non_null(spec("aaa/evil 198.51.100.2:53/UDP"));
	assert_non_null(spec("aaa/evil 192.0.2.5:53/UDP"));
	err_with("Service aaa/evil: spec.externalIPs[0]: frontend 10.96.0.10:53/UDP is allocated by "
		 "the cluster to kube-system/kube-dns:53/UDP; externalIP refused");
	err_with("Service aaa/evil: spec.externalIPs[1]: frontend 198.51.100.2:80/TCP is allocated "
		 "by the cluster to zzz/lb 198.51.100.2:80/TCP; externalIP refused");
	err_with("Service aaa/evil: spec.externalIPs[2]: frontend 192.0.2.5:80/TCP is an older "
		 "Service's externalIP (zzz/old 192.0.2.5:80/TCP); externalIP refused");
	assert_int_equal(l.nerrs, 3);
	assert_int_equal(l.nrefused, 3);
}

/* Same creationTimestamp: the uid decides, not the name. */
static void ext_ip_same_age_by_uid(void **state)
{
	(void)state;
	build_from(NSVC("aaa", "x", "2026-01-01T00:00:00Z", b-uid, "{clusterIP: 10.96.0.1, "
		  "externalIPs: [192.0.2.5], ports: [{port: 80}]}")
	     NSVC("bbb", "x", "2026-01-01T00:00:00Z", a-uid, "{clusterIP: 10.96.0.2, "
		  "externalIPs: [192.0.2.5], ports: [{port: 80}]}"));
	assert_string_equal(find(0xc0000205, 80, XCNI_SCOPE_EXT)->who.ns, "bbb");
	assert_int_equal(l.nrefused, 1);
}

/*
 * externalIPs no Service may name: in the Service range (a ClusterIP, the
 * DNS's), in a pod range (a pod's address), a node's address (another
 * Service's NodePort there), or outside --external-ip-cidrs; each refused once
 * (not per port), naming the Service, the field and why; the allowed one has
 * its frontends.
 */
static void ext_ip_refusals(void **state)
{
	static const struct svc_prefix res[] = {
		{ { 4, 12, { 10, 96 } }, SVC_PFX_SERVICE },
		{ { 4, 16, { 10, 244 } }, SVC_PFX_POD },
		{ { 6, 64, { 0xfd, 0, 0, 0, 0, 0, 0, 0x44 } }, SVC_PFX_POD },
	};
	static const struct xcni_prefix allow[] = {
		{ 4, 24, { 203, 0, 113 } },
		{ 4, 24, { 192, 168, 1 } },
	};
	static const uint32_t peers[] = { 0x030201c0 }; /* 192.1.2.3, network order */
	const struct svc_ext_rules rules = { 3, res, 2, allow };
	struct svc_node node = n1;

	(void)state;
	node.ext = &rules;
	node.npeers = 1;
	node.peers = peers;
	load_for(NSVC("aaa", "evil", "2026-04-01T00:00:00Z", u4,
		      "{clusterIP: 10.96.0.40, externalIPs: [10.96.0.10, 10.244.1.5, 192.168.1.1, "
		      "198.51.100.1, 203.0.113.7, 192.1.2.3, 'fd00:0:0:44::5'], ports: [{name: dns, port: 53, "
		      "protocol: UDP}, {name: web, port: 80}]}"), &node);
	assert_int_equal(l.n, 4); /* the ClusterIP and 203.0.113.7, at both ports */
	assert_non_null(spec("aaa/evil 203.0.113.7:53/UDP"));
	assert_non_null(spec("aaa/evil 203.0.113.7:80/TCP"));
	assert_int_equal(l.nerrs, 5);
	assert_int_equal(l.nrefused, 5);
	assert_string_equal(l.errs[0], "Service aaa/evil: spec.externalIPs[0]: 10.96.0.10 is in the "
				       "Service range 10.96.0.0/12; externalIP refused");
	assert_string_equal(l.errs[1], "Service aaa/evil: spec.externalIPs[1]: 10.244.1.5 is in a "
				       "pod range 10.244.0.0/16; externalIP refused");
	assert_string_equal(l.errs[2], "Service aaa/evil: spec.externalIPs[2]: 192.168.1.1 is a "
				       "node's address; externalIP refused");
	assert_string_equal(l.errs[3], "Service aaa/evil: spec.externalIPs[3]: 198.51.100.1 is "
				       "outside --external-ip-cidrs; externalIP refused");
	assert_string_equal(l.errs[4], "Service aaa/evil: spec.externalIPs[5]: 192.1.2.3 is a "
				       "node's address; externalIP refused");
	/* The IPv6 one has no IPv6 ClusterIP to go with: no frontend, nothing to say. */
	svc_list_free(&l);
	store_free(st);
	/* Dual stack: the IPv6 one in the pod range is refused too. */
	load_for(NSVC("aaa", "six", "2026-04-01T00:00:00Z", u5,
		      "{clusterIPs: [10.96.0.41, 'fd00:96::41'], ipFamilies: [IPv4, IPv6], "
		      "clusterIP: 10.96.0.41, externalIPs: ['fd00:0:0:44::5', 203.0.113.9], "
		      "ports: [{port: 80}]}"), &node);
	err_with("Service aaa/six: spec.externalIPs[0]: fd00:0:0:44::5 is in a pod range "
		 "fd00:0:0:44::/64; externalIP refused");
	assert_non_null(spec("aaa/six 203.0.113.9:80/TCP"));
	assert_int_equal(l.nrefused, 1);
}

/*
 * Load-balancer IPs (status.loadBalancer.ingress[].ip) naming a node's
 * address (this node's or a peer's, both families) or a reserved range are
 * refused as externalIPs are, said once each and counted with the
 * externalIPs' refusals; --external-ip-cidrs does not apply to them (the
 * outside one keeps its frontend).
 */
static void lb_ip_refusals(void **state)
{
	static const struct svc_prefix res[] = { { { 4, 12, { 10, 96 } }, SVC_PFX_SERVICE } };
	static const struct xcni_prefix allow[] = { { 4, 24, { 203, 0, 113 } } };
	static const uint32_t peers[] = { 0x030201c0 }; /* 192.1.2.3, network order */
	static const uint8_t a6[1][16] = { { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9 } };
	const struct svc_ext_rules rules = { 1, res, 1, allow };
	struct svc_node node = n1;

	(void)state;
	node.ext = &rules;
	node.npeers = 1;
	node.peers = peers;
	node.naddrs6 = 1;
	node.addrs6 = a6;
	load_for(NSVC("aaa", "lb", "2026-04-01T00:00:00Z", u4,
		      "{type: LoadBalancer, clusterIPs: [10.96.0.40, 'fd00:96::40'], "
		      "ipFamilies: [IPv4, IPv6], clusterIP: 10.96.0.40, ports: [{name: dns, "
		      "port: 53, protocol: UDP}, {name: web, port: 80}]}\nstatus: {loadBalancer: "
		      "{ingress: [{ip: 192.168.1.1}, {ip: 192.1.2.3}, {ip: 10.96.0.10}, "
		      "{ip: 'fd00::9'}, {ip: 198.51.100.1}]}}"), &node);
	/* Both ClusterIPs and 198.51.100.1 (no allow-list for LB IPs), at both ports. */
	assert_int_equal(l.n, 6);
	assert_non_null(spec("aaa/lb 198.51.100.1:80/TCP"));
	assert_int_equal(l.nerrs, 4);
	assert_int_equal(l.nrefused, 4);
	/* The IPv6 pass (inside the IPv4 one) says its refusal first. */
	assert_string_equal(l.errs[0], "Service aaa/lb: status.loadBalancer.ingress[3].ip: "
				       "fd00::9 is a node's address; load-balancer IP refused");
	assert_string_equal(l.errs[1], "Service aaa/lb: status.loadBalancer.ingress[0].ip: "
				       "192.168.1.1 is a node's address; load-balancer IP refused");
	assert_string_equal(l.errs[2], "Service aaa/lb: status.loadBalancer.ingress[1].ip: "
				       "192.1.2.3 is a node's address; load-balancer IP refused");
	assert_string_equal(l.errs[3], "Service aaa/lb: status.loadBalancer.ingress[2].ip: "
				       "10.96.0.10 is in the Service range 10.96.0.0/12; "
				       "load-balancer IP refused");
}

#define WEB_EPS                                                                             \
	EPS("web-1", "web",                                                                 \
	    "endpoints: [{addresses: [10.1.0.5], nodeName: n1}, {addresses: [10.1.1.6], "   \
	    "nodeName: n2}, {addresses: [10.1.0.7], nodeName: n1, conditions: {ready: false, " \
	    "serving: true, terminating: true}}]\nports: [{port: 8080}]")

static void nodeport_external_lb(void **state)
{
	const struct svc_spec *s;

	(void)state;
	load_for(SVC("web", "{type: LoadBalancer, clusterIP: 10.96.0.9, externalIPs: [203.0.113.7, "
			    "'2001:db8::1'], ports: [{port: 80, nodePort: 30080}]}\nstatus: "
			    "{loadBalancer: {ingress: [{ip: 198.51.100.2}, {hostname: lb.example}]}}")
		 WEB_EPS, &n1);
	assert_int_equal(l.nerrs, 0);
	/* ClusterIP, NodePort on both node addresses, the externalIP, the LB IP: all EXT,
	 * all backends (both policies Cluster). */
	assert_int_equal(l.n, 5);
	s = spec("y/web:80/TCP");
	assert_int_equal(ip4(s->key.addr), 0x0a600009);
	assert_int_equal(s->nbe, 3);
	s = spec("y/web 192.168.1.1:30080/TCP");
	assert_int_equal(s->key.scope, XCNI_SCOPE_EXT);
	assert_int_equal(s->flags, 0);
	assert_int_equal(s->nbe, 3);
	assert_non_null(be(s, 0x0a010106, 8080));
	assert_non_null(find(0x0a000001, 30080, XCNI_SCOPE_EXT));
	assert_int_equal(spec("y/web 203.0.113.7:80/TCP")->nbe, 3);
	assert_int_equal(spec("y/web 198.51.100.2:80/TCP")->nbe, 3);
	/* Without a node: no NodePort frontends. */
	svc_list_free(&l);
	{
		struct cluster c;

		store_view(st, &c);
		assert_int_equal(svc_build(&c, NULL, 0, &l), 0);
		assert_int_equal(l.n, 3);
		assert_null(find(0x0a000001, 30080, XCNI_SCOPE_EXT));
	}
}

static void traffic_policies(void **state)
{
	const struct svc_spec *s;

	(void)state;
	load_for(SVC("web", "{type: NodePort, clusterIP: 10.96.0.9, externalTrafficPolicy: Local, "
			    "internalTrafficPolicy: Local, sessionAffinity: ClientIP, ports: "
			    "[{port: 80, nodePort: 30080}]}")
		 WEB_EPS, &n1);
	assert_int_equal(l.nerrs, 0);
	assert_int_equal(l.n, 5); /* ClusterIP, 2 x (EXT + INT) */
	/* ClusterIP under internalTrafficPolicy Local: this node's endpoints only. */
	s = spec("y/web:80/TCP");
	assert_int_equal(s->flags, XCNI_SVC_F_ITP_LOCAL | XCNI_SVC_F_AFFINITY |
				   XCNI_SVC_F_CLUSTERIP);
	assert_int_equal(s->nbe, 2);
	assert_int_equal(be(s, 0x0a010005, 8080)->state, XCNI_BE_ACTIVE);
	assert_int_equal(be(s, 0x0a010007, 8080)->state, XCNI_BE_TERMINATING);
	assert_null(be(s, 0x0a010106, 8080));
	/* NodePort under externalTrafficPolicy Local: EXT local only, INT all. */
	s = find(0x0a000001, 30080, XCNI_SCOPE_EXT);
	assert_non_null(s);
	/* ... every one of them here: the XDP fast path's cue (XCNI_SVC_F_LOCAL_BE). */
	assert_int_equal(s->flags, XCNI_SVC_F_ETP_LOCAL | XCNI_SVC_F_TWO_SCOPES |
					   XCNI_SVC_F_AFFINITY | XCNI_SVC_F_LOCAL_BE);
	assert_int_equal(s->nbe, 2);
	assert_null(be(s, 0x0a010106, 8080));
	s = find(0x0a000001, 30080, XCNI_SCOPE_INT);
	assert_non_null(s);
	assert_int_equal(s->flags, XCNI_SVC_F_AFFINITY);
	assert_int_equal(s->nbe, 3);
	/* On another node with no endpoint: the EXT entry has none (the data plane
	 * drops), the INT one all three. */
	svc_list_free(&l);
	{
		const struct svc_node n3 = { .name = "n3", .naddrs = 1, .addrs = n1_addrs + 1 };
		struct cluster c;

		store_view(st, &c);
		assert_int_equal(svc_build(&c, &n3, 0, &l), 0);
		assert_int_equal(find(0x0a000001, 30080, XCNI_SCOPE_EXT)->nbe, 0);
		/* None here: not XCNI_SVC_F_LOCAL_BE (tc drops it, said). */
		assert_false(find(0x0a000001, 30080, XCNI_SCOPE_EXT)->flags & XCNI_SVC_F_LOCAL_BE);
		assert_int_equal(find(0x0a000001, 30080, XCNI_SCOPE_INT)->nbe, 3);
		assert_int_equal(spec("y/web:80/TCP")->nbe, 0);
	}
}

/*
 * Another node's NodePort: a frontend here too, for this node's pods. Under
 * externalTrafficPolicy Cluster every backend, as for pods on the node itself;
 * under Local only that node's own (ready, else its serving terminating ones):
 * to that node the connection is external (upstream's e2e "should fallback to
 * local terminating endpoints ... externalTrafficPolicy=Local": a pod on node 0
 * to node 1's NodePort fails when the only endpoint is on node 0), and with
 * none the frontend keeps XCNI_SVC_F_ETP_LOCAL so the data plane drops, as
 * that node drops an outside client's packet.
 */
static void nodeport_peers(void **state)
{
	/* n2, n1's own again, n3 (no endpoint) */
	static const uint32_t peers[3] = { 0x0201a8c0, 0x0101a8c0, 0x0301a8c0 };
	static const char *const names[3] = { "n2", "n1", "n3" };
	const struct svc_node n = { .name = "n1", .naddrs = 2, .addrs = n1_addrs, .npeers = 3,
				    .peers = peers, .peer_names = names };
	const struct svc_spec *s;

	(void)state;
	load_for(SVC("web", "{type: NodePort, clusterIP: 10.96.0.9, externalTrafficPolicy: Local, "
			    "ports: [{port: 80, nodePort: 30080}]}")
		 SVC("all", "{type: NodePort, clusterIP: 10.96.0.8, selector: {app: web}, "
			    "ports: [{port: 80, nodePort: 30081}]}")
		 WEB_EPS EPS("all-1", "all",
			     "endpoints: [{addresses: [10.1.0.5], nodeName: n1}, {addresses: "
			     "[10.1.1.6], nodeName: n2}]\nports: [{port: 8080}]"),
		 &n);
	assert_int_equal(l.nerrs, 0);
	/* Per Service: ClusterIP, 2 x (EXT + INT) of its own (web) or 2 x EXT (all),
	 * n2's and n3's: n1's own address listed as a peer is no second frontend. */
	assert_int_equal(l.n, 7 + 5);
	s = spec("y/web 192.168.1.2:30080/TCP (another node's)");
	assert_int_equal(s->key.scope, XCNI_SCOPE_EXT);
	/* n2's own endpoint only, and the policy said: none is a drop. */
	assert_int_equal(s->flags, XCNI_SVC_F_ETP_LOCAL);
	assert_int_equal(s->nbe, 1);
	assert_int_equal(be(s, 0x0a010106, 8080)->state, XCNI_BE_ACTIVE);
	s = spec("y/web 192.168.1.3:30080/TCP (another node's)");
	assert_int_equal(s->flags, XCNI_SVC_F_ETP_LOCAL);
	assert_int_equal(s->nbe, 0);
	assert_int_equal(find(0xc0a80101, 30080, XCNI_SCOPE_EXT)->flags,
			 XCNI_SVC_F_ETP_LOCAL | XCNI_SVC_F_TWO_SCOPES | XCNI_SVC_F_LOCAL_BE);
	/* Cluster, one backend here and one on n2: the fast path chooses. */
	assert_int_equal(find(0xc0a80101, 30081, XCNI_SCOPE_EXT)->flags & XCNI_SVC_F_LOCAL_BE, 0);
	/* externalTrafficPolicy Cluster: every backend behind every node's address. */
	s = spec("y/all 192.168.1.3:30081/TCP (another node's)");
	assert_int_equal(s->flags, 0);
	assert_int_equal(s->nbe, 2);
	assert_non_null(be(s, 0x0a010106, 8080));
	assert_non_null(be(s, 0x0a010005, 8080));
	/* No endpoint anywhere: refused at once, on every node (kube-proxy's REJECT),
	 * so the flag that makes the data plane drop is not set. */
	svc_list_free(&l);
	store_free(st);
	load_for(SVC("web", "{type: NodePort, clusterIP: 10.96.0.9, externalTrafficPolicy: Local, "
			    "ports: [{port: 80, nodePort: 30080}]}"),
		 &n);
	s = spec("y/web 192.168.1.3:30080/TCP (another node's)");
	assert_int_equal(s->flags, 0);
	assert_int_equal(s->nbe, 0);
}

/* Peers without names (a caller that does not know them): every backend, as before. */
static void nodeport_peers_unnamed(void **state)
{
	static const uint32_t peers[1] = { 0x0201a8c0 };
	const struct svc_node n = { .name = "n1", .naddrs = 2, .addrs = n1_addrs, .npeers = 1,
				    .peers = peers };
	const struct svc_spec *s;

	(void)state;
	load_for(SVC("web", "{type: NodePort, clusterIP: 10.96.0.9, externalTrafficPolicy: Local, "
			    "ports: [{port: 80, nodePort: 30080}]}")
		 WEB_EPS, &n);
	s = spec("y/web 192.168.1.2:30080/TCP (another node's)");
	assert_int_equal(s->flags, 0);
	assert_int_equal(s->nbe, 3);
}

static void bad_node_ports(void **state)
{
	const struct svc_node narrow = { .name = "n1", .naddrs = 1, .addrs = n1_addrs + 1,
					 .np_min = 31000, .np_max = 31999 };

	(void)state;
	/* Out of the range: that frontend refused, named; a nodePort two Services have:
	 * the later one's refused, naming it and the owner; everything else built. */
	load_for(SVC("a", "{type: NodePort, clusterIP: 10.96.0.1, ports: [{name: x, port: 80, "
			  "nodePort: 30080}, {name: y, port: 81, nodePort: 31081}]}")
		 SVC("b", "{type: NodePort, clusterIP: 10.96.0.2, ports: [{port: 80, nodePort: 31081}]}")
		 SVC("c", "{type: NodePort, clusterIP: 10.96.0.3, ports: [{port: 80, nodePort: 31081, "
			  "protocol: UDP}]}"),
		 &narrow);
	assert_int_equal(l.nerrs, 2);
	assert_string_equal(l.errs[0], "Service y/a: spec.ports[0].nodePort: 30080 is outside the "
				       "NodePort range 31000-31999; that frontend is refused");
	assert_string_equal(l.errs[1], "Service y/b: spec.ports[0].nodePort: frontend "
				       "10.0.0.1:31081/TCP is another Service's already (y/a "
				       "10.0.0.1:31081/TCP); left out");
	assert_int_equal(l.n, 6); /* 4 ClusterIPs, a's 31081, c's 31081/UDP */
	assert_null(find(0x0a000001, 30080, XCNI_SCOPE_EXT));
	assert_non_null(spec("y/a 10.0.0.1:31081/TCP"));
	assert_non_null(spec("y/c 10.0.0.1:31081/UDP"));
	assert_non_null(spec("y/b:80/TCP"));
}

static void nodeport_parse_errors(void **state)
{
	struct k8s_error err;
	struct k8s_object *o;
	json_t **docs;
	size_t n;
	static const struct {
		const char *yaml, *msg;
	} rows[] = {
		{ SVC("a", "{clusterIP: 10.96.0.1, ports: [{port: 80, nodePort: 30080}]}"),
		  "Service y/a: spec.ports[0].nodePort: only NodePort and LoadBalancer Services have one" },
		{ SVC("a", "{type: NodePort, ports: [{port: 80, nodePort: 70000}]}"),
		  "Service y/a: spec.ports[0].nodePort: 70000 must be between 0 and 65535, inclusive" },
		{ SVC("a", "{type: NodePort, externalTrafficPolicy: Nearby, ports: [{port: 80}]}"),
		  "Service y/a: spec.externalTrafficPolicy: \"Nearby\" is not supported (Cluster, Local)" },
		{ SVC("a", "{externalIPs: [1.2.3], ports: [{port: 80}]}"),
		  "Service y/a: spec.externalIPs[0]: \"1.2.3\" is not a valid IP address" },
		{ SVC("a", "{type: LoadBalancer, ports: [{port: 80}]}\nstatus: {loadBalancer: "
			   "{ingress: [{ip: x}]}}"),
		  "Service y/a: status.loadBalancer.ingress[0].ip: \"x\" is not a valid IP address" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (k8s_load_stream(rows[i].yaml, strlen(rows[i].yaml), &docs, &n, &err))
			fail_msg("%s", err.msg);
		assert_int_equal(k8s_parse_lb(docs[0], &o, &err), -EINVAL);
		assert_string_equal(err.msg, rows[i].msg);
		k8s_docs_free(docs, n);
	}
}

/* ---- svc_incr against svc_build ---- */

/* A frontend as the writer was told it (a copy: the delta's are valid for one update). */
struct model_fe {
	struct svc_spec sp;
	char name[128];
	struct svc_be_spec be[64];
};

static struct model_fe model[256];
static size_t nmodel;

static struct model_fe *model_find(const struct xcni_svc_key *k)
{
	for (size_t i = 0; i < nmodel; i++)
		if (!memcmp(&model[i].sp.key, k, sizeof(*k)))
			return &model[i];
	return NULL;
}

static void model_put(const struct svc_spec *sp)
{
	struct model_fe *m = model_find(&sp->key);

	if (!m) {
		assert_true(nmodel < sizeof(model) / sizeof(model[0]));
		m = &model[nmodel++];
	}
	assert_true(sp->nbe <= 64);
	m->sp = *sp;
	snprintf(m->name, sizeof(m->name), "%s", sp->name);
	if (sp->nbe)
		memcpy(m->be, sp->be, sp->nbe * sizeof(*sp->be));
	m->sp.name = m->name;
	m->sp.be = m->be;
}

static void model_del(const struct xcni_svc_key *k)
{
	struct model_fe *m = model_find(k);

	/* Only what the writer holds is deleted. */
	assert_non_null(m);
	*m = model[--nmodel];
	if (m != &model[nmodel]) {
		m->sp.name = m->name;
		m->sp.be = m->be;
	}
}

static void spec_equal(const struct svc_spec *a, const struct svc_spec *b)
{
	assert_string_equal(a->name, b->name);
	assert_memory_equal(&a->key, &b->key, sizeof(a->key));
	assert_memory_equal(&a->who, &b->who, sizeof(a->who));
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->affinity_s, b->affinity_s);
	assert_int_equal(a->nbe, b->nbe);
	if (a->nbe)
		assert_memory_equal(a->be, b->be, a->nbe * sizeof(*a->be));
}

static unsigned int rnd(unsigned int n)
{
	return (unsigned int)random() % n;
}

static void put_json(const char *text)
{
	struct k8s_error err;
	struct k8s_object *o;
	json_error_t jerr;
	json_t *doc = json_loads(text, 0, &jerr);

	if (!doc)
		fail_msg("%s: %s", jerr.text, text);
	if (k8s_parse_lb(doc, &o, &err))
		fail_msg("%s", err.msg);
	json_decref(doc);
	assert_true(store_put(st, o) >= 0);
}

static const char *const NS[] = { "y", "z" };
static const char *const SVCS[] = { "a", "b", "c", "d", "e", "f" };

/*
 * IPv6 load-balancer IPs (status.loadBalancer.ingress[].ip) get frontends
 * with the IPv6 backends, as IPv6 externalIPs do; a clash names the entry's
 * own index in its list, the families mixed there (spec.externalIPs[1], not
 * the first IPv6 one's 0).
 */
static void lb_ips6_and_clash_index(void **state)
{
	const struct svc_spec *s;

	(void)state;
	build_from(SVC("a", "{clusterIP: \"fd00:96::a\", ports: [{port: 80}]}")
	     SVC("b", "{selector: {app: b}, type: LoadBalancer, clusterIP: \"fd00:96::b\", "
		      "ipFamilies: [IPv6], externalIPs: [192.0.2.1, \"fd00:96::a\"], "
		      "ports: [{port: 80}]}\nstatus: {loadBalancer: {ingress: [{hostname: lb}, "
		      "{ip: 198.51.100.2}, {ip: \"2001:db8:100::1\"}, {ip: \"fd00:96::a\"}]}}")
	     EPS6("b-6", "b", "endpoints: [{addresses: [\"fd00:1::7\"]}]\nports: [{port: 9090}]"));
	/* a's ClusterIP; b's ClusterIP and its IPv6 LB IP (the clashing
	 * externalIP and LB IP left out; the IPv4 ones have no IPv4 backends). */
	assert_int_equal(l.n, 3);
	s = spec("y/b 2001:db8:100::1:80/TCP");
	assert_int_equal(s->key.family, XCNI_AF_INET6);
	assert_int_equal(s->key.scope, XCNI_SCOPE_EXT);
	assert_int_equal(s->nbe, 1);
	assert_true(has_be6(s, "fd00:1::7", 9090));
	assert_int_equal(l.nerrs, 2);
	if (!strstr(l.errs[0], "Service y/b: spec.externalIPs[1]: frontend fd00:96::a:80/TCP"))
		fail_msg("%s", l.errs[0]);
	if (!strstr(l.errs[1], "Service y/b: status.loadBalancer.ingress[3].ip: frontend "
			       "fd00:96::a:80/TCP"))
		fail_msg("%s", l.errs[1]);
}

/*
 * A random Service: a ClusterIP from a pool of 4 (two Services often want
 * one), sometimes headless; one or two ports; ClusterIP or NodePort (nodePort
 * from a pool of 3, or outside the range); an externalIP from the ClusterIP
 * pool sometimes (clashing with a ClusterIP); traffic policies; affinity.
 */
static void put_service(void)
{
	const char *ns = NS[rnd(2)], *name = SVCS[rnd(6)];
	bool np = rnd(3) == 0, two = rnd(2);
	char ip[32], ports[512], ext[64] = "", nodeport[32] = "", lb[128] = "";
	unsigned int nps[] = { 30001, 30002, 30003, 40000 };
	char text[1400];

	char fam[160] = "";
	unsigned int f = rnd(4);

	if (rnd(8) == 0)
		snprintf(ip, sizeof(ip), "None");
	else if (f == 3) /* IPv6 only */
		snprintf(ip, sizeof(ip), "fd00:96::%u", 1 + rnd(4));
	else
		snprintf(ip, sizeof(ip), "10.96.0.%u", 1 + rnd(4));
	/* Dual stack: an IPv6 ClusterIP from a pool of 3 beside the IPv4 one. */
	if (f == 2 && strcmp(ip, "None"))
		snprintf(fam, sizeof(fam),
			 ",\"clusterIPs\":[\"%s\",\"fd00:96::%u\"],\"ipFamilies\":[\"IPv4\",\"IPv6\"]",
			 ip, 1 + rnd(3));
	if (np)
		snprintf(nodeport, sizeof(nodeport), ",\"nodePort\":%u", nps[rnd(4)]);
	snprintf(ports, sizeof(ports),
		 "{\"name\":\"http\",\"port\":%u,\"protocol\":\"TCP\",\"targetPort\":8080%s}%s",
		 80 + rnd(2), nodeport,
		 two ? ",{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\"}" : "");
	/* externalIPs from the ClusterIP pools: IPv4, or IPv4 and IPv6 mixed. */
	switch (rnd(6)) {
	case 0:
		snprintf(ext, sizeof(ext), ",\"externalIPs\":[\"10.96.0.%u\"]", 1 + rnd(4));
		break;
	case 2: /* outside every range: two Services' externalIPs on one, the older keeps it */
		snprintf(ext, sizeof(ext), ",\"externalIPs\":[\"192.0.2.%u\"]", 1 + rnd(2));
		break;
	case 1:
		snprintf(ext, sizeof(ext), ",\"externalIPs\":[\"10.96.0.%u\",\"fd00:96::%u\"]",
			 1 + rnd(4), 1 + rnd(4));
		break;
	}
	/* A LoadBalancer (a NodePort one): ingress IPs of both families, from the pools. */
	if (np && rnd(2))
		snprintf(lb, sizeof(lb),
			 ",\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"fd00:96::%u\"},"
			 "{\"ip\":\"10.96.0.%u\"}]}}",
			 1 + rnd(4), 1 + rnd(4));
	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"%s\","
		 "\"namespace\":\"%s\",\"creationTimestamp\":\"2026-01-0%uT00:00:00Z\","
		 "\"uid\":\"u%u\"},\"spec\":{\"type\":\"%s\",\"clusterIP\":\"%s\"%s,"
		 "\"selector\":{\"app\":\"%s\"}%s%s%s%s,\"ports\":[%s]}%s}",
		 name, ns, 1 + rnd(3), rnd(3), *lb ? "LoadBalancer" : np ? "NodePort" : "ClusterIP", ip, fam, name, ext,
		 rnd(3) == 0 ? ",\"externalTrafficPolicy\":\"Local\"" : "",
		 rnd(4) == 0 ? ",\"internalTrafficPolicy\":\"Local\"" : "",
		 rnd(4) == 0 ? ",\"sessionAffinity\":\"ClientIP\"" : "", ports, lb);
	put_json(text);
}

/* A random EndpointSlice: named after a Service (or none), 0-3 endpoints of a pool of 6. */
static void put_slice(void)
{
	const char *ns = NS[rnd(2)];
	char text[2048], eps[1024] = "", label[96] = "";
	size_t off = 0;
	unsigned int n = rnd(4);
	bool six = rnd(3) == 0; /* an IPv6 slice */

	if (rnd(6))
		snprintf(label, sizeof(label), ",\"labels\":{\"kubernetes.io/service-name\":\"%s\"}",
			 SVCS[rnd(6)]);
	for (unsigned int i = 0; i < n; i++)
		off += (size_t)snprintf(eps + off, sizeof(eps) - off,
					"%s{\"addresses\":[\"%s%u\"],\"nodeName\":\"n%u\","
					"\"conditions\":{\"ready\":%s,\"serving\":true,"
					"\"terminating\":%s}}",
					i ? "," : "", six ? "fd00:1::" : "10.1.0.", 1 + rnd(6), 1 + rnd(2), rnd(4) ? "true" : "false",
					rnd(2) ? "true" : "false");
	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":"
		 "{\"name\":\"sl%u\",\"namespace\":\"%s\"%s},\"addressType\":\"IPv%c\",\"ports\":"
		 "[{\"name\":\"%s\",\"port\":%u,\"protocol\":\"TCP\"},{\"name\":\"dns\",\"port\":53,"
		 "\"protocol\":\"UDP\"}],\"endpoints\":[%s]}",
		 rnd(8), ns, label, six ? '6' : '4', rnd(5) ? "http" : "other", 8080 + rnd(2), eps);
	put_json(text);
}

/*
 * Random changes (Services and EndpointSlices put, changed, relabelled,
 * deleted, a few at a time, sometimes many; the node's addresses changing
 * now and then), each update's delta applied to a model of the maps: after
 * every update the model holds exactly svc_build's frontends from scratch,
 * every problem the delta names is one svc_build names, and a whole list
 * asked for is svc_build's list, in its order, with its problems.
 */
static void incr_equals_build(void **state)
{
	uint32_t addrs[2] = { htonl(0x0a000001), htonl(0x0a000002) };
	/* Other Nodes' InternalIPs (this node's pods reaching their NodePorts); the
	 * last is also an externalIPs address: the two claim one frontend. */
	uint32_t peers[3] = { htonl(0x0a000003), htonl(0x0a000004), htonl(0x0a600001) };
	uint8_t a6[3][16] = { { 0xfd, [15] = 1 }, { 0xfd, [15] = 2 }, { 0xfd, [15] = 3 } };
	struct svc_node node = { .name = "n1", .naddrs = 1, .addrs = addrs, .peers = peers,
				 .addrs6 = (const uint8_t(*)[16])a6,
				 .peers6 = (const uint8_t(*)[16])(a6 + 1) };
	static const struct svc_prefix res[] = { { { 4, 31, { 10, 96, 0, 2 } }, SVC_PFX_SERVICE } };
	static const struct xcni_prefix allow[] = { { 4, 24, { 10, 96, 0 } } };
	const struct svc_ext_rules rules = { 1, res, 0, NULL }, rules_allow = { 1, res, 1, allow };
	struct svc_incr *si = svc_incr_new();
	size_t rebuilt = 0, steps = 3000, fulls = 0, puts = 0, dels = 0, refused = 0;

	(void)state;
	srandom(1);
	st = store_new();
	assert_non_null(si);
	assert_non_null(st);
	nmodel = 0;
	for (size_t step = 0; step < steps; step++) {
		unsigned int nops = rnd(10) == 0 ? 10 + rnd(20) : 1 + rnd(3);
		struct store_change *ch;
		const struct svc_delta *d;
		struct cluster c;
		size_t nch;
		bool all, whole = rnd(10) == 0;

		for (unsigned int k = 0; k < nops; k++) {
			switch (rnd(6)) {
			case 0:
			case 1:
				put_service();
				break;
			case 2:
				store_del(st, K8S_SERVICE, NS[rnd(2)], SVCS[rnd(6)]);
				break;
			case 3:
			case 4:
				put_slice();
				break;
			default: {
				char n[8];

				snprintf(n, sizeof(n), "sl%u", rnd(8));
				store_del(st, K8S_ENDPOINTSLICE, NS[rnd(2)], n);
			}
			}
		}
		if (rnd(50) == 0)
			node.naddrs = 1 + rnd(2);
		if (rnd(40) == 0)
			node.npeers = rnd(4);
		/* IPv6 NodePorts: the node's IPv6 address and its peers' come and go. */
		if (rnd(40) == 0)
			node.naddrs6 = rnd(2);
		if (rnd(40) == 0)
			node.npeers6 = rnd(3);
		/* The externalIP rules: the first ClusterIPs reserved, an allow-list. */
		if (rnd(30) == 0)
			node.ext = node.ext ? NULL : rnd(2) ? &rules : &rules_allow;
		store_view(st, &c);
		assert_int_equal(store_journal_take(st, &ch, &nch, &all), 0);
		assert_int_equal(svc_incr_update(si, &c, &node, 0, ch, nch, all, whole, &d), 0);
		store_changes_free(ch, nch);
		assert_int_equal(svc_build(&c, &node, 0, &l), 0);
		/* The externalIPs refused, as svc_build counts them. */
		assert_int_equal(svc_incr_refusals(si, NULL, NULL, NULL), l.nrefused);
		refused += l.nrefused;
		if (d->full) {
			/* The whole list: svc_build's, in its order, with its problems. */
			fulls++;
			assert_int_equal(d->nput, l.n);
			for (size_t i = 0; i < l.n; i++)
				spec_equal(&d->put[i], &l.specs[i]);
			assert_int_equal(d->nerrs, l.nerrs);
			for (size_t i = 0; i < l.nerrs; i++)
				assert_string_equal(d->errs[i], l.errs[i]);
			nmodel = 0;
		} else {
			rebuilt += d->nrebuilt;
			for (size_t i = 0; i < d->nerrs; i++) {
				size_t j = 0;

				while (j < l.nerrs && strcmp(l.errs[j], d->errs[i]))
					j++;
				if (j == l.nerrs)
					fail_msg("step %zu: the delta names a problem svc_build does not: %s",
						 step, d->errs[i]);
			}
		}
		for (size_t i = 0; i < d->ndel; i++)
			model_del(&d->del[i]);
		for (size_t i = 0; i < d->nput; i++)
			model_put(&d->put[i]);
		puts += d->nput;
		dels += d->ndel;
		/* The model (what a writer following the deltas holds) is svc_build's list. */
		if (nmodel != l.n)
			fail_msg("step %zu: the deltas leave %zu frontends, svc_build has %zu", step,
				 nmodel, l.n);
		for (size_t i = 0; i < l.n; i++) {
			struct model_fe *m = model_find(&l.specs[i].key);

			if (!m)
				fail_msg("step %zu: %s is not where the deltas lead", step,
					 l.specs[i].name);
			spec_equal(&m->sp, &l.specs[i]);
		}
		svc_list_free(&l);
	}
	/* The random walk reached what it is there for. */
	assert_true(fulls > 100 && puts > 1000 && dels > 100 && refused > 1000);
	/* Incremental steps rebuild few Services (of 12), not all. */
	assert_true(rebuilt < (steps - fulls) * 6);
	svc_incr_free(si);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(named_multi_port, teardown),
		cmocka_unit_test_teardown(conditions_and_slices, teardown),
		cmocka_unit_test_teardown(terminating_only, teardown),
		cmocka_unit_test_teardown(affinity, teardown),
		cmocka_unit_test_teardown(headless_unallocated_no_selector, teardown),
		cmocka_unit_test_teardown(slices_by_port_set, teardown),
		cmocka_unit_test_teardown(bad_input, teardown),
		cmocka_unit_test_teardown(size_bound, teardown),
		cmocka_unit_test_teardown(backends_bound, teardown),
		cmocka_unit_test_teardown(maglev_flag_and_empty, teardown),
		cmocka_unit_test_teardown(nodeport_external_lb, teardown),
		cmocka_unit_test_teardown(traffic_policies, teardown),
		cmocka_unit_test_teardown(nodeport_peers, teardown),
		cmocka_unit_test_teardown(nodeport_peers_unnamed, teardown),
		cmocka_unit_test_teardown(bad_node_ports, teardown),
		cmocka_unit_test(nodeport_parse_errors),
		cmocka_unit_test_teardown(incr_equals_build, teardown),
		cmocka_unit_test_teardown(lb_ips6_and_clash_index, teardown),
		cmocka_unit_test_teardown(dual_stack, teardown),
		cmocka_unit_test_teardown(dual_stack_clash, teardown),
		cmocka_unit_test_teardown(ext_ip_by_class_and_age, teardown),
		cmocka_unit_test_teardown(ext_ip_same_age_by_uid, teardown),
		cmocka_unit_test_teardown(ext_ip_refusals, teardown),
		cmocka_unit_test_teardown(lb_ip_refusals, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
