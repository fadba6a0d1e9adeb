// SPDX-License-Identifier: Apache-2.0
/* Unit tests of the plugin's pure logic: config parsing, results, naming. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "../../cni/cni.h"

static int parse(const char *json, struct xcni_conf *c, struct cni_err *e)
{
	memset(e, 0, sizeof(*e));
	return xcni_conf_parse(json, strlen(json), c, e);
}

#define GOOD "{\"cniVersion\":\"1.0.0\",\"name\":\"net1\",\"type\":\"xcni\"," \
	     "\"ipam\":{\"type\":\"host-local\"}"

static void conf_defaults(void **state)
{
	struct xcni_conf c;
	struct cni_err e;

	(void)state;
	assert_int_equal(parse(GOOD "}", &c, &e), 0);
	assert_string_equal(c.cni_version, "1.0.0");
	assert_string_equal(c.name, "net1");
	assert_string_equal(c.ipam_type, "host-local");
	assert_int_equal(c.mtu, XCNI_DEFAULT_MTU);
	assert_string_equal(c.state_dir, XCNI_DEFAULT_STATE_DIR);
	assert_null(c.prev_result);
	xcni_conf_free(&c);
}

static void conf_fields(void **state)
{
	struct xcni_conf c;
	struct cni_err e;

	(void)state;
	assert_int_equal(parse(GOOD ",\"mtu\":1400,\"stateDir\":\"/tmp/x\",\"prevResult\":{}}", &c, &e), 0);
	assert_int_equal(c.mtu, 1400);
	assert_string_equal(c.state_dir, "/tmp/x");
	assert_non_null(c.prev_result);
	xcni_conf_free(&c);
}

struct bad_case {
	const char *json;
	int code;
	const char *needle; /* the message must name the field */
};

/* A host-local config up to its ranges. */
#define HL "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"xcni\",\"ipam\":{\"type\":\"host-local\",\"ranges\":"

static void conf_families(void **state)
{
	struct xcni_conf c;
	struct cni_err e;

	(void)state;
	/* kubelet's conflist for a dual-stack node: one range set per family. */
	assert_int_equal(parse(HL "[[{\"subnet\":\"10.244.1.0/24\"}],[{\"subnet\":\"fd00:10:244:1::/64\"}]]}}", &c, &e), 0);
	assert_int_equal(c.ipam_families, XCNI_FAM_4 | XCNI_FAM_6);
	xcni_conf_free(&c);
	assert_int_equal(parse(HL "[[{\"subnet\":\"fd00::/64\",\"rangeStart\":\"fd00::10\",\"gateway\":\"fd00::1\"},{\"subnet\":\"fd01::/64\"}]]}}", &c, &e), 0);
	assert_int_equal(c.ipam_families, XCNI_FAM_6);
	xcni_conf_free(&c);
	assert_int_equal(parse(GOOD "}", &c, &e), 0);
	assert_int_equal(c.ipam_families, 0);
	xcni_conf_free(&c);
	/* Another IPAM plugin's "ranges" is its own business. */
	assert_int_equal(parse("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"xcni\",\"ipam\":{\"type\":\"other\",\"ranges\":7}}", &c, &e), 0);
	xcni_conf_free(&c);
}

static void conf_rejects(void **state)
{
	static const struct bad_case cases[] = {
		{ "{", CNI_ERR_DECODE, "invalid JSON" },
		{ "[]", CNI_ERR_DECODE, "not a JSON object" },
		{ "{\"name\":\"n\",\"type\":\"xcni\",\"ipam\":{\"type\":\"h\"}}", CNI_ERR_INVALID_CONFIG, "cniVersion" },
		{ "{\"cniVersion\":\"0.3.1\",\"name\":\"n\",\"type\":\"xcni\",\"ipam\":{\"type\":\"h\"}}", CNI_ERR_INCOMPATIBLE_VERSION, "0.3.1" },
		{ "{\"cniVersion\":\"9.9.9\",\"name\":\"n\",\"type\":\"xcni\",\"ipam\":{\"type\":\"h\"}}", CNI_ERR_INCOMPATIBLE_VERSION, "9.9.9" },
		{ "{\"cniVersion\":\"1.0.0\",\"type\":\"xcni\",\"ipam\":{\"type\":\"h\"}}", CNI_ERR_INVALID_CONFIG, "\"name\"" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"a/b\",\"type\":\"xcni\",\"ipam\":{\"type\":\"h\"}}", CNI_ERR_INVALID_CONFIG, "name" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":7,\"type\":\"xcni\",\"ipam\":{\"type\":\"h\"}}", CNI_ERR_INVALID_CONFIG, "must be a string" },
		{ GOOD ",\"mtu\":\"1500\"}", CNI_ERR_INVALID_CONFIG, "\"mtu\"" },
		{ GOOD ",\"mtu\":100}", CNI_ERR_INVALID_CONFIG, "\"mtu\"" },
		{ GOOD ",\"stateDir\":\"rel\"}", CNI_ERR_INVALID_CONFIG, "stateDir" },
		{ GOOD ",\"pinDir\":\"rel\"}", CNI_ERR_INVALID_CONFIG, "\"pinDir\" must be an absolute path" },
		{ GOOD ",\"prevResult\":[]}", CNI_ERR_INVALID_CONFIG, "prevResult" },
		{ GOOD ",\"cni.dev/valid-attachments\":{}}", CNI_ERR_INVALID_CONFIG, "valid-attachments" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"xcni\"}", CNI_ERR_INVALID_CONFIG, "\"ipam\"" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"xcni\",\"ipam\":{}}", CNI_ERR_INVALID_CONFIG, "ipam.\"type\"" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"xcni\",\"ipam\":{\"type\":\"../x\"}}", CNI_ERR_INVALID_CONFIG, "ipam" },
		{ HL "[[{\"subnet\":\"10.1.0.0/24\"}],[{\"subnet\":\"10.2.0.0/24\"}]]}}", CNI_ERR_INVALID_CONFIG, "ipam.ranges[1] is a second IPv4 range set (ipam.ranges[0] is one)" },
		{ HL "[[{\"subnet\":\"fd00::/64\"}],[{\"subnet\":\"10.2.0.0/24\"}],[{\"subnet\":\"fd01::/64\"}]]}}", CNI_ERR_INVALID_CONFIG, "ipam.ranges[2] is a second IPv6 range set (ipam.ranges[0] is one)" },
		{ HL "[[{\"subnet\":\"10.1.0.0/24\"},{\"subnet\":\"fd00::/64\"}]]}}", CNI_ERR_INVALID_CONFIG, "ipam.ranges[0][1].subnet fd00::/64 is IPv6 but ipam.ranges[0][0] is IPv4" },
		{ HL "[[{\"subnet\":\"10.1.0.0/33\"}]]}}", CNI_ERR_INVALID_CONFIG, "ipam.ranges[0][0].subnet \"10.1.0.0/33\" is not a CIDR" },
		{ HL "[[{\"subnet\":\"fd00::/64\",\"rangeStart\":\"10.0.0.1\"}]]}}", CNI_ERR_INVALID_CONFIG, "ipam.ranges[0][0].rangeStart 10.0.0.1 is not an IPv6 address like its subnet fd00::/64" },
		{ HL "[[{\"subnet\":\"10.1.0.0/24\",\"gateway\":7}]]}}", CNI_ERR_INVALID_CONFIG, "ipam.ranges[0][0].gateway (not a string)" },
		{ HL "[[{\"rangeStart\":\"10.1.0.5\"}]]}}", CNI_ERR_INVALID_CONFIG, "ipam.ranges[0][0] needs a \"subnet\"" },
		{ HL "[]}}", CNI_ERR_INVALID_CONFIG, "ipam.ranges must be a non-empty array" },
		{ HL "[{}]}}", CNI_ERR_INVALID_CONFIG, "ipam.ranges[0] must be a non-empty array" },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"xcni\",\"ipam\":{\"type\":\"host-local\",\"subnet\":\"10.1.0.0/24\",\"ranges\":[[{\"subnet\":\"10.2.0.0/24\"}]]}}", CNI_ERR_INVALID_CONFIG, "ipam.ranges[0] is a second IPv4 range set (ipam.subnet is one)" },
		{ "{\"cniVersion\":\"1.0.0\",\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"xcni\",\"ipam\":{\"type\":\"h\"}}", CNI_ERR_DECODE, "duplicate" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct xcni_conf c;
		struct cni_err e;

		assert_int_not_equal(parse(cases[i].json, &c, &e), 0);
		if (e.code != cases[i].code || !strstr(e.msg, cases[i].needle))
			fail_msg("case %zu (%s): code %d msg \"%s\"", i, cases[i].json, e.code, e.msg);
		xcni_conf_free(&c);
	}
}

static void versions(void **state)
{
	(void)state;
	assert_int_equal(cni_version_index("0.4.0"), 0);
	assert_int_equal(cni_version_index("1.1.0"), 2);
	assert_int_equal(cni_version_index("0.3.1"), -1);
	assert_int_equal(cni_version_index(NULL), -1);
	assert_true(cni_version_cmp("0.4.0", "1.0.0") < 0);
	assert_true(cni_version_cmp("1.1.0", "1.0.0") > 0);
	assert_true(cni_version_cmp("1.0.10", "1.0.9") > 0);
	assert_int_equal(cni_version_cmp("1.0.0", "1.0.0"), 0);
}

static void naming(void **state)
{
	char a[IF_NAMESIZE], b[IF_NAMESIZE], c[IF_NAMESIZE];

	(void)state;
	xcni_host_ifname("abcdef0123456789", "eth0", a);
	xcni_host_ifname("abcdef0123456789", "eth0", b);
	xcni_host_ifname("abcdef0123456789", "eth1", c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_true(strlen(a) <= 15);
	assert_int_equal(strncmp(a, "xc", 2), 0);
	/* Stable across builds and machines: runtimes call DEL from another process. */
	xcni_host_ifname("c1", "eth0", a);
	assert_string_equal(a, "xc9e27a0abdbb0");
}

static void alias_roundtrip(void **state)
{
	char alias[256], cid[128], ifn[IF_NAMESIZE];

	(void)state;
	assert_int_equal(xcni_link_alias("net1", "cid-1", "eth0", alias, sizeof(alias)), 0);
	assert_int_equal(xcni_link_alias_parse(alias, "net1", cid, sizeof(cid), ifn, sizeof(ifn)), 0);
	assert_string_equal(cid, "cid-1");
	assert_string_equal(ifn, "eth0");
	/* Another network's link, or a foreign alias, is not ours. */
	assert_int_not_equal(xcni_link_alias_parse(alias, "net", cid, sizeof(cid), ifn, sizeof(ifn)), 0);
	assert_int_not_equal(xcni_link_alias_parse("xcni net1 onlyone", "net1", cid, sizeof(cid), ifn, sizeof(ifn)), 0);
	assert_int_not_equal(xcni_link_alias_parse("", "net1", cid, sizeof(cid), ifn, sizeof(ifn)), 0);
	assert_int_not_equal(xcni_link_alias("n", "c", "e", alias, 4), 0);
}

static void env_validation(void **state)
{
	(void)state;
	assert_true(xcni_valid_ifname("eth0"));
	assert_true(xcni_valid_ifname("123456789012345"));
	assert_false(xcni_valid_ifname("1234567890123456"));
	assert_false(xcni_valid_ifname(""));
	assert_false(xcni_valid_ifname("a/b"));
	assert_false(xcni_valid_ifname("a b"));
	assert_false(xcni_valid_ifname(".."));
	assert_true(xcni_valid_container_id("a1-b_c.d"));
	assert_false(xcni_valid_container_id("-a"));
	assert_false(xcni_valid_container_id("a/b"));
	assert_false(xcni_valid_container_id(""));
}

static json_t *ipam_res(const char *json)
{
	return json_loads(json, 0, NULL);
}

static void ipam_parse_ok(void **state)
{
	json_t *r = ipam_res("{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.1.2.3/24\",\"gateway\":\"10.1.2.1\"}],"
			     "\"routes\":[{\"dst\":\"10.0.0.0/8\"},{\"dst\":\"::/0\"}],\"dns\":{\"nameservers\":[\"10.1.0.10\"]}}");
	struct xcni_ipam ip;
	struct cni_err e = { 0 };
	char buf[INET_ADDRSTRLEN];

	(void)state;
	assert_int_equal(xcni_ipam_parse(r, &ip, &e), 0);
	assert_string_equal(inet_ntop(AF_INET, &ip.ip, buf, sizeof(buf)), "10.1.2.3");
	assert_int_equal(ip.plen, 24);
	assert_string_equal(inet_ntop(AF_INET, &ip.gw, buf, sizeof(buf)), "10.1.2.1");
	/* IPv6 routes are dropped for a pod without IPv6, IPv4 kept. */
	assert_int_equal(json_array_size(ip.routes), 1);
	assert_non_null(ip.dns);
	xcni_ipam_free(&ip);
	json_decref(r);

	/* No routes: the pod gets a default route. 0.4.0 results carry "version". */
	r = ipam_res("{\"ips\":[{\"version\":\"4\",\"address\":\"10.1.2.3/24\",\"gateway\":\"10.1.2.1\"}]}");
	assert_int_equal(xcni_ipam_parse(r, &ip, &e), 0);
	assert_int_equal(json_array_size(ip.routes), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(ip.routes, 0), "dst")), "0.0.0.0/0");
	xcni_ipam_free(&ip);
	json_decref(r);
}

/* The routes an IPAM result gives the pod, space-separated, must be want. */
static void expect_routes(const char *json, const char *want)
{
	json_t *r = ipam_res(json), *rt;
	struct xcni_ipam ip;
	struct cni_err e = { 0 };
	char got[256] = "";
	size_t i;

	assert_int_equal(xcni_ipam_parse(r, &ip, &e), 0);
	json_array_foreach(ip.routes, i, rt)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? " " : "",
			 json_string_value(json_object_get(rt, "dst")));
	if (strcmp(got, want))
		fail_msg("%s: routes \"%s\", want \"%s\"", json, got, want);
	xcni_ipam_free(&ip);
	json_decref(r);
}

static void ipam_parse_families(void **state)
{
	json_t *r = ipam_res("{\"ips\":[{\"address\":\"10.1.2.3/24\",\"gateway\":\"10.1.2.1\"},"
			     "{\"address\":\"fd00:10::3/64\",\"gateway\":\"fd00:10::1\"}],"
			     "\"routes\":[{\"dst\":\"0.0.0.0/0\"},{\"dst\":\"2001:db8::/32\"}]}");
	struct xcni_ipam ip;
	struct cni_err e = { 0 };
	char buf[INET6_ADDRSTRLEN];

	(void)state;
	assert_int_equal(xcni_ipam_parse(r, &ip, &e), 0);
	assert_true(ip.has4 && ip.has6);
	assert_int_equal(ip.idx4, 0);
	assert_int_equal(ip.idx6, 1);
	assert_string_equal(inet_ntop(AF_INET6, &ip.ip6, buf, sizeof(buf)), "fd00:10::3");
	assert_int_equal(ip.plen6, 64);
	/* IPAM's IPv6 routes are kept as given: no ::/0 added beside them. */
	assert_int_equal(json_array_size(ip.routes), 2);
	xcni_ipam_free(&ip);
	json_decref(r);

	/* IPv6 only: no gateway needed, ::/0 by default, IPv4 routes dropped. */
	expect_routes("{\"ips\":[{\"address\":\"fd00:10::3/64\"}],\"routes\":[{\"dst\":\"0.0.0.0/0\"}]}",
		      "::/0");
	/* Dual without routes, IPv6 first: a default route for each family. */
	expect_routes("{\"ips\":[{\"address\":\"fd00:10::3/64\"},{\"address\":\"10.1.2.3/24\",\"gateway\":\"10.1.2.1\"}]}",
		      "0.0.0.0/0 ::/0");
	/* Dual with IPv6 routes only: IPv4 still gets its default route. */
	expect_routes("{\"ips\":[{\"address\":\"10.1.2.3/24\",\"gateway\":\"10.1.2.1\"},{\"address\":\"fd00:10::3/64\"}],"
		      "\"routes\":[{\"dst\":\"::/1\"}]}",
		      "::/1 0.0.0.0/0");
}

static void ipam_parse_rejects(void **state)
{
	static const struct bad_case cases[] = {
		{ "{}", XCNI_ERR_IPAM, "no \"ips\"" },
		{ "{\"ips\":[]}", XCNI_ERR_IPAM, "no \"ips\"" },
		{ "{\"ips\":[{\"gateway\":\"10.0.0.1\"}]}", XCNI_ERR_IPAM, "address missing" },
		{ "{\"ips\":[{\"address\":\"fd00::2/64\"},{\"address\":\"fd00::3/64\"}]}", CNI_ERR_UNSUPPORTED_FIELD, "ips[1].address fd00::3/64 is a second IPv6 address (ips[0] is one)" },
		{ "{\"ips\":[{\"address\":\"fe80::2/64\"}]}", XCNI_ERR_IPAM, "ips[0].address \"fe80::2/64\" is not a global" },
		{ "{\"ips\":[{\"address\":\"ff02::2/64\"}]}", XCNI_ERR_IPAM, "not a global" },
		{ "{\"ips\":[{\"address\":\"::/0\"}]}", XCNI_ERR_IPAM, "not a global" },
		{ "{\"ips\":[{\"address\":\"fd00::2/129\"}]}", XCNI_ERR_IPAM, "not a global" },
		{ "{\"ips\":[{\"address\":\"fd00::2/64\",\"gateway\":\"10.0.0.1\"}]}", XCNI_ERR_IPAM, "ips[0].gateway \"10.0.0.1\" is not IPv6" },
		{ "{\"ips\":[{\"address\":\"10.0.0.2/24\",\"gateway\":\"fd00::1\"}]}", XCNI_ERR_IPAM, "ips[0].gateway \"fd00::1\" is not IPv4" },
		{ "{\"ips\":[{\"address\":\"10.0.0.2/24\",\"gateway\":\"10.0.0.1\"}],\"routes\":[{\"dst\":\"10.0.0.0/40\"}]}", XCNI_ERR_IPAM, "routes[0].dst \"10.0.0.0/40\" is not a CIDR" },
		{ "{\"ips\":[{\"address\":\"fd00::2/64\"}],\"routes\":[{\"gw\":\"fe80::1\"}]}", XCNI_ERR_IPAM, "routes[0].dst" },
		{ "{\"ips\":[{\"address\":\"10.0.0.2/24\"}]}", XCNI_ERR_IPAM, "gateway missing" },
		{ "{\"ips\":[{\"address\":\"10.0.0.2\",\"gateway\":\"10.0.0.1\"}]}", XCNI_ERR_IPAM, "not an IPv4 CIDR" },
		{ "{\"ips\":[{\"address\":\"10.0.0.2/33\",\"gateway\":\"10.0.0.1\"}]}", XCNI_ERR_IPAM, "not an IPv4 CIDR" },
		{ "{\"ips\":[{\"address\":\"10.0.0.1/24\",\"gateway\":\"10.0.0.1\"}]}", XCNI_ERR_IPAM, "is the gateway" },
		{ "{\"ips\":[{\"address\":\"10.0.0.2/24\",\"gateway\":\"10.0.0.1\"},{\"address\":\"10.0.0.3/24\",\"gateway\":\"10.0.0.1\"}]}", CNI_ERR_UNSUPPORTED_FIELD, "ips[1].address 10.0.0.3/24 is a second IPv4 address" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *r = ipam_res(cases[i].json);
		struct xcni_ipam ip;
		struct cni_err e = { 0 };

		assert_int_not_equal(xcni_ipam_parse(r, &ip, &e), 0);
		if (e.code != cases[i].code || !strstr(e.msg, cases[i].needle))
			fail_msg("case %zu (%s): code %d msg \"%s\"", i, cases[i].json, e.code, e.msg);
		xcni_ipam_free(&ip);
		json_decref(r);
	}
}

static json_t *build_from(const char *ver, const char *ipam_json)
{
	struct cni_attach a = { .host_if = "xc0123", .pod_if = "eth0", .netns = "/run/netns/p",
				 .mtu = 1400, .host_mac = { 2, 0, 0, 0, 0, 1 },
				 .pod_mac = { 2, 0, 0, 0, 0, 2 } };
	json_t *r = ipam_res(ipam_json);
	struct xcni_ipam ip;
	struct cni_err e;
	json_t *res;

	assert_int_equal(xcni_ipam_parse(r, &ip, &e), 0);
	res = xcni_result_build(ver, &a, &ip);
	xcni_ipam_free(&ip);
	json_decref(r);
	return res;
}

static json_t *build(const char *ver)
{
	return build_from(ver, "{\"ips\":[{\"address\":\"10.1.2.3/24\",\"gateway\":\"10.1.2.1\"}]}");
}

#define DUAL "{\"ips\":[{\"address\":\"10.1.2.3/24\",\"gateway\":\"10.1.2.1\"}," \
	     "{\"address\":\"fd00:10::3/64\",\"gateway\":\"fd00:10::1\"}]}"

static const char *jstr(json_t *j, const char *path0, size_t i, const char *key)
{
	return json_string_value(json_object_get(json_array_get(json_object_get(j, path0), i), key));
}

static void result_dual(void **state)
{
	json_t *r10 = build_from("1.0.0", DUAL), *r04 = build_from("0.4.0", DUAL);
	json_t *r6 = build_from("1.1.0", "{\"ips\":[{\"address\":\"fd00:10::3/64\"}]}");

	(void)state;
	/* Both addresses as the pod holds them, on interface 1 (the pod's). */
	assert_int_equal(json_array_size(json_object_get(r10, "ips")), 2);
	assert_string_equal(jstr(r10, "ips", 0, "address"), "10.1.2.3/32");
	assert_string_equal(jstr(r10, "ips", 1, "address"), "fd00:10::3/128");
	/* The IPv6 gateway is the host veth's link-local, not the range's. */
	assert_string_equal(jstr(r10, "ips", 1, "gateway"), XCNI_GW6);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(r10, "ips"), 1), "interface")), 1);
	assert_string_equal(jstr(r10, "routes", 0, "dst"), "0.0.0.0/0");
	assert_string_equal(jstr(r10, "routes", 0, "gw"), "10.1.2.1");
	assert_string_equal(jstr(r10, "routes", 1, "dst"), "::/0");
	assert_string_equal(jstr(r10, "routes", 1, "gw"), "fe80::1");
	assert_null(jstr(r10, "ips", 1, "version"));
	/* 0.4.0 names each address's family. */
	assert_string_equal(jstr(r04, "ips", 0, "version"), "4");
	assert_string_equal(jstr(r04, "ips", 1, "version"), "6");
	/* IPv6 only: one address, one route, no IPv4 gateway anywhere. */
	assert_int_equal(json_array_size(json_object_get(r6, "ips")), 1);
	assert_string_equal(jstr(r6, "ips", 0, "address"), "fd00:10::3/128");
	assert_int_equal(json_array_size(json_object_get(r6, "routes")), 1);
	assert_string_equal(jstr(r6, "routes", 0, "gw"), "fe80::1");
	json_decref(r10);
	json_decref(r04);
	json_decref(r6);
}

static void result_layouts(void **state)
{
	json_t *r10 = build("1.0.0"), *r04 = build("0.4.0"), *r11 = build("1.1.0");
	json_t *ip = json_array_get(json_object_get(r10, "ips"), 0);
	json_t *ifs = json_object_get(r10, "interfaces");

	(void)state;
	assert_string_equal(json_string_value(json_object_get(r10, "cniVersion")), "1.0.0");
	assert_int_equal(json_array_size(ifs), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(ifs, 0), "name")), "xc0123");
	assert_null(json_object_get(json_array_get(ifs, 0), "sandbox"));
	assert_string_equal(json_string_value(json_object_get(json_array_get(ifs, 1), "sandbox")), "/run/netns/p");
	assert_string_equal(json_string_value(json_object_get(json_array_get(ifs, 1), "mac")), "02:00:00:00:00:02");
	/* The pod holds its address as a /32 and reaches everything via the gateway. */
	assert_string_equal(json_string_value(json_object_get(ip, "address")), "10.1.2.3/32");
	assert_string_equal(json_string_value(json_object_get(ip, "gateway")), "10.1.2.1");
	assert_int_equal(json_integer_value(json_object_get(ip, "interface")), 1);
	assert_null(json_object_get(ip, "version"));
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r10, "routes"), 0), "gw")), "10.1.2.1");
	assert_null(json_object_get(json_array_get(ifs, 1), "mtu"));

	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r04, "ips"), 0), "version")), "4");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(r11, "interfaces"), 1), "mtu")), 1400);
	json_decref(r10);
	json_decref(r04);
	json_decref(r11);
}

static void error_and_version_json(void **state)
{
	struct cni_err e = { 0 };
	json_t *j, *sv;

	(void)state;
	cni_fail(&e, CNI_ERR_INVALID_ENV, "CNI_NETNS %s: %s", "/x", "No such file");
	j = cni_error_json("1.0.0", &e);
	assert_int_equal(json_integer_value(json_object_get(j, "code")), 4);
	assert_string_equal(json_string_value(json_object_get(j, "msg")), "CNI_NETNS /x: No such file");
	assert_null(json_object_get(j, "details"));
	json_decref(j);

	j = cni_version_json("1.1.0");
	sv = json_object_get(j, "supportedVersions");
	assert_int_equal(json_array_size(sv), 3);
	assert_string_equal(json_string_value(json_array_get(sv, 0)), "0.4.0");
	assert_string_equal(json_string_value(json_array_get(sv, 2)), "1.1.0");
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(conf_defaults),
		cmocka_unit_test(conf_fields),
		cmocka_unit_test(conf_families),
		cmocka_unit_test(conf_rejects),
		cmocka_unit_test(versions),
		cmocka_unit_test(naming),
		cmocka_unit_test(alias_roundtrip),
		cmocka_unit_test(env_validation),
		cmocka_unit_test(ipam_parse_ok),
		cmocka_unit_test(ipam_parse_families),
		cmocka_unit_test(ipam_parse_rejects),
		cmocka_unit_test(result_layouts),
		cmocka_unit_test(result_dual),
		cmocka_unit_test(error_and_version_json),
	};

	return cmocka_run_group_tests_name("cni", tests, NULL, NULL);
}
