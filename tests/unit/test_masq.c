// SPDX-License-Identifier: Apache-2.0
/*
 * xcnid's masquerade table: the exempt set (normalized the way nft needs
 * intervals), the commands, and the real kernel in a private network
 * namespace (needs root): a set change replaces the table, and a transaction
 * the kernel refuses leaves the previous table exactly as it was.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../user/agent/masq.h"

static __u32 a4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static struct masq_prefix P(const char *s, __u8 len)
{
	return (struct masq_prefix){ a4(s), len };
}

static void normalize_drops_covered_and_duplicates(void **state)
{
	struct masq_prefix p[] = {
		P("192.168.77.2", 32), P("10.244.2.0", 24), P("10.244.1.7", 24) /* host bits */,
		P("192.168.77.2", 32), P("10.0.0.0", 8),    P("192.168.77.1", 32),
		P("10.244.0.0", 16),
	};
	size_t n;

	(void)state;
	n = masq_normalize(p, sizeof(p) / sizeof(p[0]));
	assert_int_equal(n, 3);
	assert_int_equal(p[0].net, a4("10.0.0.0"));
	assert_int_equal(p[0].len, 8);
	assert_int_equal(p[1].net, a4("192.168.77.1"));
	assert_int_equal(p[2].net, a4("192.168.77.2"));
}

static void cluster_cidrs_parse(void **state)
{
	struct masq m = {};

	(void)state;
	assert_int_equal(masq_add_cluster_cidrs(&m, "10.244.0.0/16,100.64.0.9/10"), 0);
	assert_int_equal(m.ncluster, 2);
	assert_int_equal(m.cluster[1].net, a4("100.64.0.0"));
	assert_int_equal(masq_add_cluster_cidrs(&m, "10.1.0.0"), -EINVAL);
	assert_int_equal(masq_add_cluster_cidrs(&m, "10.1.0.0/33"), -EINVAL);
}

/* Nodes' pod CIDRs and InternalIPs, this node's own, --cluster-cidr: one sorted set. */
static void exempt_set_from_nodes(void **state)
{
	struct k8s_object n1 = { .kind = K8S_NODE }, n2 = { .kind = K8S_NODE };
	const struct k8s_object *nodes[] = { &n1, &n2 };
	struct masq m = { .pod = P("10.244.1.0", 24), .node_ip = a4("192.168.77.1") };
	struct cluster c = {};
	struct masq_prefix *set;
	size_t n;

	(void)state;
	n1.node = (struct k8s_node){ .internal_ip = a4("192.168.77.1"),
				     .pod_cidr = a4("10.244.1.0"), .pod_cidr_len = 24 };
	n2.node = (struct k8s_node){ .internal_ip = a4("192.168.77.2"),
				     .pod_cidr = a4("10.244.2.0"), .pod_cidr_len = 24 };
	c.n[K8S_NODE] = 2;
	c.objs[K8S_NODE] = nodes;
	assert_int_equal(masq_exempt(&m, &c, &set, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(set[0].net, a4("10.244.1.0"));
	assert_int_equal(set[1].net, a4("10.244.2.0"));
	assert_int_equal(set[2].net, a4("192.168.77.1"));
	assert_int_equal(set[3].net, a4("192.168.77.2"));
	free(set);
	assert_int_equal(masq_add_cluster_cidrs(&m, "10.244.0.0/16"), 0);
	assert_int_equal(masq_exempt(&m, &c, &set, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(set[0].len, 16);
	free(set);
	/* No cluster state: this node alone. */
	m.ncluster = 0;
	assert_int_equal(masq_exempt(&m, NULL, &set, &n), 0);
	assert_int_equal(n, 2);
	free(set);
}

static void render_is_one_replace(void **state)
{
	struct masq m = { .pod = P("10.244.1.0", 24) };
	struct masq_prefix set[] = { P("10.244.1.0", 24), P("192.168.77.1", 32) };
	char *cmds;

	(void)state;
	assert_int_equal(masq_render(&m, set, 2, &cmds), 0);
	assert_non_null(strstr(cmds, "add table ip xcni\ndelete table ip xcni\ntable ip xcni {\n"));
	assert_non_null(strstr(cmds, "elements = { 10.244.1.0/24, 192.168.77.1 }"));
	assert_non_null(strstr(cmds, "ip saddr 10.244.1.0/24 ip daddr != @nomasq oifname != \"xc*\""));
	assert_non_null(strstr(cmds, "masquerade"));
	free(cmds);
	/* An empty set is written without elements (nft takes no "{ }"). */
	assert_int_equal(masq_render(&m, set, 0, &cmds), 0);
	assert_null(strstr(cmds, "elements"));
	free(cmds);
}

/* The set's elements as listed by the kernel, "a,b,c" (prefixes as A/LEN). */
static char *kernel_set(struct masq *m)
{
	char err[256], *js = masq_list_json(m, err, sizeof(err)), *out = NULL;
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

static void kernel_replace_and_failed_transaction(void **state)
{
	struct masq m = { .on = true, .table = "xcnitest", .pod = P("10.244.1.0", 24),
			  .node_ip = a4("192.168.77.1") };
	char err[512], *got, *bad, *p;
	struct masq_prefix set[] = { P("10.244.1.0", 24), P("192.168.77.1", 32),
				     P("192.168.77.2", 32) };

	(void)state;
	if (unshare(CLONE_NEWNET) < 0)
		fail_msg("unshare(CLONE_NEWNET): %s (needs root)", strerror(errno));
	assert_int_equal(masq_sync(&m, NULL), 0);
	got = kernel_set(&m);
	assert_string_equal(got, "10.244.1.0/24,192.168.77.1");
	free(got);

	/* A new set replaces the old one whole. */
	assert_int_equal(masq_render(&m, set, 3, &bad), 0);
	assert_int_equal(masq_run(&m, bad, err, sizeof(err)), 0);
	free(bad);
	got = kernel_set(&m);
	assert_string_equal(got, "10.244.1.0/24,192.168.77.1,192.168.77.2");
	free(got);

	/* The same transaction with a rule the kernel refuses (a jump to no chain,
	 * after the delete and the new set): nothing of it may stick. */
	assert_int_equal(masq_render(&m, set, 1, &bad), 0);
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
	got = masq_list_json(&m, err, sizeof(err));
	assert_null(got);
	masq_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(normalize_drops_covered_and_duplicates),
		cmocka_unit_test(cluster_cidrs_parse),
		cmocka_unit_test(exempt_set_from_nodes),
		cmocka_unit_test(render_is_one_replace),
		cmocka_unit_test(kernel_replace_and_failed_transaction),
	};

	return cmocka_run_group_tests_name("masquerade", tests, NULL, NULL);
}
