// SPDX-License-Identifier: Apache-2.0
/* Services + EndpointSlices -> svcsync frontends (user/lib/svc.c). */
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
#include "lib/svc.h"

static struct store *st;
static struct svc_list l;

/* A store holding the objects of yaml (parsed as xcnid with --kube-proxy-replacement). */
static void load(const char *yaml)
{
	struct k8s_error err;
	struct cluster c;
	json_t **docs;
	size_t n;

	st = store_new();
	assert_non_null(st);
	if (k8s_load_stream(yaml, strlen(yaml), &docs, &n, &err))
		fail_msg("%s", err.msg);
	for (size_t i = 0; i < n; i++) {
		struct k8s_object *o;

		if (k8s_parse_lb(docs[i], &o, &err))
			fail_msg("%s", err.msg);
		assert_int_equal(store_put(st, o), 1);
	}
	k8s_docs_free(docs, n);
	store_view(st, &c);
	assert_int_equal(svc_build(&c, 0, &l), 0);
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

static void named_multi_port(void **state)
{
	const struct svc_spec *s;

	(void)state;
	load(SVC("web", "{selector: {app: web}, clusterIP: 10.96.0.10, ports: [{name: http, port: 80, "
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
	assert_int_equal(s->flags, 0);
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
	load(SVC("a", "{selector: {app: a}, clusterIP: 10.96.0.1, ports: [{port: 80}]}")
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
	load(SVC("a", "{clusterIP: 10.96.0.1, ports: [{port: 80}]}")
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
	load(SVC("a", "{clusterIP: 10.96.0.1, sessionAffinity: ClientIP, sessionAffinityConfig: "
		      "{clientIP: {timeoutSeconds: 60}}, ports: [{port: 80}]}")
	     SVC("b", "{clusterIP: 10.96.0.2, sessionAffinity: ClientIP, ports: [{port: 80}]}"));
	s = spec("y/a:80/TCP");
	assert_int_equal(s->flags, XCNI_SVC_F_AFFINITY);
	assert_int_equal(s->affinity_s, 60);
	assert_int_equal(s->nbe, 0); /* no slice: refused */
	s = spec("y/b:80/TCP");
	assert_int_equal(s->affinity_s, 10800);
}

static void headless_unallocated_no_selector(void **state)
{
	const struct svc_spec *s;

	(void)state;
	load(SVC("h", "{clusterIP: None, selector: {app: h}, ports: [{port: 80}]}")
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

static void bad_input(void **state)
{
	const struct svc_spec *s;

	(void)state;
	/* A Service port no slice port matches (name, then protocol), and a second Service on
	 * the same frontend: both said, naming the object and field; the rest is built. */
	load(SVC("a", "{clusterIP: 10.96.0.1, ports: [{name: http, port: 80}, {name: dns, port: 53, "
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
				       "another Service's already; left out");
	assert_int_equal(l.n, 3);
	assert_int_equal(spec("y/a:80/TCP")->nbe, 0);
	assert_int_equal(spec("y/a:53/UDP")->nbe, 0);
	s = spec("y/c:80/TCP"); /* a slice without ports serves none (upstream), silently */
	assert_int_equal(s->nbe, 0);
}

static void maglev_flag_and_empty(void **state)
{
	struct cluster c;

	(void)state;
	load(SVC("a", "{clusterIP: 10.96.0.1, ports: [{port: 80}]}"));
	svc_list_free(&l);
	store_view(st, &c);
	assert_int_equal(svc_build(&c, SVC_BUILD_MAGLEV, &l), 0);
	assert_int_equal(l.specs[0].flags, XCNI_SVC_F_MAGLEV);
	svc_list_free(&l);
	memset(&c, 0, sizeof(c));
	assert_int_equal(svc_build(&c, 0, &l), 0);
	assert_int_equal(l.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(named_multi_port, teardown),
		cmocka_unit_test_teardown(conditions_and_slices, teardown),
		cmocka_unit_test_teardown(terminating_only, teardown),
		cmocka_unit_test_teardown(affinity, teardown),
		cmocka_unit_test_teardown(headless_unallocated_no_selector, teardown),
		cmocka_unit_test_teardown(bad_input, teardown),
		cmocka_unit_test_teardown(maglev_flag_and_empty, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
