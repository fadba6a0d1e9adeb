// SPDX-License-Identifier: Apache-2.0
/*
 * xcni_extfe from the Services (user/lib/services/extfe.c): the frontends
 * xcnid beside kube-proxy keeps for from_plain to refuse as sources from
 * outside (issue 41 item 6). extfe_build's keys from Services parsed as
 * xcnid reads them then (k8s_parse_all: no EndpointSlices), and extfe_sync
 * against a real BPF hash map (root): exactly the wanted keys, a removed
 * Service's gone, a full map takes what fits and counts the rest.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <cmocka.h>

#include "lib/services/extfe.h"
#include "k8s_fx.h"

#define SVC(name, spec) \
	"apiVersion: v1\nkind: Service\nmetadata: {name: " name ", namespace: y}\nspec: " spec "\n---\n"

/*
 * web: ClusterIP 10.96.0.9 (and fd00:96::9), externalIPs 203.0.113.7 and
 * 2001:db8::1, LB ingress 198.51.100.2 and 2001:db8:2::2 (a hostname one
 * has no address), ports 80/TCP and 53/UDP; dns: headless (no ClusterIP)
 * with an externalIP at 5353/UDP; ext: ExternalName (none).
 */
static const char YAML[] =
	SVC("web", "{type: LoadBalancer, clusterIP: 10.96.0.9, clusterIPs: [10.96.0.9, "
		   "\"fd00:96::9\"], ipFamilies: [IPv4, IPv6], ipFamilyPolicy: RequireDualStack, "
		   "externalIPs: [203.0.113.7, \"2001:db8::1\"], ports: [{name: h, port: 80, "
		   "nodePort: 30080}, {name: d, port: 53, protocol: UDP, nodePort: 30053}]}\n"
		   "status: {loadBalancer: {ingress: [{ip: 198.51.100.2}, {hostname: lb.example}, "
		   "{ip: \"2001:db8:2::2\"}]}}")
	SVC("dns", "{clusterIP: None, externalIPs: [192.0.2.53], ports: [{port: 5353, protocol: "
		   "UDP}]}")
	SVC("ext", "{type: ExternalName, externalName: db.example, ports: [{port: 5432}]}");

static struct store *st;

/* An allow-list of everything: every externalIP goes to the map. */
static const struct xcni_prefix ANY[] = { { 4, 0, {} }, { 6, 0, {} } };
static const struct svc_ext_rules ALL = { 0, NULL, 2, ANY };

static void fill(const char *yaml)
{
	store_free(st);
	st = store_of(yaml, k8s_parse_all);
}

static int teardown(void **state)
{
	(void)state;
	store_free(st);
	st = NULL;
	return 0;
}

static struct xcni_svc_key key(const char *addr, uint16_t port, uint8_t proto)
{
	struct xcni_svc_key k = { .port = htons(port), .proto = proto, .scope = XCNI_SCOPE_EXT };

	if (strchr(addr, ':')) {
		k.family = XCNI_AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, addr, k.addr), 1);
	} else {
		k.family = XCNI_AF_INET;
		assert_int_equal(inet_pton(AF_INET, addr, k.addr), 1);
	}
	return k;
}

/* What the Services of YAML give, in no particular order. */
static const struct {
	const char *addr;
	uint16_t port;
	uint8_t proto;
} WANT[] = {
	{ "10.96.0.9", 80, IPPROTO_TCP },	{ "10.96.0.9", 53, IPPROTO_UDP },
	{ "fd00:96::9", 80, IPPROTO_TCP },	{ "fd00:96::9", 53, IPPROTO_UDP },
	{ "203.0.113.7", 80, IPPROTO_TCP },	{ "203.0.113.7", 53, IPPROTO_UDP },
	{ "2001:db8::1", 80, IPPROTO_TCP },	{ "2001:db8::1", 53, IPPROTO_UDP },
	{ "198.51.100.2", 80, IPPROTO_TCP },	{ "198.51.100.2", 53, IPPROTO_UDP },
	{ "2001:db8:2::2", 80, IPPROTO_TCP },	{ "2001:db8:2::2", 53, IPPROTO_UDP },
	{ "192.0.2.53", 5353, IPPROTO_UDP },
};
#define NWANT (sizeof(WANT) / sizeof(WANT[0]))

static bool has(const struct extfe_rec *k, size_t n, const struct xcni_svc_key *w)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(&k[i].k, w, sizeof(*w)))
			return true;
	return false;
}

/* k[0..n) holds the frontend addr:port/proto. */
static bool has_key(const struct extfe_rec *k, size_t n, const char *addr, uint16_t port,
		    uint8_t proto)
{
	struct xcni_svc_key w = key(addr, port, proto);

	return has(k, n, &w);
}

/* Whether k[0..n) holds each of addrs (NULL-terminated) at port/proto: '+' or '-' in want. */
static void keys_at(const struct extfe_rec *k, size_t n, uint16_t port, uint8_t proto,
		    const char *want, const char *const *addrs)
{
	size_t i = 0;

	for (; addrs[i] && want[i]; i++)
		if (has_key(k, n, addrs[i], port, proto) != (want[i] == '+'))
			fail_msg("%s:%u/%u: %s, wanted %c", addrs[i], port, proto,
				 want[i] == '+' ? "absent" : "present", want[i]);
	assert_true(!addrs[i] && !want[i]); /* one verdict an address */
}
#define KEYS_AT(k, n, port, proto, want, ...) \
	keys_at(k, n, port, proto, want, (const char *const[]){ __VA_ARGS__, NULL })

/* Every frontend, nothing else: no NodePort (the node's own address), no
 * ExternalName, no headless ClusterIP; sorted and unique. */
static void build_keys(void **state)
{
	struct extfe_rec *k;
	struct cluster c;
	size_t n;

	(void)state;
	fill(YAML);
	store_view(st, &c);
	assert_int_equal(extfe_build(&c, &ALL, NULL, &k, &n), 0);
	if (n != NWANT)
		fail_msg("%zu keys, want %zu", n, NWANT);
	for (size_t i = 0; i < NWANT; i++) {
		if (!has_key(k, n, WANT[i].addr, WANT[i].port, WANT[i].proto))
			fail_msg("no key for %s:%u/%u", WANT[i].addr, WANT[i].port, WANT[i].proto);
	}
	for (size_t i = 1; i < n; i++)
		assert_true(memcmp(&k[i - 1].k, &k[i].k, sizeof(k->k)) < 0);
	free(k);
	/* No Services: no keys. */
	fill("");
	store_view(st, &c);
	assert_int_equal(extfe_build(&c, &ALL, NULL, &k, &n), 0);
	assert_int_equal(n, 0);
	free(k);
}

/* The map's keys, counted; each checked against k[0..n). */
static size_t map_keys(int fd, const struct extfe_rec *k, size_t n)
{
	struct xcni_svc_key cur, prev;
	size_t got = 0;
	__u32 v;

	while (bpf_map_get_next_key(fd, got ? &prev : NULL, &cur) == 0) {
		if (!has(k, n, &cur))
			fail_msg("a key in the map no Service names");
		assert_int_equal(bpf_map_lookup_elem(fd, &cur, &v), 0);
		assert_int_equal(v, 1);
		prev = cur;
		got++;
	}
	return got;
}

/*
 * Against a real map: written whole; a stale key (a Service gone) deleted;
 * the same list again writes nothing; a map too small closes the namespace
 * bringing the most and writes the rest (the room writer, lib/system/mapw.h).
 */
static void sync_map(void **state)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	struct xcni_svc_key stale = key("192.0.2.99", 80, IPPROTO_TCP);
	struct extfe_rec *k;
	char yaml[sizeof(YAML) + 512];
	struct extfe_stats s;
	struct cluster c;
	__u32 one = 1;
	size_t n;
	int fd;

	(void)state;
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "ut_extfe", sizeof(struct xcni_svc_key),
			    sizeof(__u32), 16, &o);
	if (fd < 0)
		skip(); /* not root: no BPF maps */
	fill(YAML);
	store_view(st, &c);
	assert_int_equal(extfe_build(&c, &ALL, NULL, &k, &n), 0);
	assert_int_equal(bpf_map_update_elem(fd, &stale, &one, BPF_ANY), 0);
	assert_int_equal(extfe_sync(fd, 16, k, n, &s), 0);
	assert_int_equal(s.written, NWANT);
	assert_int_equal(s.deleted, 1);
	assert_int_equal(s.full, 0);
	assert_int_equal(map_keys(fd, k, n), NWANT);
	/* Unchanged: nothing written or deleted. */
	assert_int_equal(extfe_sync(fd, 16, k, n, &s), 0);
	assert_int_equal(s.written + s.deleted + s.full, 0);
	free(k);
	/* dns removed: its one key goes, web's stay. */
	fill(SVC("web", "{type: LoadBalancer, clusterIP: 10.96.0.9, clusterIPs: [10.96.0.9, "
			"\"fd00:96::9\"], ipFamilies: [IPv4, IPv6], ipFamilyPolicy: RequireDualStack, "
			"externalIPs: [203.0.113.7, \"2001:db8::1\"], ports: [{name: h, port: 80, "
			"nodePort: 30080}, {name: d, port: 53, protocol: UDP, nodePort: 30053}]}\n"
			"status: {loadBalancer: {ingress: [{ip: 198.51.100.2}, {hostname: "
			"lb.example}, {ip: \"2001:db8:2::2\"}]}}"));
	store_view(st, &c);
	assert_int_equal(extfe_build(&c, &ALL, NULL, &k, &n), 0);
	assert_int_equal(n, NWANT - 1);
	assert_int_equal(extfe_sync(fd, 16, k, n, &s), 0);
	assert_int_equal(s.written, 0);
	assert_int_equal(s.deleted, 1);
	assert_int_equal(map_keys(fd, k, n), NWANT - 1);
	free(k);
	close(fd);
	/* A map of 8: y (all but one, more than 8) closed for room, counted, no
	 * error; z's one frontend written (what fits, never nothing) */
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "ut_extfe8", sizeof(struct xcni_svc_key),
			    sizeof(__u32), 8, &o);
	assert_true(fd >= 0);
	snprintf(yaml, sizeof(yaml), "%s%s", YAML,
		 "apiVersion: v1\nkind: Service\nmetadata: {name: small, namespace: z}\n"
		 "spec: {clusterIP: 10.96.0.50, ports: [{port: 80}]}\n");
	fill(yaml);
	store_view(st, &c);
	assert_int_equal(extfe_build(&c, &ALL, NULL, &k, &n), 0);
	assert_int_equal(extfe_sync(fd, 8, k, n, &s), 0);
	assert_int_equal(s.written, 1);
	assert_int_equal(s.full, NWANT);
	assert_int_equal(map_keys(fd, k, n), 1);
	assert_true(has_key(k, n, "10.96.0.50", 80, IPPROTO_TCP));
	free(k);
	/* Services gone: the map emptied. */
	fill("");
	store_view(st, &c);
	assert_int_equal(extfe_build(&c, &ALL, NULL, &k, &n), 0);
	assert_int_equal(extfe_sync(fd, 8, k, n, &s), 0);
	assert_int_equal(s.deleted, 1);
	assert_int_equal(map_keys(fd, k, n), 0);
	free(k);
	close(fd);
}

/*
 * Issue 52 item 2: only what the cluster allocated, and the externalIPs an
 * allow-list vouches for. A tenant's externalIP on the upstream resolver
 * (192.0.2.53:53 here) must not make every node refuse its packets; one in
 * the Service range or on a node's address is refused even when allowed.
 * A load-balancer IP on a node's address is refused as well (that node's
 * packets would be dropped on every other), one outside the allow-list kept.
 */
static void allowed_only(void **state)
{
	static const struct svc_prefix res[] = { { { 4, 12, { 10, 96 } }, SVC_PFX_SERVICE } };
	static const struct xcni_prefix allow[] = { { 4, 8, { 10 } },
						   { 4, 24, { 203, 0, 113 } } };
	static const uint32_t naddr[] = { 0x0500000a }; /* 10.0.0.5, network order */
	const struct svc_ext_rules rules = { 1, res, 2, allow };
	const struct svc_node node = { .naddrs = 1, .addrs = naddr };
	struct extfe_rec *k;
	struct cluster c;
	size_t n;
	char yaml[sizeof(YAML) + 1024];

	(void)state;
	snprintf(yaml, sizeof(yaml), "%s%s%s", YAML,
		 SVC("evil", "{clusterIP: 10.96.0.77, externalIPs: [192.0.2.53, 10.96.0.10, "
			     "10.0.0.5, 10.9.9.9], ports: [{port: 53, protocol: UDP}]}"),
		 SVC("lbnode", "{type: LoadBalancer, clusterIP: 10.96.0.78, ports: [{port: 8443}]}\n"
			       "status: {loadBalancer: {ingress: [{ip: 10.0.0.5}, "
			       "{ip: 198.51.100.9}]}}"));
	fill(yaml);
	store_view(st, &c);
	/* No allow-list: no externalIP at all. */
	assert_int_equal(extfe_build(&c, NULL, NULL, &k, &n), 0);
	KEYS_AT(k, n, 53, IPPROTO_UDP, "-+", "192.0.2.53", "10.96.0.77");
	KEYS_AT(k, n, 80, IPPROTO_TCP, "-+", "203.0.113.7", "198.51.100.2");
	/* web's two ClusterIPs and two LB IPs at two ports, evil's ClusterIP,
	 * lbnode's ClusterIP and LB IPs (no node known). */
	assert_int_equal(n, 12);
	free(k);
	/* Allowed: 203.0.113.7 and 10.9.9.9; not the resolver (outside), nor the
	 * Service range or the node's address (inside 10/8 but refused). */
	assert_int_equal(extfe_build(&c, &rules, &node, &k, &n), 0);
	KEYS_AT(k, n, 53, IPPROTO_UDP, "++---", "203.0.113.7", "10.9.9.9", "10.96.0.10", "10.0.0.5",
		"192.0.2.53");
	KEYS_AT(k, n, 8443, IPPROTO_TCP, "++-", "10.96.0.78", "198.51.100.9", "10.0.0.5");
	assert_int_equal(n, 14);
	free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(build_keys, teardown),
		cmocka_unit_test_teardown(sync_map, teardown),
		cmocka_unit_test_teardown(allowed_only, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
