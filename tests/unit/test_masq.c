// SPDX-License-Identifier: Apache-2.0
/*
 * xcnid's masquerade table: the exempt set (normalized the way nft needs
 * intervals), the commands, and the real kernel in a private network
 * namespace (needs root): a set change replaces the table, and a transaction
 * the kernel refuses leaves the previous table exactly as it was. IPv6 the
 * same way, in table ip6 xcni, next to the IPv4 one in the same transaction.
 * Node changes then change the sets by their elements (kernel_set_deltas).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <nftables/libnftables.h>

#include "../../user/agent/masq.h"

static __u32 a4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static struct xcni_prefix P(const char *s, __u8 len)
{
	struct xcni_prefix p = xcni_prefix_host(a4(s), NULL);

	p.len = len;
	return p;
}

static struct xcni_prefix P6(const char *s, __u8 len)
{
	struct xcni_prefix p = { .family = 6, .len = len };

	inet_pton(AF_INET6, s, p.addr);
	return p;
}

/* An IPv4 prefix's network, network order. */
static __u32 N(const struct xcni_prefix *p)
{
	__u32 a;

	memcpy(&a, p->addr, 4);
	return a;
}

static void normalize_drops_covered_and_duplicates(void **state)
{
	struct xcni_prefix p[] = {
		P("192.168.77.2", 32), P("10.244.2.0", 24), P("10.244.1.7", 24) /* host bits */,
		P("192.168.77.2", 32), P("10.0.0.0", 8),    P("192.168.77.1", 32),
		P("10.244.0.0", 16),
	};
	size_t n;

	(void)state;
	n = xcni_prefix_normalize(p, sizeof(p) / sizeof(p[0]));
	assert_int_equal(n, 3);
	assert_int_equal(N(&p[0]), a4("10.0.0.0"));
	assert_int_equal(p[0].len, 8);
	assert_int_equal(N(&p[1]), a4("192.168.77.1"));
	assert_int_equal(N(&p[2]), a4("192.168.77.2"));
}

static void cluster_cidrs_parse(void **state)
{
	struct masq m = {};

	(void)state;
	assert_int_equal(masq_add_cluster_cidrs(&m, "10.244.0.0/16,100.64.0.9/10"), 0);
	assert_int_equal(m.ncluster, 2);
	assert_int_equal(N(&m.cluster[1]), a4("100.64.0.0"));
	assert_int_equal(masq_add_cluster_cidrs(&m, "10.1.0.0"), -EINVAL);
	assert_int_equal(masq_add_cluster_cidrs(&m, "10.1.0.0/33"), -EINVAL);
	/* Both families in one list, as kube-controller-manager's --cluster-cidr takes them. */
	assert_int_equal(masq_add_cluster_cidrs(&m, "fd00:10:244::/56,10.245.0.0/16"), 0);
	assert_int_equal(m.ncluster, 3);
	assert_int_equal(m.ncluster6, 1);
	assert_int_equal(m.cluster6[0].len, 56);
	/* A bad one anywhere in the list: nothing of it is added. */
	assert_int_equal(masq_add_cluster_cidrs(&m, "fd00:1::/48,fd00::/129"), -EINVAL);
	assert_int_equal(masq_add_cluster_cidrs(&m, "10.9.0.0/16,fd00:::/48"), -EINVAL);
	assert_int_equal(masq_add_cluster_cidrs(&m, "fd00:1::/48,[fd00::]/48"), -EINVAL);
	assert_int_equal(m.ncluster, 3);
	assert_int_equal(m.ncluster6, 1);
}

static void normalize6_drops_covered_and_duplicates(void **state)
{
	struct xcni_prefix p[] = {
		P6("2001:db8:77::2", 128), P6("fd00:10:244:2::", 64),
		P6("fd00:10:244:1::7", 64) /* host bits */, P6("2001:db8:77::2", 128),
		P6("fd00:10:244::", 56), P6("2001:db8:77::1", 128), P6("fd00:10:245::", 64),
	};
	char a[INET6_ADDRSTRLEN];
	size_t n;

	(void)state;
	n = xcni_prefix_normalize(p, sizeof(p) / sizeof(p[0]));
	assert_int_equal(n, 4);
	assert_string_equal(inet_ntop(AF_INET6, p[0].addr, a, sizeof(a)), "2001:db8:77::1");
	assert_string_equal(inet_ntop(AF_INET6, p[1].addr, a, sizeof(a)), "2001:db8:77::2");
	assert_string_equal(inet_ntop(AF_INET6, p[2].addr, a, sizeof(a)), "fd00:10:244::");
	assert_int_equal(p[2].len, 56);
	assert_string_equal(inet_ntop(AF_INET6, p[3].addr, a, sizeof(a)), "fd00:10:245::");
}

/* The Nodes' IPv6 pod CIDRs and InternalIPs, this node's, IPv6 --cluster-cidr. */
static void exempt6_set_from_nodes(void **state)
{
	struct k8s_object n1 = { .kind = K8S_NODE }, n2 = { .kind = K8S_NODE },
			  n3 = { .kind = K8S_NODE };
	const struct k8s_object *nodes[] = { &n1, &n2, &n3 };
	struct masq m = { .pod = P("10.244.1.0", 24), .pod6 = P6("fd00:10:244:1::", 64) };
	struct cluster c = {};
	struct xcni_prefix *set;
	char a[INET6_ADDRSTRLEN];
	size_t n;

	(void)state;
	inet_pton(AF_INET6, "2001:db8:77::1", n1.node.internal_ip6);
	inet_pton(AF_INET6, "fd00:10:244:1::", n1.node.pod_cidr6);
	n1.node.pod_cidr6_len = 64;
	inet_pton(AF_INET6, "2001:db8:77::2", n2.node.internal_ip6);
	inet_pton(AF_INET6, "fd00:10:244:2::", n2.node.pod_cidr6);
	n2.node.pod_cidr6_len = 64;
	n3.node = (struct k8s_node){ .internal_ip = a4("192.168.77.3") }; /* IPv4 only */
	c.n[K8S_NODE] = 3;
	c.objs[K8S_NODE] = nodes;
	assert_int_equal(masq_exempt(&m, &c, true, &set, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(inet_ntop(AF_INET6, set[0].addr, a, sizeof(a)), "2001:db8:77::1");
	assert_int_equal(set[0].len, 128);
	assert_string_equal(inet_ntop(AF_INET6, set[2].addr, a, sizeof(a)), "fd00:10:244:1::");
	assert_string_equal(inet_ntop(AF_INET6, set[3].addr, a, sizeof(a)), "fd00:10:244:2::");
	free(set);
	assert_int_equal(masq_add_cluster_cidrs(&m, "fd00:10:244::/48"), 0);
	assert_int_equal(masq_exempt(&m, &c, true, &set, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(set[2].len, 48);
	free(set);
	/* No cluster state, no cluster CIDR: this node's pod CIDR alone. */
	m.ncluster6 = 0;
	assert_int_equal(masq_exempt(&m, NULL, true, &set, &n), 0);
	assert_int_equal(n, 1);
	free(set);
}

/* Nodes' pod CIDRs and InternalIPs, this node's own, --cluster-cidr: one sorted set. */
static void exempt_set_from_nodes(void **state)
{
	struct k8s_object n1 = { .kind = K8S_NODE }, n2 = { .kind = K8S_NODE };
	const struct k8s_object *nodes[] = { &n1, &n2 };
	struct masq m = { .pod = P("10.244.1.0", 24), .node_ip = a4("192.168.77.1") };
	struct cluster c = {};
	struct xcni_prefix *set;
	size_t n;

	(void)state;
	n1.node = (struct k8s_node){ .internal_ip = a4("192.168.77.1"),
				     .pod_cidr = a4("10.244.1.0"), .pod_cidr_len = 24 };
	n2.node = (struct k8s_node){ .internal_ip = a4("192.168.77.2"),
				     .pod_cidr = a4("10.244.2.0"), .pod_cidr_len = 24 };
	c.n[K8S_NODE] = 2;
	c.objs[K8S_NODE] = nodes;
	assert_int_equal(masq_exempt(&m, &c, false, &set, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(N(&set[0]), a4("10.244.1.0"));
	assert_int_equal(N(&set[1]), a4("10.244.2.0"));
	assert_int_equal(N(&set[2]), a4("192.168.77.1"));
	assert_int_equal(N(&set[3]), a4("192.168.77.2"));
	free(set);
	assert_int_equal(masq_add_cluster_cidrs(&m, "10.244.0.0/16"), 0);
	assert_int_equal(masq_exempt(&m, &c, false, &set, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(set[0].len, 16);
	free(set);
	/* No cluster state: this node alone. */
	m.ncluster = 0;
	assert_int_equal(masq_exempt(&m, NULL, false, &set, &n), 0);
	assert_int_equal(n, 2);
	free(set);
}

static void render_is_one_replace(void **state)
{
	struct masq m = { .pod = P("10.244.1.0", 24) };
	struct xcni_prefix set[] = { P("10.244.1.0", 24), P("192.168.77.1", 32) };
	char *cmds;

	(void)state;
	assert_int_equal(masq_render(&m, set, 2, NULL, 0, &cmds), 0);
	assert_non_null(strstr(cmds, "add table ip xcni\ndelete table ip xcni\ntable ip xcni {\n"));
	assert_non_null(strstr(cmds, "elements = { 10.244.1.0/24, 192.168.77.1 }"));
	assert_non_null(strstr(cmds, "ip saddr 10.244.1.0/24 ip daddr != @nomasq oifname != \"xc*\""));
	assert_non_null(strstr(cmds, "masquerade"));
	/* No IPv6 pod CIDR: no ip6 table, and one left by an earlier agent goes. */
	assert_non_null(strstr(cmds, "add table ip6 xcni\ndelete table ip6 xcni\n"));
	assert_null(strstr(cmds, "table ip6 xcni {"));
	free(cmds);
	/* An empty set is written without elements (nft takes no "{ }"). */
	assert_int_equal(masq_render(&m, set, 0, NULL, 0, &cmds), 0);
	assert_null(strstr(cmds, "elements"));
	free(cmds);
}

static void render6_is_one_replace(void **state)
{
	struct masq m = { .pod = P("10.244.1.0", 24), .pod6 = P6("fd00:10:244:1::", 64) };
	struct xcni_prefix set[] = { P("10.244.1.0", 24) };
	struct xcni_prefix set6[] = { P6("2001:db8:77::1", 128), P6("fd00:10:244::", 56) };
	char *cmds, *ip6;

	(void)state;
	assert_int_equal(masq_render(&m, set, 1, set6, 2, &cmds), 0);
	assert_non_null(strstr(cmds, "table ip xcni {\n"));
	ip6 = strstr(cmds, "add table ip6 xcni\ndelete table ip6 xcni\ntable ip6 xcni {\n");
	assert_non_null(ip6);
	assert_non_null(strstr(ip6, "type ipv6_addr"));
	assert_non_null(strstr(ip6, "elements = { 2001:db8:77::1, fd00:10:244::/56 }"));
	assert_non_null(strstr(ip6, "ip6 saddr fd00:10:244:1::/64 ip6 daddr != @nomasq "
				    "oifname != \"xc*\" counter masquerade"));
	free(cmds);
	/* IPv6-only: no ip table (an old one goes), the ip6 one alone. */
	m.pod = (struct xcni_prefix){ 0 };
	assert_int_equal(masq_render(&m, NULL, 0, set6, 2, &cmds), 0);
	assert_non_null(strstr(cmds, "add table ip xcni\ndelete table ip xcni\nadd table ip6"));
	assert_null(strstr(cmds, "table ip xcni {"));
	assert_non_null(strstr(cmds, "table ip6 xcni {"));
	free(cmds);
}

/* m's table of FAMILY ("ip", "ip6") as the kernel lists it, nft JSON (caller frees); NULL: none. */
static char *masq_list_json(struct masq *m, const char *family, char *err, size_t errlen)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	char cmd[96], *out = NULL;

	assert_non_null(nft);
	nft_ctx_output_set_flags(nft, NFT_CTX_OUTPUT_JSON);
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	snprintf(cmd, sizeof(cmd), "list table %s %s", family, m->table ?: MASQ_TABLE);
	if (nft_run_cmd_from_buffer(nft, cmd))
		snprintf(err, errlen, "%s", nft_ctx_get_error_buffer(nft) ?: "");
	else
		out = strdup(nft_ctx_get_output_buffer(nft) ?: "");
	nft_ctx_free(nft);
	return out;
}

/* The set's elements as listed by the kernel, "a,b,c" (prefixes as A/LEN). */
static char *kernel_set_of(struct masq *m, const char *family)
{
	char err[256], *js = masq_list_json(m, family, err, sizeof(err)), *out = NULL;
	json_t *root, *item, *e;
	size_t i, j, len = 0;
	FILE *f;

	if (!js)
		return strdup("");
	root = json_loads(js, 0, NULL);
	free(js);
	f = open_memstream(&out, &len);
	json_array_foreach(json_object_get(root, "nftables"), i, item) {
		json_t *set = json_object_get(item, "set");

		if (!set)
			continue;
		json_array_foreach(json_object_get(set, "elem"), j, e) {
			json_t *pfx = json_object_get(e, "prefix");

			if (pfx)
				fprintf(f, "%s%s/%lld", j ? "," : "",
					json_string_value(json_object_get(pfx, "addr")),
					json_integer_value(json_object_get(pfx, "len")));
			else
				fprintf(f, "%s%s", j ? "," : "", json_string_value(e));
		}
	}
	fclose(f);
	json_decref(root);
	return out;
}

static char *kernel_set(struct masq *m)
{
	return kernel_set_of(m, "ip");
}

static void kernel_replace_and_failed_transaction(void **state)
{
	struct masq m = { .on = true, .table = "xcnitest", .pod = P("10.244.1.0", 24),
			  .node_ip = a4("192.168.77.1") };
	char err[512], *got, *bad, *p;
	struct xcni_prefix set[] = { P("10.244.1.0", 24), P("192.168.77.1", 32),
				     P("192.168.77.2", 32) };

	(void)state;
	if (unshare(CLONE_NEWNET) < 0)
		fail_msg("unshare(CLONE_NEWNET): %s (needs root)", strerror(errno));
	assert_int_equal(masq_sync(&m, NULL), 0);
	got = kernel_set(&m);
	assert_string_equal(got, "10.244.1.0/24,192.168.77.1");
	free(got);

	/* A new set replaces the old one whole. */
	assert_int_equal(masq_render(&m, set, 3, NULL, 0, &bad), 0);
	assert_int_equal(masq_run(&m, bad, err, sizeof(err)), 0);
	free(bad);
	got = kernel_set(&m);
	assert_string_equal(got, "10.244.1.0/24,192.168.77.1,192.168.77.2");
	free(got);

	/* The same transaction with a rule the kernel refuses (a jump to no chain,
	 * after the delete and the new set): nothing of it may stick. */
	assert_int_equal(masq_render(&m, set, 1, NULL, 0, &bad), 0);
	p = strstr(bad, "counter masquerade");
	assert_non_null(p);
	memcpy(p, "jump nochain      ", strlen("counter masquerade"));
	assert_int_equal(masq_run(&m, bad, err, sizeof(err)), -EIO);
	assert_true(err[0] != '\0');
	free(bad);
	got = kernel_set(&m);
	assert_string_equal(got, "10.244.1.0/24,192.168.77.1,192.168.77.2");
	free(got);

	/* Synced from Nodes: a Node's new pod CIDR reaches the table; the same
	 * Nodes again are no work (the input is compared before rendering). */
	{
		struct k8s_object n1 = { .kind = K8S_NODE };
		const struct k8s_object *nodes[] = { &n1 };
		struct cluster c = {};

		n1.node = (struct k8s_node){ .internal_ip = a4("192.168.77.2"),
					     .pod_cidr = a4("10.244.2.0"), .pod_cidr_len = 24 };
		c.n[K8S_NODE] = 1;
		c.objs[K8S_NODE] = nodes;
		assert_int_equal(masq_sync(&m, &c), 0);
		got = kernel_set(&m);
		assert_string_equal(got, "10.244.1.0/24,10.244.2.0/24,192.168.77.1,192.168.77.2");
		free(got);
		n1.node.pod_cidr = a4("10.244.3.0");
		assert_int_equal(masq_sync(&m, &c), 0);
		got = kernel_set(&m);
		assert_string_equal(got, "10.244.1.0/24,10.244.3.0/24,192.168.77.1,192.168.77.2");
		free(got);
		n1.node.internal_ip = a4("192.168.77.3");
		assert_int_equal(masq_sync(&m, &c), 0);
		got = kernel_set(&m);
		assert_string_equal(got, "10.244.1.0/24,10.244.3.0/24,192.168.77.1,192.168.77.3");
		free(got);
		c.n[K8S_NODE] = 0;
		assert_int_equal(masq_sync(&m, &c), 0);
		got = kernel_set(&m);
		assert_string_equal(got, "10.244.1.0/24,192.168.77.1");
		free(got);
	}

	/* Off: the table goes, and removing it again is no error. */
	assert_int_equal(masq_remove(&m), 0);
	assert_int_equal(masq_remove(&m), 0);
	got = masq_list_json(&m, "ip", err, sizeof(err));
	assert_null(got);
	masq_free(&m);
}

/* Both families in the kernel: the ip6 table comes and goes with the IPv6 pod CIDR. */
static void kernel_ip6_table(void **state)
{
	struct masq m = { .on = true, .table = "xcnitest6", .pod = P("10.244.1.0", 24),
			  .pod6 = P6("fd00:10:244:1::", 64) };
	char err[512], *got;

	(void)state;
	/* A netns of its own: never the host's tables, whichever test runs first. */
	if (unshare(CLONE_NEWNET) < 0)
		fail_msg("unshare(CLONE_NEWNET): %s (needs root)", strerror(errno));
	assert_int_equal(masq_add_cluster_cidrs(&m, "fd00:10:244::/56"), 0);
	assert_int_equal(masq_sync(&m, NULL), 0);
	got = kernel_set_of(&m, "ip6");
	assert_string_equal(got, "fd00:10:244::/56");
	free(got);
	got = kernel_set_of(&m, "ip");
	assert_string_equal(got, "10.244.1.0/24");
	free(got);
	got = masq_list_json(&m, "ip6", err, sizeof(err));
	assert_non_null(got);
	assert_non_null(strstr(got, "\"masquerade\""));
	assert_non_null(strstr(got, "\"saddr\""));
	free(got);
	/* The IPv6 pod CIDR gone (an agent restarted without it): its table goes too. */
	m.pod6.len = 0;
	assert_int_equal(masq_sync(&m, NULL), 0);
	assert_null(masq_list_json(&m, "ip6", err, sizeof(err)));
	got = kernel_set_of(&m, "ip");
	assert_string_equal(got, "10.244.1.0/24");
	free(got);
	/* Back, then off: both go. */
	m.pod6.len = 64;
	assert_int_equal(masq_sync(&m, NULL), 0);
	assert_non_null(got = masq_list_json(&m, "ip6", err, sizeof(err)));
	free(got);
	assert_int_equal(masq_remove(&m), 0);
	assert_null(masq_list_json(&m, "ip6", err, sizeof(err)));
	assert_null(masq_list_json(&m, "ip", err, sizeof(err)));
	masq_free(&m);
}

/* The kernel's set of family fam must be want. */
static void set_is(struct masq *m, const char *fam, const char *want)
{
	char *got = kernel_set_of(m, fam);

	assert_string_equal(got, want);
	free(got);
}

/*
 * Nodes joining, leaving, readdressed: the sets change by their elements only
 * (both families), a prefix that comes to cover others replaces them in the
 * same transaction, an element someone else removed makes the delta fail and
 * the tables be replaced whole, and a new frame (pod CIDR) is replaced whole.
 */
static void kernel_set_deltas(void **state)
{
	struct masq m = { .on = true, .table = "xcnitestd", .pod = P("10.244.1.0", 24),
			  .node_ip = a4("192.168.77.1"), .pod6 = P6("fd00:10:244:1::", 64) };
	struct k8s_object n[3] = { { .kind = K8S_NODE }, { .kind = K8S_NODE },
				   { .kind = K8S_NODE } };
	const struct k8s_object *nodes[] = { &n[0], &n[1], &n[2] };
	struct cluster c = {};
	char err[512];

	(void)state;
	if (unshare(CLONE_NEWNET) < 0)
		fail_msg("unshare(CLONE_NEWNET): %s (needs root)", strerror(errno));
	n[0].node = (struct k8s_node){ .internal_ip = a4("192.168.77.2"),
				       .pod_cidr = a4("10.244.2.0"), .pod_cidr_len = 24 };
	inet_pton(AF_INET6, "2001:db8:77::2", n[0].node.internal_ip6);
	n[1].node = (struct k8s_node){ .internal_ip = a4("192.168.77.3"),
				       .pod_cidr = a4("10.244.3.0"), .pod_cidr_len = 24 };
	c.objs[K8S_NODE] = nodes;
	c.n[K8S_NODE] = 1;
	assert_int_equal(masq_sync(&m, &c), 0);
	assert_int_equal(m.nwhole, 1);
	assert_int_equal(m.nflush, 2); /* the rule goes in: both families' conntrack looked at */
	set_is(&m, "ip", "10.244.1.0/24,10.244.2.0/24,192.168.77.1,192.168.77.2");
	set_is(&m, "ip6", "2001:db8:77::2,fd00:10:244:1::/64");

	/* A Node joins, another one's address moves (both families). A set that
	 * only grew leaves no flow to flush (a conntrack dump per Node join was
	 * the cluster-life benchmark's p99); one that lost a prefix does. */
	c.n[K8S_NODE] = 2;
	assert_int_equal(masq_sync(&m, &c), 0);
	set_is(&m, "ip", "10.244.1.0/24,10.244.2.0/24,10.244.3.0/24,192.168.77.1,"
			 "192.168.77.2,192.168.77.3");
	assert_int_equal(m.nflush, 2);
	inet_pton(AF_INET6, "2001:db8:77::12", n[0].node.internal_ip6);
	n[0].node.internal_ip = a4("192.168.77.12");
	assert_int_equal(masq_sync(&m, &c), 0);
	set_is(&m, "ip", "10.244.1.0/24,10.244.2.0/24,10.244.3.0/24,192.168.77.1,"
			 "192.168.77.3,192.168.77.12");
	set_is(&m, "ip6", "2001:db8:77::12,fd00:10:244:1::/64");
	assert_int_equal(m.nwhole, 1);
	assert_int_equal(m.ndelta, 2);
	/* 192.168.77.2 and 2001:db8:77::2 left: both families' flush due, once,
	 * MASQ_FLUSH_DELAY_MS after the change, not in it. */
	assert_true(m.flush_due[0] && m.flush_due[1]);
	assert_int_equal(m.nflush, 2);
	assert_true(m.flush_at > 0);
	assert_int_equal(masq_flush_tick(&m, m.flush_at - 1), 1);
	assert_int_equal(m.nflush, 2);
	assert_int_equal(masq_flush_tick(&m, m.flush_at), -1);
	assert_int_equal(m.nflush, 4);
	assert_int_equal(masq_flush_tick(&m, UINT64_MAX), -1);
	assert_int_equal(m.nflush, 4);

	/* A cluster CIDR covering the pod CIDRs: they go, it comes, in one go
	 * (nothing left the exempt set: no flush); then it goes (a flush, IPv4). */
	assert_int_equal(masq_add_cluster_cidrs(&m, "10.244.0.0/16"), 0);
	assert_int_equal(masq_sync(&m, &c), 0);
	set_is(&m, "ip", "10.244.0.0/16,192.168.77.1,192.168.77.3,192.168.77.12");
	assert_int_equal(m.nflush, 4);
	m.ncluster = 0;
	assert_int_equal(masq_sync(&m, &c), 0);
	set_is(&m, "ip", "10.244.1.0/24,10.244.2.0/24,10.244.3.0/24,192.168.77.1,"
			 "192.168.77.3,192.168.77.12");
	assert_int_equal(m.nwhole, 1);
	assert_int_equal(m.ndelta, 4);
	assert_true(m.flush_due[0] && !m.flush_due[1]);
	assert_int_equal(masq_flush_tick(&m, UINT64_MAX), -1);
	assert_int_equal(m.nflush, 5);

	/* Someone else took an element away: the delta that deletes it fails,
	 * the tables are replaced whole and hold the right set. */
	assert_int_equal(masq_run(&m, "delete element ip xcnitestd nomasq { 10.244.3.0/24 }\n",
				  err, sizeof(err)), 0);
	c.n[K8S_NODE] = 1;
	assert_int_equal(masq_sync(&m, &c), 0);
	set_is(&m, "ip", "10.244.1.0/24,10.244.2.0/24,192.168.77.1,192.168.77.12");
	assert_int_equal(m.nwhole, 2);
	assert_int_equal(m.ndelta, 4);

	/* Another pod CIDR is another rule: whole. */
	m.pod = P("10.244.9.0", 24);
	assert_int_equal(masq_sync(&m, &c), 0);
	set_is(&m, "ip", "10.244.2.0/24,10.244.9.0/24,192.168.77.1,192.168.77.12");
	assert_int_equal(m.nwhole, 3);
	assert_int_equal(masq_remove(&m), 0);
	masq_free(&m);
}

/* A conntrack entry as the dump gives it: orig src -> dst, the reply from rsrc. */
static struct ctnl_flow flow(int fam, const char *src, const char *dst, const char *rsrc,
			     uint32_t status)
{
	struct ctnl_flow f = { .family = fam, .proto = IPPROTO_ICMP, .status = status };

	inet_pton(fam, src, f.osrc);
	inet_pton(fam, dst, f.odst);
	inet_pton(fam, rsrc, f.rsrc);
	inet_pton(fam, src, f.rdst);
	return f;
}

/*
 * Which conntrack entries masq_sync deletes once its rule is in: a pod's flow
 * without source NAT to where the rule masquerades (the reply's source: after
 * kube-proxy's DNAT), both families. Masqueraded flows, flows to exempt
 * prefixes, other sources and a family without a pod CIDR are left alone.
 */
static void ct_unmasqueraded_rows(void **state)
{
	struct masq m = { .pod = P("10.244.1.0", 24), .pod6 = P6("fd00:10:244:1::", 64) };
	struct xcni_prefix set[] = { P("10.96.0.0", 12), P("10.244.0.0", 16), P("172.18.0.2", 32) };
	struct xcni_prefix set6[] = { P6("fd00:10:244::", 48), P6("fd00:10:245::", 64) };
	const uint32_t null_binding = IPS_SRC_NAT_DONE | IPS_DST_NAT_DONE | IPS_CONFIRMED;
	const struct {
		const char *name;
		struct ctnl_flow f;
		bool want;
	} rows[] = {
		{ "v4 pod -> outside, no NAT (made before the rule)",
		  flow(AF_INET, "10.244.1.5", "8.8.8.8", "8.8.8.8", IPS_CONFIRMED), true },
		{ "v4 pod -> outside, a null binding (an earlier nat table, no rule matched)",
		  flow(AF_INET, "10.244.1.5", "8.8.8.8", "8.8.8.8", null_binding), true },
		{ "v4 pod -> outside, masqueraded",
		  flow(AF_INET, "10.244.1.5", "8.8.8.8", "8.8.8.8", null_binding | IPS_SRC_NAT), false },
		{ "v4 pod -> ClusterIP DNATed to a pod (exempt)",
		  flow(AF_INET, "10.244.1.5", "10.96.0.10", "10.244.2.7", IPS_DST_NAT), false },
		{ "v4 pod -> ClusterIP DNATed outside the cluster",
		  flow(AF_INET, "10.244.1.5", "10.96.0.10", "192.0.2.7", IPS_DST_NAT), true },
		{ "v4 pod -> a node address (exempt)",
		  flow(AF_INET, "10.244.1.5", "172.18.0.2", "172.18.0.2", IPS_CONFIRMED), false },
		{ "v4 pod -> another node's pod (exempt)",
		  flow(AF_INET, "10.244.1.5", "10.244.3.4", "10.244.3.4", IPS_CONFIRMED), false },
		{ "v4 another node's pod -> outside (not this node's to masquerade)",
		  flow(AF_INET, "10.244.2.5", "8.8.8.8", "8.8.8.8", IPS_CONFIRMED), false },
		{ "v4 the node -> outside",
		  flow(AF_INET, "172.18.0.2", "8.8.8.8", "8.8.8.8", IPS_CONFIRMED), false },
		{ "v6 pod -> outside, no NAT",
		  flow(AF_INET6, "fd00:10:244:1::5", "2001:db8:77::9", "2001:db8:77::9",
		       IPS_CONFIRMED), true },
		{ "v6 pod -> outside, masqueraded",
		  flow(AF_INET6, "fd00:10:244:1::5", "2001:db8:77::9", "2001:db8:77::9",
		       null_binding | IPS_SRC_NAT), false },
		{ "v6 pod -> a cluster CIDR (exempt)",
		  flow(AF_INET6, "fd00:10:244:1::5", "fd00:10:245::9", "fd00:10:245::9",
		       IPS_CONFIRMED), false },
		{ "v6 pod -> the address just past an exempt prefix",
		  flow(AF_INET6, "fd00:10:244:1::5", "fd00:10:246::", "fd00:10:246::",
		       IPS_CONFIRMED), true },
		{ "v6 another prefix's source",
		  flow(AF_INET6, "fd00:10:244:2::5", "2001:db8:77::9", "2001:db8:77::9",
		       IPS_CONFIRMED), false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (masq_ct_unmasqueraded(&m, set, 3, set6, 2, &rows[i].f) != rows[i].want)
			fail_msg("%s: %s, wanted %s", rows[i].name, rows[i].want ? "kept" : "deleted",
				 rows[i].want ? "deleted" : "kept");
	/* A family without a pod CIDR masquerades nothing: nothing of it is deleted. */
	m.pod6.len = 0;
	assert_false(masq_ct_unmasqueraded(&m, set, 3, set6, 2, &rows[9].f));
	m.pod.len = 0;
	assert_false(masq_ct_unmasqueraded(&m, set, 3, set6, 2, &rows[0].f));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(normalize_drops_covered_and_duplicates),
		cmocka_unit_test(cluster_cidrs_parse),
		cmocka_unit_test(exempt_set_from_nodes),
		cmocka_unit_test(render_is_one_replace),
		cmocka_unit_test(normalize6_drops_covered_and_duplicates),
		cmocka_unit_test(exempt6_set_from_nodes),
		cmocka_unit_test(render6_is_one_replace),
		cmocka_unit_test(kernel_replace_and_failed_transaction),
		cmocka_unit_test(kernel_ip6_table),
		cmocka_unit_test(kernel_set_deltas),
		cmocka_unit_test(ct_unmasqueraded_rows),
	};

	return cmocka_run_group_tests_name("masquerade", tests, NULL, NULL);
}
