// SPDX-License-Identifier: Apache-2.0
/*
 * The agent following the cluster: the store fed by its source (the
 * manifest directory or the API server), and on each change, after the
 * --sync-delay window, policy, Services, the external frontends and
 * masquerading's exceptions compiled and written into the maps, each
 * generation reported.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "xcni_shared.h"
#include "from_pod.skel.h"
#include "lib/system/bpfpin.h"
#include "lib/system/cidr.h"
#include "lib/observe/flows.h"
#include "lib/cluster/k8sapi.h"
#include "lib/system/killpoint.h"
#include "lib/system/log.h"
#include "lib/policy/policy.h"
#include "lib/policy/polsync.h"
#include "lib/policy/prefilter.h"
#include "lib/policy/fqdn_plan.h"
#include "lib/services/svc.h"
#include "lib/services/extfe.h"
#include "lib/services/svcsync.h"
#include "lib/cluster/store.h"
#include "to_pod.skel.h"
#include "agent/flows.h"
#include "agent/masq.h"
#include "agent/grow.h"
#include "agent/hooks.h"
#include "lib/system/http.h"
#include "agent/metrics.h"
#include "agent/ui.h"
#include "agent/overlay.h"
#include "agent/polstatus.h"
#include "agent/pins.h"
#include "agent/probe.h"
#include "agent/socklb.h"
#include "agent/status.h"
#include "agent/xcnid_opts.h"
#include "lib/system/clock.h"
#include "agent/sync.h"
#include "lib/system/util.h"

/*
 * New policy is in the maps: one more policy revision, so that flows judged
 * before are judged again on their next packet (bpf/lib/conntrack.h). The map is
 * pinned: the count goes on across restarts and never comes round to a
 * revision entries were judged under (2^32 changes aside).
 */
static int bump_policy_rev(struct from_pod *fp)
{
	__u32 k = 0, rev = 0;

	if (bpf_map__lookup_elem(fp->maps.xcni_polrev, &k, sizeof(k), &rev, sizeof(rev), 0))
		return -errno;
	rev++;
	return bpf_map__update_elem(fp->maps.xcni_polrev, &k, sizeof(k), &rev, sizeof(rev), 0) ?
	       -errno : 0;
}

/* IPv6 addresses a pod being deleted yielded (pol_v6.nyielded), as of the
 * last time the IPv6 maps were built: counted in xcni_config beside the IPv4 ones. */
static size_t v6_yielded;

/* Records in the node config how far the maps follow the cluster state. */
static void report_gen(const struct opts *o, struct from_pod *fp, __u64 gen,
		       const struct pol_result *r, size_t nover, size_t names_missing,
		       const char *error)
{
	struct xcni_config cfg;
	__u32 k = 0;
	/* `xcnictl config set` changes this value too: one read-modify-write at a time. */
	int lock = xcni_config_lock(o->pin_dir);

	if (lock < 0)
		pr_warn("locking %s for the config: %s\n", o->pin_dir, strerror(-lock));
	if (bpf_map__lookup_elem(fp->maps.xcni_config, &k, sizeof(k), &cfg, sizeof(cfg), 0))
		goto out;
	if (error) {
		cfg.failed_gen = gen;
		snprintf(cfg.error, sizeof(cfg.error), "%s", error);
	} else {
		cfg.applied_gen = gen;
		cfg.error[0] = '\0';
	}
	/* A node with both underlay families: the MTU follows the tunnels in use. */
	if (o->ov->underlay)
		cfg.pod_mtu = overlay_pod_mtu(o->ov);
	if (r) {
		cfg.nr_identities = (__u32)r->nidentities;
		cfg.nr_policies = (__u32)r->npolicies;
		cfg.nr_endpoints_policy = (__u32)r->neps;
		cfg.nr_endpoints_overflow = (__u32)nover;
		cfg.nr_addr_contested = r->ncontested > 0xffff ? 0xffff : (__u16)r->ncontested;
		cfg.nr_addr_yielded = r->nyielded + v6_yielded > 0xffff ?
					      0xffff :
					      (__u16)(r->nyielded + v6_yielded);
		if (!error)
			cfg.nr_names_missing = names_missing > 0xffff ? 0xffff : (__u16)names_missing;
	}
	bpf_map__update_elem(fp->maps.xcni_config, &k, sizeof(k), &cfg, sizeof(cfg), 0);
out:
	xcni_close(&lock);
}

/* The cluster watch's state: the store, the compilers and writers, what is due. */
struct watch {
	const struct opts *o;
	struct from_pod *fp;
	struct agent_status *sts;
	struct store *st;
	struct cs_backend *b;
	struct pol_incr *pi;
	struct polsync *ps;
	struct svcsync *ss;
	struct svc_incr *si;
	__u64 version;    /* the store's, at the last sync */
	bool synced;      /* the last sync applied */
	bool masq_due;    /* a Node may have changed: masquerading's exceptions to compare */
	bool v6_due;      /* IPv6 addresses to compile */
	bool retry;       /* a sync left something to retry */
	__u64 gen;        /* the sync token the maps are said to hold (gen_of) */
	__u64 due;        /* a sync is pending: CLOCK_MONOTONIC ms when it runs; 0: none */
	unsigned backoff; /* ms before a failed sync is tried again; 0: the last one worked */
};

/*
 * One generation: what its steps (gen_steps[]) share. The store's journal
 * is taken once, for policy and Services; what the compiler made (r, d) and
 * the writers counted (pst) is reported at its end.
 */
struct generation {
	struct watch *w;
	const struct opts *o;
	__u64 gen;
	struct cluster c;
	struct store_change *ch; /* the journal's changes since the last generation */
	size_t nch;
	bool all; /* ... or everything */
	const struct pol_result *r;
	const struct pol_delta *d;
	struct polsync_stats pst;
	struct pol_v6 v6; /* the IPv6 addresses, when w->v6_due */
	struct svc_incr *si; /* NULL: the Services keep their own state (gen_drop) */
	double t0, t1; /* when it started, when the compile ended (ms) */
	char msg[256]; /* why a step failed, when it says more than errno */
};

/*
 * from_overlay's xcni_self6 (bpf/lib/nodeport.h): this node's IPv6
 * InternalIP (a6, or all 0), the SNAT source of IPv6 externalIPs and
 * load-balancer IPs with a backend on another node. No such map pinned (no
 * overlay, or Services not in BPF): nothing to do. 0 or -errno.
 */
static int write_self6(const struct opts *o, const uint8_t a6[16])
{
	__u32 k = 0;
	int fd, err = 0;

	fd = xcni_pin_get(o->pin_dir, "xcni_self6");
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	if (bpf_map_update_elem(fd, &k, a6, BPF_ANY))
		err = -errno;
	close(fd);
	return err;
}

/*
 * One more generation for the XDP NodePort flow cache (xcni_npgen,
 * bpf/lib/nodeport_cache.h): every entry made before this generation's maps
 * (policy, nodes, Services, backends) is refused from the next packet on.
 * No map (no XDP program loaded): nothing to do.
 */
static int bump_npgen(const struct opts *o)
{
	int fd = xcni_pin_get(o->pin_dir, "xcni_npgen"), err;

	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	err = xcni_npgen_bump(fd);
	close(fd);
	return err;
}

/* What struct svc_node points into, for one generation. */
struct svc_node_bufs {
	uint32_t addrs[2];
	uint8_t addr6[1][16];
	uint32_t *peers;
	uint8_t (*peers6)[16];
	const char **pnames; /* the peers' Node names: IPv4's, then IPv6's from [n + 1] */
	struct svc_prefix *reserved; /* where no externalIP may point */
	struct svc_ext_rules ext;
};

static void svc_node_free(struct svc_node_bufs *b)
{
	free(b->peers);
	free(b->peers6);
	free(b->pnames);
	free(b->reserved);
}

/* Range addr/len (network order) of family into b's reserved ones. */
static void reserve(struct svc_node_bufs *b, uint8_t what, uint8_t family, const void *addr,
		    uint8_t len)
{
	struct svc_prefix *p = &b->reserved[b->ext.nreserved++];

	*p = (struct svc_prefix){ { family == XCNI_AF_INET6 ? 6 : 4, len, {} }, what };
	memcpy(p->p.addr, addr, family == XCNI_AF_INET6 ? 16 : 4);
}

/*
 * The externalIP rules (svc_ext_rules) into b: reserved, the Service ranges
 * (--service-cidr), this node's pod ranges (--pod-cidr, --pod-cidr6) and
 * every Node's podCIDRs; allowed, --external-ip-cidrs. 0 or -ENOMEM.
 */
static int ext_rules_build(const struct opts *o, const struct cluster *c,
			   struct svc_node_bufs *b)
{
	size_t n = c->n[K8S_NODE];

	b->ext = (struct svc_ext_rules){ .nallow = o->next_allow, .allow = o->ext_allow };
	if (!(b->reserved = calloc(4 + 2 * n, sizeof(*b->reserved))))
		return -ENOMEM;
	b->ext.reserved = b->reserved;
	for (size_t i = 0; i < 4; i++) {
		const struct xcni_prefix *p = i < 2 ? &o->svc[i] : i == 2 ? &o->mq->pod : &o->mq->pod6;

		if (p->len)
			b->reserved[b->ext.nreserved++] =
				(struct svc_prefix){ *p, i < 2 ? SVC_PFX_SERVICE : SVC_PFX_POD };
	}
	for (size_t i = 0; i < n; i++) {
		const struct k8s_node *nd = &c->objs[K8S_NODE][i]->node;

		if (nd->pod_cidr_len)
			reserve(b, SVC_PFX_POD, XCNI_AF_INET, &nd->pod_cidr, nd->pod_cidr_len);
		if (nd->pod_cidr6_len)
			reserve(b, SVC_PFX_POD, XCNI_AF_INET6, nd->pod_cidr6, nd->pod_cidr6_len);
	}
	return 0;
}

/*
 * The Service builder's view of the nodes (*sn, pointing into *b): this
 * node's NodePort addresses — its InternalIP (its Node object) and the
 * underlay address, where traffic from outside arrives, and its IPv6
 * InternalIP — and every other Node's, named, for this node's pods reaching
 * their NodePorts (under externalTrafficPolicy Local a peer's NodePort holds
 * that node's endpoints only). Also writes xcni_self6. 0 or -ENOMEM.
 */
static int svc_node_build(const struct opts *o, const struct cluster *c, __u64 gen,
			  struct svc_node *sn, struct svc_node_bufs *b)
{
	static const uint8_t none6[16];
	const struct k8s_object *node = NULL;
	size_t n = c->n[K8S_NODE];
	int err;

	*sn = (struct svc_node){ .name = o->node_name, .np_min = o->np_min, .np_max = o->np_max };
	for (size_t i = 0; i < n && o->node_name; i++)
		if (!strcmp(c->objs[K8S_NODE][i]->meta.name, o->node_name))
			node = c->objs[K8S_NODE][i];
	if (node && node->node.internal_ip)
		b->addrs[sn->naddrs++] = node->node.internal_ip;
	if (o->ov->underlay && o->ov->node_ip && (!sn->naddrs || b->addrs[0] != o->ov->node_ip))
		b->addrs[sn->naddrs++] = o->ov->node_ip;
	sn->addrs = b->addrs;
	b->peers = calloc(n + 1, sizeof(*b->peers));
	b->peers6 = calloc(n + 1, sizeof(*b->peers6));
	b->pnames = calloc(2 * (n + 1), sizeof(*b->pnames));
	if (!b->peers || !b->peers6 || !b->pnames)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		uint32_t a = c->objs[K8S_NODE][i]->node.internal_ip;

		if (a && c->objs[K8S_NODE][i] != node && !(sn->naddrs && a == b->addrs[0]) &&
		    !(sn->naddrs > 1 && a == b->addrs[1])) {
			b->pnames[sn->npeers] = c->objs[K8S_NODE][i]->meta.name;
			b->peers[sn->npeers++] = a;
		}
	}
	sn->peers = b->peers;
	sn->peer_names = b->pnames;
	if (node && memcmp(node->node.internal_ip6, none6, 16)) {
		memcpy(b->addr6[0], node->node.internal_ip6, 16);
		sn->naddrs6 = 1;
	}
	/* Said, not fatal: without it only IPv6 external frontends to another
	 * node's backend drop (drop-no-tunnel); the Services are still written. */
	err = write_self6(o, sn->naddrs6 ? b->addr6[0] : none6);
	if (err)
		pr_warn("generation %llu: writing xcni_self6 (this node's IPv6 address): %s\n",
			(unsigned long long)gen, strerror(-err));
	sn->addrs6 = (const uint8_t(*)[16])b->addr6;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *a = c->objs[K8S_NODE][i]->node.internal_ip6;

		if (memcmp(a, none6, 16) && c->objs[K8S_NODE][i] != node &&
		    !(sn->naddrs6 && !memcmp(a, b->addr6[0], 16))) {
			b->pnames[n + 1 + sn->npeers6] = c->objs[K8S_NODE][i]->meta.name;
			memcpy(b->peers6[sn->npeers6++], a, 16);
		}
	}
	sn->peers6 = (const uint8_t(*)[16])b->peers6;
	sn->peer_names6 = b->pnames + n + 1;
	if ((err = ext_rules_build(o, c, b)))
		return err;
	sn->ext = &b->ext;
	return 0;
}

/* The refused externalIPs' words, for the status answer (the first STATUS_SVC_REFUSED_MAX). */
struct refused_list {
	size_t n;
	char *msg[STATUS_SVC_REFUSED_MAX];
};

static void refused_add(void *ctx, const char *msg)
{
	struct refused_list *r = ctx;

	if (r->n < STATUS_SVC_REFUSED_MAX)
		r->msg[r->n++] = strdup(msg);
}

/* A Service refused whole for a size bound, to the status answer and the metrics. */
static void bounded_add(void *ctx, const char *ns, const char *reason, const char *msg)
{
	(void)ctx;
	status_svc_bounded_add(ns, reason, msg);
}

/*
 * What the Services' last update refused (svc_incr_refusals), to the status
 * answer and the metrics: the Services refused whole for a size bound, and
 * the externalIPs, said in one line when their count changes (each one is
 * said by the generation that refused it).
 */
static void report_refused(const struct svc_incr *si, __u64 gen)
{
	static size_t last = SIZE_MAX;
	struct refused_list r = {};
	size_t n;

	status_svc_bounded_clear();
	n = svc_incr_refusals(si, refused_add, bounded_add, &r);
	status_set_svc_refused(n, (const char *const *)r.msg, r.n);
	for (size_t i = 0; i < r.n; i++)
		free(r.msg[i]);
	if (n == last)
		return;
	if (n)
		pr_warn("generation %llu: %zu externalIP or load-balancer IP frontend(s) refused "
			"(xcnictl status, "
			"xcnictl service list name them)\n", (unsigned long long)gen, n);
	else if (last != SIZE_MAX)
		pr_info("generation %llu: no externalIP or load-balancer IP refused any more\n",
			(unsigned long long)gen);
	last = n;
}

/*
 * "Said once per change of the set": a set's size and a fingerprint of its
 * members, against the last ones said. fp_add/fp_str build the fingerprint;
 * set_changed answers whether to say it again, and remembers it.
 */
struct said_set {
	size_t n;
	uint64_t fp;
};

static uint64_t fp_add(uint64_t fp, uint64_t v)
{
	return fp * 31 + v;
}

static uint64_t fp_str(uint64_t fp, const char *s)
{
	for (; *s; s++)
		fp = fp * 131 + (unsigned char)*s;
	return fp;
}

static bool set_changed(struct said_set *last, size_t n, uint64_t fp)
{
	if (n == last->n && fp == last->fp)
		return false;
	last->n = n;
	last->fp = fp;
	return true;
}

/*
 * The namespaces closed for Service room (svcsync_closed): said once per
 * change of the set; `xcnictl status` and the metrics show them meanwhile.
 * While one is closed, a generation in which a Service, an EndpointSlice or
 * a Node changed compares the whole list (svc_closed_recheck), so room freed
 * is seen and a closed namespace's change is judged, never written as a delta;
 * a generation without one costs nothing more.
 */
static bool svc_some_closed;

static void svc_closed_recheck(struct svc_incr *si, const struct store_change *ch, size_t nch)
{
	bool svc = false;

	for (size_t i = 0; i < nch && svc_some_closed && !svc; i++)
		svc = ch[i].kind == K8S_SERVICE || ch[i].kind == K8S_ENDPOINTSLICE ||
		      ch[i].kind == K8S_NODE;
	if (svc)
		svc_incr_invalidate(si);
}

static void report_svc_closed(struct svcsync *ss, __u64 gen)
{
	static struct said_set said;
	size_t n;
	const struct svcsync_closed *cl = svcsync_closed(ss, &n);
	uint64_t fp = 0;
	char buf[160];
	bool say;

	svc_some_closed = n;
	for (size_t i = 0; i < n; i++)
		fp = fp_str(fp_add(fp, cl[i].frontends), cl[i].ns);
	if ((say = set_changed(&said, n, fp)) && !n)
		pr_info("generation %llu: the Service maps hold every namespace's frontends again\n",
			(unsigned long long)gen);
	for (size_t i = 0, need = 0; i < n; i++, need = 0) {
		/* Asked at every generation, said once, for every namespace closed
		 * in the map (their sum: one growth holds them all). Over its own
		 * share: growing would only raise the share it is over. */
		for (size_t j = 0; j < n; j++)
			need += !cl[j].share && !strcmp(cl[j].map, cl[i].map) ? cl[j].need : 0;
		const char *fix = cl[i].share ? NULL : grow_ask(cl[i].map, need, buf, sizeof(buf));

		if (say)
			pr_err("generation %llu: namespace %s closed for Service room: %s%s%s (%zu entries); "
			       "%zu of its new or changed frontends are not programmed (traffic to them "
			       "finds no Service); its running ones and every other namespace's Services "
			       "applied; %s\n",
			       (unsigned long long)gen, cl[i].ns,
			       cl[i].share ? "over its namespace's share (--service-ns-share) of " : "",
			       cl[i].map, cl[i].share ? "" : " is full and it brings the most", cl[i].need,
			       cl[i].frontends, fix ?: cl[i].fix);
	}
}

/* The Services' frontends of the changes ch (all: of every Service) built into *d. */
static int svc_update(struct generation *g, const struct store_change *ch, size_t nch, bool all,
		      const struct svc_delta **d)
{
	struct svc_node_bufs b = {};
	struct svc_node sn;
	int err = svc_node_build(g->o, &g->c, g->gen, &sn, &b);

	if (!err)
		err = svc_incr_update(g->si, &g->c, &sn, g->o->lb_flags, ch, nch, all, false, d);
	svc_node_free(&b);
	return err;
}

/*
 * Services and EndpointSlices -> the Service maps (svcsync's versioned
 * discipline: a Service's change is whole or not at all). Only the Services
 * whose objects changed (ch, from the store's journal) are built again and
 * only their frontends compared and written; all: everything. 0, or -errno
 * with msg saying why (nothing written then; the next generation builds and
 * compares everything again).
 */
static int sync_services(struct generation *g)
{
	struct svc_incr *si = g->si;
	struct svcsync *ss = g->w->ss;
	char *msg = g->msg;
	size_t msglen = sizeof(g->msg);
	__u64 gen = g->gen;
	struct svcsync_stats st = {};
	const struct svc_delta *d;
	double t0 = xcni_mono_msf(), t1;
	int err;

	msg[0] = '\0';
	svc_closed_recheck(si, g->ch, g->nch);
	err = svc_update(g, g->ch, g->nch, g->all, &d);
	if (err) {
		snprintf(msg, msglen, "building the Service frontends: %s", strerror(-err));
		return err;
	}
	t1 = xcni_mono_msf();
	for (size_t i = 0; i < d->nerrs; i++)
		pr_warn("generation %llu: %s\n", (unsigned long long)gen, d->errs[i]);
	if (d->full || d->nrebuilt)
		report_refused(si, gen);
	if (d->full)
		err = svcsync_apply(ss, d->put, d->nput, &st, msg, msglen);
	else if (d->nput || d->ndel)
		err = svcsync_apply_delta(ss, d->put, d->nput, d->del, d->ndel, &st, msg, msglen);
	if (err == -ENOSPC && !d->full) {
		/* Room is judged per namespace over every frontend: the whole list, now. */
		svc_incr_invalidate(si);
		err = svc_update(g, NULL, 0, true, &d);
		if (!err)
			err = svcsync_apply(ss, d->put, d->nput, &st, msg, msglen);
	}
	if (!err)
		report_svc_closed(ss, gen);
	if (err) {
		if (!msg[0])
			snprintf(msg, msglen, "writing the Service maps: %s", strerror(-err));
		/* The maps did not take it: compared whole next time. */
		svc_incr_invalidate(si);
		return err;
	}
	svcsync_cleanup(ss, &st);
	/* Closed beside entries this cleanup deleted: judged again soon, the whole list. */
	if (svc_some_closed && (st.slots_deleted || st.backends_deleted || st.svcs_removed ||
				st.svcs_changed)) {
		svc_incr_invalidate(si);
		g->w->retry = true;
	}
	if (st.svcs_changed || st.svcs_removed)
		pr_info("generation %llu: %zu frontends, %zu written, %zu removed; backends %zu "
			"written, %zu deleted; slots %zu written, %zu deleted; %zu Maglev tables; "
			"%zu UDP conntrack entries of removed backends flushed; %zu services built "
			"(%s) in %.2f ms, maps %.2f ms\n",
			(unsigned long long)gen, d->nput, st.svcs_changed, st.svcs_removed,
			st.backends_written, st.backends_deleted, st.slots_written,
			st.slots_deleted, st.maglev_written, st.ct_flushed, d->nrebuilt,
			d->full ? "all" : "changed", t1 - t0, xcni_mono_msf() - t1);
	return 0;
}

/*
 * Beside kube-proxy (no --kube-proxy-replacement): xcni_extfe holds every
 * Service frontend (extfe.h), which from_plain refuses as a source from
 * outside. Built from the Services and compared whole with the map, only
 * in a generation where a Service may have changed. Not fatal: policy is
 * applied already; a failure is said and tried again (*retry). A full map
 * takes what fits, said once per change of the count, and is tried again
 * at the next generation.
 */
static int extfe_fd = -1;
static size_t extfe_max;
static size_t extfe_last_full;
static bool extfe_due = true; /* a Service may have changed since the map was written */

/* Read from the journal as soon as it is taken: a generation that stops early loses it. */
static void extfe_note(const struct store_change *ch, size_t nch, bool all)
{
	extfe_due |= all;
	/* A Node's addresses and podCIDRs decide which externalIPs may be there. */
	for (size_t i = 0; i < nch && !extfe_due; i++)
		extfe_due = ch[i].kind == K8S_SERVICE || ch[i].kind == K8S_NODE;
}

static void sync_extfe(struct generation *g)
{
	const struct opts *o = g->o;
	const struct cluster *c = &g->c;
	__u64 gen = g->gen;
	struct extfe_rec *want = NULL;
	struct extfe_stats st = {};
	struct svc_node_bufs b = {};
	struct svc_node sn;
	size_t n = 0;
	int err;

	if (extfe_fd < 0 || !extfe_due)
		return;
	/* Only what the cluster allocated and the externalIPs --external-ip-cidrs vouches for. */
	err = svc_node_build(o, c, gen, &sn, &b);
	if (!err)
		err = extfe_build(c, sn.ext, &sn, &want, &n);
	svc_node_free(&b);
	if (!err)
		err = extfe_sync(extfe_fd, extfe_max, want, n, &st);
	free(want);
	extfe_due = !!err;
	if (err) {
		pr_warn("generation %llu: writing xcni_extfe (the Service frontends refused as "
			"sources from outside): %s; tried again\n",
			(unsigned long long)gen, strerror(-err));
		g->w->retry = true;
		return;
	}
	if (st.full != extfe_last_full) {
		if (st.full)
			pr_warn("generation %llu: xcni_extfe is full: %zu of %zu Service frontends, "
				"of the namespaces bringing the most, not refused as sources from "
				"outside (the Service range still is)\n",
				(unsigned long long)gen, st.full, n);
		else
			pr_info("generation %llu: xcni_extfe holds every Service frontend again\n",
				(unsigned long long)gen);
		extfe_last_full = st.full;
	}
	if (st.written || st.deleted)
		pr_info("generation %llu: %zu Service frontends refused as sources from outside "
			"(%zu written, %zu deleted)\n",
			(unsigned long long)gen, n - st.full, st.written, st.deleted);
}

/*
 * domainNames peers: the patterns of this node's pods and the DNS Service's
 * sources (lib/policy/fqdn_plan.h), written after the policy of the same
 * generation. The maps are to_pod's (lib/dns.h); opened on first use. An
 * endpoint not attached yet is left for a later generation (its pod's
 * CNI ADD comes with a pod update that runs this again).
 */
static struct {
	int pat, srv, ep4, ep6;
	size_t max_pat, max_srv;
	bool opened, empty; /* empty: the maps hold nothing of ours (as far as we know) */
	bool warned; /* domainNames without --fqdn-policy, said */
} fq = { -1, -1, -1, -1, 0, 0, false, false, false };

static int fqdn_ep_of_pod(void *arg, const struct k8s_pod *pod, uint32_t *ep_id)
{
	struct xcni_endpoint ep;

	(void)arg;
	if (pod->ip && fq.ep4 >= 0 && !bpf_map_lookup_elem(fq.ep4, &pod->ip, &ep)) {
		*ep_id = ep.ep_id;
		return 0;
	}
	if (pod->has_ip6 && fq.ep6 >= 0 && !bpf_map_lookup_elem(fq.ep6, pod->ip6, &ep)) {
		*ep_id = ep.ep_id;
		return 0;
	}
	return -ENOENT;
}

/* The namespaces closed for DNS-pattern room: said once per change of the set. */
static void report_fqdn_closed(const struct fqdn_plan *p, const struct fqdn_sync_stats *st,
			       __u64 gen)
{
	static struct said_set said;
	const char **ns = calloc(p->npat + 1, sizeof(*ns));
	size_t *pairs = calloc(p->npat + 1, sizeof(*pairs)), n = 0, j, left = 0;
	uint64_t fp = 0;
	char fix[160];

	if (!ns || !pairs)
		goto out;
	for (size_t i = 0; i < p->npat; i++) {
		if (p->kept[i])
			continue;
		for (j = 0; j < n && strcmp(ns[j], p->pat[i].ns); j++)
			;
		ns[j] = p->pat[i].ns;
		n += j == n;
		pairs[j]++;
	}
	for (size_t i = 0; i < n; i++)
		fp = fp_str(fp_add(fp, pairs[i]), ns[i]), left += pairs[i];
	/* Every generation: the pairs left out, all namespaces' (grown a look later). */
	if (left)
		grow_ask("xcni_fqdn_pat", left, fix, sizeof(fix));
	status_set_fqdn_closed(ns, pairs, n);
	if (set_changed(&said, n + st->srv_closed, fp_add(fp, st->srv_closed))) {
		if (!n && !st->srv_closed)
			pr_info("generation %llu: xcni_fqdn_pat and xcni_dns_srv hold every "
				"namespace's domainNames patterns again\n", (unsigned long long)gen);
		for (size_t i = 0; i < n; i++)
			pr_err("generation %llu: namespace %s closed for DNS-pattern room: "
			       "xcni_fqdn_pat (%zu) is full and it brings the most (%zu (pod, "
			       "pattern) pairs); its pods get no pattern, their names are refused; "
			       "every other namespace's written; %s\n",
			       (unsigned long long)gen, ns[i], fq.max_pat, pairs[i], fix);
		if (st->srv_closed)
			pr_err("generation %llu: %zu DNS servers do not fit xcni_dns_srv (%zu): "
			       "their answers are not read; raise --map-max=xcni_dns_srv=N\n",
			       (unsigned long long)gen, st->srv_closed, fq.max_srv);
	}
out:
	free(ns);
	free(pairs);
}

static int step_fqdn(struct generation *g)
{
	const struct opts *o = g->o;
	__u64 gen = g->gen;
	struct fqdn_sync_stats st;
	struct fqdn_plan p;
	char msg[256] = "";
	int err;

	if (!fq.opened) {
		fq.opened = true;
		fq.pat = xcni_map_open_pinned(o->pin_dir, "xcni_fqdn_pat", &fq.max_pat);
		fq.srv = xcni_map_open_pinned(o->pin_dir, "xcni_dns_srv", &fq.max_srv);
		fq.ep4 = xcni_map_open_pinned(o->pin_dir, "xcni_endpoints", NULL);
		fq.ep6 = xcni_map_open_pinned(o->pin_dir, "xcni_endpoints6", NULL);
	}
	if (fq.pat < 0 || fq.srv < 0)
		return 0; /* programs without the maps: no policy names a domain here */
	err = fqdn_plan_build(&g->c, g->r, o->node_name, fqdn_ep_of_pod, NULL, &p);
	/* Patterns without --fqdn-policy: nothing is learned, so an Accept by name
	 * allows nothing and a Deny by name denies nothing. Said once. */
	if (!err && p.npat && !o->fqdn && !fq.warned) {
		fq.warned = true;
		pr_warn("a ClusterNetworkPolicy names domains (domainNames) but xcnid runs "
			"without --fqdn-policy: no answer is read, their rules match nothing\n");
	}
	/* No policy names a domain and none did: nothing to read back. */
	if (!err && !p.npat && !p.nsrv && fq.empty) {
		fqdn_plan_free(&p);
		return 0;
	}
	if (!err)
		err = fqdn_sync(fq.pat, fq.max_pat, fq.srv, fq.max_srv, &p, &st, msg, sizeof(msg));
	fq.empty = !err && !p.npat && !p.nsrv;
	if (!err)
		report_fqdn_closed(&p, &st, gen);
	fqdn_plan_free(&p);
	if (err) {
		pr_warn("generation %llu: domainNames patterns: %s; tried again\n",
			(unsigned long long)gen, msg[0] ? msg : strerror(-err));
		g->w->retry = true;
		return 0;
	}
	if (st.written || st.deleted)
		pr_info("generation %llu: domainNames: %zu entries written, %zu deleted "
			"(xcni_fqdn_pat, xcni_dns_srv)\n",
			(unsigned long long)gen, st.written, st.deleted);
	return 0;
}

/* What the policy maps' growth asked at the last apply ("; growing MAP to N ..." each). */
static char pol_grow[512];

/*
 * The pods whose policy did not fit (closed: XCNI_POLEP_OVERFLOW), named in
 * the log; `xcnictl policy` and the metrics read them from the maps. Said
 * when the set changes, not at every generation. Every map of the writer
 * that wants more (pods closed for room, names left out) is asked to grow.
 */
static void report_overflows(struct polsync *ps, __u64 gen)
{
	static struct said_set said;
	size_t n, more, at = 0;
	const struct polsync_over *ov = polsync_overflows(ps, &n);
	uint64_t fp = 0;
	char ip[INET_ADDRSTRLEN], one[160];
	const char *map;

	pol_grow[0] = '\0';
	for (size_t i = 0; (map = polsync_short(ps, i, &more)) && at < sizeof(pol_grow); i++)
		if (more && grow_ask(map, more, one, sizeof(one)))
			at += (size_t)snprintf(pol_grow + at, sizeof(pol_grow) - at, "; %s", one);
	for (size_t i = 0; i < n; i++)
		fp = fp_add(fp, ov[i].ip);
	if (!set_changed(&said, n, fp))
		return;
	if (!n) {
		pr_info("generation %llu: every pod's policy fits the maps again\n",
			(unsigned long long)gen);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct k8s_pod *p = ov[i].pod;

		inet_ntop(AF_INET, &ov[i].ip, ip, sizeof(ip));
		pr_err("generation %llu: pod %s/%s (%s) closed (drop-policy-overflow): its policy "
		       "takes %zu xcni_policy, %zu xcni_polrange and %zu xcni_polcidr entries, %s%s\n",
		       (unsigned long long)gen, p && p->meta.ns ? p->meta.ns : "?",
		       p && p->meta.name ? p->meta.name : "?", ip,
		       ov[i].need[POLSYNC_MAP_POLICY], ov[i].need[POLSYNC_MAP_POLRANGE],
		       ov[i].need[POLSYNC_MAP_POLCIDR],
		       ov[i].ipcache ? "and its namespace has more pod addresses than xcni_ipcache "
				       "has room for" :
		       ov[i].share   ? "more than its namespace's share (--policy-ns-share)" :
				       "more than the maps have left", ov[i].share ? "" : pol_grow);
	}
}

/*
 * The namespaces closed for want of ipcache room (polsync_ipcache_closed),
 * once per change of the set.
 */
static void report_ipc_closed(struct polsync *ps, __u64 gen)
{
	static struct said_set said[2];

	for (int f = 0; f < 2; f++) {
		const char *map = f ? "xcni_ipcache6" : "xcni_ipcache";
		size_t n, addrs, len = 0;
		const char *const *ns = polsync_ipcache_closed(ps, f ? 6 : 4, &n, &addrs);
		char list[512] = "", fix[160];

		if (n)
			grow_ask(map, addrs, fix, sizeof(fix));
		if (!set_changed(&said[f], n, addrs))
			continue;
		if (!n) {
			pr_info("generation %llu: %s holds every pod's address again\n",
				(unsigned long long)gen, map);
			continue;
		}
		for (size_t i = 0; i < n && len < sizeof(list); i++)
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
						i ? ", " : "", ns[i]);
		pr_err("generation %llu: %s cannot hold every pod's address: namespace(s) %s "
		       "closed (the most addresses first; %zu addresses left out: other nodes "
		       "refuse their packets, their pods here are closed); every other "
		       "namespace's policy applied; %s\n",
		       (unsigned long long)gen, map, list, addrs, fix);
	}
}


/*
 * Addresses two live pods claim (pol_contest): each pod named, once per
 * change of the set, not at every generation; the metric and `xcnictl
 * endpoint list` show them meanwhile.
 */
static void report_contested(const struct pol_result *r, __u64 gen)
{
	static struct said_set said;
	uint64_t fp = 0;
	char ip[INET_ADDRSTRLEN];

	for (size_t i = 0; i < r->ncontested; i++)
		fp = fp_str(fp_add(fp, (uint64_t)r->contested[i].ip + r->contested[i].owner),
			    r->contested[i].name.name);
	if (!set_changed(&said, r->ncontested, fp))
		return;
	if (!r->ncontested)
		pr_info("generation %llu: no address is claimed by two pods any more\n",
			(unsigned long long)gen);
	for (size_t i = 0; i < r->ncontested; i++) {
		const struct pol_contest *c = &r->contested[i];

		inet_ntop(AF_INET, &c->ip, ip, sizeof(ip));
		pr_err("generation %llu: address %s claimed by pod %s/%s (%s, node %s)%s\n",
		       (unsigned long long)gen, ip, c->name.ns, c->name.name,
		       k8s_pod_phase_name(c->phase)[0] ? k8s_pod_phase_name(c->phase) : "no phase",
		       c->name.node[0] ? c->name.node : "none",
		       c->owner ? ": its owner, closed (drop-addr-contested) until the others are gone" :
				  ": not its owner, holds nothing");
	}
}

/*
 * Addresses a pod being deleted yielded to a live pod of its node
 * (pol_yield): said once per change of the set, as the contested ones, so
 * that an operator who saw a Terminating pod and a new one share an address
 * knows why it is not closed.
 */
static void report_yielded(const struct pol_result *r, __u64 gen)
{
	static struct said_set said;
	uint64_t fp = 0;
	char ip[INET_ADDRSTRLEN];

	for (size_t i = 0; i < r->nyielded; i++)
		fp = fp_str(fp_str(fp_add(fp, r->yielded[i].ip), r->yielded[i].from.name),
			    r->yielded[i].to.name);
	if (!set_changed(&said, r->nyielded, fp))
		return;
	for (size_t i = 0; i < r->nyielded; i++) {
		const struct pol_yield *y = &r->yielded[i];

		inet_ntop(AF_INET, &y->ip, ip, sizeof(ip));
		pr_info("generation %llu: address %s: pod %s/%s (being deleted, node %s) yielded "
			"it to pod %s/%s of its node: not contested\n",
			(unsigned long long)gen, ip, y->from.ns, y->from.name, y->from.node,
			y->to.ns, y->to.name);
	}
}

static size_t last_names_missing; /* said once per change */

/*
 * Lets go of what a generation that stops short took: its journal changes
 * freed, the Services left to be compared whole next time (they will not see
 * these changes again).
 */
static void gen_drop(struct generation *g)
{
	store_changes_free(g->ch, g->nch);
	g->ch = NULL;
	g->nch = 0;
	if (g->si)
		svc_incr_invalidate(g->si);
}

/* A generation not applied: dropped, said (g->msg, else WHAT: the error) and reported. */
static int gen_stop(struct generation *g, int err, const char *what)
{
	if (!g->msg[0])
		snprintf(g->msg, sizeof(g->msg), "%s: %s", what, strerror(-err));
	gen_drop(g);
	pr_err("generation %llu not applied: %s\n", (unsigned long long)g->gen, g->msg);
	report_gen(g->o, g->w->fp, g->gen, g->r, 0, 0, g->msg);
	return err;
}

/* The compiler's view of this node: its name, gateway, underlay address and identity key. */
static void node_pol_opts(const struct opts *o, struct store *st, struct pol_opts *po)
{
	const struct k8s_object *node = store_get(st, K8S_NODE, NULL, o->node_name);

	*po = (struct pol_opts){ .node_name = o->node_name, .gateway_ip = o->gateway };
	memcpy(po->id_key, o->id_key, sizeof(po->id_key));
	if (node)
		po->node_ip = node->node.internal_ip;
	if (o->ov->underlay) {
		/* An IPv6 underlay has no IPv4 node address: the Node's stays. */
		if (o->ov->node_ip)
			po->node_ip = o->ov->node_ip;
		po->underlay6 = o->ov->underlay6;
		po->same_fam = o->ov->same_fam;
	}
}

/*
 * Cluster state -> identities and policy. The compile follows what changed
 * since the previous generation (the store's journal, taken here once for
 * every step); the maps get only its delta, unless the writer lost track of
 * them (start, failure), when it diffs them whole.
 */
static int step_compile(struct generation *g)
{
	struct watch *w = g->w;
	struct k8s_error kerr = { "" };
	struct pol_opts po;
	int err;

	node_pol_opts(g->o, w->st, &po);
	store_view(w->st, &g->c);
	store_journal_take(w->st, &g->ch, &g->nch, &g->all);
	extfe_note(g->ch, g->nch, g->all);
	/* A Node may have changed: the masquerade set reads them (watch_sync). */
	w->masq_due |= g->all;
	for (size_t i = 0; i < g->nch; i++)
		w->masq_due |= g->ch[i].kind == K8S_NODE;
	err = pol_incr_update(w->pi, &g->c, &po, g->ch, g->nch, g->all, polsync_needs_full(w->ps),
			      &g->r, &g->d, &kerr);
	if (err) {
		snprintf(g->msg, sizeof(g->msg), "%s", kerr.msg[0] ? kerr.msg : strerror(-err));
		return err;
	}
	g->t1 = xcni_mono_msf();
	/* Set by the compiler's delta, cleared once the IPv6 maps are written (step_apply6). */
	w->v6_due |= g->d->v6_changed;
	return 0;
}

/*
 * IPv6 addresses compiled (into g->v6) and planned before the IPv4 apply:
 * which namespaces xcni_ipcache6 cannot hold closes their pods in the IPv4
 * apply too (polsync_plan6).
 */
static int step_plan_v6(struct generation *g)
{
	static size_t last_v6_contested;
	struct pol_v6 *v6 = &g->v6;
	int err;

	if (!g->w->v6_due)
		return 0;
	err = pol_v6_build(g->w->pi, &g->c, v6);
	if (err) {
		snprintf(g->msg, sizeof(g->msg), "compiling the IPv6 addresses: %s", strerror(-err));
		return err;
	}
	if (v6->nyielded != v6_yielded)
		pr_info("%zu IPv6 address(es) a pod being deleted yielded to a live pod of its "
			"node: not contested\n", v6->nyielded);
	v6_yielded = v6->nyielded;
	/* Once per change: the addresses are in the ipcache6 as unmanaged. */
	if (v6->ncontested != last_v6_contested) {
		if (v6->ncontested)
			pr_warn("%zu IPv6 address(es) claimed by two live pods: closed "
				"(xcnictl ipcache shows reserved:unmanaged)\n", v6->ncontested);
		else
			pr_info("no IPv6 address is claimed by two live pods any more\n");
		last_v6_contested = v6->ncontested;
	}
	err = polsync_plan6(g->w->ps, v6, g->msg, sizeof(g->msg));
	if (err && !g->msg[0])
		snprintf(g->msg, sizeof(g->msg), "IPv6 addresses: %s", strerror(-err));
	return err;
}

/*
 * The policy maps written; what did not fit said. *retry: some pod was
 * closed only for room that the cleanup of this generation frees: sync
 * again soon.
 */
static int step_apply(struct generation *g)
{
	struct watch *w = g->w;
	int err = polsync_apply(w->ps, g->r, g->d, &g->pst, g->msg, sizeof(g->msg));

	if (err)
		return err;
	report_overflows(w->ps, g->gen);
	report_ipc_closed(w->ps, g->gen);
	report_contested(g->r, g->gen);
	report_yielded(g->r, g->gen);
	if (g->pst.retry)
		w->retry = true;
	return 0;
}

/*
 * IPv6 addresses: identities (ipcache6) and this node's policy keys (polkey6).
 * Only when their input may have changed: built from every Node (their
 * IPv6 InternalIPs) and the IPv6 pods, and compared whole, on each pod
 * event it was ~4% of the agent's CPU at 1000 Nodes with no IPv6 pod.
 */
static int step_apply6(struct generation *g)
{
	static size_t last_waiting; /* said once per change */
	size_t waiting;
	int err;

	if (!g->w->v6_due)
		return 0;
	err = polsync_apply6(g->w->ps, &g->v6, &g->pst);
	waiting = err ? last_waiting : g->pst.polkey6_waiting;
	if (waiting != last_waiting && !waiting)
		pr_info("generation %llu: every IPv6 pod has its key in xcni_polkey6\n",
			(unsigned long long)g->gen);
	else if (waiting != last_waiting)
		pr_warn("generation %llu: %zu IPv6 pod(s) wait for room in xcni_polkey6 (pending: "
			"their traffic dropped): each namespace has its part, %s is over it, "
			"every other namespace's pods have theirs; --map-max "
			"xcni_polkey6=%zu gives it\n",
			(unsigned long long)g->gen, waiting,
			g->pst.polkey6_ns ? g->pst.polkey6_ns : "?", g->v6.nkeys);
	last_waiting = waiting;
	pol_v6_free(&g->v6);
	/* Pods waiting for room: every generation tries again (one may leave). */
	if (!err && !waiting)
		g->w->v6_due = false;
	return err;
}

/* The tunnels, their counters and xcni0's routes for the Nodes (overlay.c says its failures). */
static int step_nodes(struct generation *g)
{
	if (g->o->ov->underlay)
		overlay_sync_nodes(g->o->ov, &g->c, g->o->node_name);
	return 0;
}

/* The maps written: flows judged before are judged again; what the new entries replaced goes. */
static int step_revision(struct generation *g)
{
	int err;

	xcni_killpoint("applied"); /* maps written, revision not bumped */
	err = bump_policy_rev(g->w->fp);
	if (err)
		pr_err("policy revision not counted (flows open before keep their old "
		       "verdict): %s\n", strerror(-err));
	/* A failed delete stays queued: the next sync, soon, deletes it first. */
	if (polsync_cleanup(g->w->ps, &g->pst))
		g->w->retry = true;
	return 0;
}

/*
 * After policy: a new backend's flows are judged by the policy of this
 * generation. Services in BPF (sync_services), or beside kube-proxy the
 * frontends refused as sources (sync_extfe: said and retried, never fatal).
 */
static int step_services(struct generation *g)
{
	int err;

	if (!g->o->kpr) {
		sync_extfe(g);
		return 0;
	}
	err = sync_services(g);
	if (err)
		g->si = NULL; /* sync_services keeps its own state */
	return err;
}

/* The generation applied: in the node config, and its line in the log (how long, how much). */
static int step_report(struct generation *g)
{
	const struct polsync_stats *ss = &g->pst;
	const struct pol_delta *d = g->d;
	const struct pol_result *r = g->r;

	report_gen(g->o, g->w->fp, g->gen, r, ss->eps_overflow, ss->names_missing, NULL);
	if (ss->names_missing != last_names_missing)
		pr_warn("generation %llu: %zu names for people (identities, policies, pods) do not fit "
			"the maps of names: shown as numbers; policy is applied all the same%s\n",
			(unsigned long long)g->gen, ss->names_missing, pol_grow);
	last_names_missing = ss->names_missing;
	pr_info("generation %llu applied in %.2f ms (compile %.2f ms, %s%s%s%s, %zu pods compiled, %zu given new identities): "
		"%zu pods rewritten (%zu in place), %zu entries written, %zu deleted, %zu other map changes; "
		"%zu identities, %zu policies\n",
		(unsigned long long)g->gen, xcni_mono_msf() - g->t0, g->t1 - g->t0,
		d->full ? "whole" : "delta", d->why ? " [" : "", d->why ?: "", d->why ? "]" : "",
		d->neps_compiled, d->neps_born, ss->eps_changed, ss->eps_in_place,
		ss->entries_written, ss->entries_deleted, ss->other_changed, r->nidentities,
		r->npolicies);
	return 0;
}

/*
 * A generation's steps, in order: the first that fails stops it, said
 * with its name (gen_stop) and recorded in the node config; those after it
 * wait for the next generation.
 */
static const struct gen_step {
	const char *name;
	int (*run)(struct generation *g);
} gen_steps[] = {
	{ "compiling policy", step_compile },
	{ "IPv6 addresses", step_plan_v6 },
	{ "writing the policy maps", step_apply },
	{ "writing the IPv6 maps (ipcache6, polkey6)", step_apply6 },
	{ "overlay nodes", step_nodes },
	{ "policy revision", step_revision },
	{ "domainNames", step_fqdn },
	{ "Services", step_services },
	{ "report", step_report },
};

/*
 * The sync token a generation says the maps hold: the backend's, unless
 * changes written before it still wait for their namespace's churn bound
 * (store_churn_set): then the last one said, until they are in.
 */
static __u64 gen_of(struct watch *w)
{
	if (!store_churn_waits(w->st))
		w->gen = w->b->sync_gen;
	return w->gen;
}

/* One generation of the cluster state in w's store into the maps: 0 or -errno (said). */
static int generation_run(struct watch *w)
{
	struct generation g = { .w = w, .o = w->o, .gen = gen_of(w), .si = w->si,
				.t0 = xcni_mono_msf() };
	int err = 0;

	for (size_t i = 0; i < ARRAY_SIZE(gen_steps) && !err; i++) {
		g.msg[0] = '\0';
		err = gen_steps[i].run(&g);
		if (err)
			gen_stop(&g, err, gen_steps[i].name);
	}
	/* Whatever of it was written: the flow cache's entries are of before. */
	int nerr = bump_npgen(g.o);

	if (nerr)
		pr_err("xcni_npgen: %s (the XDP flow cache keeps entries up to a second)\n",
		       strerror(-nerr));
	pol_v6_free(&g.v6);
	store_changes_free(g.ch, g.nch);
	return err;
}

/*
 * The masquerade table for the Nodes in the store: apart from policy, so a
 * policy that fails to compile does not hold back a new node's exemption.
 */
static int sync_masq(const struct opts *o, struct store *st)
{
	struct cluster c;

	if (!o->mq->on)
		return 0;
	store_view(st, &c);
	return masq_sync(o->mq, &c);
}

/* The map writers (policy; Services in BPF, or beside kube-proxy the frontends refused as
 * sources), the identities the maps hold seeding the compiler. */
static int open_writers(const struct opts *o, struct pol_incr *pi, struct polsync **ps,
			struct svcsync **ss, struct svc_incr **si)
{
	int err;

	err = polsync_open(o->pin_dir, ps);
	if (err)
		return pr_err_ret(err, "opening the policy maps under %s: %s\n", o->pin_dir,
				  strerror(-err));
	polsync_set_ns_share(*ps, o->ns_share);
	/* A restarted agent gives every label set the number the maps give it. */
	{
		struct pol_idprev *prev = NULL;
		size_t nprev = 0;

		err = polsync_identities(*ps, &prev, &nprev);
		if (!err)
			err = pol_incr_seed(pi, prev, nprev);
		free(prev);
		if (err)
			return err;
		if (nprev)
			pr_info("%zu identities found in the maps: their label sets keep them\n",
				nprev);
	}
	/* Reads what the maps hold: a restart keeps every translation until the state is read. */
	if (o->kpr && (err = svcsync_open(o->pin_dir, ss)))
		return pr_err_ret(err, "opening the Service maps under %s: %s\n", o->pin_dir,
				  strerror(-err));
	if (o->kpr)
		svcsync_set_ns_share(*ss, o->svc_ns_share);
	if (o->kpr && !(*si = svc_incr_new()))
		return -ENOMEM;
	/* Beside kube-proxy: the frontends refused as sources (sync_extfe). */
	if (!o->kpr && (err = extfe_fd = xcni_map_open_pinned(o->pin_dir, "xcni_extfe", &extfe_max)) < 0)
		return pr_err_ret(err,
				  "opening xcni_extfe under %s: %s\n", o->pin_dir, strerror(-err));
	return 0;
}

/* Where cluster state comes from: the manifest directory, or the API server. */
static int open_backend(const struct opts *o, struct store *st, struct cs_backend **b)
{
	int err;

	if (o->manifests) {
		err = manifest_dir_open_flags(o->manifests, st, o->kpr ? MANIFEST_LB : MANIFEST_SVC, b);
		if (err)
			return pr_err_ret(err,
					  "cluster state: cannot read manifest directory %s: %s\n",
					  o->manifests, strerror(-err));
	} else {
		/* kubeconfig NULL: in-cluster. Fails only on configuration, logged. */
		err = k8s_api_open_flags(o->kubeconfig, st, o->kpr ? K8S_API_LB : K8S_API_SVC, b);
		if (err)
			return err;
		polstatus_events(o->kubeconfig); /* not fatal: said */
	}
	return 0;
}

/*
 * How long the loop may sleep (timeout: the hooks' and the masquerade's
 * next tick, -1 none): until a pending sync is due (*due, CLOCK_MONOTONIC ms),
 * a failed one retried (0.5 s doubling to 10 s), or pods closed for room
 * judged again (*retry).
 */
static int sync_timeout(const struct opts *o, bool synced, bool *retry, __u64 *due,
			unsigned *backoff, int timeout)
{
	if (!synced && !*due) {
		/* A failed generation (a map write that failed: the maps hold
		 * a consistent one, polsync.c) is tried again by itself, not
		 * only at the next change: 0.5 s, doubling to 10 s. */
		*backoff = !*backoff ? 500 : *backoff >= 5000 ? 10000 : *backoff * 2;
		*due = xcni_mono_ms() + *backoff;
	} else if (synced) {
		*backoff = 0;
	}
	if (*retry && !*due) {
		/* Pods closed for room the last cleanup freed: judge them again. */
		*retry = false;
		*due = xcni_mono_ms() + o->sync_delay_ms;
	}
	if (*due) {
		__u64 now = xcni_mono_ms();
		int t = *due > now ? (int)(*due - now) : 0;

		timeout = timeout < 0 || t < timeout ? t : timeout;
	}
	return timeout;
}


/* One sync of everything: policy, Services, masquerading where a Node may have changed. */
static void watch_sync(struct watch *w)
{
	/* The batch's first change came when its window opened (watch_changed):
	 * when this agent first knew a version it compiles now. */
	int64_t now = xcni_wall_ns() / 1000000, since = (int64_t)xcni_mono_ms();
	int64_t t0 = w->due && w->due > w->o->sync_delay_ms ?
			     now - (since - (int64_t)(w->due - w->o->sync_delay_ms)) : now;

	w->due = 0;
	w->version = store_version(w->st);
	w->synced = generation_run(w) == 0;
	status_policy(w->sts, pol_incr_resets(w->pi), pol_incr_reset_why(w->pi));
	status_synced(w->sts, w->synced, w->gen);
	polstatus_synced(w->st, w->ps, w->gen, w->synced, t0);
	/* Only when a Node may have changed: digesting every Node's prefixes to
	 * find the set unchanged cost ~5% of the agent's CPU in pod churn at 1000
	 * Nodes. A failed write is retried. */
	if (w->masq_due && !sync_masq(w->o, w->st))
		w->masq_due = false;
}

/*
 * After an event of the cluster source (or a due sync): a change is not
 * compiled the moment it arrives: the first one opens a window of
 * --sync-delay ms, and everything that comes in it is compiled and written in
 * one sync (its own deltas merged). Under churn that is fewer syncs for the
 * same writes; a lone change waits the window once.
 */
static void watch_changed(struct watch *w)
{
	if (store_version(w->st) != w->version || !w->synced || w->due) {
		__u64 now = xcni_mono_ms();

		if (!w->due)
			w->due = now + w->o->sync_delay_ms;
		if (now >= w->due)
			watch_sync(w);
	} else if (w->gen != w->b->sync_gen && gen_of(w) == w->b->sync_gen) {
		/* A new token and no object change: the maps already hold it. */
		report_gen(w->o, w->fp, w->b->sync_gen, NULL, 0, 0, NULL);
		if (w->synced)
			status_synced(w->sts, true, w->b->sync_gen);
	}
}

static void watch_close(struct watch *w)
{
	status_set_cluster(w->sts, NULL, NULL);
	if (w->b)
		w->b->ops->free(w->b);
	polsync_free(w->ps);
	status_set_services(NULL);
	svcsync_free(w->ss);
	svc_incr_free(w->si);
	xcni_close(&extfe_fd);
	pol_incr_free(w->pi);
	store_free(w->st);
}

/* The store, the writers and the cluster source opened, and the first sync where it can be. */
static int watch_open(struct watch *w)
{
	const struct opts *o = w->o;
	int err;

	w->st = store_new();
	w->pi = pol_incr_new();
	w->masq_due = w->v6_due = true;
	if (!w->st || !w->pi)
		return -ENOMEM;
	err = open_writers(o, w->pi, &w->ps, &w->ss, &w->si);
	if (!err)
		status_set_services(w->ss);
	if (!err)
		err = open_backend(o, w->st, &w->b);
	if (err)
		return err;
	/* After the manifests' first load (a list, as the API's): churn is what follows. */
	store_churn_set(w->st, o->churn_burst, o->churn_rate, o->churn_interval_ms, NULL);
	pr_info("cluster state from %s (%s backend)\n",
		o->manifests ?: o->kubeconfig ?: "the API server (in-cluster)", w->b->ops->name);
	status_set_cluster(w->sts, o->manifests ?: o->kubeconfig ?: "in-cluster", w->b);
	/* The API backend starts empty and fills the store only once everything is
	 * listed: syncing now would take away what a previous agent programmed. */
	w->synced = true;
	if (o->manifests)
		watch_sync(w);
	w->version = store_version(w->st);
	return 0;
}

int watch_cluster(const struct opts *o, struct from_pod *fp, struct http *hs, struct flowd *fd,
		  struct hooks *hk, struct agent_status *sts, volatile sig_atomic_t *stop)
{
	struct watch w = { .o = o, .fp = fp, .sts = sts };
	uint64_t hook_at = 0, grow_at = 0;
	int err = watch_open(&w);

	/* Drops by isolation name their near misses from this store (flowd_set_store). */
	flowd_set_store(fd, w.st);
	while (!err && !*stop) {
		struct pollfd pfd[4] = { { .fd = w.b->ops->fd(w.b), .events = POLLIN },
					 { .fd = http_fd(hs), .events = POLLIN },
					 { .fd = flowd_fd(fd), .events = POLLIN },
					 { .fd = status_fd(sts), .events = POLLIN } };
		int timeout = grow_tick(o->pin_dir, o->map_grow_pct, &grow_at, stop,
					hooks_tick(hk, o->hook_check_s, &hook_at)), n;
		int flush_in = o->mq->on ? masq_flush_tick(o->mq, xcni_mono_ms()) : -1, next;
		bool released;

		if (flush_in >= 0 && (timeout < 0 || flush_in < timeout))
			timeout = flush_in;
		timeout = sync_timeout(o, w.synced, &w.retry, &w.due, &w.backoff, timeout);
		/* A namespace's changes that waited for its churn bound: in when due
		 * (and the sync token they held back said, gen_of). */
		released = store_churn_waits(w.st);
		n = store_churn_release(w.st, &next);
		if (n < 0)
			pr_warn("cluster state: %s\n", strerror(-n));
		released = n > 0 || (released && !store_churn_waits(w.st));
		if (released || (next >= 0 && (timeout < 0 || next < timeout)))
			timeout = released ? 0 : next;
		n = poll(pfd, 4, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		if (n > 0 && pfd[1].revents)
			http_dispatch(hs);
		if (n > 0 && pfd[2].revents)
			flowd_dispatch(fd);
		if (n > 0 && pfd[3].revents)
			status_dispatch(sts);
		if (n > 0 && pfd[0].revents) {
			n = w.b->ops->dispatch(w.b);
			if (n < 0)
				pr_warn("cluster state: %s\n", strerror(-n));
		} else if (!w.due && !released) {
			continue;
		}
		watch_changed(&w);
	}
	flowd_set_store(fd, NULL);
	watch_close(&w);
	return err;
}
