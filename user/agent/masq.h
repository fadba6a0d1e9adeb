/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xcnid's masquerade: pod traffic to addresses outside the cluster leaves
 * with the node's address. A netfilter job (the replies need the kernel's
 * NAT conntrack to be turned back), programmed through libnftables as one
 * table per family, "table ip xcni" and "table ip6 xcni", both replaced whole
 * in one transaction.
 */
#ifndef XCNID_MASQ_H
#define XCNID_MASQ_H

#include <linux/types.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/system/cidr.h"
#include "lib/system/ctnl.h"
#include "lib/cluster/store.h"

#define MASQ_TABLE "xcni"
#define MASQ_SET "nomasq"
#define MASQ_CHAIN "postrouting"
#define MASQ_MAX_CLUSTER 32

struct nft_ctx;

struct masq {
	bool on;
	const char *table; /* MASQ_TABLE unless a test says otherwise */
	struct xcni_prefix pod; /* this node's pod CIDR: the traffic masqueraded; len 0: none */
	__u32 node_ip; /* network order, 0 if none: exempt too */
	struct xcni_prefix cluster[MASQ_MAX_CLUSTER]; /* --cluster-cidr, IPv4 */
	size_t ncluster;
	/* IPv6: the table ip6 exists only with a pod CIDR (len 0: none, and a table an
	 * earlier agent left is deleted in the same transaction). */
	struct xcni_prefix pod6;
	struct in6_addr node_ip6; /* :: if none */
	struct xcni_prefix cluster6[MASQ_MAX_CLUSTER]; /* --cluster-cidr, IPv6 */
	size_t ncluster6;
	bool applied; /* the tables are as the fields below say */
	/* What applied was built from (the Nodes' prefixes and addresses, the options):
	 * an unchanged input is not even rendered again, once per generation at 1000
	 * Nodes was a quarter of the agent's CPU under pod churn. */
	uint64_t applied_in;
	/* The exempt sets the kernel holds (normalized) and the tables' frame (name,
	 * pod CIDRs): while the frame stays, a change writes only the elements that
	 * differ. Replacing both tables whole for one Node joining cost ~4 ms at
	 * 1000 Nodes (2000 elements parsed by nft and inserted by the kernel). */
	struct xcni_prefix *aset;
	size_t naset;
	struct xcni_prefix *aset6;
	size_t naset6;
	unsigned long nflush; /* conntrack flushes run (a family each), for tests */
	/* A delta that took a prefix out of a family's exempt set: that family's
	 * flush is due at flush_at (CLOCK_MONOTONIC ms; 0: none due). */
	bool flush_due[2];
	uint64_t flush_at;
	uint64_t aframe;
	size_t nwhole, ndelta; /* tables replaced whole, sets changed by their elements */
	struct nft_ctx *nft;
};

/*
 * Adds "CIDR[,CIDR...]" to m->cluster (IPv4) and m->cluster6 (IPv6): 0 or
 * -EINVAL / -E2BIG (more than MASQ_MAX_CLUSTER of a family); nothing added then.
 */
int masq_add_cluster_cidrs(struct masq *m, const char *list);
/*
 * Node changes that take prefixes out of the exempt sets leave flows that went
 * out unmasqueraded to them (masq.c, masq_ct_flush). Deleting those walks the
 * whole conntrack table (every bucket, ~8-16 ms on a 262,144-bucket host,
 * however few entries are this node's), so it is not done in the change's own
 * sync but once within this many ms of the first such change, for all of them:
 * under Node churn the agent's other work does not queue behind a walk per
 * change. The first tables (and a replacement) flush at once.
 */
#define MASQ_FLUSH_DELAY_MS 5000
/*
 * Runs a due flush (now: CLOCK_MONOTONIC ms). Returns the ms until one is due,
 * or -1 when none is.
 */
int masq_flush_tick(struct masq *m, uint64_t now);
/*
 * The exempt set of a family (v6) for m and the cluster's Nodes (c may be
 * NULL): their pod CIDRs and InternalIPs, m's own, normalized (nft refuses
 * overlapping intervals: xcni_prefix_normalize).
 */
int masq_exempt(const struct masq *m, const struct cluster *c, bool v6, struct xcni_prefix **out,
		size_t *n);
/*
 * The nft commands that replace both tables: table ip exempting set[0..n)
 * (none when m->pod.len is 0), table ip6 exempting set6[0..n6) (none when
 * m->pod6.len is 0). A family without a table has its old one deleted.
 */
int masq_render(const struct masq *m, const struct xcni_prefix *set, size_t n,
		const struct xcni_prefix *set6, size_t n6, char **out);
/*
 * Runs cmds as one nft transaction: 0, or -errno with the nft's own message
 * in err (the kernel then kept what it had).
 */
int masq_run(struct masq *m, const char *cmds, char *err, size_t errlen);
/*
 * Brings the tables to c's exempt sets if they changed: the changed elements
 * only, in one transaction, when the tables are ours and their frame is the
 * same; else (or when that fails) both tables replaced whole. Logs. 0 or -errno.
 */
int masq_sync(struct masq *m, const struct cluster *c);
/*
 * A conntrack entry the rule would have masqueraded but did not (made before
 * it, or while its destination was exempt): from m's pod CIDR of its family,
 * without source NAT, to a destination (after any DNAT) outside the exempt
 * set (set/set6, normalized). masq_sync deletes those once the tables are in.
 */
bool masq_ct_unmasqueraded(const struct masq *m, const struct xcni_prefix *set, size_t n,
			   const struct xcni_prefix *set6, size_t n6, const struct ctnl_flow *f);
/* Deletes both tables if there are (masquerade turned off). */
int masq_remove(struct masq *m);
void masq_free(struct masq *m);

#endif
