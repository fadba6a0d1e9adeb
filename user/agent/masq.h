/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xcnid's masquerade: pod traffic to addresses outside the cluster leaves
 * with the node's address. A netfilter job (the replies need the kernel's
 * NAT conntrack to be turned back), programmed through libnftables as one
 * table, "table ip xcni", replaced whole in one transaction.
 */
#ifndef XCNID_MASQ_H
#define XCNID_MASQ_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/store.h"

#define MASQ_TABLE "xcni"
#define MASQ_SET "nomasq"
#define MASQ_CHAIN "postrouting"
#define MASQ_MAX_CLUSTER 32

struct nft_ctx;

/* An IPv4 prefix, the network in network byte order. */
struct masq_prefix {
	__u32 net;
	__u8 len;
};

struct masq {
	bool on;
	const char *table; /* MASQ_TABLE unless a test says otherwise */
	struct masq_prefix pod; /* this node's pod CIDR: the traffic masqueraded */
	__u32 node_ip; /* network order, 0 if none: exempt too */
	struct masq_prefix cluster[MASQ_MAX_CLUSTER]; /* --cluster-cidr */
	size_t ncluster;
	char *applied; /* the commands last applied, so an unchanged set is not reapplied */
	/* What applied was built from (the Nodes' prefixes and addresses, the options):
	 * an unchanged input is not even rendered again, once per generation at 1000
	 * Nodes was a quarter of the agent's CPU under pod churn. */
	uint64_t applied_in;
	struct nft_ctx *nft;
};

/* Adds "CIDR[,CIDR...]" to m->cluster: 0 or -EINVAL / -E2BIG. */
int masq_add_cluster_cidrs(struct masq *m, const char *list);
/*
 * Sorts p, drops prefixes another one covers (nft refuses overlapping
 * intervals) and duplicates; masks host bits off. Returns the new count.
 */
size_t masq_normalize(struct masq_prefix *p, size_t n);
/* The exempt set for m and the cluster's Nodes (c may be NULL), normalized. */
int masq_exempt(const struct masq *m, const struct cluster *c, struct masq_prefix **out,
		size_t *n);
/* The nft commands that replace the table with one exempting set[0..n). */
int masq_render(const struct masq *m, const struct masq_prefix *set, size_t n, char **out);
/*
 * Runs cmds as one nft transaction: 0, or -errno with the nft's own message
 * in err (the kernel then kept what it had).
 */
int masq_run(struct masq *m, const char *cmds, char *err, size_t errlen);
/* Replaces the table for c if its set changed; logs. 0 or -errno. */
int masq_sync(struct masq *m, const struct cluster *c);
/* Deletes the table if there is one (masquerade turned off). */
int masq_remove(struct masq *m);
/* The table as nft JSON (caller frees), or NULL with err set. */
char *masq_list_json(struct masq *m, char *err, size_t errlen);
void masq_free(struct masq *m);

#endif
