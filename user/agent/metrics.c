// SPDX-License-Identifier: Apache-2.0
/*
 * xcnid's Prometheus page (text exposition format 0.0.4), served at /metrics
 * by the agent's HTTP server (lib/system/http.c: which spaces renders so that they
 * take at most a tenth of the agent's time, and renders a page only after
 * its request arrived).
 *
 * The page is read from the pinned maps when asked for. Counting entries
 * means walking the maps (lib/system/mapwalk.c): a full conntrack table
 * (262144) costs ~100 ms of the agent's time. Arrays (always full) and the
 * ring buffer are not walked.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xcni_shared.h"
#include "lib/system/ctstat.h"
#include "lib/observe/flows.h"
#include "lib/system/log.h"
#include "lib/system/mapwalk.h"
#include "lib/system/clock.h"
#include "lib/observe/reasons.h"
#include "lib/system/hmap.h"
#include "lib/system/http.h"
#include "agent/grow.h"
#include "agent/flows.h"
#include "lib/policy/nearmiss.h"
#include "agent/hooks.h"
#include "agent/metrics.h"
#include "agent/pins.h"
#include "agent/socklb.h"
#include "agent/status.h"
#include "lib/system/bpfpin.h"
#include "lib/system/util.h"


#define MS_MAX_MAPS 96


/*
 * Sums of xcni_policy_val.packets per (pod, version), and per (pod, version,
 * cell) for xcni_policy_flows_total: see grp_carry(). A group's key is
 * GRP_USED | ep << 8 | version, or (cells) GRP_USED | ep << 16 | version << 8
 * | cell (never 0, which is a free slot); its sum is the slot's value.
 */
#define GRP_USED (1ULL << 63)
struct grpset {
	struct hmap m; /* m.s NULL: nothing added yet */
	int err;
};

/*
 * xcni_policy_flows_total's cells: what decided (the entry's tier), what it
 * did (accept, deny, or audit: a denial in audit mode, which passes) and the
 * side of the pod it judged (direction).
 */
enum { ACT_ACCEPT, ACT_DENY, ACT_AUDIT, NR_ACTS };
#define NR_TIERS 4
#define NR_CELLS (NR_TIERS * NR_ACTS * XCNI_NR_POLICY_DIRS)
#define CELL(tier, act, dir) (((tier) * NR_ACTS + (act)) * XCNI_NR_POLICY_DIRS + (dir))
_Static_assert(NR_CELLS <= 256, "a cell is the low byte of its group's key");
_Static_assert(XCNI_TIER_DEFAULT == NR_TIERS - 1, "XCNI_POLV_TIER has two bits");

/* What one walk of the policy maps found. */
struct polscan {
	struct grpset allowed; /* per (pod, version): xcni_policy_allowed_flows_total */
	struct grpset cells; /* per (pod, version, cell): xcni_policy_flows_total */
	__u64 audited; /* flows of entries in audit mode (XCNI_POLV_AUDIT) */
};

struct metrics {
	int ncpus;
	char *pin_dir;
	struct grpset pol_prev, cell_prev;
	__u64 pol_base, cell_base[NR_CELLS];
	__u64 ct_evicted; /* the highest evictions figure shown: the counter never goes back */
	const struct hooks *hooks; /* who runs first on xcni's hooks; NULL: not shown */
	const struct flows *flows; /* xcnid's flow records: isolation drops; NULL: off */
	const struct flowd *flowd; /* xcnid's flow log's shares; NULL: off */
	const struct pol_nm_budget *nm; /* the drop records' near misses; NULL: off */
	struct {
		const char *name;
		const struct http *h;
	} listeners[METRICS_LISTENERS];
	int nlisteners;
};

/* ---- map walks -------------------------------------------------------- */

static bool map_countable(__u32 type)
{
	switch (type) {
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
	case BPF_MAP_TYPE_LPM_TRIE:
		return true;
	default:
		return false; /* arrays are always full; ring buffers have no entries */
	}
}

/* Live conntrack entries by state; the rule is bpf/lib/conntrack.h's ct_alive(). */
struct ct_count {
	__u64 now;
	__u64 live[XCNI_CT_CLOSED + 1]; /* [0]: a state this build does not know */
};

static void ct_fn(void *ctx, const void *key, const void *val)
{
	struct ct_count *cc = ctx;
	struct xcni_ct_key k;
	struct xcni_ct_entry e;

	memcpy(&k, key, sizeof(k));
	memcpy(&e, val, sizeof(e));
	/* An expired entry is absent for the data plane; the LRU reclaims it later. */
	if (cc->now > e.last_ns && cc->now - e.last_ns > xcni_ct_lifetime(e.state, k.proto))
		return;
	cc->live[e.state <= XCNI_CT_CLOSED ? e.state : 0]++;
}

static uint64_t grp_hash(__u64 key)
{
	return (key * 0x9e3779b97f4a7c15ULL) >> 32;
}

/* A group's slot in s (free: not there). */
static struct hslot *grp_slot(const struct grpset *s, __u64 key)
{
	return hmap_slot(&s->m, grp_hash(key), (uintptr_t)key);
}

static void grp_add(struct grpset *s, __u64 key, __u64 packets)
{
	struct hslot *g;

	if (s->err || (!s->m.s && (s->err = hmap_init(&s->m, false, 128))))
		return;
	g = grp_slot(s, key);
	if (g->k)
		g->v = (void *)((uintptr_t)g->v + packets);
	else
		s->err = hmap_put(&s->m, grp_hash(key), (uintptr_t)key, (void *)(uintptr_t)packets);
}

static unsigned int pol_cell(__u8 dir, __u16 flags)
{
	unsigned int act = !(flags & XCNI_POLV_DENY)	 ? ACT_ACCEPT :
			   (flags & XCNI_POLV_AUDIT) ? ACT_AUDIT :
						       ACT_DENY;

	return CELL(XCNI_POLV_TIER(flags), act, dir & 1);
}

/*
 * A verdict entry's flows: allowed ones (audited denials pass) to the
 * allowed counter, audits apart, and every one to its cell.
 */
static void pol_add(struct polscan *s, __u32 ep, __u8 version, __u8 dir,
		    const struct xcni_policy_val *v)
{
	__u64 grp = GRP_USED | (__u64)ep << 8 | version;

	if (v->flags & XCNI_POLV_AUDIT)
		s->audited += v->packets;
	if (!(v->flags & XCNI_POLV_DENY) || (v->flags & XCNI_POLV_AUDIT))
		grp_add(&s->allowed, grp, v->packets);
	grp_add(&s->cells, GRP_USED | (__u64)ep << 16 | (__u64)version << 8 | pol_cell(dir, v->flags),
		v->packets);
}

static void polhash_fn(void *ctx, const void *key, const void *val)
{
	struct xcni_polhash_key k;
	struct xcni_policy_val v;

	memcpy(&k, key, sizeof(k));
	memcpy(&v, val, sizeof(v));
	pol_add(ctx, k.ep, k.version, k.dir, &v);
}

/* xcni_polrange's key is xcni_policy's behind a prefix length. */
_Static_assert(offsetof(struct xcni_policy_key, dir) - offsetof(struct xcni_policy_key, ep) ==
		       offsetof(struct xcni_polhash_key, dir),
	       "xcni_polhash_key is xcni_policy_key without prefixlen");

static void polrange_fn(void *ctx, const void *key, const void *val)
{
	polhash_fn(ctx, (const char *)key + offsetof(struct xcni_policy_key, ep), val);
}

/*
 * Flows counted by policy entries, as counters that never go down. The
 * entries count themselves, but an update of a pod's policy writes it afresh
 * under the other version and deletes the old entries with their counts. The
 * entries of one (pod, version) come and go together, so the last count seen
 * of a group that vanished (or restarted lower) is kept in base (base[cell]
 * with cells: the group key's low byte). What a vanished group counted after
 * the previous scrape is lost. totals[cell] (totals[0] without cells): the
 * counters now.
 */
static void grp_carry(struct grpset *prev, struct grpset *cur, __u64 *base, bool cells,
		      __u64 *totals)
{
	hmap_each(&prev->m, p) {
		const struct hslot *g = cur->m.s ? grp_slot(cur, p->k) : NULL;

		if (!g || !g->k || (uintptr_t)g->v < (uintptr_t)p->v)
			base[cells ? p->k & 0xff : 0] += (uintptr_t)p->v;
	}
	for (unsigned int c = 0; c < (cells ? NR_CELLS : 1); c++)
		totals[c] = base[c];
	hmap_each(&cur->m, g)
		totals[cells ? g->k & 0xff : 0] += (uintptr_t)g->v;
	hmap_free(&prev->m);
	*prev = *cur;
	*cur = (struct grpset){};
}

static void render_policy_flows(struct metrics *m, FILE *b, struct polscan *pol)
{
	static const char *const tiers[NR_TIERS] = {
		[XCNI_TIER_NP] = "networkpolicy",
		[XCNI_TIER_ADMIN] = "admin",
		[XCNI_TIER_BASELINE] = "baseline",
		[XCNI_TIER_DEFAULT] = "default",
	};
	static const char *const acts[NR_ACTS] = {
		[ACT_ACCEPT] = "accept",
		[ACT_DENY] = "deny",
		[ACT_AUDIT] = "audit", /* not a fate: a policy's action */
	};
	__u64 allowed, cell[NR_CELLS];

	grp_carry(&m->pol_prev, &pol->allowed, &m->pol_base, false, &allowed);
	grp_carry(&m->cell_prev, &pol->cells, m->cell_base, true, cell);

	metrics_family1(b, "xcni_policy_audited_flows", "gauge",
	                "New flows a policy in audit mode (xcni.io/policy-mode: audit) would have "
	                "denied and let pass, counted by the entries present now (rewritten, so a "
	                "gauge, when the policy changes).", pol->audited);

	metrics_family1(b, "xcni_policy_allowed_flows_total", "counter",
	                "New flows NetworkPolicy rules allowed (each isolated side that allowed "
	                "counts; denials are xcni_packets_total{reason=~\"drop-policy-.*\"}).", allowed);

	metrics_family(b, "xcni_policy_flows_total", "counter",
	               "New flows a policy entry decided, by what decided (tier: admin, networkpolicy, "
	               "baseline, default: no tier did), what it did (action: accept, deny, audit: a "
	               "denial in audit mode, which passes) and the side of the pod judged (direction). "
	               "Each isolated side counts. action=\"deny\" counts deny rules only: a "
	               "default-deny isolation is no entry; its drops are "
	               "xcni_policy_isolation_drops_total.");
	for (unsigned int t = 0; t < NR_TIERS; t++)
		for (unsigned int a = 0; a < NR_ACTS; a++) {
			if (t == XCNI_TIER_DEFAULT && a != ACT_ACCEPT)
				continue; /* no tier decided: the flow is allowed */
			for (unsigned int d = 0; d < XCNI_NR_POLICY_DIRS; d++)
				metrics_series(b, "xcni_policy_flows_total", cell[CELL(t, a, d)],
					       "tier", tiers[t], "action", acts[a], "direction",
					       d == XCNI_DIR_TO_POD ? "ingress" : "egress", NULL);
		}
}

/*
 * Isolation drops by pod and isolating policy, as the flow records named
 * them (flows_isodrop): a series only for what was dropped.
 */
static void render_isodrops(struct metrics *m, FILE *b)
{
	const struct flows_isodrop *d;
	size_t n;

	if (!m->flows)
		return;
	d = flows_isodrops(m->flows, &n);
	metrics_family(b, "xcni_policy_isolation_drops_total", "counter",
	               "Packets dropped because their pod is isolated on that side and no rule allows "
	               "them (drop-policy-ingress/egress), by pod and each NetworkPolicy isolating it "
	               "(policy, as explain names them; \"\": not named). From the drop events "
	               "(xcnid --flows), which have a budget: xcni_packets_total counts every packet.");
	for (size_t i = 0; i < n; i++)
		if (!d[i].pod_total)
			metrics_series(b, "xcni_policy_isolation_drops_total", d[i].packets,
				       "namespace", d[i].ns, "pod", d[i].pod, "direction",
				       d[i].ingress ? "ingress" : "egress", "policy", d[i].policy, NULL);
	/* A drop isolated by two policies counts under both above: sum() over
	 * them counts it twice. This family counts it once. */
	metrics_family(b, "xcni_pod_isolation_drops_total", "counter",
	               "Packets dropped because their pod is isolated on that side and no rule allows "
	               "them, by pod: each drop once (a sum() over pods is the node's isolation drops "
	               "that the drop events named; xcni_policy_isolation_drops_total splits them by "
	               "isolating policy).");
	for (size_t i = 0; i < n; i++)
		if (d[i].pod_total)
			metrics_series(b, "xcni_pod_isolation_drops_total", d[i].packets,
				       "namespace", d[i].ns, "pod", d[i].pod, "direction",
				       d[i].ingress ? "ingress" : "egress", NULL);
	metrics_family1(b, "xcni_policy_isolation_drops_lost_total", "counter",
	                "Isolation drops counted in no series of xcni_policy_isolation_drops_total "
	                "or xcni_pod_isolation_drops_total: "
	                "it holds 4096 series at most (FLOWS_ISODROP_MAX).", flows_isodrops_lost(m->flows));
}

/*
 * Flows by verdict and direction, one count a flow (flows_count_settled):
 * every pair, 0 included, so that a rate() or sum() has its series from the
 * start.
 */
static void render_flow_verdicts(struct metrics *m, FILE *b)
{
	const uint64_t(*c)[FLOWS_NR_DIRS];

	if (!m->flows)
		return;
	c = flows_verdict_counts(m->flows);
	metrics_family(b, "xcni_flows_total", "counter",
	               "Flows (connections, not packets) by verdict, as xcnictl flows names them, and "
	               "direction (the side a policy judged; else ingress into a pod of this node, egress "
	               "otherwise): each once, 2 s after its first packet or when it leaves the window; "
	               "a flow a policy change turns counts again under its new verdict.");
	for (int v = 0; v < FLOW_NR_VERDICTS; v++)
		for (int dir = FLOWS_EGRESS; dir < FLOWS_NR_DIRS; dir++)
			metrics_series(b, "xcni_flows_total", c[v][dir], "verdict", flow_verdict_name(v),
				       "direction", dir == FLOWS_INGRESS ? "ingress" : "egress", NULL);
}

/* Each owner's evictions (flows_owners_each's callback). */
static void window_owner(void *arg, const char *ns, size_t records, uint64_t evicted)
{
	FILE *b = arg;

	(void)records;
	if (evicted)
		metrics_series(b, "xcni_flows_evicted_total", evicted, "namespace", ns, NULL);
}

/*
 * The flows window (xcnid --flows-window), shared by namespaces: what it
 * holds and, per namespace, the records it pushed out for room (a series
 * only for a namespace that lost some).
 */
static void render_flows_window(struct metrics *m, FILE *b)
{
	if (!m->flows)
		return;
	metrics_family1(b, "xcni_flows_window_records", "gauge",
	                "Flow records in xcnid's window (xcnid --flows-window bounds it).",
	                flows_count(m->flows));
	metrics_family1(b, "xcni_flows_window_owners", "gauge",
	                "Namespaces holding records in the flows window: when it is full the one "
	                "holding the most gives up its oldest (docs/decisions/flows-window-shares.md).",
	                flows_owners(m->flows));
	metrics_family(b, "xcni_flows_evicted_total", "counter",
	               "Flow records pushed out of the full window, by the namespace they were charged "
	               "to (the flow's source pod's, else its destination's; \"\": neither end a pod; "
	               "\"(spoofed)\": drops of forged sources). Their flow log line and IPFIX end "
	               "record (flowEndReason 5) went out as they left.");
	flows_owners_each(m->flows, window_owner, b);
	if (m->nm)
		metrics_family1(b, "xcni_flows_near_misses_skipped_total", "counter",
			"Drop records left without their near misses: the walks naming them took "
			"their 50 ms of the agent's second (docs/security.md); explain and policy "
			"get still name them.", m->nm->skipped);
	metrics_family1(b, "xcni_flows_evicted_unlisted_total", "counter",
	                "Evictions of namespaces no longer listed in xcni_flows_evicted_total (it keeps "
	                "4096 namespaces with no record left at most).",
	                flows_stats(m->flows)->evicted_unlisted);
}

/* One namespace's series (flowd_log_shares_each's callback); arg: the buffer
 * and which count. */
struct log_series {
	FILE *b;
	bool refused;
};

static void log_series(void *arg, const char *ns, uint64_t carried, uint64_t refused)
{
	struct log_series *s = arg;
	uint64_t v = s->refused ? refused : carried;

	if (v)
		metrics_series(s->b, s->refused ? "xcni_flow_log_refused_total" :
						  "xcni_flow_log_carried_total",
			       v, "namespace", ns, NULL);
}

/* The flow log (xcnid --flow-log), shared by namespaces: the lines a rotation
 * carried into the new file and those it left no room for (a series only for
 * a namespace that had some). */
static void render_flow_log(struct metrics *m, FILE *b)
{
	struct log_series s = { b, false };

	if (!m->flowd)
		return;
	metrics_family(b, "xcni_flow_log_carried_total", "counter",
	               "Flow log lines of a namespace within its share of the kept files (files x "
	               "--flow-log-max-bytes / the namespaces holding lines) that a rotation carried into "
	               "the new file instead of removing (docs/decisions/flow-log-shares.md).");
	flowd_log_shares_each(m->flowd, log_series, &s);
	s.refused = true;
	metrics_family(b, "xcni_flow_log_refused_total", "counter",
	               "Flow log lines not written, by namespace: the lines a rotation carried left the new "
	               "file no room for them.");
	flowd_log_shares_each(m->flowd, log_series, &s);
}

/* ---- the page --------------------------------------------------------- */

struct mapstat {
	char name[BPF_OBJ_NAME_LEN];
	long entries; /* -1: a map not counted (an array, the ring) */
	__u32 max_entries;
	unsigned long long bytes; /* the kernel memory it holds (xcni_fd_memlock) */
};

static int mapstat_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mapstat *)a)->name, ((const struct mapstat *)b)->name);
}

static void render_reasons(struct metrics *m, FILE *b)
{
	static const struct {
		const char *name, *help;
	} fam[2] = {
		{ "xcni_packets_total",
		  "Packets the data plane handled, by the fate it gave them (reason: fwd-* and "
		  "pass-* passed on, drop-* dropped) and where (direction). A combination "
		  "appears once it has counted a packet." },
		{ "xcni_bytes_total", "Bytes of those packets (Ethernet frame length)." },
	};
	struct xcni_metric *sum = calloc(XCNI_NR_METRICS, sizeof(*sum));
	int fd = xcni_pin_get(m->pin_dir, "xcni_metrics"), err;

	if (fd < 0 || !sum) {
		pr_debug("metrics: cannot read xcni_metrics: %s\n", strerror(fd < 0 ? errno : ENOMEM));
		goto out;
	}
	for (__u32 i = 0; i < XCNI_NR_METRICS; i++)
		if ((err = xcni_percpu_sum(fd, &i, &sum[i], sizeof(*sum)))) {
			pr_debug("metrics: xcni_metrics[%u]: %s\n", i, strerror(-err));
			goto out;
		}
	for (int f = 0; f < 2; f++) {
		metrics_family(b, fam[f].name, "counter", fam[f].help);
		for (int r = XCNI_REASON_MAX; r >= XCNI_REASON_MIN; r--) {
			const struct xcni_reason_info *ri = xcni_reason_info(r);

			if (!ri)
				continue;
			for (unsigned int d = 0; d < XCNI_NR_DIRS; d++) {
				const struct xcni_metric *s = &sum[XCNI_METRIC_IDX(r, d)];

				/* Counters never go back: a series appears with its first
				 * packet and stays (the map is not reset while pinned). */
				if (!s->packets)
					continue;
				metrics_series(b, fam[f].name, f ? s->bytes : s->packets, "reason",
					       ri->name, "direction", xcni_dir_name(d), NULL);
			}
		}
	}
	{
		/* The NodePort SNAT budget's refusals named on their own, every
		 * direction: a series from the start, 0 until a client is refused. */
		unsigned long long n = 0;

		for (unsigned int d = 0; d < XCNI_NR_DIRS; d++)
			n += sum[XCNI_METRIC_IDX(XCNI_DROP_NAT_CLIENT, d)].packets;
		metrics_family1(b, "xcni_nodeport_snat_refused_total", "counter",
		                "New NodePort SNAT tuples refused to outside clients over their budget "
		                "(xcni_snat_cl: xcnid --snat-client-burst at once, default 256, then "
		                "--snat-client-rate a second, default 64; a client address or IPv6 /56); "
		                "the same packets as xcni_packets_total{reason=\"drop-nat-client\"}.", n);
	}
out:
	xcni_close(&fd);
	free(sum);
}

/* The socket LB's records per pod (xcni_sock_own), once it made one. */
static void render_sock_lb(struct metrics *m, FILE *b)
{
	struct socklb_use u;

	if (socklb_use(m->pin_dir, &u))
		return;
	metrics_family1(b, "xcni_sock_lb_records", "gauge",
		"Socket-LB records held now (xcni_sock_rn and _rn6: one a translated socket and "
		"backend, released with the socket), summed over the pods holding them.", u.held);
	metrics_family1(b, "xcni_sock_lb_over_bound_total", "counter",
		"Socket-LB translations a pod asked for past its bound (xcni_sock_rn's size / 128 "
		"records), its socket's 4 slots or the map's room: left to the per-packet "
		"translation (the node's own sockets: refused ENOBUFS).", u.over);
}

/* What the events cost and lost (xcni_evrate), summed over CPUs. */
static void render_events(struct metrics *m, FILE *b)
{
	struct xcni_evrate sum;
	__u32 zero = 0;
	int fd = xcni_pin_get(m->pin_dir, "xcni_evrate");
	int err = fd < 0 ? -errno : xcni_percpu_sum(fd, &zero, &sum, sizeof(sum));

	if (err) {
		pr_debug("metrics: cannot read xcni_evrate: %s\n", strerror(-err));
		goto out;
	}
	metrics_family1(b, "xcni_events_total", "counter",
	                "Events (drops, verdicts, traces) the data plane wrote to the event ring.",
	                sum.sent);
	metrics_family(b, "xcni_events_lost_total", "counter",
	               "Events lost before the ring (cause: rate-limit, their pod's share of "
	               "--events-rate, per CPU; ring-full, the reader lagged): monitor output is incomplete.");
	metrics_series(b, "xcni_events_lost_total", sum.lost_rate, "cause", "rate-limit", NULL);
	metrics_series(b, "xcni_events_lost_total", sum.lost_full, "cause", "ring-full", NULL);
out:
	xcni_close(&fd);
}

/*
 * What became of conntrack entries (xcni_ctstat): created, deleted, picked up
 * mid-stream, and evicted, which is created - deleted - entries (the walk's
 * count, expired ones included). The walk and the counters are not read at
 * one instant, so the evictions figure is kept from going back.
 */
static void render_ctstat(struct metrics *m, FILE *b, long ct_entries)
{
	struct xcni_ctstat st;
	int fd = xcni_pin_get(m->pin_dir, "xcni_ctstat");
	__u64 ev;

	if (fd < 0 || ctstat_read(fd, &st)) {
		pr_debug("metrics: cannot read xcni_ctstat: %s\n", strerror(errno));
		goto out;
	}
	ev = ctstat_evicted(&st, ct_entries);
	if (ev > m->ct_evicted)
		m->ct_evicted = ev;
	metrics_family1(b, "xcni_ct_created_total", "counter", "Conntrack entries created.", st.created);
	metrics_family1(b, "xcni_ct_deleted_total", "counter",
	                "Conntrack entries deleted (refused flows, flushed UDP flows of removed backends).",
	                st.deleted);
	metrics_family1(b, "xcni_ct_evicted_total", "counter",
	                "Conntrack entries the full table evicted (least recently used first): created "
	                "- deleted - present. Non-zero means the table is under pressure.", m->ct_evicted);
	metrics_family1(b, "xcni_ct_pickups_total", "counter",
	                "TCP flows met mid-stream with no entry (evicted or expired), judged again by "
	                "policy and picked up.", st.pickups);
out:
	xcni_close(&fd);
}

/*
 * Egress by DNS name (xcni_fqdn_stats, to_pod's per-CPU counters: lib/dns.h):
 * one family, the counter named by what it counts. Absent maps (programs
 * from before domainNames): nothing.
 */
static void render_fqdn(struct metrics *m, FILE *b)
{
	static const char *const what[XCNI_FQDN_NR_STATS] = {
		[XCNI_FQDN_ST_ANSWERS] = "answers-read",
		[XCNI_FQDN_ST_NOT_SERVER] = "answers-ignored",
		[XCNI_FQDN_ST_MATCHED] = "names-matched",
		[XCNI_FQDN_ST_LEARNED] = "addresses-learned",
		[XCNI_FQDN_ST_EVICTED] = "addresses-evicted",
		[XCNI_FQDN_ST_FULL] = "addresses-not-learned-full",
		[XCNI_FQDN_ST_GIVEUP] = "parser-giveups",
		[XCNI_FQDN_ST_IGNORED] = "records-ignored",
		[XCNI_FQDN_ST_FRAG] = "answers-fragmented",
	};
	int fd = xcni_pin_get(m->pin_dir, "xcni_fqdn_stats");

	if (fd < 0)
		return;
	metrics_family(b, "xcni_fqdn_total", "counter",
	               "DNS answers into this node's pods read for ClusterNetworkPolicy domainNames "
	               "(xcnid --fqdn-policy), by event: answers-ignored are not from the DNS Service's "
	               "sources, parser-giveups malformed or past the parser's bounds, answers-fragmented IP "
	               "fragments of an answer, never read (only a whole message is).");
	for (__u32 k = 0; k < XCNI_FQDN_NR_STATS; k++) {
		__u64 sum;

		if (!xcni_percpu_sum(fd, &k, &sum, sizeof(sum)))
			metrics_series(b, "xcni_fqdn_total", sum, "event", what[k], NULL);
	}
	close(fd);
}

static void render_config(struct metrics *m, FILE *b)
{
	struct xcni_config cfg;
	char addr[INET_ADDRSTRLEN] = "", cidr[INET_ADDRSTRLEN + 8], abi[12];
	__u32 rev;

	if (xcni_pin_read0(m->pin_dir, "xcni_config", &cfg, sizeof(cfg)))
		return;
	cfg.node_name[sizeof(cfg.node_name) - 1] = '\0';
	inet_ntop(AF_INET, &cfg.pod_cidr, addr, sizeof(addr));
	snprintf(cidr, sizeof(cidr), "%s/%u", addr, cfg.pod_cidr_len);
	snprintf(abi, sizeof(abi), "%u", cfg.abi_version);
	metrics_family(b, "xcni_agent_info", "gauge", "This node's agent: node name, pod CIDR, map ABI.");
	metrics_series(b, "xcni_agent_info", 1, "node", cfg.node_name, "pod_cidr", cidr, "abi", abi,
		       NULL);
	metrics_family1(b, "xcni_applied_generation", "gauge",
	                "Cluster-state generation whose policy is in the maps (.xcni-generation).",
	                cfg.applied_gen);
	metrics_family1(b, "xcni_failed_generation", "gauge",
	                "The last generation that could not be applied (0: none).", cfg.failed_gen);
	if (!xcni_pin_read0(m->pin_dir, "xcni_polrev", &rev, sizeof(rev)))
		metrics_family1(b, "xcni_policy_revision", "gauge",
		                "Policy changes applied (open flows are judged again after each).", rev);
	metrics_family1(b, "xcni_identities", "gauge", "Security identities in the applied state.",
	                cfg.nr_identities);
	metrics_family1(b, "xcni_policies", "gauge", "NetworkPolicies in the applied state.",
	                cfg.nr_policies);
	metrics_family1(b, "xcni_policy_endpoints", "gauge", "Pods of this node with compiled policy.",
	                cfg.nr_endpoints_policy);
	metrics_family1(b, "xcni_policy_endpoints_overflow", "gauge",
	                "Pods of this node closed because their policy did not fit the maps "
	                "(drop-policy-overflow; named in xcnid's log and `xcnictl policy`).",
	                cfg.nr_endpoints_overflow);
	metrics_family1(b, "xcni_names_missing", "gauge",
	                "Names for people (identities, policies, pods) the maps of names could not hold: "
	                "shown as numbers; policy is applied all the same.", cfg.nr_names_missing);
	metrics_family1(b, "xcni_pod_address_conflicts", "gauge",
	                "Pods claiming an address another live pod claims too (each address closed, "
	                "drop-addr-contested, until one is gone; named in xcnid's log).",
	                cfg.nr_addr_contested);
	metrics_family1(b, "xcni_pod_address_yields", "gauge",
	                "Addresses a pod being deleted (Terminating) yielded to a live pod of its node: "
	                "not conflicts, the live pod owns them (named in xcnid's log).",
	                cfg.nr_addr_yielded);
	metrics_family1(b, "xcni_trace_sample", "gauge",
	                "Traces: one forwarded packet in N goes to the event ring (0: off).",
	                cfg.trace_sample);
	metrics_family1(b, "xcni_events_rate", "gauge", "Event budget of each pod (and of the node) per CPU per second (0: no limit).",
	                cfg.events_rate);
}

/* What one walk over the pinned maps found. */
struct mapscan {
	struct mapstat *ms; /* the maps' fill, MS_MAX_MAPS at most */
	int nmaps;
	struct ct_count cc; /* live conntrack entries by state */
	struct polscan pol; /* the policy maps' allowed/denied cells */
	int pol_maps;       /* policy maps read */
	bool have_ct;
	long endpoints, ct_entries; /* -1: not read */
	unsigned long long map_bytes; /* every pinned map's kernel memory */
};

/* Which walker counts more than entries in map NAME (its key and value the ones we know). */
static mapw_walk_fn scan_walker(const char *name, const struct bpf_map_info *info, struct mapscan *sc,
			   void **ctx)
{
	const struct { const char *name; size_t k, v; mapw_walk_fn fn; void *ctx; } w[] = {
		{ "xcni_ct", sizeof(struct xcni_ct_key), sizeof(struct xcni_ct_entry), ct_fn, &sc->cc },
		{ "xcni_policy", sizeof(struct xcni_polhash_key), sizeof(struct xcni_policy_val),
		  polhash_fn, &sc->pol },
		{ "xcni_polrange", sizeof(struct xcni_policy_key), sizeof(struct xcni_policy_val),
		  polrange_fn, &sc->pol },
	};

	for (size_t i = 0; i < ARRAY_SIZE(w); i++)
		if (!strcmp(name, w[i].name) && info->key_size == w[i].k && info->value_size == w[i].v)
			return *ctx = w[i].ctx, w[i].fn;
	*ctx = NULL;
	return NULL;
}

/* Every pinned map of ours counted (the largest first), conntrack and policy walked. */
static void scan_maps(struct metrics *m, struct mapscan *sc)
{
	struct dirent *de;
	DIR *d = opendir(m->pin_dir);

	while (d && (de = readdir(d)) && sc->nmaps < MS_MAX_MAPS) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		void *ctx;
		mapw_walk_fn fn;
		long n;
		int fd;

		if (strncmp(de->d_name, "xcni_", 5))
			continue; /* programs, links/ */
		fd = xcni_pin_get(m->pin_dir, de->d_name);
		if (fd < 0)
			continue;
		/* The kernel names a pinned map after its BTF name, truncated; anything else is no map of ours. */
		if (bpf_map_get_info_by_fd(fd, &info, &len) ||
		    strncmp(info.name, de->d_name, BPF_OBJ_NAME_LEN - 1)) {
			close(fd);
			continue;
		}
		snprintf(sc->ms[sc->nmaps].name, sizeof(sc->ms[0].name), "%s", de->d_name + 5);
		sc->ms[sc->nmaps].bytes = xcni_fd_memlock(fd);
		sc->ms[sc->nmaps].entries = -1;
		sc->ms[sc->nmaps].max_entries = info.max_entries;
		sc->map_bytes += sc->ms[sc->nmaps++].bytes;
		if (!map_countable(info.type)) {
			close(fd);
			continue;
		}
		fn = scan_walker(de->d_name, &info, sc, &ctx);
		n = mapw_walk(fd, &info, m->ncpus, fn, ctx);
		close(fd);
		if (n < 0) {
			pr_debug("metrics: walking %s: %s\n", de->d_name, strerror((int)-n));
			continue;
		}
		if (fn == ct_fn) {
			sc->have_ct = true;
			sc->ct_entries = n;
		}
		if (ctx == &sc->pol)
			sc->pol_maps++;
		if (!strcmp(de->d_name, "xcni_endpoints"))
			sc->endpoints = n;
		sc->ms[sc->nmaps - 1].entries = n;
	}
	if (d)
		closedir(d);
	qsort(sc->ms, (size_t)sc->nmaps, sizeof(*sc->ms), mapstat_cmp);
}

/* The scan's families: conntrack by state, endpoints, every map's fill and capacity. */
static void render_scan(struct metrics *m, FILE *b, const struct mapscan *sc)
{
	static const char *const ct_states[] = {
		[0] = "other",
		[XCNI_CT_NEW] = "new",
		[XCNI_CT_ESTABLISHED] = "established",
		[XCNI_CT_CLOSING] = "closing",
		[XCNI_CT_CLOSED] = "closed",
	};

	if (sc->have_ct) {
		metrics_family(b, "xcni_ct_entries", "gauge",
		               "Live conntrack entries (not past their lifetime), by state.");
		for (size_t s = 1; s < ARRAY_SIZE(ct_states); s++)
			metrics_series(b, "xcni_ct_entries", sc->cc.live[s], "state", ct_states[s], NULL);
		if (sc->cc.live[0])
			metrics_series(b, "xcni_ct_entries", sc->cc.live[0], "state", "other", NULL);
		render_ctstat(m, b, sc->ct_entries);
	}
	if (sc->endpoints >= 0)
		metrics_family1(b, "xcni_endpoints", "gauge", "Pods attached on this node.", sc->endpoints);
	metrics_family(b, "xcni_map_entries", "gauge",
	               "Entries in a pinned hash or LPM map (conntrack: expired ones too, until reused).");
	for (int i = 0; i < sc->nmaps; i++)
		if (sc->ms[i].entries >= 0)
			metrics_series(b, "xcni_map_entries", (unsigned long long)sc->ms[i].entries,
				       "map", sc->ms[i].name, NULL);
	metrics_family(b, "xcni_map_max_entries", "gauge", "Capacity of a pinned hash or LPM map.");
	for (int i = 0; i < sc->nmaps; i++)
		if (sc->ms[i].entries >= 0)
			metrics_series(b, "xcni_map_max_entries", sc->ms[i].max_entries, "map",
				       sc->ms[i].name, NULL);
	/* What the node pays: the maps' kernel memory is no part of the RSS a
	 * pod's working set shows (docs/decisions/map-sizes.md). */
	metrics_family(b, "xcni_map_bytes", "gauge",
		       "Kernel memory a pinned map holds (preallocated entries, or its bucket array "
		       "and the entries in use).");
	for (int i = 0; i < sc->nmaps; i++)
		metrics_series(b, "xcni_map_bytes", sc->ms[i].bytes, "map", sc->ms[i].name, NULL);
	metrics_family(b, "xcni_memory_bytes", "gauge",
		       "Memory xcni holds on this node: kind maps (every pinned map, kernel memory) "
		       "and rss (the agent's resident memory).");
	metrics_series(b, "xcni_memory_bytes", sc->map_bytes, "kind", "maps", NULL);
	metrics_series(b, "xcni_memory_bytes", status_self_rss(), "kind", "rss", NULL);
}

static int render(struct metrics *m, FILE *b)
{
	struct mapscan sc = { .cc = { .now = xcni_mono_ns() }, .endpoints = -1, .ct_entries = -1 };
	__u64 t0 = xcni_mono_ns();

	sc.ms = calloc(MS_MAX_MAPS, sizeof(*sc.ms));
	if (!sc.ms)
		return -ENOMEM;
	render_reasons(m, b);
	render_events(m, b);
	render_sock_lb(m, b);
	render_fqdn(m, b);
	scan_maps(m, &sc);
	/* Both policy maps read, or the sum would look like a reset. */
	if (sc.pol_maps == 2 && !sc.pol.allowed.err && !sc.pol.cells.err)
		render_policy_flows(m, b, &sc.pol);
	render_isodrops(m, b);
	render_flow_verdicts(m, b);
	render_flows_window(m, b);
	render_flow_log(m, b);
	render_scan(m, b, &sc);
	render_config(m, b);
	hooks_render(m->hooks, b);
	status_metrics_render(b);
	grow_prom(b);
	if (m->nlisteners)
		metrics_family(b, "xcni_http_refused_total", "counter",
		               "Connections an HTTP listener closed at accept, before any TLS handshake: "
		               "their source address opened more than 16 a second (32 at once).");
	for (int i = 0; i < m->nlisteners; i++)
		metrics_series(b, "xcni_http_refused_total", http_refused(m->listeners[i].h),
			       "listener", m->listeners[i].name, NULL);
	metrics_family(b, "xcni_scrape_duration_seconds", "gauge",
	               "Time this page took to read from the maps (the agent does nothing else meanwhile).");
	fprintf(b, "xcni_scrape_duration_seconds %.6f\n", (double)(xcni_mono_ns() - t0) / 1e9);
	hmap_free(&sc.pol.allowed.m);
	hmap_free(&sc.pol.cells.m);
	free(sc.ms);
	return 0;
}

/* ---- setup ------------------------------------------------------------ */

static int metrics_render(void *ctx, const struct http_args *args, char **body, size_t *len)
{
	char *p = NULL;
	size_t n = 0;
	FILE *b = open_memstream(&p, &n);
	int err;

	(void)args; /* a query string changes nothing */
	if (!b)
		return -ENOMEM;
	err = render(ctx, b);
	if (ferror(b) | fclose(b))
		err = err ?: -ENOMEM;
	if (err) {
		free(p);
		return err;
	}
	*body = p;
	*len = n;
	return 0;
}

int metrics_open(const char *pin_dir, struct http *h, struct metrics **out)
{
	struct metrics *m = calloc(1, sizeof(*m));
	int err;

	if (!m)
		return -ENOMEM;
	m->ncpus = libbpf_num_possible_cpus();
	m->pin_dir = strdup(pin_dir);
	if (m->ncpus < 0)
		pr_err("metrics: possible CPUs: %s\n", strerror(-m->ncpus));
	err = m->ncpus < 0 ? m->ncpus : !m->pin_dir ? -ENOMEM :
	      http_route(h, "/metrics", METRICS_CONTENT_TYPE, metrics_render, m);
	if (err) {
		metrics_free(m);
		return err;
	}
	*out = m;
	return 0;
}

void metrics_set_sources(struct metrics *m, const struct hooks *hk, struct flowd *fd)
{
	if (!m)
		return;
	m->hooks = hk;
	m->flows = fd ? flowd_flows(fd) : NULL;
	m->flowd = fd && flowd_logs(fd) ? fd : NULL;
	m->nm = fd ? flowd_nm_budget(fd) : NULL;
}

void metrics_set_listener(struct metrics *m, const char *name, const struct http *h)
{
	if (m && h && m->nlisteners < METRICS_LISTENERS) {
		m->listeners[m->nlisteners].name = name;
		m->listeners[m->nlisteners++].h = h;
	}
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	hmap_free(&m->pol_prev.m);
	hmap_free(&m->cell_prev.m);
	free(m->pin_dir);
	free(m);
}
