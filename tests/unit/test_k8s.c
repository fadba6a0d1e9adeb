// SPDX-License-Identifier: Apache-2.0
/*
 * Manifests -> objects: YAML typing as kubectl reads it, multi-document and
 * List streams, and the API server's validation rules, each error naming the
 * object and the field path; then label selector semantics (test_k8s_svc.c:
 * Service and EndpointSlice).
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
#include "../../user/lib/system/cidr.h"
#include "k8s_fx.h"

/* ---- helpers ---- */

static int parse(const char *yaml, struct k8s_object **obj, struct k8s_error *err)
{
	return parse_with(k8s_parse, yaml, obj, err);
}

static struct k8s_object *must_parse(const char *yaml)
{
	return must_parse_with(k8s_parse, yaml);
}

/* -EINVAL, and the message contains want. */
static void must_fail(const char *yaml, const char *want)
{
	struct k8s_object *obj = NULL;
	struct k8s_error err;
	int ret = parse(yaml, &obj, &err);

	if (ret != -EINVAL)
		fail_msg("want -EINVAL with \"%s\", got %d (%s)", want, ret, ret ? err.msg : "ok");
	if (!strstr(err.msg, want))
		fail_msg("got  \"%s\"\nwant \"%s\"", err.msg, want);
}

#define POD "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: prod}\n"
#define NP                                                                                   \
	"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-all, " \
	"namespace: x}\n"
#define NODE "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n"

static uint32_t a4(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

/* ---- YAML and JSON ---- */

static void yaml_plain_scalars_are_typed(void **state)
{
	json_t *d = load1("port: 80\n"
			  "dq: \"80\"\n"
			  "sq: '80'\n"
			  "lit: |\n  80\n"
			  "t: true\nT: True\nf: FALSE\n"
			  "n1: ~\nn2: null\nn3:\n"
			  "neg: -5\nhex: 0x1F\noct: 0o17\n"
			  "real: 1.5\nexp: 1e3\n"
			  "yes: yes\nver: 1.2.3\ninf: .inf\n"
			  "tagged: !!str 80\ntint: !!int \"42\"\n"
			  "huge: 99999999999999999999\nbig: 1e400\n");

	(void)state;
	assert_true(json_is_integer(json_object_get(d, "port")));
	assert_int_equal(json_integer_value(json_object_get(d, "port")), 80);
	assert_string_equal(json_string_value(json_object_get(d, "dq")), "80");
	assert_string_equal(json_string_value(json_object_get(d, "sq")), "80");
	assert_string_equal(json_string_value(json_object_get(d, "lit")), "80\n");
	assert_true(json_is_true(json_object_get(d, "t")));
	assert_true(json_is_true(json_object_get(d, "T")));
	assert_true(json_is_false(json_object_get(d, "f")));
	assert_true(json_is_null(json_object_get(d, "n1")));
	assert_true(json_is_null(json_object_get(d, "n2")));
	assert_true(json_is_null(json_object_get(d, "n3")));
	assert_int_equal(json_integer_value(json_object_get(d, "neg")), -5);
	assert_int_equal(json_integer_value(json_object_get(d, "hex")), 31);
	assert_int_equal(json_integer_value(json_object_get(d, "oct")), 15);
	assert_true(json_is_real(json_object_get(d, "real")));
	assert_true(json_real_value(json_object_get(d, "real")) == 1.5);
	assert_true(json_real_value(json_object_get(d, "exp")) == 1000.0);
	/* YAML 1.2: "yes" is a string, not YAML 1.1's boolean. */
	assert_string_equal(json_string_value(json_object_get(d, "yes")), "yes");
	assert_string_equal(json_string_value(json_object_get(d, "ver")), "1.2.3");
	assert_string_equal(json_string_value(json_object_get(d, "inf")), ".inf");
	assert_string_equal(json_string_value(json_object_get(d, "tagged")), "80");
	assert_int_equal(json_integer_value(json_object_get(d, "tint")), 42);
	assert_true(json_is_real(json_object_get(d, "huge")));
	assert_string_equal(json_string_value(json_object_get(d, "big")), "1e400");
	json_decref(d);
}

static void quoted_port_is_not_a_number(void **state)
{
	(void)state;
	/* The same manifest line, typed two ways: only the plain one is a containerPort. */
	must_fail(POD "spec: {containers: [{ports: [{containerPort: \"80\"}]}]}\n",
		  "Pod prod/web: spec.containers[0].ports[0].containerPort: must be an integer");
	k8s_free(must_parse(POD "spec: {containers: [{ports: [{containerPort: 80}]}]}\n"));
}

static void multi_document_skips_empty_ones(void **state)
{
	size_t n;
	json_t **docs = load("---\na: 1\n---\n---\n# only a comment\n---\nb: 2\n...\n", &n);

	(void)state;
	assert_int_equal(n, 2);
	assert_int_equal(json_integer_value(json_object_get(docs[0], "a")), 1);
	assert_int_equal(json_integer_value(json_object_get(docs[1], "b")), 2);
	k8s_docs_free(docs, n);

	docs = load("", &n);
	assert_int_equal(n, 0);
	k8s_docs_free(docs, n);
}

static void list_is_flattened(void **state)
{
	size_t n;
	json_t **docs = load("apiVersion: v1\nkind: List\nitems:\n"
			     "- {apiVersion: v1, kind: Namespace, metadata: {name: a}}\n"
			     "- apiVersion: v1\n  kind: PodList\n  items:\n"
			     "  - {apiVersion: v1, kind: Pod, metadata: {name: p}}\n"
			     "---\n"
			     "{apiVersion: v1, kind: Node, metadata: {name: n}}\n",
			     &n);

	(void)state;
	assert_int_equal(n, 3);
	assert_string_equal(json_string_value(json_object_get(docs[0], "kind")), "Namespace");
	assert_string_equal(json_string_value(json_object_get(docs[1], "kind")), "Pod");
	assert_string_equal(json_string_value(json_object_get(docs[2], "kind")), "Node");
	k8s_docs_free(docs, n);
}

static void json_input(void **state)
{
	struct k8s_object *obj =
		must_parse("{\"apiVersion\": \"v1\", \"kind\": \"Pod\",\n"
			   " \"metadata\": {\"name\": \"j\", \"labels\": {\"app\": \"db\"}},\n"
			   " \"spec\": {\"containers\": [{\"ports\": [{\"containerPort\": 5432,"
			   " \"name\": \"pg\"}]}]},\n"
			   " \"status\": {\"podIP\": \"10.0.0.7\"}}\n");

	(void)state;
	assert_int_equal(obj->kind, K8S_POD);
	assert_string_equal(obj->meta.ns, "default");
	assert_int_equal(obj->pod.nports, 1);
	assert_int_equal(obj->pod.ports[0].port, 5432);
	assert_string_equal(obj->pod.ports[0].name, "pg");
	assert_int_equal(obj->pod.ip, a4("10.0.0.7"));
	assert_string_equal(k8s_label_get(&obj->meta.labels, "app"), "db");
	/* raw is the document itself, shared. */
	assert_string_equal(json_string_value(json_object_get(obj->raw, "kind")), "Pod");
	k8s_free(obj);
}

static void syntax_error_names_line_and_column(void **state)
{
	const char *y = "a: 1\nb: [1, 2\nc: 3\n";
	struct k8s_error err;
	json_t **docs;
	size_t n;

	(void)state;
	assert_int_equal(k8s_load_stream(y, strlen(y), &docs, &n, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "line 3, column 2"));

	y = "a: 1\nb:\n  c: 1\n  c: 2\n";
	assert_int_equal(k8s_load_stream(y, strlen(y), &docs, &n, &err), -EINVAL);
	assert_string_equal(err.msg, "line 4, column 3: duplicate key \"c\"");

	y = "- a\n- b\n";
	assert_int_equal(k8s_load_stream(y, strlen(y), &docs, &n, &err), -EINVAL);
	assert_string_equal(err.msg, "line 1, column 1: the document is not a mapping");

	/* Nesting is bounded, so hostile input cannot exhaust the stack. */
	{
		char deep[2 * 300 + 8] = "a: ";

		memset(deep + 3, '[', 300);
		memset(deep + 303, ']', 300);
		deep[603] = '\0';
		assert_int_equal(k8s_load_stream(deep, strlen(deep), &docs, &n, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "nested deeper than"));
	}
}

static void file_error_names_path(void **state)
{
	char path[] = "/tmp/xcni-test-k8s-XXXXXX";
	const char bad[] = "kind: Pod\nmetadata: {name: [x\n";
	struct k8s_error err;
	json_t **docs;
	size_t n;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bad, sizeof(bad) - 1), sizeof(bad) - 1);
	close(fd);
	assert_int_equal(k8s_load_file(path, &docs, &n, &err), -EINVAL);
	assert_int_equal(strncmp(err.msg, path, strlen(path)), 0);
	assert_non_null(strstr(err.msg, ": line 3"));
	unlink(path);

	assert_int_equal(k8s_load_file(path, &docs, &n, &err), -ENOENT);
	assert_int_equal(strncmp(err.msg, path, strlen(path)), 0);
}

static void aliases_are_copied(void **state)
{
	json_t *d = load1("base: &b {app: web}\none: *b\ntwo: *b\n");
	const char *y = "a: *nowhere\n";
	struct k8s_error err;
	json_t **docs;
	size_t n;

	(void)state;
	assert_string_equal(json_string_value(json_object_get(json_object_get(d, "two"), "app")),
			    "web");
	/* Copies, not shared values: changing one leaves the other. */
	assert_ptr_not_equal(json_object_get(d, "one"), json_object_get(d, "two"));
	json_decref(d);

	assert_int_equal(k8s_load_stream(y, strlen(y), &docs, &n, &err), -EINVAL);
	assert_string_equal(err.msg, "line 1, column 4: unknown alias *nowhere");

	/* "Billion laughs": refused, not expanded. */
	y = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
	    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
	    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
	    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
	    "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
	assert_int_equal(k8s_load_stream(y, strlen(y), &docs, &n, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "aliases expand to too many values"));
}

/* ---- kinds and metadata ---- */

static void unknown_kind_is_enotsup(void **state)
{
	struct k8s_object *obj = NULL;
	struct k8s_error err;

	(void)state;
	assert_int_equal(parse("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n", &obj, &err),
			 -ENOTSUP);
	assert_null(obj);
	assert_non_null(strstr(err.msg, "Service"));
}

static void wrong_api_version_is_invalid(void **state)
{
	(void)state;
	must_fail("apiVersion: extensions/v1beta1\nkind: NetworkPolicy\nmetadata: {name: p}\n"
		  "spec: {podSelector: {}}\n",
		  "NetworkPolicy default/p: apiVersion: \"extensions/v1beta1\" is not served");
	must_fail("kind: Pod\nmetadata: {name: p}\n", "Pod default/p: apiVersion: required");
}

static void name_required(void **state)
{
	(void)state;
	must_fail("apiVersion: v1\nkind: Pod\nmetadata: {namespace: a}\n",
		  "Pod a/<unnamed>: metadata.name: required");
}

static void name_must_be_dns_subdomain(void **state)
{
	(void)state;
	must_fail("apiVersion: v1\nkind: Pod\nmetadata: {name: Web_1}\n",
		  "Pod default/Web_1: metadata.name: \"Web_1\" is not a valid DNS-1123 subdomain");
	k8s_free(must_parse("apiVersion: v1\nkind: Pod\nmetadata: {name: web.v1}\n"));
}

static void namespace_name_must_be_dns_label(void **state)
{
	(void)state;
	/* A subdomain, but not a label: fine for a Pod, not for a Namespace. */
	must_fail("apiVersion: v1\nkind: Namespace\nmetadata: {name: a.b}\n",
		  "Namespace a.b: metadata.name: \"a.b\" is not a valid DNS-1123 label");
	must_fail("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: Prod}\n",
		  "Pod Prod/p: metadata.namespace: \"Prod\" is not a valid DNS-1123 label");
}

static void namespace_defaults_and_ns_label(void **state)
{
	struct k8s_object *obj = must_parse("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n");

	(void)state;
	assert_string_equal(obj->meta.ns, "default");
	k8s_free(obj);

	obj = must_parse("apiVersion: v1\nkind: Namespace\n"
			 "metadata: {name: prod, labels: {team: a, "
			 "kubernetes.io/metadata.name: lie}}\n");
	assert_null(obj->meta.ns);
	assert_int_equal(obj->meta.labels.n, 2);
	assert_string_equal(k8s_label_get(&obj->meta.labels, "kubernetes.io/metadata.name"),
			    "prod");
	k8s_free(obj);

	obj = must_parse("apiVersion: v1\nkind: Namespace\nmetadata: {name: dev}\n");
	assert_int_equal(obj->meta.labels.n, 1);
	assert_string_equal(obj->meta.labels.v[0].key, "kubernetes.io/metadata.name");
	assert_string_equal(obj->meta.labels.v[0].value, "dev");
	k8s_free(obj);
}

static void labels_sorted(void **state)
{
	struct k8s_object *obj =
		must_parse("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n"
			   "    zone: b\n    app: web\n    example.com/tier: \"\"\n    m: x\n");

	(void)state;
	assert_int_equal(obj->meta.labels.n, 4);
	assert_string_equal(obj->meta.labels.v[0].key, "app");
	assert_string_equal(obj->meta.labels.v[1].key, "example.com/tier");
	assert_string_equal(obj->meta.labels.v[1].value, "");
	assert_string_equal(obj->meta.labels.v[2].key, "m");
	assert_string_equal(obj->meta.labels.v[3].key, "zone");
	assert_string_equal(k8s_label_get(&obj->meta.labels, "zone"), "b");
	assert_null(k8s_label_get(&obj->meta.labels, "nope"));
	k8s_free(obj);
}

static void label_key_invalid(void **state)
{
	(void)state;
	must_fail("apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {\"bad key\": x}}\n",
		  "Pod default/p: metadata.labels: key \"bad key\" is not a valid label key");
	must_fail("apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {Bad_/x: y}}\n",
		  "metadata.labels: key \"Bad_/x\"");
}

static void label_value_invalid(void **state)
{
	(void)state;
	must_fail("apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app: -web}}\n",
		  "Pod default/p: metadata.labels.app: \"-web\" is not a valid label value");
	/* `true` is a YAML bool, and a label value must be a string. */
	must_fail("apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {on: true}}\n",
		  "Pod default/p: metadata.labels.on: must be a string");
}

/* ---- Pod ---- */

static void pod_fields(void **state)
{
	struct k8s_object *obj =
		must_parse(POD "spec:\n  nodeName: node-1\n  hostNetwork: true\n  containers:\n"
			       "  - ports: [{containerPort: 80, name: http}, {containerPort: 53, "
			       "protocol: UDP}]\n"
			       "  - {name: side}\n"
			       "  - ports: [{containerPort: 9, protocol: SCTP, name: http}]\n"
			       "status: {podIP: 10.1.2.3}\n");

	(void)state;
	assert_string_equal(obj->meta.ns, "prod");
	assert_string_equal(obj->pod.node_name, "node-1");
	assert_true(obj->pod.host_network);
	assert_int_equal(obj->pod.ip, a4("10.1.2.3"));
	assert_int_equal(obj->pod.nports, 3);
	assert_int_equal(obj->pod.ports[0].proto, IPPROTO_TCP);
	assert_string_equal(obj->pod.ports[0].name, "http");
	assert_int_equal(obj->pod.ports[1].port, 53);
	assert_int_equal(obj->pod.ports[1].proto, IPPROTO_UDP);
	assert_null(obj->pod.ports[1].name);
	/* The same name in another container is allowed. */
	assert_int_equal(obj->pod.ports[2].proto, IPPROTO_SCTP);
	k8s_free(obj);

	obj = must_parse(POD);
	assert_null(obj->pod.node_name);
	assert_false(obj->pod.host_network);
	assert_int_equal(obj->pod.ip, 0);
	assert_int_equal(obj->pod.nports, 0);
	k8s_free(obj);
}

static void container_port_range(void **state)
{
	(void)state;
	must_fail(
		POD "spec: {containers: [{}, {ports: [{containerPort: 1}, "
		    "{containerPort: 65536}]}]}\n",
		"Pod prod/web: spec.containers[1].ports[1].containerPort: 65536 must be between 1 "
		"and 65535, inclusive");
	must_fail(POD "spec: {containers: [{ports: [{containerPort: 0}]}]}\n",
		  "spec.containers[0].ports[0].containerPort: 0 must be between");
}

static void container_port_required(void **state)
{
	(void)state;
	must_fail(POD "spec: {containers: [{ports: [{name: http}]}]}\n",
		  "Pod prod/web: spec.containers[0].ports[0].containerPort: required");
}

static void container_port_protocol(void **state)
{
	(void)state;
	must_fail(POD "spec: {containers: [{ports: [{containerPort: 1, protocol: tcp}]}]}\n",
		  "Pod prod/web: spec.containers[0].ports[0].protocol: \"tcp\" is not supported");
}

static void container_port_name(void **state)
{
	(void)state;
	must_fail(POD "spec: {containers: [{ports: [{containerPort: 1, name: http_alt}]}]}\n",
		  "Pod prod/web: spec.containers[0].ports[0].name: \"http_alt\" is not a valid "
		  "port name");
	/* No letter. */
	must_fail(POD "spec: {containers: [{ports: [{containerPort: 1, name: \"8080\"}]}]}\n",
		  "ports[0].name: \"8080\" is not a valid port name");
	/* 16 characters. */
	must_fail(POD "spec: {containers: [{ports: [{containerPort: 1, "
		      "name: abcdefghijklmnop}]}]}\n",
		  "ports[0].name: \"abcdefghijklmnop\"");
	must_fail(POD "spec: {containers: [{ports: [{containerPort: 1, name: a--b}]}]}\n",
		  "ports[0].name: \"a--b\"");
	must_fail(POD "spec: {containers: [{ports: [{containerPort: 1, name: web}, "
		      "{containerPort: 2, name: web}]}]}\n",
		  "spec.containers[0].ports[1].name: duplicate port name \"web\"");
}

static void pod_node_name(void **state)
{
	(void)state;
	must_fail(POD "spec: {nodeName: Node_1}\n",
		  "Pod prod/web: spec.nodeName: \"Node_1\" is not a valid node name");
}

static void pod_host_network(void **state)
{
	(void)state;
	must_fail(POD "spec: {hostNetwork: \"true\"}\n",
		  "Pod prod/web: spec.hostNetwork: must be a boolean");
}

static void pod_ip(void **state)
{
	(void)state;
	must_fail(POD "status: {podIP: 10.0.0.256}\n",
		  "Pod prod/web: status.podIP: \"10.0.0.256\" is not a valid IPv4 or IPv6 address");
	must_fail(POD "status: {podIP: 010.0.0.1}\n", "status.podIP: \"010.0.0.1\"");
	must_fail(POD "status: {podIPs: [{ip: \"fd00::1\"}, {ip: \"fd00::g\"}]}\n",
		  "Pod prod/web: status.podIPs[1].ip: \"fd00::g\" is not a valid IPv4 or IPv6 address");
	must_fail(POD "status: {podIPs: [\"fd00::1\"]}\n",
		  "status.podIPs[0]: must be an object");
	must_fail(POD "status: {podIP: \"::ffff:10.0.0.1\"}\n",
		  "status.podIP: \"::ffff:10.0.0.1\" is not a unicast IPv6 address");
	must_fail(POD "status: {podIP: \"ff02::1\"}\n", "is not a unicast IPv6 address");
}

/* status.podIPs: one address per family (dual stack); IPv6 alone (IPv6-only). */
static void pod_ips(void **state)
{
	uint8_t want[16];
	struct k8s_object *obj = must_parse(POD "status: {podIP: \"fd00:10::5\", podIPs: "
						"[{ip: \"fd00:10::5\"}, {ip: 10.1.0.5}]}\n");

	(void)state;
	inet_pton(AF_INET6, "fd00:10::5", want);
	assert_int_equal(obj->pod.ip, a4("10.1.0.5"));
	assert_true(obj->pod.has_ip6);
	assert_memory_equal(obj->pod.ip6, want, 16);
	k8s_free(obj);
	obj = must_parse(POD "status: {podIP: \"fd00:10::5\"}\n");
	assert_int_equal(obj->pod.ip, 0);
	assert_true(obj->pod.has_ip6);
	k8s_free(obj);
	obj = must_parse(POD "status: {podIP: 10.1.0.5}\n");
	assert_false(obj->pod.has_ip6);
	k8s_free(obj);
}

/* ---- Node ---- */

static void node_fields(void **state)
{
	struct k8s_object *obj = must_parse(NODE "spec: {podCIDR: 10.244.1.7/24}\n"
						 "status:\n  addresses:\n"
						 "  - {type: Hostname, address: n1}\n"
						 "  - {type: InternalIP, address: \"fd00::1\"}\n"
						 "  - {type: InternalIP, address: 192.168.1.10}\n"
						 "  - {type: InternalIP, address: 192.168.1.11}\n");

	(void)state;
	assert_null(obj->meta.ns);
	assert_int_equal(obj->node.internal_ip, a4("192.168.1.10"));
	/* Host bits cleared, as the API's sloppy CIDR parser does. */
	assert_int_equal(obj->node.pod_cidr, a4("10.244.1.0"));
	assert_int_equal(obj->node.pod_cidr_len, 24);
	/* The first IPv6 InternalIP too; no IPv6 pod CIDR. */
	struct in6_addr a6;
	char buf[INET6_ADDRSTRLEN];

	assert_string_equal(inet_ntop(AF_INET6, obj->node.internal_ip6, buf, sizeof(buf)), "fd00::1");
	assert_int_equal(obj->node.pod_cidr6_len, 0);
	k8s_free(obj);

	/* Dual stack: the IPv4 one of podCIDRs, and the first IPv6 one (host bits cleared). */
	obj = must_parse(NODE "spec: {podCIDR: \"fd00:1::7/64\", podCIDRs: [\"fd00:1::7/64\", "
			      "10.244.2.0/24, \"fd00:2::/64\"]}\n");
	assert_int_equal(obj->node.pod_cidr, a4("10.244.2.0"));
	assert_int_equal(obj->node.pod_cidr_len, 24);
	assert_int_equal(obj->node.internal_ip, 0);
	assert_int_equal(obj->node.pod_cidr6_len, 64);
	inet_pton(AF_INET6, "fd00:1::", &a6);
	assert_memory_equal(obj->node.pod_cidr6, &a6, 16);
	memset(&a6, 0, sizeof(a6));
	assert_memory_equal(obj->node.internal_ip6, &a6, 16);
	k8s_free(obj);

	/* IPv6-only: no IPv4 pod CIDR, the IPv6 one from podCIDRs alone. */
	obj = must_parse(NODE "spec: {podCIDRs: [\"fd00:10:244:3::/64\"]}\n");
	assert_int_equal(obj->node.pod_cidr_len, 0);
	assert_int_equal(obj->node.pod_cidr6_len, 64);
	assert_string_equal(inet_ntop(AF_INET6, obj->node.pod_cidr6, buf, sizeof(buf)),
			    "fd00:10:244:3::");
	k8s_free(obj);
}

static void node_bad_fields(void **state)
{
	(void)state;
	must_fail(NODE "spec: {podCIDR: 10.244.1.0/33}\n",
		  "Node n1: spec.podCIDR: \"10.244.1.0/33\" is not a valid CIDR");
	must_fail(NODE "status: {addresses: [{type: InternalIP, address: 1.2.3}]}\n",
		  "Node n1: status.addresses[0].address: \"1.2.3\" is not a valid IP address");
}

/* ---- NetworkPolicy ---- */

static void np_pod_selector_required(void **state)
{
	(void)state;
	must_fail(NP "spec: {ingress: [{}]}\n",
		  "NetworkPolicy x/deny-all: spec.podSelector: required");
	must_fail(NP "spec: {podSelector: }\n",
		  "NetworkPolicy x/deny-all: spec.podSelector: required");
	must_fail(NP, "NetworkPolicy x/deny-all: spec: required");
}

static void np_empty_pod_selector_selects_all(void **state)
{
	struct k8s_object *obj = must_parse(NP "spec: {podSelector: {}}\n");
	struct k8s_labels none = { 0 };

	(void)state;
	assert_int_equal(obj->np.pod_sel.match_labels.n, 0);
	assert_int_equal(obj->np.pod_sel.nexprs, 0);
	assert_true(k8s_selector_matches(&obj->np.pod_sel, &none));
	/* Deny all ingress: the type, and no rules. */
	assert_true(obj->np.type_ingress);
	assert_false(obj->np.type_egress);
	assert_int_equal(obj->np.ningress, 0);
	k8s_free(obj);
}

static void np_policy_types_values(void **state)
{
	(void)state;
	must_fail(NP "spec: {podSelector: {}, policyTypes: [Ingress, ingress]}\n",
		  "NetworkPolicy x/deny-all: spec.policyTypes[1]: \"ingress\" is not supported "
		  "(Ingress, Egress)");
	must_fail(NP "spec: {podSelector: {}, policyTypes: [Ingress, Egress, Ingress]}\n",
		  "spec.policyTypes: may not specify more than two");
}

static void np_policy_types_default_with_egress(void **state)
{
	struct k8s_object *obj = must_parse(NP "spec: {podSelector: {}, egress: [{}]}\n");

	(void)state;
	assert_true(obj->np.type_ingress);
	assert_true(obj->np.type_egress);
	assert_int_equal(obj->np.negress, 1);
	k8s_free(obj);
}

static void np_policy_types_default_without_egress(void **state)
{
	struct k8s_object *obj =
		must_parse(NP "spec: {podSelector: {}, ingress: [{}], egress: []}\n");

	(void)state;
	assert_true(obj->np.type_ingress);
	assert_false(obj->np.type_egress);
	k8s_free(obj);

	/* An empty policyTypes is defaulted like an absent one. */
	obj = must_parse(NP "spec: {podSelector: {}, policyTypes: []}\n");
	assert_true(obj->np.type_ingress);
	assert_false(obj->np.type_egress);
	k8s_free(obj);
}

static void np_policy_types_explicit(void **state)
{
	struct k8s_object *obj =
		must_parse(NP "spec: {podSelector: {}, policyTypes: [Egress], ingress: [{}]}\n");

	(void)state;
	assert_false(obj->np.type_ingress);
	assert_true(obj->np.type_egress);
	assert_int_equal(obj->np.negress, 0);
	k8s_free(obj);
}

static void np_absent_vs_empty(void **state)
{
	struct k8s_object *obj = must_parse(
		NP
		"spec:\n  podSelector: {matchLabels: {app: db}}\n  ingress:\n"
		"  - from: [{podSelector: {}}, {namespaceSelector: {}}, "
		"{podSelector: {matchLabels: {a: b}}, namespaceSelector: {matchLabels: {c: d}}}]\n"
		"  - {}\n"
		"  - from: []\n    ports: []\n"
		"  egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}]}]\n");
	const struct k8s_np_rule *r = obj->np.ingress;

	(void)state;
	assert_int_equal(obj->np.ningress, 3);
	assert_int_equal(r[0].npeers, 3);
	/* {} selector: present, selecting everything; the other one absent. */
	assert_non_null(r[0].peers[0].pod_sel);
	assert_int_equal(r[0].peers[0].pod_sel->match_labels.n, 0);
	assert_null(r[0].peers[0].ns_sel);
	assert_null(r[0].peers[0].ipblock);
	assert_null(r[0].peers[1].pod_sel);
	assert_non_null(r[0].peers[1].ns_sel);
	assert_non_null(r[0].peers[2].pod_sel);
	assert_non_null(r[0].peers[2].ns_sel);
	assert_string_equal(k8s_label_get(&r[0].peers[2].ns_sel->match_labels, "c"), "d");
	/* {} rule and empty lists: all peers, all ports. */
	assert_int_equal(r[1].npeers, 0);
	assert_int_equal(r[1].nports, 0);
	assert_int_equal(r[2].npeers, 0);
	assert_int_equal(r[2].nports, 0);
	assert_int_equal(obj->np.negress, 1);
	assert_non_null(obj->np.egress[0].peers[0].ipblock);
	assert_int_equal(obj->np.egress[0].peers[0].ipblock->cidr.len, 0);
	assert_true(obj->np.type_egress);
	k8s_free(obj);
}

static void np_peer_needs_something(void **state)
{
	(void)state;
	must_fail(NP "spec: {podSelector: {}, ingress: [{from: [{podSelector: {}}, {}]}]}\n",
		  "NetworkPolicy x/deny-all: spec.ingress[0].from[1]: must specify a peer");
	must_fail(NP "spec: {podSelector: {}, egress: [{to: [{podSelector: }]}]}\n",
		  "NetworkPolicy x/deny-all: spec.egress[0].to[0]: must specify a peer");
	/* Every list of objects (kj_parse_list) says which element is not one. */
	must_fail(NP "spec: {podSelector: {}, ingress: [{from: [{podSelector: {}}, x]}]}\n",
		  "NetworkPolicy x/deny-all: spec.ingress[0].from[1]: must be an object");
	must_fail(NP "spec: {podSelector: {matchExpressions: [7]}}\n",
		  "NetworkPolicy x/deny-all: spec.podSelector.matchExpressions[0]: must be an object");
}

static void np_peer_ipblock_alone(void **state)
{
	(void)state;
	must_fail(NP "spec: {podSelector: {}, egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}, "
		     "namespaceSelector: {}}]}]}\n",
		  "NetworkPolicy x/deny-all: spec.egress[0].to[0]: ipBlock may not be combined "
		  "with podSelector or namespaceSelector");
}

static void np_ipblock_cidr(void **state)
{
	struct k8s_object *obj;

	(void)state;
	must_fail(NP "spec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0}}]}]}\n",
		  "NetworkPolicy x/deny-all: spec.ingress[0].from[0].ipBlock.cidr: \"10.0.0.0\" is "
		  "not a valid IPv4 or IPv6 CIDR");
	must_fail(NP "spec: {podSelector: {}, ingress: [{from: [{ipBlock: {except: "
		     "[10.0.0.0/8]}}]}]}\n",
		  "spec.ingress[0].from[0].ipBlock.cidr: required");
	must_fail(NP "spec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: "
		     "\"fd00::/129\"}}]}]}\n",
		  "ipBlock.cidr: \"fd00::/129\" is not a valid IPv4 or IPv6 CIDR");
	must_fail(NP "spec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: "
		     "\"fd00::1::/64\"}}]}]}\n",
		  "ipBlock.cidr: \"fd00::1::/64\" is not a valid IPv4 or IPv6 CIDR");
	/* IPv6, host bits set: normalised like IPv4's. */
	obj = must_parse(NP "spec: {podSelector: {}, ingress: [{from: [{ipBlock: "
			    "{cidr: \"fd00:1::5/32\", except: [\"fd00:1:2:3::/64\"]}}]}]}\n");
	{
		const struct k8s_ipblock *b = obj->np.ingress[0].peers[0].ipblock;
		const uint8_t want[16] = { 0xfd, 0, 0, 1 };
		const uint8_t want_ex[16] = { 0xfd, 0, 0, 1, 0, 2, 0, 3 };

		assert_int_equal(b->cidr.family, 6);
		assert_int_equal(b->cidr.len, 32);
		assert_memory_equal(b->cidr.addr, want, 16);
		assert_int_equal(b->nexcept, 1);
		assert_int_equal(b->except[0].family, 6);
		assert_int_equal(b->except[0].len, 64);
		assert_memory_equal(b->except[0].addr, want_ex, 16);
	}
	k8s_free(obj);
	/* Host bits set: normalised, not rejected. */
	obj = must_parse(NP "spec: {podSelector: {}, ingress: [{from: [{ipBlock: "
			    "{cidr: 10.1.2.3/16, except: [10.1.7.9/24]}}]}]}\n");
	assert_int_equal(*(uint32_t *)obj->np.ingress[0].peers[0].ipblock->cidr.addr, a4("10.1.0.0"));
	assert_int_equal(obj->np.ingress[0].peers[0].ipblock->cidr.len, 16);
	assert_int_equal(obj->np.ingress[0].peers[0].ipblock->nexcept, 1);
	assert_int_equal(*(uint32_t *)obj->np.ingress[0].peers[0].ipblock->except[0].addr,
			 a4("10.1.7.0"));
	assert_int_equal(obj->np.ingress[0].peers[0].ipblock->except[0].len, 24);
	k8s_free(obj);
}

static void np_ipblock_except_inside(void **state)
{
	struct k8s_object *obj = NULL;
	struct k8s_error err;

	(void)state;
	assert_int_equal(parse(NP "spec:\n  podSelector: {}\n  ingress:\n  - from:\n"
				  "    - podSelector: {}\n"
				  "    - ipBlock: {cidr: 10.1.0.0/16, except: [10.2.0.0/16]}\n",
			       &obj, &err),
			 -EINVAL);
	assert_string_equal(err.msg,
			    "NetworkPolicy x/deny-all: spec.ingress[0].from[1].ipBlock."
			    "except[0]: \"10.2.0.0/16\" is not inside cidr \"10.1.0.0/16\"");
	/* Equal is not strictly inside. */
	must_fail(NP "spec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.1.0.0/16, "
		     "except: [10.1.128.0/17, 10.1.0.0/16]}}]}]}\n",
		  "ipBlock.except[1]: \"10.1.0.0/16\" is not inside cidr \"10.1.0.0/16\"");
	/* IPv6: outside, equal, and the other family are refused, naming the field. */
	must_fail(NP "spec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: \"fd00:1::/32\", "
		     "except: [\"fd00:2::/48\"]}}]}]}\n",
		  "NetworkPolicy x/deny-all: spec.ingress[0].from[0].ipBlock.except[0]: "
		  "\"fd00:2::/48\" is not inside cidr \"fd00:1::/32\"");
	must_fail(NP "spec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: \"fd00:1::/32\", "
		     "except: [\"fd00:1::/32\"]}}]}]}\n",
		  "ipBlock.except[0]: \"fd00:1::/32\" is not inside cidr \"fd00:1::/32\"");
	must_fail(NP "spec: {podSelector: {}, egress: [{to: [{ipBlock: {cidr: \"fd00:1::/32\", "
		     "except: [\"10.0.0.0/8\"]}}]}]}\n",
		  "NetworkPolicy x/deny-all: spec.egress[0].to[0].ipBlock.except[0]: "
		  "\"10.0.0.0/8\" is IPv4 but cidr \"fd00:1::/32\" is IPv6");
	must_fail(NP "spec: {podSelector: {}, egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, "
		     "except: [\"::/1\"]}}]}]}\n",
		  "ipBlock.except[0]: \"::/1\" is IPv6 but cidr \"10.0.0.0/8\" is IPv4");
}

static void np_port_protocol(void **state)
{
	struct k8s_object *obj;

	(void)state;
	must_fail(NP "spec: {podSelector: {}, ingress: [{ports: [{port: 1}, {protocol: ICMP}]}]}\n",
		  "NetworkPolicy x/deny-all: spec.ingress[0].ports[1].protocol: \"ICMP\" is not "
		  "supported (TCP, UDP, SCTP)");
	obj = must_parse(NP "spec: {podSelector: {}, ingress: [{ports: [{port: 53, "
			    "protocol: UDP}, {}]}]}\n");
	assert_int_equal(obj->np.ingress[0].nports, 2);
	assert_int_equal(obj->np.ingress[0].ports[0].proto, IPPROTO_UDP);
	assert_true(obj->np.ingress[0].ports[0].has_port);
	assert_int_equal(obj->np.ingress[0].ports[0].port, 53);
	/* {}: every TCP port. */
	assert_int_equal(obj->np.ingress[0].ports[1].proto, IPPROTO_TCP);
	assert_false(obj->np.ingress[0].ports[1].has_port);
	k8s_free(obj);
}

static void np_port_number(void **state)
{
	(void)state;
	must_fail(NP "spec: {podSelector: {}, egress: [{ports: [{port: 65536}]}]}\n",
		  "NetworkPolicy x/deny-all: spec.egress[0].ports[0].port: 65536 must be between 1 "
		  "and 65535");
	must_fail(NP "spec: {podSelector: {}, egress: [{ports: [{port: 0}]}]}\n",
		  "spec.egress[0].ports[0].port: 0 must be between");
	must_fail(NP "spec: {podSelector: {}, egress: [{ports: [{port: 1.5}]}]}\n",
		  "spec.egress[0].ports[0].port: must be an integer or a string");
}

static void np_port_name(void **state)
{
	struct k8s_object *obj;

	(void)state;
	/* A quoted number is a name, and a name needs a letter. */
	must_fail(NP "spec: {podSelector: {}, ingress: [{ports: [{port: \"80\"}]}]}\n",
		  "NetworkPolicy x/deny-all: spec.ingress[0].ports[0].port: \"80\" is not a valid "
		  "port name");
	obj = must_parse(NP "spec: {podSelector: {}, ingress: [{ports: [{port: http}]}]}\n");
	assert_true(obj->np.ingress[0].ports[0].has_port);
	assert_string_equal(obj->np.ingress[0].ports[0].port_name, "http");
	k8s_free(obj);
}

static void np_end_port(void **state)
{
	struct k8s_object *obj;

	(void)state;
	must_fail(NP "spec: {podSelector: {}, ingress: [{ports: [{endPort: 90}]}]}\n",
		  "NetworkPolicy x/deny-all: spec.ingress[0].ports[0].endPort: may not be "
		  "specified when port is not");
	must_fail(NP "spec: {podSelector: {}, ingress: [{ports: [{port: http, endPort: 90}]}]}\n",
		  "spec.ingress[0].ports[0].endPort: may not be used with a named port");
	must_fail(
		NP "spec: {podSelector: {}, ingress: [{ports: [{port: 90, endPort: 80}]}]}\n",
		"spec.ingress[0].ports[0].endPort: 80 must be greater than or equal to port (90)");
	must_fail(NP "spec: {podSelector: {}, ingress: [{ports: [{port: 90, endPort: 70000}]}]}\n",
		  "spec.ingress[0].ports[0].endPort: 70000 must be at most 65535");
	obj = must_parse(NP "spec: {podSelector: {}, ingress: [{ports: [{port: 80, "
			    "endPort: 90}, {port: 5, endPort: 5}]}]}\n");
	assert_int_equal(obj->np.ingress[0].ports[0].port, 80);
	assert_int_equal(obj->np.ingress[0].ports[0].end_port, 90);
	assert_int_equal(obj->np.ingress[0].ports[1].end_port, 5);
	k8s_free(obj);
}

static void np_selector_operator(void **state)
{
	(void)state;
	must_fail(NP "spec: {podSelector: {matchExpressions: [{key: app, operator: Equals, "
		     "values: [a]}]}}\n",
		  "NetworkPolicy x/deny-all: spec.podSelector.matchExpressions[0].operator: "
		  "\"Equals\" is not a valid selector operator");
}

static void np_selector_in_needs_values(void **state)
{
	(void)state;
	must_fail(NP "spec: {podSelector: {}, ingress: [{from: [{namespaceSelector: "
		     "{matchExpressions: [{key: a, operator: NotIn}]}}]}]}\n",
		  "NetworkPolicy x/deny-all: spec.ingress[0].from[0].namespaceSelector."
		  "matchExpressions[0].values: must be non-empty when operator is NotIn");
	must_fail(NP "spec: {podSelector: {matchExpressions: [{key: a, operator: In, "
		     "values: []}]}}\n",
		  "spec.podSelector.matchExpressions[0].values: must be non-empty");
}

static void np_selector_exists_takes_no_values(void **state)
{
	(void)state;
	must_fail(NP "spec: {podSelector: {matchExpressions: [{key: a, operator: Exists, "
		     "values: [x]}]}}\n",
		  "NetworkPolicy x/deny-all: spec.podSelector.matchExpressions[0].values: must be "
		  "empty when operator is Exists");
}

static void np_selector_labels_validated(void **state)
{
	(void)state;
	must_fail(NP "spec: {podSelector: {matchLabels: {app: \"a b\"}}}\n",
		  "NetworkPolicy x/deny-all: spec.podSelector.matchLabels.app: \"a b\" is not a "
		  "valid label value");
	must_fail(NP "spec: {podSelector: {matchExpressions: [{key: \"-a\", operator: "
		     "Exists}]}}\n",
		  "spec.podSelector.matchExpressions[0].key: \"-a\" is not a valid label key");
}

/* ---- selectors ---- */

static struct k8s_labels labels_of(struct k8s_object *o)
{
	return o->meta.labels;
}

static void selector_semantics(void **state)
{
	struct k8s_object *np = must_parse(
		NP "spec:\n  podSelector: {}\n  ingress:\n  - from:\n"
		   "    - podSelector: {matchExpressions: [{key: env, operator: In, values: [a, "
		   "b]}]}\n"
		   "    - podSelector: {matchExpressions: [{key: env, operator: NotIn, values: "
		   "[a]}]}\n"
		   "    - podSelector: {matchExpressions: [{key: env, operator: Exists}]}\n"
		   "    - podSelector: {matchExpressions: [{key: env, operator: DoesNotExist}]}\n"
		   "    - podSelector: {matchLabels: {app: web}, matchExpressions: "
		   "[{key: env, operator: In, values: [b]}]}\n");
	struct k8s_object *pa = must_parse(
		"apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {env: a, app: web}}\n");
	struct k8s_object *pb = must_parse(
		"apiVersion: v1\nkind: Pod\nmetadata: {name: b, labels: {env: b, app: web}}\n");
	struct k8s_object *pc =
		must_parse("apiVersion: v1\nkind: Pod\nmetadata: {name: c, labels: {env: c}}\n");
	struct k8s_object *pn = must_parse("apiVersion: v1\nkind: Pod\nmetadata: {name: n}\n");
	const struct k8s_np_peer *p = np->np.ingress[0].peers;
	struct k8s_labels la = labels_of(pa), lb = labels_of(pb), lc = labels_of(pc),
			  ln = labels_of(pn);

	(void)state;
	/* In */
	assert_true(k8s_selector_matches(p[0].pod_sel, &la));
	assert_true(k8s_selector_matches(p[0].pod_sel, &lb));
	assert_false(k8s_selector_matches(p[0].pod_sel, &lc));
	assert_false(k8s_selector_matches(p[0].pod_sel, &ln));
	/* NotIn: an absent key matches. */
	assert_false(k8s_selector_matches(p[1].pod_sel, &la));
	assert_true(k8s_selector_matches(p[1].pod_sel, &lb));
	assert_true(k8s_selector_matches(p[1].pod_sel, &lc));
	assert_true(k8s_selector_matches(p[1].pod_sel, &ln));
	/* Exists */
	assert_true(k8s_selector_matches(p[2].pod_sel, &lc));
	assert_false(k8s_selector_matches(p[2].pod_sel, &ln));
	/* DoesNotExist */
	assert_false(k8s_selector_matches(p[3].pod_sel, &lc));
	assert_true(k8s_selector_matches(p[3].pod_sel, &ln));
	/* matchLabels AND expressions */
	assert_false(k8s_selector_matches(p[4].pod_sel, &la));
	assert_true(k8s_selector_matches(p[4].pod_sel, &lb));
	assert_false(k8s_selector_matches(p[4].pod_sel, &lc));
	/* The empty selector: everything, even no labels. */
	assert_true(k8s_selector_matches(&np->np.pod_sel, &ln));
	assert_true(k8s_selector_matches(&np->np.pod_sel, &la));
	k8s_free(np);
	k8s_free(pa);
	k8s_free(pb);
	k8s_free(pc);
	k8s_free(pn);
}

/* ---- a pod's life: phase and times ---- */

static void pod_phase_and_times(void **state)
{
	struct k8s_object *o;

	(void)state;
	o = must_parse("apiVersion: v1\nkind: Pod\nmetadata: {name: j, namespace: x,\n"
		       "  creationTimestamp: '2026-11-26T00:28:34Z'}\n"
		       "spec: {containers: [{name: c, image: i}]}\n"
		       "status: {phase: Succeeded, podIP: 10.1.0.5}\n");
	assert_int_equal(o->pod.phase, K8S_POD_SUCCEEDED);
	assert_true(k8s_pod_finished(&o->pod));
	assert_int_equal(o->pod.created, 1795652914); /* date -u -d 2026-11-26T00:28:34Z +%s */
	assert_false(o->pod.deleting);
	assert_int_equal(o->pod.ip, inet_addr("10.1.0.5")); /* kept: the compiler ignores it */
	k8s_free(o);
	o = must_parse("apiVersion: v1\nkind: Pod\nmetadata: {name: d, namespace: x,\n"
		       "  deletionTimestamp: '2026-11-26T00:28:34.123456Z'}\n"
		       "spec: {containers: [{name: c, image: i}]}\nstatus: {phase: Running}\n");
	assert_int_equal(o->pod.phase, K8S_POD_RUNNING);
	assert_false(k8s_pod_finished(&o->pod));
	assert_true(o->pod.deleting);
	k8s_free(o);
	/* A phase of a later API is neither finished nor running; none is unset. */
	o = must_parse("apiVersion: v1\nkind: Pod\nmetadata: {name: u, namespace: x}\n"
		       "spec: {containers: [{name: c, image: i}]}\nstatus: {phase: Hibernating}\n");
	assert_int_equal(o->pod.phase, K8S_POD_UNKNOWN);
	assert_false(k8s_pod_finished(&o->pod));
	k8s_free(o);
	o = must_parse("apiVersion: v1\nkind: Pod\nmetadata: {name: n, namespace: x}\n"
		       "spec: {containers: [{name: c, image: i}]}\n");
	assert_int_equal(o->pod.phase, K8S_POD_PHASE_UNSET);
	k8s_free(o);
	must_fail("apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: x,\n"
		  "  creationTimestamp: yesterday}\nspec: {containers: [{name: c, image: i}]}\n",
		  "metadata.creationTimestamp: \"yesterday\" is not a time");
	must_fail("apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: x}\n"
		  "spec: {containers: [{name: c, image: i}]}\nstatus: {phase: 3}\n",
		  "status.phase");
}

/*
 * The one prefix parser (xcni_prefix_parse) as the Kubernetes parser reads
 * CIDRs (strict length, the network) and as the flow filters do (an address
 * alone is its host prefix): each row's result and, when it parses, the
 * network and length.
 */
static void cidr_parse_table(void **state)
{
	static const struct {
		const char *s;
		unsigned int flags;
		int rc;
		int family;
		const char *net; /* the address as inet_ntop writes it */
		int len;
	} rows[] = {
		{ "10.1.2.3/16", XCNI_CIDR_STRICT | XCNI_CIDR_NET, 0, 4, "10.1.0.0", 16 },
		{ "10.1.2.3/16", 0, 0, 4, "10.1.2.3", 16 },
		{ "10.0.0.0/08", XCNI_CIDR_STRICT, -EINVAL, 0, NULL, 0 },
		{ "10.0.0.0/08", 0, 0, 4, "10.0.0.0", 8 },
		{ "10.0.0.0/0008", XCNI_CIDR_STRICT, -EINVAL, 0, NULL, 0 },
		{ "10.0.0.0/+8", 0, -EINVAL, 0, NULL, 0 },
		{ "10.0.0.0/33", 0, -EINVAL, 0, NULL, 0 },
		{ "10.0.0.0/", 0, -EINVAL, 0, NULL, 0 },
		{ "10.0.0.0", 0, -EINVAL, 0, NULL, 0 },
		{ "10.0.0.7", XCNI_CIDR_BARE, 0, 4, "10.0.0.7", 32 },
		{ "010.0.0.7", XCNI_CIDR_BARE, -EINVAL, 0, NULL, 0 },
		{ "fd00::1/64", XCNI_CIDR_STRICT | XCNI_CIDR_NET, 0, 6, "fd00::", 64 },
		{ "fd00::1/129", 0, -EINVAL, 0, NULL, 0 },
		{ "fd00::1", XCNI_CIDR_BARE, 0, 6, "fd00::1", 128 },
		{ "::ffff:1.2.3.4/128", 0, 0, 6, "::ffff:1.2.3.4", 128 },
		{ "1.2.3.4/24x", 0, -EINVAL, 0, NULL, 0 },
		{ "", XCNI_CIDR_BARE, -EINVAL, 0, NULL, 0 },
		{ "0.0.0.0/0", XCNI_CIDR_STRICT | XCNI_CIDR_NET, 0, 4, "0.0.0.0", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct xcni_prefix p = { 0 };
		int rc = xcni_prefix_parse(rows[i].s, rows[i].flags, &p), family = p.family;
		uint8_t *a = p.addr, len = p.len;
		char got[INET6_ADDRSTRLEN] = "";

		if (rc != rows[i].rc)
			fail_msg("%s (flags %u): rc %d, want %d", rows[i].s, rows[i].flags, rc,
				 rows[i].rc);
		if (rc)
			continue;
		inet_ntop(family == 6 ? AF_INET6 : AF_INET, a, got, sizeof(got));
		if (family != rows[i].family || strcmp(got, rows[i].net) || len != rows[i].len)
			fail_msg("%s (flags %u): IPv%d %s/%u, want IPv%d %s/%d", rows[i].s,
				 rows[i].flags, family, got, len, rows[i].family, rows[i].net,
				 rows[i].len);
	}
	/* And through the Kubernetes parser: the network, the family flag. */
	{
		struct xcni_prefix c;

		assert_int_equal(kj_parse_cidr("10.1.2.3/16", &c), 0);
		assert_int_equal(*(uint32_t *)c.addr, htonl(0x0a010000));
		assert_int_equal(c.len, 16);
		assert_int_equal(c.family, 4);
		assert_int_equal(kj_parse_cidr("fd00:1::5/32", &c), 0);
		assert_int_equal(c.family, 6);
		assert_int_equal(c.addr[0], 0xfd);
		assert_int_equal(c.addr[3], 0x01);
		assert_int_equal(c.addr[15], 0);
		assert_int_equal(kj_parse_cidr("10.1.2.3/016", &c), -EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pod_phase_and_times),
		cmocka_unit_test(cidr_parse_table),
		cmocka_unit_test(yaml_plain_scalars_are_typed),
		cmocka_unit_test(quoted_port_is_not_a_number),
		cmocka_unit_test(multi_document_skips_empty_ones),
		cmocka_unit_test(list_is_flattened),
		cmocka_unit_test(json_input),
		cmocka_unit_test(syntax_error_names_line_and_column),
		cmocka_unit_test(file_error_names_path),
		cmocka_unit_test(aliases_are_copied),
		cmocka_unit_test(unknown_kind_is_enotsup),
		cmocka_unit_test(wrong_api_version_is_invalid),
		cmocka_unit_test(name_required),
		cmocka_unit_test(name_must_be_dns_subdomain),
		cmocka_unit_test(namespace_name_must_be_dns_label),
		cmocka_unit_test(namespace_defaults_and_ns_label),
		cmocka_unit_test(labels_sorted),
		cmocka_unit_test(label_key_invalid),
		cmocka_unit_test(label_value_invalid),
		cmocka_unit_test(pod_fields),
		cmocka_unit_test(container_port_range),
		cmocka_unit_test(container_port_required),
		cmocka_unit_test(container_port_protocol),
		cmocka_unit_test(container_port_name),
		cmocka_unit_test(pod_node_name),
		cmocka_unit_test(pod_host_network),
		cmocka_unit_test(pod_ip),
		cmocka_unit_test(pod_ips),
		cmocka_unit_test(node_fields),
		cmocka_unit_test(node_bad_fields),
		cmocka_unit_test(np_pod_selector_required),
		cmocka_unit_test(np_empty_pod_selector_selects_all),
		cmocka_unit_test(np_policy_types_values),
		cmocka_unit_test(np_policy_types_default_with_egress),
		cmocka_unit_test(np_policy_types_default_without_egress),
		cmocka_unit_test(np_policy_types_explicit),
		cmocka_unit_test(np_absent_vs_empty),
		cmocka_unit_test(np_peer_needs_something),
		cmocka_unit_test(np_peer_ipblock_alone),
		cmocka_unit_test(np_ipblock_cidr),
		cmocka_unit_test(np_ipblock_except_inside),
		cmocka_unit_test(np_port_protocol),
		cmocka_unit_test(np_port_number),
		cmocka_unit_test(np_port_name),
		cmocka_unit_test(np_end_port),
		cmocka_unit_test(np_selector_operator),
		cmocka_unit_test(np_selector_in_needs_values),
		cmocka_unit_test(np_selector_exists_takes_no_values),
		cmocka_unit_test(np_selector_labels_validated),
		cmocka_unit_test(selector_semantics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
