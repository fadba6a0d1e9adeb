// SPDX-License-Identifier: Apache-2.0
/*
 * Manifests -> objects, the Services' side: Service (the lab's kube-proxy)
 * and EndpointSlice (xcnid replacing kube-proxy), their validation, each
 * error naming the object and the field path (test_k8s.c: the other kinds).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../user/lib/cluster/k8s.h"
#include "../../user/lib/cluster/k8s_json.h"
#include "k8s_fx.h"

/* ---- Service (the lab's kube-proxy; xcnid refuses it, see unknown_kind_is_enotsup) ---- */

static int parse_all(const char *yaml, struct k8s_object **obj, struct k8s_error *err)
{
	return parse_with(k8s_parse_all, yaml, obj, err);
}

static struct k8s_object *must_parse_all(const char *yaml)
{
	return must_parse_with(k8s_parse_all, yaml);
}

#define SVC "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: y}\n"

static void service_parsed(void **state)
{
	struct k8s_object *o = NULL;

	(void)state;
	o = must_parse_all(SVC "spec:\n  selector: {app: web}\n  clusterIP: 10.96.0.7\n  ports:\n"
			   "  - {name: http, port: 8080, targetPort: http}\n"
			   "  - {name: dns, port: 53, protocol: UDP}\n");
	assert_int_equal(o->kind, K8S_SERVICE);
	assert_string_equal(o->meta.ns, "y");
	assert_true(o->svc.has_selector);
	assert_string_equal(k8s_label_get(&o->svc.selector, "app"), "web");
	assert_int_equal(o->svc.cluster_ip, htonl(0x0a600007));
	assert_int_equal(o->svc.nports, 2);
	assert_int_equal(o->svc.ports[0].port, 8080);
	assert_int_equal(o->svc.ports[0].proto, IPPROTO_TCP);
	assert_string_equal(o->svc.ports[0].target_name, "http");
	assert_int_equal(o->svc.ports[1].proto, IPPROTO_UDP);
	assert_null(o->svc.ports[1].target_name);
	assert_int_equal(o->svc.ports[1].target_port, 53); /* defaults to port */
	assert_false(o->svc.has_ip6);
	k8s_free(o);

	/* Dual stack, IPv6 first: each ClusterIP lands by its family. */
	o = must_parse_all(SVC "spec:\n  clusterIP: \"fd00:96::7\"\n"
			   "  clusterIPs: [\"fd00:96::7\", 10.96.0.7]\n  ipFamilies: [IPv6, IPv4]\n"
			   "  ipFamilyPolicy: RequireDualStack\n  ports: [{port: 80}]\n");
	assert_int_equal(o->svc.cluster_ip, htonl(0x0a600007));
	assert_true(o->svc.has_ip6);
	{
		uint8_t want[16];

		inet_pton(AF_INET6, "fd00:96::7", want);
		assert_memory_equal(o->svc.cluster_ip6, want, 16);
	}
	k8s_free(o);

	/* IPv6 only. */
	o = must_parse_all(SVC "spec: {clusterIP: \"fd00:96::8\", ipFamilies: [IPv6], "
			   "ports: [{port: 80}]}\n");
	assert_int_equal(o->svc.cluster_ip, 0);
	assert_true(o->svc.has_ip6);
	k8s_free(o);

	/* clusterIPs alone (the API server defaults clusterIP to its first). */
	o = must_parse_all(SVC "spec: {clusterIPs: [10.96.0.9, \"fd00:96::9\"], "
			   "ports: [{port: 80}]}\n");
	assert_int_equal(o->svc.cluster_ip, htonl(0x0a600009));
	assert_true(o->svc.has_ip6);
	k8s_free(o);
	o = must_parse_all(SVC "spec: {clusterIPs: [\"fd00:96::9\"], ports: [{port: 80}]}\n");
	assert_int_equal(o->svc.cluster_ip, 0);
	assert_true(o->svc.has_ip6);
	k8s_free(o);
}

static void service_errors(void **state)
{
	static const struct {
		const char *spec, *want;
	} bad[] = {
		{ "spec: {ports: []}", "Service y/web: spec.ports: required" },
		{ "spec: {ports: [{port: 80}], externalIPs: [10.0.0.1, 1.2.3]}",
		  "spec.externalIPs[1]: \"1.2.3\" is not a valid IP address" },
		{ "spec: {ports: [{port: 80}], externalIPs: [[1]]}",
		  "spec.externalIPs[0]: must be a string" },
		{ "spec: {ports: [{port: 0}]}", "spec.ports[0].port: 0 must be between 1 and 65535" },
		{ "spec: {ports: [{name: a, port: 80}, {port: 81}]}",
		  "spec.ports[1].name: required when the Service has more than one port" },
		{ "spec: {ports: [{name: a, port: 80}, {name: a, port: 81}]}",
		  "spec.ports[1].name: duplicate port name \"a\"" },
		{ "spec: {ports: [{name: a, port: 80}, {name: b, port: 80}]}",
		  "spec.ports[1]: duplicate port 80/TCP" },
		{ "spec: {ports: [{port: 80, targetPort: Web_1}]}",
		  "spec.ports[0].targetPort: \"Web_1\" is not a valid port name" },
		{ "spec: {ports: [{port: 80, targetPort: 70000}]}",
		  "spec.ports[0].targetPort: 70000 must be between 1 and 65535" },
		{ "spec: {ports: [{port: 80, targetPort: [1]}]}",
		  "spec.ports[0].targetPort: must be a port number or a port name" },
		{ "spec: {clusterIP: 10.96.0.300, ports: [{port: 80}]}",
		  "spec.clusterIP: \"10.96.0.300\" is not a valid IP address" },
		/* Dual stack (issue 14): the family rules the API server keeps. */
		{ "spec: {clusterIP: 10.96.0.1, clusterIPs: [10.96.0.1, 10.96.0.2], ports: [{port: 80}]}",
		  "spec.clusterIPs[1]: \"10.96.0.2\" is of the same family as clusterIPs[0]" },
		{ "spec: {clusterIP: 10.96.0.1, clusterIPs: [10.96.0.9], ports: [{port: 80}]}",
		  "spec.clusterIPs[0]: \"10.96.0.9\" is not spec.clusterIP (\"10.96.0.1\")" },
		{ "spec: {clusterIP: 10.96.0.1, clusterIPs: [10.96.0.1, \"fd00:96::1\"], "
		  "ipFamilies: [IPv6, IPv4], ports: [{port: 80}]}",
		  "spec.clusterIPs[0]: \"10.96.0.1\" is not of family ipFamilies[0] (IPv6)" },
		{ "spec: {clusterIP: \"fd00:96::1\", clusterIPs: [\"fd00:96::1\", 10.96.0.1], "
		  "ipFamilyPolicy: SingleStack, ports: [{port: 80}]}",
		  "spec.clusterIPs: ipFamilyPolicy SingleStack allows one entry" },
		{ "spec: {ipFamilyPolicy: DualStack, ports: [{port: 80}]}",
		  "spec.ipFamilyPolicy: \"DualStack\" is not one of" },
		{ "spec: {ipFamilies: [IPv6, IPv6], ports: [{port: 80}]}",
		  "spec.ipFamilies[1]: \"IPv6\" twice" },
		{ "spec: {clusterIP: 10.96.0.1, clusterIPs: [10.96.0.1, \"fd00::zz\"], ports: [{port: 80}]}",
		  "spec.clusterIPs[1]: \"fd00::zz\" is not a valid IP address" },
		{ "spec: {type: Weird, ports: [{port: 80}]}",
		  "spec.type: \"Weird\" is not served here (only ClusterIP, NodePort, LoadBalancer, "
		  "ExternalName)" },
		{ "spec: {selector: {app: [x]}, ports: [{port: 80}]}", "spec.selector.app: must be a string" },
	};
	char yaml[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct k8s_object *o = NULL;
		struct k8s_error err;

		snprintf(yaml, sizeof(yaml), SVC "%s\n", bad[i].spec);
		if (parse_all(yaml, &o, &err) != -EINVAL || !strstr(err.msg, bad[i].want))
			fail_msg("%s: got \"%s\", want \"%s\"", bad[i].spec, err.msg, bad[i].want);
		assert_null(o);
	}
}

static void service_affinity(void **state)
{
	struct k8s_object *o = NULL;
	struct k8s_error err;

	(void)state;
	o = must_parse_all(SVC "spec:\n  clusterIP: None\n  sessionAffinity: ClientIP\n"
			   "  ports: [{port: 80}]\n");
	assert_true(o->svc.headless);
	assert_false(o->svc.has_selector); /* no selector: slices by hand */
	assert_true(o->svc.affinity_client_ip);
	assert_int_equal(o->svc.affinity_s, 10800); /* the API's default */
	k8s_free(o);
	o = must_parse_all(SVC "spec:\n  sessionAffinity: ClientIP\n"
			   "  sessionAffinityConfig: {clientIP: "
			   "{timeoutSeconds: 30}}\n  ports: [{port: 80}]\n");
	assert_int_equal(o->svc.affinity_s, 30);
	k8s_free(o);
	o = must_parse_all(SVC "spec: {ports: [{port: 80}]}\n");
	assert_false(o->svc.affinity_client_ip);
	assert_int_equal(o->svc.affinity_s, 0);
	k8s_free(o);
	assert_int_equal(parse_all(SVC "spec: {sessionAffinity: Sticky, ports: [{port: 80}]}\n", &o,
				   &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "spec.sessionAffinity: \"Sticky\" is not supported"));
	assert_int_equal(parse_all(SVC "spec: {sessionAffinity: ClientIP, sessionAffinityConfig: "
				       "{clientIP: {timeoutSeconds: 86401}}, ports: [{port: 80}]}\n",
				   &o, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "spec.sessionAffinityConfig.clientIP.timeoutSeconds: 86401"));
}

/* ---- EndpointSlice (xcnid replacing kube-proxy: k8s_parse_lb) ---- */

static int parse_lb(const char *yaml, struct k8s_object **obj, struct k8s_error *err)
{
	json_t *doc = load1(yaml);
	int ret = k8s_parse_lb(doc, obj, err);

	json_decref(doc);
	return ret;
}

/*
 * kubectl delete -f reads kind, apiVersion and metadata: k8s_parse_ident takes
 * a manifest of those alone, where every other parse wants the kind's fields.
 */
static void ident_only(void **state)
{
	static const char *const docs[] = {
		"apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: x}\n",
		"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\n",
		"apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: x}\n",
		"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e, namespace: x}\n",
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n",
		"apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n",
	};
	static const char *const names[] = { "b", "p", "s", "e", "x", "n1" };
	struct k8s_object *o = NULL;
	struct k8s_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		json_t *doc = load1(docs[i]);

		if (k8s_parse_ident(doc, &o, &err))
			fail_msg("%s: %s", docs[i], err.msg);
		assert_string_equal(o->meta.name, names[i]);
		if (i < 4)
			assert_string_equal(o->meta.ns, "x");
		else
			assert_null(o->meta.ns);
		k8s_free(o);
		o = NULL;
		/* The full parse of a NetworkPolicy or a Service wants its spec. */
		if (i == 1 || i == 2) {
			assert_int_equal(k8s_parse_lb(doc, &o, &err), -EINVAL);
			assert_non_null(strstr(err.msg, "spec"));
		}
		json_decref(doc);
	}
	/* Identity is still checked: kind, apiVersion, name. */
	{
		json_t *doc = load1("apiVersion: v1\nmetadata: {name: b}\n");

		assert_int_equal(k8s_parse_ident(doc, &o, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "kind: required"));
		json_decref(doc);
		doc = load1("apiVersion: v1\nkind: Pod\nmetadata: {namespace: x}\n");
		assert_int_equal(k8s_parse_ident(doc, &o, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "name: required"));
		json_decref(doc);
		doc = load1("apiVersion: v2\nkind: Pod\nmetadata: {name: b}\n");
		assert_int_equal(k8s_parse_ident(doc, &o, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "apiVersion"));
		json_decref(doc);
	}
}

#define EPS                                                                                  \
	"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: web-abc\n" \
	"  namespace: y\n  labels: {kubernetes.io/service-name: web}\n"

static void epslice_parsed(void **state)
{
	struct k8s_object *o = NULL;
	struct k8s_error err;

	(void)state;
	if (parse_lb(EPS "addressType: IPv4\nendpoints:\n"
			 "- addresses: [10.1.0.5]\n  nodeName: n1\n"
			 "- addresses: [10.1.0.6, 10.1.0.7]\n  conditions: {ready: false, serving: true, "
			 "terminating: true}\n"
			 "- addresses: [10.1.0.8]\n  conditions: {ready: false}\n"
			 "ports:\n- {name: http, port: 8080}\n- {name: dns, port: 53, protocol: UDP}\n"
			 "- {name: assoc, port: 9, protocol: SCTP}\n- {name: none}\n",
		     &o, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(o->kind, K8S_ENDPOINTSLICE);
	assert_string_equal(o->meta.ns, "y");
	assert_string_equal(o->eps.service, "web");
	assert_true(o->eps.ipv4);
	assert_int_equal(o->eps.nendpoints, 3);
	assert_int_equal(o->eps.endpoints[0].addr, htonl(0x0a010005));
	assert_true(o->eps.endpoints[0].ready); /* nil conditions: ready and serving */
	assert_true(o->eps.endpoints[0].serving);
	assert_false(o->eps.endpoints[0].terminating);
	assert_string_equal(o->eps.endpoints[0].node_name, "n1");
	assert_int_equal(o->eps.endpoints[1].addr, htonl(0x0a010006)); /* the first address */
	assert_false(o->eps.endpoints[1].ready);
	assert_true(o->eps.endpoints[1].serving);
	assert_true(o->eps.endpoints[1].terminating);
	assert_null(o->eps.endpoints[1].node_name);
	assert_false(o->eps.endpoints[2].ready);
	assert_false(o->eps.endpoints[2].serving); /* serving nil: as ready */
	assert_int_equal(o->eps.nports, 4);
	assert_string_equal(o->eps.ports[0].name, "http");
	assert_int_equal(o->eps.ports[0].proto, IPPROTO_TCP);
	assert_int_equal(o->eps.ports[0].port, 8080);
	assert_int_equal(o->eps.ports[1].proto, IPPROTO_UDP);
	assert_int_equal(o->eps.ports[2].proto, IPPROTO_SCTP);
	assert_false(o->eps.ports[3].has_port);
	k8s_free(o);

	/* An IPv6 slice: its endpoints' addresses in addr6. */
	if (parse_lb(EPS "addressType: IPv6\nendpoints:\n- addresses: [\"fd00:1::5\"]\n"
			 "ports: [{name: http, port: 8080}]\n", &o, &err))
		fail_msg("%s", err.msg);
	assert_true(o->eps.ipv6);
	assert_false(o->eps.ipv4);
	assert_int_equal(o->eps.nendpoints, 1);
	{
		uint8_t want[16];

		inet_pton(AF_INET6, "fd00:1::5", want);
		assert_memory_equal(o->eps.endpoints[0].addr6, want, 16);
	}
	k8s_free(o);

	/* Unnamed port, no endpoints, an FQDN slice (kept, no endpoints), no service label. */
	if (parse_lb("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: x}\n"
		     "addressType: FQDN\nendpoints: [{addresses: [example.com]}]\nports: [{port: 80}]\n",
		     &o, &err))
		fail_msg("%s", err.msg);
	assert_string_equal(o->meta.ns, "default");
	assert_null(o->eps.service);
	assert_false(o->eps.ipv4);
	assert_int_equal(o->eps.nendpoints, 0);
	assert_string_equal(o->eps.ports[0].name, "");
	k8s_free(o);

	/* k8s_parse and k8s_parse_all do not read it. */
	{
		json_t *doc = load1(EPS "addressType: IPv4\n");

		assert_int_equal(k8s_parse(doc, &o, &err), -ENOTSUP);
		assert_int_equal(k8s_parse_all(doc, &o, &err), -ENOTSUP);
		assert_int_equal(k8s_parse_lb(doc, &o, &err), 0);
		k8s_free(o);
		json_decref(doc);
	}
}

static void epslice_errors(void **state)
{
	static const struct {
		const char *body, *want;
	} bad[] = {
		{ "endpoints: []", "EndpointSlice y/web-abc: addressType: required" },
		{ "addressType: IPv5", "addressType: \"IPv5\" is not supported" },
		{ "addressType: IPv4\nendpoints: [{addresses: []}]",
		  "endpoints[0].addresses: must have 1 to 100 entries" },
		{ "addressType: IPv4\nendpoints: [{addresses: [10.1.0.5, 10.1.0.300]}]",
		  "endpoints[0].addresses[1]: \"10.1.0.300\" is not a valid IPv4 address" },
		/* The wrong family in a slice (a dual Service has one slice per family). */
		{ "addressType: IPv4\nendpoints: [{addresses: [\"fd00:1::5\"]}]",
		  "endpoints[0].addresses[0]: \"fd00:1::5\" is not a valid IPv4 address" },
		{ "addressType: IPv6\nendpoints: [{addresses: [\"fd00:1::5\"]}, {addresses: [10.1.0.5]}]",
		  "endpoints[1].addresses[0]: \"10.1.0.5\" is not a valid IPv6 address" },
		{ "addressType: IPv6\nendpoints: [{addresses: [\"::ffff:10.1.0.5\"]}]",
		  "endpoints[0].addresses[0]: \"::ffff:10.1.0.5\" is not a valid IPv6 address" },
		{ "addressType: IPv4\nendpoints: [{addresses: [10.1.0.5], conditions: {ready: yes!}}]",
		  "endpoints[0].conditions.ready: must be a boolean" },
		{ "addressType: IPv4\nports: [{name: a, port: 1}, {name: a, port: 2}]",
		  "ports[1].name: duplicate port name \"a\"" },
		{ "addressType: IPv4\nports: [{name: A_b, port: 1}]",
		  "ports[0].name: \"A_b\" is not a valid DNS-1123 label" },
		{ "addressType: IPv4\nports: [{port: 0}]", "ports[0].port: 0 must be between 1 and 65535" },
		{ "addressType: IPv4\nports: [{port: 1, protocol: ICMP}]",
		  "ports[0].protocol: \"ICMP\" is not supported" },
		{ "addressType: IPv4\nendpoints: [{addresses: [10.1.0.5], nodeName: [x]}]",
		  "endpoints[0].nodeName: must be a string" },
	};
	char yaml[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct k8s_object *o = NULL;
		struct k8s_error err;

		snprintf(yaml, sizeof(yaml), EPS "%s\n", bad[i].body);
		if (parse_lb(yaml, &o, &err) != -EINVAL || !strstr(err.msg, bad[i].want))
			fail_msg("%s: got \"%s\", want \"%s\"", bad[i].body, err.msg, bad[i].want);
		assert_null(o);
	}
}

/* k8s_parse_lb (and k8s_parse_all) take every Service type. */
static void service_types_lb(void **state)
{
	struct k8s_object *o = NULL;
	struct k8s_error err;

	(void)state;
	if (parse_lb(SVC "spec: {type: NodePort, clusterIP: 10.96.0.9, ports: [{port: 80}]}\n", &o,
		     &err))
		fail_msg("%s", err.msg);
	assert_int_equal(o->svc.cluster_ip, htonl(0x0a600009));
	k8s_free(o);
	if (parse_lb(SVC "spec: {type: LoadBalancer, clusterIP: 10.96.0.9, ports: [{port: 80}]}\n",
		     &o, &err))
		fail_msg("%s", err.msg);
	k8s_free(o);
	if (parse_lb(SVC "spec: {type: ExternalName, externalName: db.example.com}\n", &o, &err))
		fail_msg("%s", err.msg);
	assert_true(o->svc.external_name);
	assert_int_equal(o->svc.nports, 0);
	k8s_free(o);
	/* Headless without ports: valid for the API server, so here too. */
	o = must_parse_all(SVC "spec: {clusterIP: None, selector: {app: x}}\n");
	assert_true(o->svc.headless);
	k8s_free(o);
	/* k8s_parse_all reads every type too: the lab refuses what it does not serve. */
	o = must_parse_all(SVC "spec: {type: ExternalName, externalName: x.example}\n");
	assert_true(o->svc.external_name);
	k8s_free(o);
	assert_int_equal(parse_lb(SVC "spec: {type: Weird, ports: [{port: 80}]}\n", &o, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "spec.type: \"Weird\" is not served here (only ClusterIP, "
					"NodePort, LoadBalancer, ExternalName)"));
	assert_int_equal(parse_lb(SVC "spec: {clusterIP: 10.96.0.1}\n", &o, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "spec.ports: required"));
}

/*
 * externalIPs and status.loadBalancer.ingress[].ip of both families: each
 * family's addresses kept apart, with their index in the list (the families
 * mixed there, a hostname-only entry counted), for messages to name.
 */
static void service_external_ips_both_families(void **state)
{
	struct k8s_object *o = NULL;
	struct k8s_error err;
	uint8_t a6[16];

	(void)state;
	if (parse_lb(SVC "spec: {type: LoadBalancer, clusterIP: 10.96.0.9, externalIPs: "
			 "[\"2001:db8:100::1\", 192.0.2.1, \"2001:db8:100::2\"], "
			 "ports: [{port: 80}]}\nstatus: {loadBalancer: {ingress: [{hostname: lb}, "
			 "{ip: \"2001:db8:200::1\"}, {ip: 198.51.100.2}]}}\n",
		     &o, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(o->svc.nexternal_ips, 1);
	assert_int_equal(o->svc.external_ips[0], htonl(0xc0000201));
	assert_int_equal(o->svc.external_ips_at[0], 1);
	assert_int_equal(o->svc.nexternal_ips6, 2);
	inet_pton(AF_INET6, "2001:db8:100::2", a6);
	assert_memory_equal(o->svc.external_ips6[1], a6, 16);
	assert_int_equal(o->svc.external_ips6_at[0], 0);
	assert_int_equal(o->svc.external_ips6_at[1], 2);
	assert_int_equal(o->svc.nlb_ips, 1);
	assert_int_equal(o->svc.lb_ips[0], htonl(0xc6336402));
	assert_int_equal(o->svc.lb_ips_at[0], 2);
	assert_int_equal(o->svc.nlb_ips6, 1);
	inet_pton(AF_INET6, "2001:db8:200::1", a6);
	assert_memory_equal(o->svc.lb_ips6[0], a6, 16);
	assert_int_equal(o->svc.lb_ips6_at[0], 1);
	k8s_free(o);
	/* An IPv6 ingress IP that is not one: named by its index. */
	assert_int_equal(parse_lb(SVC "spec: {type: LoadBalancer, clusterIP: 10.96.0.9, ports: "
				      "[{port: 80}]}\nstatus: {loadBalancer: {ingress: [{ip: "
				      "\"2001:db8::1\"}, {ip: \"2001:db8::g\"}]}}\n",
				  &o, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "status.loadBalancer.ingress[1].ip: \"2001:db8::g\" is "
					"not a valid IP address"));
}

static void kind_names(void **state)
{
	(void)state;
	assert_string_equal(k8s_kind_name(K8S_NETWORKPOLICY), "NetworkPolicy");
	assert_string_equal(k8s_kind_name(K8S_NAMESPACE), "Namespace");
	assert_string_equal(k8s_kind_name(K8S_SERVICE), "Service");
	assert_string_equal(k8s_kind_name(K8S_ENDPOINTSLICE), "EndpointSlice");
	assert_string_equal(k8s_kind_name(K8S_NR_ALL_KINDS), "Unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(service_parsed),
		cmocka_unit_test(service_errors),
		cmocka_unit_test(service_affinity),
		cmocka_unit_test(epslice_parsed),
		cmocka_unit_test(epslice_errors),
		cmocka_unit_test(service_types_lb),
		cmocka_unit_test(service_external_ips_both_families),
		cmocka_unit_test(kind_names),
		cmocka_unit_test(ident_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
