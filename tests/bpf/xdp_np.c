// SPDX-License-Identifier: Apache-2.0
/*
 * The NodePort fast path at XDP (bpf/lib/nodeport_xdp.h, xcnid
 * --nodeport-acceleration) through BPF_PROG_TEST_RUN.
 *
 * The differential (npx_before, npx_after, called by the harness's run_mark):
 * every frame any group runs through from_overlay with Services in BPF
 * (FROM_OVERLAY_LB; FROM_OVERLAY_DSR with lb_dsr) is first run through
 * xdp_underlay with the fast path and the same settings (env.xdp_np,
 * env.xdp_np_dsr), on the same maps; what it did is recorded and the maps
 * are put back, then the group's own tc run goes on as it always has and is
 * the oracle:
 *  - XDP_TX: tc must have translated and sent it too (TC_ACT_REDIRECT), the
 *    frames must be the same bytes from the outer Ethernet type on (the
 *    outer MACs are the FIB's at XDP, bpf_redirect_neigh's after tc), and
 *    conntrack (xcni_ct, xcni_ct6, xcni_snat), the metrics and the tunnel
 *    counters must be what tc left, timestamps aside. A random pick that
 *    chose another backend than tc's is told apart and counted, not compared;
 *  - XDP_PASS: the frame untouched and nothing written (but the service
 *    entry of a random pick handed on, nodeport_xdp.h), so tc sees what it
 *    sees without acceleration;
 *  - XDP_DROP: the prefilter's Service-range rule; tc must drop it too.
 * The prefilter's deny entries (node4_state's 203.0.113.0/24, which holds
 * the NodePort rows' clients) are set aside for the XDP run: the fast path
 * is compared, the prefilter is prefilter.c's. At the end of the run,
 * "xdp differential:" says how many frames each outcome had.
 *
 * The group xdp_np: the fast path's own rows, each able to fail without it:
 * a remote backend taken at XDP for TCP and UDP, the replies through tc
 * finding XDP's entries and the next packets XDP finding tc's, and the
 * hostile and unhandled rows that must go on to tc untouched (forged
 * sources, Geneve from outside, fragments, bad lengths, a VLAN tag, IP
 * options, TTL 1, a local backend, no backend, ETP Local, DSR, the underlay
 * MTU, no neighbour), with the counters (xcni_npaccel).
 */
#include <arpa/inet.h>
#include <sched.h>
#include <sys/random.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <net/if.h>

#include <linux/ip.h>

#include "lib/policy/prefilter.h"
#include "nodeport.h"
#include "svc.h"

#define N2_MAC { 0x02, 0x77, 0, 0, 0, 2 }
#define NPX_OUT 4096
#define NPX_MAX_ENTRIES 20000 /* a bigger map (attack_ct's floods) is not compared */

static const uint8_t n2_mac[ETH_ALEN] = N2_MAC;

/* ---- Loading --------------------------------------------------------------- */

static int npx_sh(const char *cmd)
{
	int r = system(cmd);

	return r == 0 ? 0 : -EIO;
}

static int write_str(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	int err = 0;

	if (!f)
		return -errno;
	if (fputs(s, f) < 0)
		err = -EIO;
	if (fclose(f))
		err = -errno;
	return err;
}

/*
 * The handoff's key (np_meta_key), drawn per run as xcnid draws one per
 * agent: every xdp_underlay here writes it, npx_fo reads it (the handoff's
 * live rows); the harness's from_overlay objects keep 0 (no handoff).
 * NPX_OLD_MAGIC: the constant the record carried before (issue 56 item 3),
 * which a forger would write.
 */
#define NPX_OLD_MAGIC 0x786e706dU
static uint32_t npx_key;
static struct from_overlay *npx_fo;

/* The programs the differential runs beside a tc program given by fd (npx_attach). */
static struct {
	int tc_fd;
	struct xdp_underlay *x;
} npx_fds[4];

/* An xdp_underlay with the fast path: node_ip NODE_IP, or node6 (node_ip6)
 * alone, or both (dual: a node with an IPv4 address on the IPv6 underlay). */
static struct xdp_underlay *npx_open_as(struct bpf_object_open_opts *opts, int dsr,
					const char *node6, bool dual)
{
	struct xdp_underlay *x = xdp_underlay__open_opts(opts);

	if (!x)
		return NULL;
	if (node6) {
		if (inet_pton(AF_INET6, node6, (void *)x->rodata->node_ip6) != 1) {
			xdp_underlay__destroy(x);
			return NULL;
		}
	}
	if (!node6 || dual)
		x->rodata->node_ip = ip4(NODE_IP);
	x->rodata->vni = VNI;
	UL_SVC_RANGES(x->rodata);
	x->rodata->lb_enabled = 1;
	x->rodata->lb_dsr = dsr;
	x->rodata->np_accel = 1;
	x->rodata->np_meta_key = npx_key;
	if (xdp_underlay__load(x)) {
		xdp_underlay__destroy(x);
		return NULL;
	}
	return x;
}

static struct xdp_underlay *npx_open(struct bpf_object_open_opts *opts, int dsr, const char *node6)
{
	return npx_open_as(opts, dsr, node6, false);
}

/*
 * The IPv6 underlay's addresses and neighbours of the nodes npx_attach's
 * programs are (nodeport.c's and nodeport_ul46.c's NODE6 with its peer nv,
 * nodeport_dsr.c's UL_SELF with its peer UL_N). Again after a row set the
 * device's MTU below IPv6's 1280 (npx_dsr_mtu, npx_mtu_neigh): the kernel
 * then takes IPv6 off the device, its addresses and neighbours with it, and
 * the FIB lookups of the IPv6-underlay groups after xdp_np would fail.
 */
static int npx_ul6_addrs(void)
{
	return npx_sh("ip -6 addr replace fc00:77::1/64 dev xtu nodad && "
		      "ip -6 addr replace fc00:79::1/64 dev xtu nodad && "
		      "ip -6 neigh replace fc00:77::2 lladdr 02:77:00:00:00:02 dev xtu nud permanent && "
		      "ip -6 neigh replace fc00:79::2 lladdr 02:77:00:00:00:02 dev xtu nud permanent");
}

int xdp_np_load(struct bpf_object_open_opts *opts)
{
	cpu_set_t one;
	int err;

	/* One CPU: the flow cache is per CPU, and its rows and the warm pass
	 * run the frames of a flow where the cache holds it. */
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		return -errno;

	if (getrandom(&npx_key, sizeof(npx_key), 0) != sizeof(npx_key))
		return -errno;
	npx_key |= 1;
	if (npx_key == NPX_OLD_MAGIC)
		npx_key ^= 2;
	env.xdp_np = npx_open(opts, 0, NULL);
	env.xdp_np_dsr = npx_open(opts, 1, NULL);
	/* FROM_OVERLAY_LB's settings, with the key: the handoff's tc. */
	npx_fo = from_overlay__open_opts(opts);
	if (!env.xdp_np || !env.xdp_np_dsr || !npx_fo)
		return -errno ?: -EINVAL;
	npx_fo->rodata->node_ip = ip4(NODE_IP);
	npx_fo->rodata->vni = VNI;
	UL_SVC_RANGES(npx_fo->rodata);
	npx_fo->rodata->lb_enabled = 1;
	npx_fo->rodata->np_meta_key = npx_key;
	if ((err = from_overlay__load(npx_fo)))
		return err;
	/* The underlay as a node has it, in this private netns: NODE_IP on
	 * the underlay device, n2 its neighbour, forwarding on (the FIB lookup
	 * of the fast path asks for it); and the IPv6 underlay's of the nodes
	 * npx_attach's programs are (npx_ul6_addrs), the same MAC as n2's. */
	if ((err = npx_sh("ip link set xtu up && ip link set xtu-p up && "
			  "ip addr add " NODE_IP "/24 dev xtu && "
			  "ip neigh replace " N2 " lladdr 02:77:00:00:00:02 dev xtu nud permanent")) ||
	    (err = npx_ul6_addrs()))
		return err;
	if ((err = write_str("/proc/sys/net/ipv4/conf/all/forwarding", "1")) ||
	    (err = write_str("/proc/sys/net/ipv4/conf/xtu/forwarding", "1")) ||
	    (err = write_str("/proc/sys/net/ipv6/conf/all/forwarding", "1")))
		return err;
	return 0;
}

void xdp_np_destroy(void)
{
	xdp_underlay__destroy(env.xdp_np);
	xdp_underlay__destroy(env.xdp_np_dsr);
	from_overlay__destroy(npx_fo);
	env.xdp_np = env.xdp_np_dsr = NULL;
	npx_fo = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(npx_fds); i++)
		npx_detach(npx_fds[i].tc_fd);
}

static int npx_attach_as(int tc_fd, const char *node6, int dsr, bool dual)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = env.pin_dir);

	for (size_t i = 0; i < ARRAY_SIZE(npx_fds); i++) {
		if (npx_fds[i].x)
			continue;
		npx_fds[i].x = npx_open_as(&opts, dsr, node6, dual);
		if (!npx_fds[i].x)
			return -errno ?: -EINVAL;
		npx_fds[i].tc_fd = tc_fd;
		return 0;
	}
	return -ENOSPC;
}

int npx_attach(int tc_fd, const char *node6, int dsr)
{
	return npx_attach_as(tc_fd, node6, dsr, false);
}

int npx_attach_dual(int tc_fd, const char *node6, int dsr)
{
	return npx_attach_as(tc_fd, node6, dsr, true);
}

void npx_detach(int tc_fd)
{
	for (size_t i = 0; i < ARRAY_SIZE(npx_fds); i++)
		if (npx_fds[i].x && npx_fds[i].tc_fd == tc_fd) {
			xdp_underlay__destroy(npx_fds[i].x);
			npx_fds[i].x = NULL;
		}
}

/*
 * The flow cache's generation (xcni_npgen) as xcnid keeps it: one more
 * whenever what the plan reads changed (the Service, backend, node and
 * endpoint maps, hashed whole) or another program runs (x: the rows' DSR
 * and SNAT programs share the pinned cache; a node has one).
 */
static const char *const npc_cfg_maps[] = { "xcni_svc",	    "xcni_backend",  "xcni_svcbe",
					    "xcni_revnat",  "xcni_endpoints", "xcni_endpoints6",
					    "xcni_ipcache", "xcni_ipcache6", "xcni_tunnel",
					    "xcni_tunnel6", "xcni_extfe",    "xcni_self6" };

void npc_gen_bump(void)
{
	assert_int_equal(xcni_npgen_bump(map_fd("xcni_npgen")), 0);
}

static void npc_gen_sync(const void *x)
{
	static uint64_t last;
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)(uintptr_t)x;
	uint8_t key[128], next[128], val[4096];

	for (size_t i = 0; i < ARRAY_SIZE(npc_cfg_maps); i++) {
		struct bpf_map_info info = {};
		uint32_t il = sizeof(info);
		int fd = map_fd(npc_cfg_maps[i]), first = 1;

		if (fd < 0 || bpf_map_get_info_by_fd(fd, &info, &il) || info.key_size > sizeof(key) ||
		    info.value_size > sizeof(val))
			continue;
		while (bpf_map_get_next_key(fd, first ? NULL : key, next) == 0) {
			first = 0;
			memcpy(key, next, info.key_size);
			if (bpf_map_lookup_elem(fd, key, val))
				continue;
			for (uint32_t b = 0; b < info.key_size; b++)
				h = (h ^ key[b]) * 1099511628211ULL;
			for (uint32_t b = 0; b < info.value_size; b++)
				h = (h ^ val[b]) * 1099511628211ULL;
		}
	}
	if (h != last)
		npc_gen_bump();
	last = h;
}

/* One frame through the fast path x: the XDP verdict; out, *out_len. */
/* The metadata area the last run left in front of the frame (npx_run_x):
 * tc's handed choice (struct xcni_np_meta) or nothing. */
static uint8_t npx_meta[32];
static uint32_t npx_metalen;

static int npx_run_x(struct xdp_underlay *x, const uint8_t *in, size_t len, uint8_t *out,
		     size_t *out_len)
{
	struct xdp_md ctx = { .data_end = (uint32_t)len, .ingress_ifindex = env.ifindex[DEV_U] },
		      co = {};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = NPX_OUT, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .ctx_out = &co, .ctx_size_out = sizeof(co),
		    .repeat = 1);
	int err;

	npc_gen_sync(x);
	err = bpf_prog_test_run_opts(bpf_program__fd(x->progs.xdp_underlay), &o);
	if (err)
		fail_msg("xdp_underlay (np_accel) test run: %s", strerror(-err));
	/* The output starts at the metadata (co.data its length): the frame
	 * apart from it, the record kept for the rows that read it. */
	npx_metalen = co.data;
	assert_true(npx_metalen <= sizeof(npx_meta) && npx_metalen <= o.data_size_out);
	memcpy(npx_meta, out, npx_metalen);
	memmove(out, out + npx_metalen, o.data_size_out - npx_metalen);
	*out_len = o.data_size_out - npx_metalen;
	return (int)o.retval;
}

/* The same through the harness's programs (dsr: the lb_dsr one). */
static int npx_run(int dsr, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
	return npx_run_x(dsr ? env.xdp_np_dsr : env.xdp_np, in, len, out, out_len);
}

/* ---- Maps: taken, put back, compared ------------------------------------------ */

static int ncpus(void)
{
	static int n;

	return n ?: (n = libbpf_num_possible_cpus());
}

void snap_free(struct msnap *s)
{
	free(s->k);
	free(s->v);
	s->k = s->v = NULL;
	s->n = 0;
}

/* Every entry of the map named name; -E2BIG beyond NPX_MAX_ENTRIES. */
int snap_take(struct msnap *s, const char *name)
{
	struct bpf_map_info info = {};
	uint32_t il = sizeof(info);
	uint8_t key[128], next[128];
	size_t cap = 64;
	int first = 1;

	memset(s, 0, sizeof(*s));
	s->fd = map_fd(name);
	if (s->fd < 0 || bpf_map_get_info_by_fd(s->fd, &info, &il))
		return -ENOENT;
	s->type = (int)info.type;
	s->ksz = info.key_size;
	s->vsz1 = info.value_size;
	s->percpu = info.type == BPF_MAP_TYPE_PERCPU_ARRAY || info.type == BPF_MAP_TYPE_PERCPU_HASH ||
		    info.type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	s->vsz = s->percpu ? ((info.value_size + 7) & ~7u) * (uint32_t)ncpus() : info.value_size;
	if (s->ksz > sizeof(key))
		return -E2BIG;
	s->k = malloc(cap * s->ksz);
	s->v = malloc(cap * s->vsz);
	if (!s->k || !s->v)
		return -ENOMEM;
	while (bpf_map_get_next_key(s->fd, first ? NULL : key, next) == 0) {
		first = 0;
		memcpy(key, next, s->ksz);
		if (s->n == NPX_MAX_ENTRIES) {
			snap_free(s);
			return -E2BIG;
		}
		if (s->n == cap) {
			uint8_t *nk = realloc(s->k, cap * 2 * s->ksz), *nv;

			if (nk)
				s->k = nk;
			nv = realloc(s->v, cap * 2 * s->vsz);
			if (nv)
				s->v = nv;
			if (!nk || !nv)
				return -ENOMEM;
			cap *= 2;
		}
		if (bpf_map_lookup_elem(s->fd, key, s->v + s->n * s->vsz))
			continue; /* gone meanwhile */
		memcpy(s->k + s->n * s->ksz, key, s->ksz);
		s->n++;
	}
	return 0;
}

static const uint8_t *snap_find(const struct msnap *s, const void *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (!memcmp(s->k + i * s->ksz, key, s->ksz))
			return s->v + i * s->vsz;
	return NULL;
}

/* The map as s holds it: what came since deleted (hashes, tries), s's entries written. */
int snap_restore(const struct msnap *s)
{
	uint8_t key[128], next[128];
	int first = 1;

	if (s->type != BPF_MAP_TYPE_ARRAY && s->type != BPF_MAP_TYPE_PERCPU_ARRAY) {
		while (bpf_map_get_next_key(s->fd, first ? NULL : key, next) == 0) {
			first = 0;
			memcpy(key, next, s->ksz);
			if (!snap_find(s, key)) {
				bpf_map_delete_elem(s->fd, key);
				first = 1; /* a deletion restarts the walk */
			}
		}
	}
	for (size_t i = 0; i < s->n; i++)
		if (bpf_map_update_elem(s->fd, s->k + i * s->ksz, s->v + i * s->vsz, BPF_ANY))
			return -errno;
	return 0;
}

/* Set while the flow cache holds entries (npx_diff_before): its hits are
 * not in conntrack's counters yet, nor the hits before in tc's. */
static int snap_nocount;

/* A value as compared: per-CPU values summed (counters), conntrack's clocks
 * zeroed (norm 1: a conntrack map; 2: xcni_snat). */
static void value_norm(const struct msnap *s, const uint8_t *v, uint8_t *out, int norm)
{
	if (!s->percpu) {
		memcpy(out, v, s->vsz1);
	} else {
		uint32_t stride = (s->vsz1 + 7) & ~7u;

		memset(out, 0, s->vsz1);
		/* Counters of __u64: struct xcni_metric, struct xcni_tunstat. */
		for (int c = 0; c < ncpus(); c++)
			for (uint32_t w = 0; w + 8 <= s->vsz1; w += 8) {
				uint64_t a, b;

				memcpy(&a, out + w, 8);
				memcpy(&b, v + (size_t)c * stride + w, 8);
				a += b;
				memcpy(out + w, &a, 8);
			}
	}
	/* A SNAT record's clock (norm 2: xcni_snat) too. */
	if (norm == 2)
		((struct xcni_snat *)out)->last_ns = 0;
	if (norm == 1) {
		/* The flow cache's hits reach conntrack's counters once a second. */
		memset(out, 0, snap_nocount ? offsetof(struct xcni_ct_entry, ep_id) :
					      offsetof(struct xcni_ct_entry, pkts_orig));
		/* Which hook opened the flow is told apart by design (xdp_np_flag). */
		((struct xcni_ct_entry *)out)->flags &= (__u8)~XCNI_CT_F_XDP;
	}
}

/* snap_same let a random pick's service entry by (its counters are conntrack's then). */
static int snap_allowed;

/*
 * a and b (the same map) hold the same entries: 0, else a message naming
 * the first difference. allow_svc: an entry of a only, an XCNI_CT_F_SVC one
 * that counted no packet, is allowed (the random pick the fast path hands
 * on).
 */
int snap_same(const struct msnap *a, const struct msnap *b, const char *name, int ct,
	      int allow_svc, char *msg, size_t cap)
{
	uint8_t x[512], y[512];
	int norm = ct ? 1 : !strcmp(name, "xcni_snat") ? 2 : 0;

	if (a->vsz1 > sizeof(x))
		return 0;
	for (size_t i = 0; i < a->n; i++) {
		const uint8_t *k = a->k + i * a->ksz, *bv = snap_find(b, k);

		value_norm(a, a->v + i * a->vsz, x, norm);
		if (!bv) {
			const struct xcni_ct_entry *e = (const void *)x;

			if (ct && allow_svc && (e->flags & XCNI_CT_F_SVC) && !e->pkts_orig) {
				snap_allowed = 1;
				continue;
			}
			if (!ct || e->flags || e->state || e->pkts_orig) {
				snprintf(msg, cap, "%s: entry %zu only on one side", name, i);
				return -1;
			}
			continue;
		}
		value_norm(b, bv, y, norm);
		if (memcmp(x, y, a->vsz1)) {
			snprintf(msg, cap, "%s: entry %zu differs", name, i);
			return -1;
		}
	}
	for (size_t i = 0; i < b->n; i++) {
		const uint8_t *k = b->k + i * b->ksz;

		if (!snap_find(a, k)) {
			value_norm(b, b->v + i * b->vsz, y, norm);
			if (!ct || ((const struct xcni_ct_entry *)y)->flags ||
			    ((const struct xcni_ct_entry *)y)->pkts_orig) {
				snprintf(msg, cap, "%s: entry %zu only on the other side", name, i);
				return -1;
			}
		}
	}
	return 0;
}

/* ---- The differential ------------------------------------------------------ */

/* The maps the fast path writes, and those compared after a translation. */
static const char *const npx_maps[] = { "xcni_ct",	  "xcni_ct6",	     "xcni_snat",
					"xcni_metrics",	  "xcni_tunstat",    "xcni_tunstat6",
					"xcni_ctstat",	  "xcni_affinity",   "xcni_npaccel",
					"xcni_snat_cl",	  "xcni_snat_known", "xcni_npc",
					"xcni_prefilter", "xcni_prefilter6", "xcni_pf16",
					"xcni_pf24" };
#define NPX_NMAPS (sizeof(npx_maps) / sizeof(npx_maps[0]))
/* the first seven: conntrack, the SNAT's clients, metrics, tunnels of both
 * underlays, conntrack's counters */
#define NPX_NCMP 7
/* then kept as they were for tc's run (the SNAT's budgets and known clients:
 * one packet charged once) */
#define NPX_NPC 11 /* the flow cache: the warm pass keeps it */
#define NPX_PF_FIRST 12 /* the prefilter's: set aside for the XDP run */

static struct {
	int active, ret, hit;
	size_t in_len, out_len;
	uint8_t in[NPX_OUT], out[NPX_OUT];
	struct msnap after[NPX_NCMP]; /* what the XDP run left */
	/* the run's outcomes, for the report at exit */
	unsigned long tx, pass, drop, random, skipped, warm, hits;
} npx;

static void npx_report(void)
{
	if (npx.tx + npx.pass + npx.drop + npx.random + npx.skipped)
		printf("xdp differential: %lu frames translated at XDP and compared with tc, "
		       "%lu handed on untouched, %lu dropped by both, %lu random picks apart, "
		       "%lu not compared (maps too big)\n",
		       npx.tx, npx.pass, npx.drop, npx.random, npx.skipped);
	if (npx.warm + npx.hits)
		printf("xdp flow cache: %lu frames sent again from the cache (the warm pass) the "
		       "same bytes, %lu answered from it and compared with tc\n",
		       npx.warm, npx.hits);
}

unsigned long npx_translated(void)
{
	return npx.tx;
}

static void snaps_free(struct msnap *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		snap_free(&s[i]);
}

static int npx_diff_before(struct xdp_underlay *x, const uint8_t *in, size_t len);
static uint64_t npa_count(uint32_t idx);

int npx_before(int prog, const uint8_t *in, size_t len, int repeat)
{
	if (!env.xdp_np || repeat > 1 || (prog != FROM_OVERLAY_LB && prog != FROM_OVERLAY_DSR))
		return 0;
	return npx_diff_before(prog == FROM_OVERLAY_DSR ? env.xdp_np_dsr : env.xdp_np, in, len);
}

int npx_before_fd(int fd, const uint8_t *in, size_t len)
{
	if (!env.xdp_np || fd < 0)
		return 0;
	if (fd == prog_fd(FROM_OVERLAY_LB))
		return npx_diff_before(env.xdp_np, in, len);
	if (fd == prog_fd(FROM_OVERLAY_DSR))
		return npx_diff_before(env.xdp_np_dsr, in, len);
	for (size_t i = 0; i < ARRAY_SIZE(npx_fds); i++)
		if (npx_fds[i].x && npx_fds[i].tc_fd == fd)
			return npx_diff_before(npx_fds[i].x, in, len);
	return 0;
}

/*
 * The warm pass: a frame the full path sent (out) again through x, the maps
 * as before the first run (before) but the flow cache as that run left it.
 * Answered from the cache (XCNI_NPA_CACHE), it must be the same bytes and
 * count the same metrics and tunnel counters (after: the first run's).
 */
static void npc_warm(struct xdp_underlay *x, const uint8_t *in, size_t len, const uint8_t *out,
		     size_t out_len, const struct msnap *before, const struct msnap *after)
{
	static uint8_t out2[NPX_OUT];
	size_t out2_len = 0, i;
	uint64_t hits = npa_count(XCNI_NPA_CACHE);
	struct msnap m;
	char msg[160];
	int ret;

	for (i = 0; i < NPX_NMAPS; i++)
		if (i != NPX_NPC && snap_restore(&before[i]))
			fail_msg("xdp flow cache: putting %s back", npx_maps[i]);
	for (i = NPX_PF_FIRST; i < NPX_NMAPS; i++)
		map_clear(before[i].fd, before[i].ksz);
	ret = npx_run_x(x, in, len, out2, &out2_len);
	if (npa_count(XCNI_NPA_CACHE) == hits)
		return; /* not cached (a TCP flag), or another CPU's cache */
	if (ret != XDP_TX || out2_len != out_len || memcmp(out2, out, out_len))
		fail_msg("xdp flow cache: the warm frame (%d, %zu bytes) is not the full path's "
			 "(%zu)",
			 ret, out2_len, out_len);
	for (i = 3; i < 6; i++) {
		assert_int_equal(snap_take(&m, npx_maps[i]), 0);
		if (snap_same(&m, &after[i], npx_maps[i], 0, 0, msg, sizeof(msg)))
			fail_msg("xdp flow cache: the warm pass counted otherwise: %s", msg);
		snap_free(&m);
	}
	npx.warm++;
}

/* The differential's first half for the fast path x (npx_before's). */
static int npx_diff_before(struct xdp_underlay *x, const uint8_t *in, size_t len)
{
	static int reg;
	struct msnap before[NPX_NMAPS];
	uint8_t out[NPX_OUT];
	size_t out_len = 0, i;
	uint64_t hits;
	char msg[160];
	int ret, err = 0;

	if (len > NPX_OUT - 128)
		return 0;
	if (!reg) {
		reg = 1;
		atexit(npx_report);
	}
	memset(before, 0, sizeof(before));
	for (i = 0; i < NPX_NMAPS && !err; i++)
		err = snap_take(&before[i], npx_maps[i]);
	if (err) {
		snaps_free(before, NPX_NMAPS);
		if (err != -E2BIG)
			fail_msg("xdp differential: taking %s: %s", npx_maps[i - 1], strerror(-err));
		npx.skipped++;
		return 0;
	}
	for (i = NPX_PF_FIRST; i < NPX_NMAPS; i++)
		map_clear(before[i].fd, before[i].ksz);
	snap_nocount = before[NPX_NPC].n > 0;
	hits = npa_count(XCNI_NPA_CACHE);
	ret = npx_run_x(x, in, len, out, &out_len);
	npx.hit = npa_count(XCNI_NPA_CACHE) != hits;
	for (i = 0; i < NPX_NCMP && !err; i++)
		err = snap_take(&npx.after[i], npx_maps[i]);
	if (!err && ret == XDP_TX && !npx.hit)
		npc_warm(x, in, len, out, out_len, before, npx.after);
	for (i = 0; i < NPX_NMAPS && !err; i++)
		err = snap_restore(&before[i]);
	if (err) {
		snaps_free(before, NPX_NMAPS);
		snaps_free(npx.after, NPX_NCMP);
		fail_msg("xdp differential: the maps: %s", strerror(-err));
	}
	npx.active = 0;
	switch (ret) {
	case XDP_PASS:
		if (out_len != len || memcmp(out, in, len))
			fail_msg("xdp differential: XDP_PASS with the frame changed");
		snap_allowed = 0;
		for (i = 0; i < NPX_NCMP; i++) {
			/* xcni_ctstat counted the random pick's entry. */
			if (snap_allowed && !strcmp(npx_maps[i], "xcni_ctstat"))
				continue;
			if (snap_same(&npx.after[i], &before[i], npx_maps[i], i < 2, 1, msg,
				      sizeof(msg)))
				fail_msg("xdp differential: XDP_PASS left something behind: %s", msg);
		}
		npx.pass++;
		break;
	case XDP_TX:
	case XDP_DROP:
		npx.active = 1;
		npx.ret = ret;
		npx.in_len = len;
		memcpy(npx.in, in, len);
		npx.out_len = out_len;
		memcpy(npx.out, out, out_len);
		break;
	default:
		fail_msg("xdp differential: XDP verdict %d", ret);
	}
	snaps_free(before, NPX_NMAPS);
	if (!npx.active)
		snaps_free(npx.after, NPX_NCMP);
	return npx.active;
}

/* The service entry (XCNI_CT_F_SVC) of the frame's tuple in s (xcni_ct) or s6
 * (xcni_ct6): its backend, or 0. */
static uint32_t svc_backend_in(const struct msnap *s, const struct msnap *s6,
			       const uint8_t *frame)
{
	const struct iphdr *ip = (const void *)(frame + ETH_HLEN);
	const struct xcni_ct_entry *e;

	if (ntohs(*(const uint16_t *)(frame + 12)) == ETH_P_IPV6) {
		struct xcni_ct6_key k6 = { .proto = frame[ETH_HLEN + 6] };

		memcpy(k6.saddr, frame + ETH_HLEN + 8, 32);
		memcpy(&k6.sport, frame + ETH_HLEN + 40, 4);
		e = (const void *)snap_find(s6, &k6);
	} else if (ntohs(*(const uint16_t *)(frame + 12)) == ETH_P_IP) {
		struct xcni_ct_key k = { .saddr = ip->saddr, .daddr = ip->daddr,
					 .proto = ip->protocol };

		memcpy(&k.sport, frame + ETH_HLEN + ip->ihl * 4, 4);
		e = (const void *)snap_find(s, &k);
	} else {
		return 0;
	}
	return e && (e->flags & XCNI_CT_F_SVC) ? e->backend_id : 0;
}

void npx_after(int prog, int err, const struct bpf_test_run_opts *o)
{
	struct msnap tc[NPX_NCMP];
	char msg[160];
	size_t i;
	int e = 0;

	(void)prog;
	if (!npx.active)
		return;
	npx.active = 0;
	memset(tc, 0, sizeof(tc));
	for (i = 0; i < NPX_NCMP && !e; i++)
		e = snap_take(&tc[i], npx_maps[i]);
	if (npx.ret == XDP_DROP) {
		snaps_free(tc, NPX_NCMP);
		snaps_free(npx.after, NPX_NCMP);
		if (err || o->retval != TC_ACT_SHOT)
			fail_msg("xdp differential: XDP dropped a frame tc did not (tc %d)",
				 err ?: (int)o->retval);
		npx.drop++;
		return;
	}
	if (e || err || o->retval != TC_ACT_REDIRECT) {
		snaps_free(tc, NPX_NCMP);
		snaps_free(npx.after, NPX_NCMP);
		fail_msg("xdp differential: XDP_TX where tc %s %d", err ? "failed" : "returned",
			 err ?: (int)o->retval);
	}
	/* A random pick at each hook: not the same flow twice. */
	if (svc_backend_in(&npx.after[0], &npx.after[1], npx.in) !=
	    svc_backend_in(&tc[0], &tc[1], npx.in)) {
		npx.random++;
		goto out;
	}
	if (o->data_size_out != npx.out_len ||
	    memcmp((const uint8_t *)o->data_out + 12, npx.out + 12, npx.out_len - 12)) {
		snaps_free(tc, NPX_NCMP);
		snaps_free(npx.after, NPX_NCMP);
		fail_msg("xdp differential: XDP's frame (%zu bytes) is not tc's (%u)", npx.out_len,
			 o->data_size_out);
	}
	if (memcmp(npx.out, n2_mac, ETH_ALEN)) {
		snaps_free(tc, NPX_NCMP);
		snaps_free(npx.after, NPX_NCMP);
		fail_msg("xdp differential: the outer destination MAC is not n2's neighbour entry");
	}
	for (i = 0; i < NPX_NCMP; i++)
		if (snap_same(&npx.after[i], &tc[i], npx_maps[i], i < 2, 0, msg, sizeof(msg))) {
			snaps_free(tc, NPX_NCMP);
			snaps_free(npx.after, NPX_NCMP);
			fail_msg("xdp differential: the maps after XDP are not tc's: %s", msg);
		}
	npx.tx++;
	npx.hits += npx.hit;
out:
	snaps_free(tc, NPX_NCMP);
	snaps_free(npx.after, NPX_NCMP);
}

/* ---- The group's rows ---------------------------------------------------------- */

static uint64_t npa_count(uint32_t idx)
{
	struct xcni_metric v[ncpus()];
	uint64_t n = 0;

	assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_npaccel"), &idx, v), 0);
	for (int c = 0; c < ncpus(); c++)
		n += v[c].packets;
	return n;
}

/* In through the fast path for real (the maps kept): the verdict, out as it left. */
static int xdp_in(int dsr, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
	return npx_run(dsr, in, len, out, out_len);
}

/* A frame the fast path must hand on: XDP_PASS, untouched, nothing written. */
static void handed_on(int dsr, const uint8_t *in, size_t len)
{
	struct msnap ct0, ct1;
	uint8_t out[NPX_OUT];
	size_t out_len;
	char msg[160];
	uint64_t tx = npa_count(XCNI_NPA_XDP4);

	assert_int_equal(snap_take(&ct0, "xcni_ct"), 0);
	assert_int_equal(xdp_in(dsr, in, len, out, &out_len), XDP_PASS);
	assert_int_equal(snap_take(&ct1, "xcni_ct"), 0);
	assert_int_equal(out_len, len);
	assert_memory_equal(out, in, len);
	if (snap_same(&ct1, &ct0, "xcni_ct", 1, 0, msg, sizeof(msg)))
		fail_msg("handed on, but conntrack changed: %s", msg);
	assert_int_equal(npa_count(XCNI_NPA_XDP4), tx);
	snap_free(&ct0);
	snap_free(&ct1);
}

/* CLIENT's address is on node4_state's deny list: the fast path's clients are elsewhere. */
#define XC "198.51.100.7"
#define XC2 "198.51.100.8"

static struct fr outside_to(const char *src, uint16_t sp, uint16_t dp, uint8_t proto,
			    uint8_t flags)
{
	struct fr f = from_outside(src, sp, dp, flags);

	f.proto = proto;
	if (proto == IPPROTO_UDP)
		f.payload = 12;
	return f;
}

/*
 * TCP to NODE_IP:30081 (R:80 on n2): taken at XDP, the same bytes and
 * entries as tc's (the differential, through tc's own run of the frame);
 * then for real: R's SYN-ACK through tc finds XDP's entries and goes to the
 * client, the client's ACK is XDP's again, on the entries of both.
 */
static void npx_remote_tcp(void **state)
{
	uint8_t in[FRAME_MAX], out[NPX_OUT], rin[FRAME_MAX], inner[FRAME_MAX];
	struct fr f = outside_to(XC, 40001, 30081, IPPROTO_TCP, TH_SYN);
	struct fr r = { .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac, .saddr = ip4(IP_R),
			.daddr = ip4(NODE_IP), .sport = 80, .dport = 40001, .proto = IPPROTO_TCP,
			.flags = TH_SYN | TH_ACK };
	struct xcni_ct_key t = { .saddr = ip4(IP_R), .daddr = ip4(NODE_IP), .sport = htons(80),
				 .dport = htons(40001), .proto = IPPROTO_TCP };
	struct xcni_ct_entry e;
	size_t len = frame(&f, in), out_len, ilen, rlen;
	unsigned long tx = npx.tx;
	uint64_t n = npa_count(XCNI_NPA_XDP4);
	int found;

	(void)state;
	/* The differential: XDP's translation against tc's, maps put back. */
	assert_int_equal(lb_send(FROM_OVERLAY_LB, DEV_U, in, len, out, &out_len), TC_ACT_REDIRECT);
	assert_int_equal(npx.tx, tx + 1);
	assert_int_equal(map_clear(map_fd("xcni_ct"), sizeof(struct xcni_ct_key)), 0);
	/* For real at XDP. */
	assert_int_equal(xdp_in(0, in, len, out, &out_len), XDP_TX);
	assert_int_equal(out_len, len + XCNI_ENCAP_LEN);
	assert_memory_equal(out, n2_mac, ETH_ALEN);
	assert_int_equal(npa_count(XCNI_NPA_XDP4), n + 1);
	e = flow_entry4(ip4(XC), ip4(NODE_IP), 40001, 30081, XCNI_CT_F_SVC);
	assert_int_equal(e.backend_id, 101);
	assert_int_equal(e.pkts_orig, 1);
	/* Opened at XDP, and it says so (the flow records' service_path). */
	e = flow_entry4(ip4(NODE_IP), ip4(IP_R), 40001, 80,
			XCNI_CT_F_NODEPORT | XCNI_CT_F_SNAT | XCNI_CT_F_XDP);
	assert_int_equal(e.nat_addr, ip4(XC));
	assert_int_equal(e.nat_port, htons(40001));
	/* R's SYN-ACK, Geneve from n2, through tc: frontend -> client. */
	ilen = frame(&r, inner);
	rlen = geneve_wrap(t, inner, ilen, inner, N2, NODE_IP, VNI, 0, rin);
	assert_int_equal(lb_send(FROM_OVERLAY_LB, DEV_U, rin, rlen, out, &out_len),
			 TC_ACT_REDIRECT);
	assert_int_equal(out_len, ilen);
	assert_int_equal(((struct iphdr *)(out + ETH_HLEN))->saddr, ip4(NODE_IP));
	assert_int_equal(((struct iphdr *)(out + ETH_HLEN))->daddr, ip4(XC));
	e = ct_get(ip4(NODE_IP), ip4(IP_R), 40001, 80, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.state, XCNI_CT_ESTABLISHED);
	/* The client's ACK: XDP again, on the flow both hooks kept. */
	f.flags = TH_ACK;
	len = frame(&f, in);
	assert_int_equal(xdp_in(0, in, len, out, &out_len), XDP_TX);
	e = flow_entry4(ip4(XC), ip4(NODE_IP), 40001, 30081, XCNI_CT_F_SVC);
	assert_int_equal(e.pkts_orig, 2);
	e = ct_get(ip4(NODE_IP), ip4(IP_R), 40001, 80, IPPROTO_TCP, &found);
	assert_int_equal(e.pkts_orig, 2);
	assert_int_equal(e.pkts_reply, 1);
	/* And tc takes the next one alike (acceleration off, or a miss). */
	assert_int_equal(lb_send(FROM_OVERLAY_LB, DEV_U, in, len, out, &out_len), TC_ACT_REDIRECT);
	assert_int_equal(npx.tx, tx + 2);
}

/* UDP to a NodePort on n2's R:53 (svc 9101): XDP and tc alike, twice (new, then kept). */
static void npx_remote_udp(void **state)
{
	uint8_t in[FRAME_MAX], out[NPX_OUT];
	struct fr f = outside_to(XC2, 40002, 30091, IPPROTO_UDP, 0);
	size_t len, out_len;
	unsigned long tx = npx.tx;

	(void)state;
	assert_int_equal(be_set(9101, IP_R, 53, XCNI_BE_ACTIVE), 0);
	assert_int_equal(svc_set(NODE_IP, 30091, IPPROTO_UDP, 9101, 0, 0, 0,
				 (const uint32_t[]){ 9101 }, 1, 0),
			 0);
	len = frame(&f, in);
	assert_int_equal(lb_send(FROM_OVERLAY_LB, DEV_U, in, len, out, &out_len), TC_ACT_REDIRECT);
	assert_int_equal(lb_send(FROM_OVERLAY_LB, DEV_U, in, len, out, &out_len), TC_ACT_REDIRECT);
	f.no_csum = true; /* UDP without a checksum: it stays without */
	len = frame(&f, in);
	assert_int_equal(lb_send(FROM_OVERLAY_LB, DEV_U, in, len, out, &out_len), TC_ACT_REDIRECT);
	assert_int_equal(npx.tx, tx + 3);
	assert_int_equal(*(uint16_t *)(out + ETH_HLEN + XCNI_ENCAP_LEN + 20 + 6), 0);
	/* tc opened that flow (its runs were for real): XDP takes it over and
	 * marks it so, once (the flow records' service_path). */
	{
		struct xcni_ct_entry e;
		int found;

		e = ct_get(ip4(NODE_IP), ip4(IP_R), 40002, 53, IPPROTO_UDP, &found);
		assert_true(found);
		assert_int_equal(e.flags, XCNI_CT_F_NODEPORT | XCNI_CT_F_SNAT);
		assert_int_equal(xdp_in(0, in, len, out, &out_len), XDP_TX);
		e = ct_get(ip4(NODE_IP), ip4(IP_R), 40002, 53, IPPROTO_UDP, &found);
		assert_int_equal(e.flags, XCNI_CT_F_NODEPORT | XCNI_CT_F_SNAT | XCNI_CT_F_XDP);
	}
}

/*
 * IPv6: TCP to [NODE6]:30081 (R6N:80 on n2, over the IPv4 underlay) and UDP
 * to :30082 (R6N:5353), XDP against tc; then the SYN for real at XDP, its
 * entries (the service entry, the SNATed flow's, xcni_snat's client) those
 * tc's reply path reads.
 */
static void npx_remote6(void **state)
{
	uint8_t in[FRAME_MAX], out[NPX_OUT];
	struct g6 f = outside6_to(CLIENT6, 41001, NODE6, 30081, IPPROTO_TCP, T_SYN);
	struct xcni_ct_entry e;
	size_t len = frame6(&f, in), out_len;
	unsigned long tx = npx.tx;
	uint64_t n6 = npa_count(XCNI_NPA_XDP6);

	(void)state;
	assert_int_equal(lb_send(FROM_OVERLAY_LB, DEV_U, in, len, out, &out_len), TC_ACT_REDIRECT);
	assert_int_equal(npx.tx, tx + 1);
	f = outside6_to(CLIENT6, 41002, NODE6, 30082, IPPROTO_UDP, 0);
	len = frame6(&f, in);
	assert_int_equal(lb_send(FROM_OVERLAY_LB, DEV_U, in, len, out, &out_len), TC_ACT_REDIRECT);
	assert_int_equal(npx.tx, tx + 2);
	assert_int_equal(map_clear(map_fd("xcni_ct6"), sizeof(struct xcni_ct6_key)), 0);
	assert_int_equal(map_clear(map_fd("xcni_snat"), sizeof(struct xcni_ct6_key)), 0);
	f = outside6_to(CLIENT6, 41001, NODE6, 30081, IPPROTO_TCP, T_SYN);
	len = frame6(&f, in);
	assert_int_equal(xdp_in(0, in, len, out, &out_len), XDP_TX);
	assert_int_equal(out_len, len + XCNI_ENCAP_LEN);
	assert_int_equal(npa_count(XCNI_NPA_XDP6), n6 + 1);
	e = flow_entry6(CLIENT6, 41001, NODE6, 30081, XCNI_CT_F_SVC);
	assert_int_equal(e.backend_id, 3211);
	assert_int_equal(e.nat_port, htons(41001));
	e = flow_entry6(NODE6, 41001, R6N, 80, XCNI_CT_F_NODEPORT | XCNI_CT_F_SNAT | XCNI_CT_F_XDP);
	assert_int_equal(e.pkts_orig, 1);
	/* The next packet of the flow at tc finds XDP's entries (and is compared). */
	f.flags = T_ACK;
	len = frame6(&f, in);
	assert_int_equal(lb_send(FROM_OVERLAY_LB, DEV_U, in, len, out, &out_len), TC_ACT_REDIRECT);
	assert_int_equal(npx.tx, tx + 3);
	e = flow_entry6(NODE6, 41001, R6N, 80, XCNI_CT_F_NODEPORT | XCNI_CT_F_SNAT | XCNI_CT_F_XDP);
	assert_int_equal(e.pkts_orig, 2);
}

/* The frames the fast path must hand on, each checked alone and against tc. */
static void npx_handed_on(void **state)
{
	uint8_t in[FRAME_MAX + 8], out[NPX_OUT];
	struct fr f;
	size_t len, out_len;
	uint64_t tc0 = npa_count(XCNI_NPA_TC);

	(void)state;
	/* This node's own address, as xcnid writes it (the host). */
	assert_int_equal(ipcache(NODE_IP, 32, XCNI_ID_HOST), 0);
	/* Forged sources: a pod of n2, node n2, this node, a martian. */
	static const char *const forged[] = { IP_R, N2, NODE_IP, "127.0.0.1", "0.0.0.0" };
	for (size_t i = 0; i < ARRAY_SIZE(forged); i++) {
		print_message("forged source %s\n", forged[i]);
		f = outside_to(forged[i], 40010, 30081, IPPROTO_TCP, TH_SYN);
		len = frame(&f, in);
		handed_on(0, in, len);
		assert_int_equal(lb_send(FROM_OVERLAY_LB, DEV_U, in, len, out, &out_len),
				 TC_ACT_SHOT);
	}
	/* Geneve from outside (UDP to 6081 of this node). */
	f = outside_to(XC, 40011, XCNI_GENEVE_PORT, IPPROTO_UDP, 0);
	len = frame(&f, in);
	handed_on(0, in, len);
	/* Fragments: the first (MF), a later one. */
	f = outside_to(XC, 40012, 30081, IPPROTO_TCP, TH_SYN);
	len = frame(&f, in);
	set_frag(in, 0x2000, 77);
	handed_on(0, in, len);
	set_frag(in, 0x0010, 77);
	handed_on(0, in, len);
	/* Bad lengths: tot_len past the frame; a frame padded past tot_len. */
	len = frame(&f, in);
	((struct iphdr *)(in + ETH_HLEN))->tot_len = htons((uint16_t)(len - ETH_HLEN + 4));
	handed_on(0, in, len);
	len = frame(&f, in);
	memset(in + len, 0, 6);
	handed_on(0, in, len + 6);
	/* A VLAN tag (802.1Q) before IPv4. */
	len = frame(&f, in);
	memmove(in + 16, in + 12, len - 12);
	in[12] = 0x81, in[13] = 0x00, in[14] = 0x00, in[15] = 0x07;
	handed_on(0, in, len + 4);
	/* IP options (ihl 6: a NOP word). */
	len = frame(&f, in);
	{
		struct iphdr *ip = (struct iphdr *)(in + ETH_HLEN);

		memmove(in + ETH_HLEN + 24, in + ETH_HLEN + 20, len - ETH_HLEN - 20);
		memset(in + ETH_HLEN + 20, 1, 4);
		ip->ihl = 6;
		ip->tot_len = htons((uint16_t)(len - ETH_HLEN + 4));
		ip->check = 0;
		ip->check = csum(ip, 24);
	}
	handed_on(0, in, len + 4);
	/* TTL 1. */
	f.ttl = 1;
	len = frame(&f, in);
	handed_on(0, in, len);
	f.ttl = 0;
	/* A FIN of no flow (conntrack refuses it): nothing left behind. */
	f = outside_to(XC, 40013, 30081, IPPROTO_TCP, TH_FIN);
	len = frame(&f, in);
	handed_on(0, in, len);
	/* A backend on this node (30080: B), no backend (30085), ETP Local (30083). */
	static const uint16_t ports[] = { 30080, 30085, 30083 };
	for (size_t i = 0; i < ARRAY_SIZE(ports); i++) {
		f = outside_to(XC, 40014, ports[i], IPPROTO_TCP, TH_SYN);
		len = frame(&f, in);
		handed_on(0, in, len);
	}
	/* Not a frontend at all. */
	f = outside_to(XC, 40016, 31999, IPPROTO_TCP, TH_SYN);
	len = frame(&f, in);
	handed_on(0, in, len);
	/* The frontends' packets handed on are counted so. */
	assert_int_equal(npa_count(XCNI_NPA_TC), tc0 + 9);
	/* IPv6: a pod's source (n2's R6N), a hop-by-hop header, a hop limit of 1. */
	{
		struct g6 g = outside6_to(R6N, 40040, NODE6, 30081, IPPROTO_TCP, T_SYN);

		len = frame6(&g, in);
		handed_on(0, in, len);
		g = outside6_to(CLIENT6, 40041, NODE6, 30081, IPPROTO_TCP, T_SYN);
		len = frame6(&g, in);
		memmove(in + ETH_HLEN + 48, in + ETH_HLEN + 40, len - ETH_HLEN - 40);
		in[ETH_HLEN + 40] = in[ETH_HLEN + 6]; /* the hop-by-hop header's next header */
		memset(in + ETH_HLEN + 41, 0, 7); /* length 0 (8 bytes), PadN */
		in[ETH_HLEN + 42] = 1, in[ETH_HLEN + 43] = 4;
		in[ETH_HLEN + 6] = 0;
		*(uint16_t *)(in + ETH_HLEN + 4) = htons(ntohs(*(uint16_t *)(in + ETH_HLEN + 4)) + 8);
		handed_on(0, in, len + 8);
		g.hop = 1;
		len = frame6(&g, in);
		handed_on(0, in, len);
	}
}

/*
 * A frontend whose every backend is here (XCNI_SVC_F_LOCAL_BE, xcnid's flag)
 * is handed on at its lookup, no backend chosen: two of B's at random (which
 * the fast path would otherwise choose, and write the pick for tc to follow:
 * handed_on finds conntrack changed), and, to show the flag alone decides,
 * one flagged over n2's R (without it taken at XDP).
 */
static void npx_local_be(void **state)
{
	uint8_t in[FRAME_MAX], out[NPX_OUT];
	struct fr f;
	size_t len, out_len;
	uint64_t tc0 = npa_count(XCNI_NPA_TC);

	(void)state;
	assert_int_equal(be_set(9111, IP_B, 8080, XCNI_BE_ACTIVE), 0);
	assert_int_equal(be_set(9112, IP_B, 8081, XCNI_BE_ACTIVE), 0);
	assert_int_equal(svc_set(NODE_IP, 30093, IPPROTO_TCP, 9111, 0, XCNI_SVC_F_LOCAL_BE, 0,
				 (const uint32_t[]){ 9111, 9112 }, 2, 0),
			 0);
	f = outside_to(XC, 40050, 30093, IPPROTO_TCP, TH_SYN);
	len = frame(&f, in);
	handed_on(0, in, len);
	/* tc takes it into B, as with acceleration off. */
	assert_int_not_equal(lb_send(FROM_OVERLAY_LB, DEV_U, in, len, out, &out_len), TC_ACT_SHOT);
	assert_int_equal(be_set(9113, IP_R, 80, XCNI_BE_ACTIVE), 0);
	assert_int_equal(svc_set(NODE_IP, 30094, IPPROTO_TCP, 9113, 0, XCNI_SVC_F_LOCAL_BE, 0,
				 (const uint32_t[]){ 9113 }, 1, 0),
			 0);
	f = outside_to(XC, 40051, 30094, IPPROTO_TCP, TH_SYN);
	len = frame(&f, in);
	handed_on(0, in, len);
	assert_int_equal(npa_count(XCNI_NPA_TC), tc0 + 2);
	assert_int_equal(svc_set(NODE_IP, 30094, IPPROTO_TCP, 9113, 0, 0, 0,
				 (const uint32_t[]){ 9113 }, 1, 0),
			 0);
	assert_int_equal(xdp_in(0, in, len, out, &out_len), XDP_TX);
}

/* Whether the flow cache holds src:sp -> NODE_IP:dp/UDP (any CPU's entry). */
static int npc_has(const char *src, uint16_t sp, uint16_t dp)
{
	union xcni_tuple k = { .v4 = { .saddr = ip4(src), .daddr = ip4(NODE_IP), .sport = htons(sp),
				       .dport = htons(dp), .proto = IPPROTO_UDP } };
	struct bpf_map_info info = {};
	uint32_t il = sizeof(info);
	int fd = map_fd("xcni_npc");

	assert_int_equal(bpf_map_get_info_by_fd(fd, &info, &il), 0);
	uint8_t v[ncpus() * ((info.value_size + 7) & ~7u)];

	return bpf_map_lookup_elem(fd, &k, v) == 0;
}

/*
 * A flow whose backend is here, its frontend not XCNI_SVC_F_LOCAL_BE (item
 * 3): the full path hands it on once and leaves a tc entry, so its next
 * packets are handed on from the cache (the frontend's and the entry's
 * lookups, no plan); the backend moved to n2 (a new generation), the entry
 * is refused and XDP takes the flow. A packet no frontend's (UDP to the
 * node's port 53, item 4) is handed on and leaves no entry.
 */
static void npx_cache_local(void **state)
{
	uint8_t in[FRAME_MAX], out[NPX_OUT];
	struct fr f = outside_to(XC2, 40300, 30095, IPPROTO_UDP, 0);
	size_t len = frame(&f, in), out_len;
	uint64_t tc0 = npa_count(XCNI_NPA_TC);

	(void)state;
	assert_int_equal(be_set(9141, IP_B, 8080, XCNI_BE_ACTIVE), 0);
	assert_int_equal(svc_set(NODE_IP, 30095, IPPROTO_UDP, 9141, 0, 0, 0,
				 (const uint32_t[]){ 9141 }, 1, 0),
			 0);
	assert_false(npc_has(XC2, 40300, 30095));
	handed_on(0, in, len);
	assert_true(npc_has(XC2, 40300, 30095));
	handed_on(0, in, len);
	assert_int_equal(npa_count(XCNI_NPA_TC), tc0 + 2);
	assert_int_equal(be_set(9141, IP_R, 80, XCNI_BE_ACTIVE), 0);
	assert_int_equal(xdp_in(0, in, len, out, &out_len), XDP_TX);
	f = outside_to(XC2, 40301, 53, IPPROTO_UDP, 0);
	len = frame(&f, in);
	handed_on(0, in, len);
	assert_false(npc_has(XC2, 40301, 53));
	assert_int_equal(npa_count(XCNI_NPA_TC), tc0 + 2);
}

/* The generation a flow cache entry is made under (bpf: npc_gen). */
static uint64_t npx_gen(void)
{
	uint32_t zero = 0, rev = 0;
	uint64_t g = 0;

	assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_npgen"), &zero, &g), 0);
	assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_polrev"), &zero, &rev), 0);
	return g << 32 ^ rev;
}

/* fd run live on the underlay device: what it passes (its metadata kept)
 * enters the stack there, through the tc program attached at its ingress. */
static void npx_live(int fd, const uint8_t *in, size_t len)
{
	struct xdp_md ci = { .data_end = (__u32)len, .ingress_ifindex = (__u32)env.ifindex[DEV_U] };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len, .ctx_in = &ci,
		    .ctx_size_in = sizeof(ci), .repeat = 1, .flags = BPF_F_TEST_XDP_LIVE_FRAMES);

	assert_int_equal(bpf_prog_test_run_opts(fd, &o), 0);
}

/*
 * Another XDP program's metadata: a 16-byte area holding w0, w1 (struct
 * xcni_np_meta's two words) in front of the frame, XDP_PASS. Plain
 * instructions: no object of the project writes such an area but
 * xdp_underlay, and the rows below need one that lies.
 */
static int npx_forger(uint64_t w0, uint64_t w1)
{
#define I(c, d, s_, o_, i_) { .code = (c), .dst_reg = (d), .src_reg = (s_), .off = (o_), .imm = (i_) }
	const struct bpf_insn p[] = {
		I(0xbf, 6, 1, 0, 0), /* r6 = ctx */
		I(0xb7, 2, 0, 0, -16), /* r2 = -16 */
		I(0x85, 0, 0, 0, BPF_FUNC_xdp_adjust_meta),
		I(0x55, 0, 0, 11, 0), /* no room: out */
		I(0x61, 2, 6, 8, 0), /* r2 = data_meta */
		I(0x61, 3, 6, 0, 0), /* r3 = data */
		I(0xbf, 4, 2, 0, 0),
		I(0x07, 4, 0, 0, 16),
		I(0x2d, 4, 3, 6, 0), /* meta + 16 > data: out */
		I(0x18, 5, 0, 0, (int32_t)w0), I(0, 0, 0, 0, (int32_t)(w0 >> 32)),
		I(0x7b, 2, 5, 0, 0),
		I(0x18, 5, 0, 0, (int32_t)w1), I(0, 0, 0, 0, (int32_t)(w1 >> 32)),
		I(0x7b, 2, 5, 8, 0),
		I(0xb7, 0, 0, 0, XDP_PASS), /* out */
		I(0x95, 0, 0, 0, 0),
	};
#undef I
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "npx_forger", "GPL", p, ARRAY_SIZE(p), NULL);

	assert_true(fd >= 0);
	return fd;
}

/* in's flow cache entry fresh: through the fast path until it is answered
 * from the entry (an entry past its second refreshed by the full path). */
static void npx_warm(const uint8_t *in, size_t len)
{
	uint8_t out[NPX_OUT];
	size_t out_len;

	for (int i = 0; i < 5; i++) {
		assert_int_equal(xdp_in(0, in, len, out, &out_len), XDP_PASS);
		assert_int_equal(out_len, len);
		assert_memory_equal(out, in, len);
		if (npx_metalen)
			return;
	}
	fail_msg("no record after 5 packets");
}

/* Each live run's outcome: the frontend's refusal counted, the flow's service entry's packets. */
struct npx_seen {
	uint64_t refused, svc_pkts;
};

static struct npx_seen npx_seen(const char *src, uint16_t sp, uint16_t dp)
{
	struct xcni_metric m[XCNI_NR_METRICS];
	struct npx_seen r;
	int found;

	assert_int_equal(read_metrics(m), 0);
	r.refused = m[XCNI_METRIC_IDX(XCNI_DROP_CLUSTERIP_OUTSIDE, XCNI_DIR_FROM_OVERLAY)].packets;
	r.svc_pkts = ct_get(ip4(src), ip4(NODE_IP), sp, dp, IPPROTO_UDP, &found).pkts_orig;
	assert_true(found);
	return r;
}

/* Through fd live (XDP, then from_overlay at tc): refused (1) or taken by tc (0). */
static int npx_live_refused(int fd, const uint8_t *in, size_t len, uint16_t sp, uint16_t dp)
{
	struct npx_seen a = npx_seen(XC2, sp, dp), b;

	npx_live(fd, in, len);
	assert_true(ring_buffer__consume(env.rb) >= 0);
	b = npx_seen(XC2, sp, dp);
	if (b.refused == a.refused + 1 && b.svc_pkts == a.svc_pkts)
		return 1;
	if (b.refused == a.refused && b.svc_pkts == a.svc_pkts + 1)
		return 0;
	fail_msg("live run: refused %llu -> %llu, service entry %llu -> %llu packets",
		 (unsigned long long)a.refused, (unsigned long long)b.refused,
		 (unsigned long long)a.svc_pkts, (unsigned long long)b.svc_pkts);
	return -1;
}

/*
 * The metadata handoff (issue 56 item 3): a flow to a backend here (B,
 * UDP to NODE_IP:30098), its tc entry in the flow cache; its next packet
 * passes with struct xcni_np_meta in front (the agent's key, the frontend,
 * the generation), and tc (npx_fo) takes the flow's service entry instead of its own
 * choice. To tell which one tc made, the frontend is then flagged a
 * ClusterIP (from outside: refused, drop-clusterip-outside) without a new
 * generation, which xcnid never does: the choice refuses it, XDP's handed
 * choice (made under the generation) does not. Warm (XDP live into tc):
 * taken; cold (tc alone, no metadata), another program's area (another
 * key; the key with a stale generation; the old constant magic with the
 * current generation, item 3): refused; the same key to a tc without one
 * (FROM_OVERLAY_LB, key 0): refused. With the generation moved, XDP refuses
 * its entry and hands on no record.
 * Shown to fail: with np_plan_choose not calling np_plan_handed, the warm
 * run is refused; with the constant magic (main before item 3), the
 * old-magic forger's run is taken.
 */
static void npx_cache_handoff(void **state)
{
	uint8_t in[FRAME_MAX], out[NPX_OUT];
	struct fr f = outside_to(XC2, 40310, 30098, IPPROTO_UDP, 0);
	size_t len = frame(&f, in), out_len;
	struct xcni_svc_key k = { .port = htons(30098), .family = XCNI_AF_INET,
				  .proto = IPPROTO_UDP, .scope = XCNI_SCOPE_EXT };
	struct xcni_np_meta m;
	struct xcni_svc sv;
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = env.ifindex[DEV_U], .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tco, .prog_fd = bpf_program__fd(npx_fo->progs.from_overlay));
	uint64_t gen, w0;
	int xfd = bpf_program__fd(env.xdp_np->progs.xdp_underlay), forged, stale, old, err;

	(void)state;
	*(uint32_t *)k.addr = ip4(NODE_IP);
	assert_int_equal(be_set(9143, IP_B, 8080, XCNI_BE_ACTIVE), 0);
	assert_int_equal(svc_set(NODE_IP, 30098, IPPROTO_UDP, 9143, 0, 0, 0,
				 (const uint32_t[]){ 9143 }, 1, 0),
			 0);
	/* The first packet: the full path hands it on (no record), a tc entry
	 * left; tc opens the flow. */
	handed_on(0, in, len);
	assert_int_equal(npx_metalen, 0);
	assert_int_equal(lb_send(FROM_OVERLAY_LB, DEV_U, in, len, out, &out_len), TC_ACT_REDIRECT);
	/* The next: from the tc entry, the record in front. */
	npx_warm(in, len);
	assert_int_equal(npx_metalen, sizeof(m));
	memcpy(&m, npx_meta, sizeof(m));
	assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_svc"), &k, &sv), 0);
	gen = npx_gen();
	assert_int_equal(m.key, npx_key);
	assert_int_equal(m.rev_nat, sv.rev_nat);
	assert_int_equal(m.svc_flags, sv.flags);
	assert_true(m.gen == gen);
	w0 = npx_key | (uint64_t)sv.rev_nat << 32 | (uint64_t)sv.flags << 48;
	forged = npx_forger(w0 ^ 2, gen);
	stale = npx_forger(w0, gen ^ 1ULL << 32);
	old = npx_forger(w0 ^ npx_key ^ NPX_OLD_MAGIC, gen);
	err = bpf_tc_hook_create(&hook);
	assert_true(!err || err == -EEXIST);
	assert_int_equal(bpf_tc_attach(&hook, &tco), 0);
	/* The frontend refused from outside, the generation not moved (no
	 * npx_run: the harness would move it), the tc entry fresh (within its
	 * second: a loaded machine's slow step in between refreshes it again). */
	for (int i = 0; i < 3; i++) {
		sv.flags &= (uint8_t)~XCNI_SVC_F_CLUSTERIP;
		assert_int_equal(bpf_map_update_elem(map_fd("xcni_svc"), &k, &sv, BPF_EXIST), 0);
		npx_warm(in, len);
		sv.flags |= XCNI_SVC_F_CLUSTERIP;
		assert_int_equal(bpf_map_update_elem(map_fd("xcni_svc"), &k, &sv, BPF_EXIST), 0);
		if (!npx_live_refused(xfd, in, len, 40310, 30098))
			break;
		assert_true(i < 2);
	}
	assert_int_equal(npx_live_refused(forged, in, len, 40310, 30098), 1);
	assert_int_equal(npx_live_refused(stale, in, len, 40310, 30098), 1);
	assert_int_equal(npx_live_refused(old, in, len, 40310, 30098), 1);
	/* The right record to a tc that has no key (0: no handoff). */
	tco.flags = BPF_TC_F_REPLACE;
	tco.prog_id = 0;
	tco.prog_fd = prog_fd(FROM_OVERLAY_LB);
	assert_int_equal(bpf_tc_attach(&hook, &tco), 0);
	{
		int right = npx_forger(w0, gen);

		assert_int_equal(npx_live_refused(right, in, len, 40310, 30098), 1);
		close(right);
	}
	tco.flags = tco.prog_fd = tco.prog_id = 0;
	assert_int_equal(bpf_tc_detach(&hook, &tco), 0);
	close(forged);
	close(stale);
	close(old);
	/* Cold: tc alone refuses it; the generation moved, XDP hands on no record. */
	assert_int_equal(lb_send(FROM_OVERLAY_LB, DEV_U, in, len, out, &out_len), TC_ACT_SHOT);
	assert_int_equal(xdp_in(0, in, len, out, &out_len), XDP_PASS);
	assert_int_equal(npx_metalen, 0);
}

/* The DSR option at o (after the outer IPv4, UDP, Geneve): the frontend fe:fport/proto, family fam. */
static void dsr_opt_is(const uint8_t *o, uint8_t fam, const void *fe, size_t alen, uint16_t fport,
		       uint8_t proto)
{
	uint8_t want[24] = { 0xff, 0xf0, 0x81, 5, fam, proto, (uint8_t)(fport >> 8),
			     (uint8_t)fport };

	memcpy(want + 8, fe, alen);
	assert_memory_equal(o, want, sizeof(want));
}

#define DSR_OPT_OFF (ETH_HLEN + 20 + 8 + 8)

/*
 * --node-port-mode dsr at XDP, as nodeport_dsr at tc: TCP to NODE_IP:30081
 * (R:80 on n2) and to [NODE6]:30081 (R6N:80), DNAT only, the frontend in the
 * Geneve option; first against tc (the differential: the same bytes and
 * entries), then for real: the option naming the frontend, the client kept,
 * the flow's entry (client -> backend, NodePort and DSR, opened at XDP),
 * and the next packet at tc finding XDP's entries (compared again).
 */
static void npx_dsr(void **state)
{
	uint8_t in[FRAME_MAX], out[NPX_OUT];
	struct fr f = outside_to(XC, 40060, 30081, IPPROTO_TCP, TH_SYN);
	struct g6 g = outside6_to(CLIENT6, 41060, NODE6, 30081, IPPROTO_TCP, T_SYN);
	const struct iphdr *inner;
	struct xcni_ct_entry e;
	uint32_t fe4 = ip4(NODE_IP);
	uint8_t fe6[16], c6[16];
	size_t len = frame(&f, in), out_len;
	unsigned long tx = npx.tx;
	uint64_t n4 = npa_count(XCNI_NPA_XDP4), n6 = npa_count(XCNI_NPA_XDP6);
	int found;

	(void)state;
	assert_int_equal(lb_send(FROM_OVERLAY_DSR, DEV_U, in, len, out, &out_len), TC_ACT_REDIRECT);
	assert_int_equal(npx.tx, tx + 1);
	assert_int_equal(map_clear(map_fd("xcni_ct"), sizeof(struct xcni_ct_key)), 0);
	assert_int_equal(xdp_in(1, in, len, out, &out_len), XDP_TX);
	assert_int_equal(out_len, len + XCNI_ENCAP_DSR_LEN);
	assert_memory_equal(out, n2_mac, ETH_ALEN);
	assert_int_equal(npa_count(XCNI_NPA_XDP4), n4 + 1);
	dsr_opt_is(out + DSR_OPT_OFF, XCNI_AF_INET, &fe4, 4, 30081, IPPROTO_TCP);
	inner = (const void *)(out + ETH_HLEN + XCNI_ENCAP_DSR_LEN);
	assert_int_equal(inner->saddr, ip4(XC));
	assert_int_equal(inner->daddr, ip4(IP_R));
	assert_int_equal(inner->ttl, 63);
	e = flow_entry4(ip4(XC), ip4(IP_R), 40060, 80,
			XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR | XCNI_CT_F_XDP);
	assert_int_equal(e.pkts_orig, 1);
	assert_int_equal(e.nat_port, 0);
	e = flow_entry4(ip4(XC), ip4(NODE_IP), 40060, 30081, XCNI_CT_F_SVC);
	assert_int_equal(e.backend_id, 101);
	assert_int_equal(e.nat_port, 0);
	/* Nothing SNATed. */
	ct_get(ip4(NODE_IP), ip4(IP_R), 40060, 80, IPPROTO_TCP, &found);
	assert_false(found);
	f.flags = TH_ACK;
	len = frame(&f, in);
	assert_int_equal(lb_send(FROM_OVERLAY_DSR, DEV_U, in, len, out, &out_len), TC_ACT_REDIRECT);
	assert_int_equal(npx.tx, tx + 2);
	e = flow_entry4(ip4(XC), ip4(IP_R), 40060, 80,
			XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR | XCNI_CT_F_XDP);
	assert_int_equal(e.pkts_orig, 2);

	len = frame6(&g, in);
	assert_int_equal(lb_send(FROM_OVERLAY_DSR, DEV_U, in, len, out, &out_len), TC_ACT_REDIRECT);
	assert_int_equal(npx.tx, tx + 3);
	assert_int_equal(map_clear(map_fd("xcni_ct6"), sizeof(struct xcni_ct6_key)), 0);
	assert_int_equal(xdp_in(1, in, len, out, &out_len), XDP_TX);
	assert_int_equal(out_len, len + XCNI_ENCAP_DSR_LEN);
	assert_int_equal(npa_count(XCNI_NPA_XDP6), n6 + 1);
	assert_int_equal(inet_pton(AF_INET6, NODE6, fe6), 1);
	dsr_opt_is(out + DSR_OPT_OFF, XCNI_AF_INET6, fe6, 16, 30081, IPPROTO_TCP);
	assert_int_equal(inet_pton(AF_INET6, CLIENT6, c6), 1);
	assert_memory_equal(out + ETH_HLEN + XCNI_ENCAP_DSR_LEN + 8, c6, 16);
	e = flow_entry6(CLIENT6, 41060, R6N, 80, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR | XCNI_CT_F_XDP);
	assert_int_equal(e.pkts_orig, 1);
	g.flags = T_ACK;
	len = frame6(&g, in);
	assert_int_equal(lb_send(FROM_OVERLAY_DSR, DEV_U, in, len, out, &out_len), TC_ACT_REDIRECT);
	assert_int_equal(npx.tx, tx + 4);
	e = flow_entry6(CLIENT6, 41060, R6N, 80, XCNI_CT_F_NODEPORT | XCNI_CT_F_DSR | XCNI_CT_F_XDP);
	assert_int_equal(e.pkts_orig, 2);
}

/*
 * DSR, a frame that fits the underlay with the plain encapsulation but not
 * with the option (140 bytes of IPv4: 190 and 214 against an MTU of 200):
 * tc sends it without the option, so XDP hands it on untouched.
 */
static void npx_dsr_mtu(void **state)
{
	uint8_t in[FRAME_MAX], out[NPX_OUT];
	struct fr f = outside_to(XC, 40061, 30081, IPPROTO_TCP, TH_SYN);
	size_t len, out_len;
	unsigned long pass = npx.pass;

	(void)state;
	f.payload = 100;
	len = frame(&f, in);
	assert_int_equal(npx_sh("ip link set xtu mtu 200"), 0);
	handed_on(1, in, len);
	assert_int_equal(lb_send(FROM_OVERLAY_DSR, DEV_U, in, len, out, &out_len), TC_ACT_REDIRECT);
	assert_int_equal(npx.pass, pass + 1);
	assert_int_equal(npx_sh("ip link set xtu mtu 1500"), 0);
	assert_int_equal(npx_ul6_addrs(), 0);
	assert_int_equal(out_len, len + XCNI_ENCAP_LEN);
	assert_int_equal(xdp_in(1, in, len, out, &out_len), XDP_TX);
	assert_int_equal(out_len, len + XCNI_ENCAP_DSR_LEN);
}

/* The encapsulated frame over the underlay's MTU; n2's neighbour unresolved: tc's. */
static void npx_mtu_neigh(void **state)
{
	uint8_t in[FRAME_MAX], out[NPX_OUT];
	struct fr f = outside_to(XC, 40020, 30081, IPPROTO_TCP, TH_SYN);
	size_t len, out_len;

	(void)state;
	f.payload = 100;
	len = frame(&f, in);
	assert_int_equal(npx_sh("ip link set xtu mtu 180"), 0);
	handed_on(0, in, len);
	assert_int_equal(npx_sh("ip link set xtu mtu 1500"), 0);
	assert_int_equal(npx_ul6_addrs(), 0);
	assert_int_equal(npx_sh("ip neigh del " N2 " dev xtu"), 0);
	handed_on(0, in, len);
	assert_int_equal(npx_sh("ip neigh replace " N2
				" lladdr 02:77:00:00:00:02 dev xtu nud permanent"),
			 0);
	assert_int_equal(xdp_in(0, in, len, out, &out_len), XDP_TX);
}

/* XC3/32 on the prefilter (add) or off it (!add), as xcnictl prefilter add
 * and del write it: the marks, the trie, then the flow cache's generation. */
#define XC3 "198.51.100.9"
static void npx_pf_xc3(int add)
{
	struct xcni_prefilter_key k = { .prefixlen = 32, .addr = ip4(XC3) };
	struct xcni_prefilter_val v = {};

	if (add) {
		assert_int_equal(xcni_prefilter_mark(map_fd("xcni_pf16"), map_fd("xcni_pf24"), &k, 1), 0);
		assert_int_equal(bpf_map_update_elem(map_fd("xcni_prefilter"), &k, &v, BPF_ANY), 0);
	} else {
		assert_int_equal(bpf_map_delete_elem(map_fd("xcni_prefilter"), &k), 0);
		assert_int_equal(xcni_prefilter_mark(map_fd("xcni_pf16"), map_fd("xcni_pf24"), &k, -1), 0);
	}
	npc_gen_bump();
}

/*
 * A prefilter-listed client is dropped first, and a Service-range source
 * (both hooks drop). A hit runs ahead of the prefilter (nodeport_cache.h):
 * a source listed mid-flow, the flow's entry warm, is dropped on its next
 * packet, by the generation xcnictl bumps. Shown to fail: without the bump
 * in npx_pf_xc3, that packet is a hit (XDP_TX).
 */
static void npx_prefilter_first(void **state)
{
	uint8_t in[FRAME_MAX], out[NPX_OUT];
	struct fr f = outside_to(CLIENT, 40030, 30081, IPPROTO_TCP, TH_SYN);
	size_t len = frame(&f, in), out_len;
	uint64_t hits;
	struct xcni_prefilter_val v;
	struct xcni_prefilter_key k = { .prefixlen = 32, .addr = ip4(XC3) };

	(void)state;
	assert_int_equal(xdp_in(0, in, len, out, &out_len), XDP_DROP);
	f = outside_to("10.96.0.10", 40031, 30081, IPPROTO_TCP, TH_SYN);
	len = frame(&f, in);
	assert_int_equal(xdp_in(0, in, len, out, &out_len), XDP_DROP);
	unsigned long drop = npx.drop;
	assert_int_equal(lb_send(FROM_OVERLAY_LB, DEV_U, in, len, out, &out_len), TC_ACT_SHOT);
	assert_int_equal(npx.drop, drop + 1);
	/* UDP to n2's R:53 (svc 9101): the full path, then a hit. */
	assert_int_equal(be_set(9101, IP_R, 53, XCNI_BE_ACTIVE), 0);
	assert_int_equal(svc_set(NODE_IP, 30091, IPPROTO_UDP, 9101, 0, 0, 0,
				 (const uint32_t[]){ 9101 }, 1, 0),
			 0);
	f = outside_to(XC3, 40032, 30091, IPPROTO_UDP, 0);
	len = frame(&f, in);
	assert_int_equal(xdp_in(0, in, len, out, &out_len), XDP_TX);
	hits = npa_count(XCNI_NPA_CACHE);
	assert_int_equal(xdp_in(0, in, len, out, &out_len), XDP_TX);
	assert_int_equal(npa_count(XCNI_NPA_CACHE), hits + 1);
	/* Listed mid-flow: its next packet dropped and counted on its entry. */
	npx_pf_xc3(1);
	assert_int_equal(xdp_in(0, in, len, out, &out_len), XDP_DROP);
	assert_int_equal(npa_count(XCNI_NPA_CACHE), hits + 1);
	assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_prefilter"), &k, &v), 0);
	assert_int_equal(v.packets, 1);
	npx_pf_xc3(0);
	assert_int_equal(xdp_in(0, in, len, out, &out_len), XDP_TX);
}

/* ---- The flow cache (bpf/lib/nodeport_cache.h) ------------------------------- */

/*
 * A TCP flow from outside to NODE_IP:30081 (R:80 on n2), for real at XDP:
 * the SYN and the first ACK take the full path (the ACK fills the entry),
 * the next ACK is answered from the cache with the full path's bytes and
 * no conntrack write; a new generation sends the next one to the full path
 * (the hit's packet reaching conntrack then); FIN and RST never hit.
 */
static void npx_cache_tcp(void **state)
{
	uint8_t in[FRAME_MAX], out[NPX_OUT], out1[NPX_OUT], rin[FRAME_MAX], inner[FRAME_MAX];
	struct fr f = outside_to(XC, 40101, 30081, IPPROTO_TCP, TH_SYN);
	struct fr r = { .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac, .saddr = ip4(IP_R),
			.daddr = ip4(NODE_IP), .sport = 80, .dport = 40101, .proto = IPPROTO_TCP,
			.flags = TH_SYN | TH_ACK };
	struct xcni_ct_key t = { .saddr = ip4(IP_R), .daddr = ip4(NODE_IP), .sport = htons(80),
				 .dport = htons(40101), .proto = IPPROTO_TCP };
	size_t len = frame(&f, in), out_len, out1_len, ilen, rlen;
	uint64_t hits = npa_count(XCNI_NPA_CACHE);
	struct xcni_ct_entry e;
	int found;

	(void)state;
	assert_int_equal(xdp_in(0, in, len, out, &out_len), XDP_TX);
	ilen = frame(&r, inner);
	rlen = geneve_wrap(t, inner, ilen, inner, N2, NODE_IP, VNI, 0, rin);
	assert_int_equal(lb_send(FROM_OVERLAY_LB, DEV_U, rin, rlen, out, &out_len),
			 TC_ACT_REDIRECT);
	f.flags = TH_ACK;
	len = frame(&f, in);
	assert_int_equal(xdp_in(0, in, len, out1, &out1_len), XDP_TX);
	assert_int_equal(npa_count(XCNI_NPA_CACHE), hits);
	/* Warm: the same bytes, conntrack untouched. */
	assert_int_equal(xdp_in(0, in, len, out, &out_len), XDP_TX);
	assert_int_equal(npa_count(XCNI_NPA_CACHE), hits + 1);
	assert_int_equal(out_len, out1_len);
	assert_memory_equal(out, out1, out_len);
	e = ct_get(ip4(NODE_IP), ip4(IP_R), 40101, 80, IPPROTO_TCP, &found);
	assert_true(found);
	assert_int_equal(e.pkts_orig, 2);
	/* A longer frame than the entry's: the full path (the MTU), then cached. */
	f.payload = 100;
	len = frame(&f, in);
	assert_int_equal(xdp_in(0, in, len, out, &out_len), XDP_TX);
	assert_int_equal(npa_count(XCNI_NPA_CACHE), hits + 1);
	assert_int_equal(xdp_in(0, in, len, out1, &out1_len), XDP_TX);
	assert_int_equal(npa_count(XCNI_NPA_CACHE), hits + 2);
	assert_memory_equal(out, out1, out_len);
	/* Compared with tc while warm (the differential: a hit, then tc). */
	{
		unsigned long h = npx.hits;

		assert_int_equal(lb_send(FROM_OVERLAY_LB, DEV_U, in, len, out, &out_len),
				 TC_ACT_REDIRECT);
		assert_int_equal(npx.hits, h + 1);
	}
	/* A new generation: the full path, which gets the hit's packet first. */
	npc_gen_bump();
	assert_int_equal(xdp_in(0, in, len, out, &out_len), XDP_TX);
	assert_int_equal(npa_count(XCNI_NPA_CACHE), hits + 2);
	e = ct_get(ip4(NODE_IP), ip4(IP_R), 40101, 80, IPPROTO_TCP, &found);
	assert_int_equal(e.pkts_orig, 2 + 1 + 1 + 1 + 1 + 1);
	/* A policy revision alike. */
	assert_int_equal(xdp_in(0, in, len, out, &out_len), XDP_TX);
	assert_int_equal(npa_count(XCNI_NPA_CACHE), hits + 3);
	assert_int_equal(polrev_bump(), 0);
	assert_int_equal(xdp_in(0, in, len, out, &out_len), XDP_TX);
	assert_int_equal(npa_count(XCNI_NPA_CACHE), hits + 3);
	/* FIN: never from the cache, and the flow's state moves. */
	f.flags = TH_FIN | TH_ACK;
	len = frame(&f, in);
	assert_int_equal(xdp_in(0, in, len, out, &out_len), XDP_TX);
	assert_int_equal(npa_count(XCNI_NPA_CACHE), hits + 3);
	e = ct_get(ip4(NODE_IP), ip4(IP_R), 40101, 80, IPPROTO_TCP, &found);
	assert_int_equal(e.state, XCNI_CT_CLOSING);
}

/*
 * The differential over generations changing mid-flow: UDP flows to
 * NODE_IP:30093 (two backends on n2), each packet for real at XDP (the
 * cache warm) and then XDP against tc (the differential), while a seeded
 * random walk moves a backend (its port: the service entry keeps the
 * backend, the frame changes), adds a generation, or does nothing. Every
 * frame XDP sends must be tc's, from the cache or not.
 */
static void npx_cache_gens(void **state)
{
	uint8_t in[FRAME_MAX], out[NPX_OUT];
	size_t len, out_len;
	unsigned long hits = npx.hits;
	unsigned int seed = 56;

	(void)state;
	assert_int_equal(be_set(9131, IP_R, 53, XCNI_BE_ACTIVE), 0);
	assert_int_equal(be_set(9132, IP_R, 54, XCNI_BE_ACTIVE), 0);
	assert_int_equal(svc_set(NODE_IP, 30093, IPPROTO_UDP, 9131, 0, 0, 0,
				 (const uint32_t[]){ 9131, 9132 }, 2, 0),
			 0);
	for (int i = 0; i < 120; i++) {
		struct fr f = outside_to(XC2, (uint16_t)(40200 + rand_r(&seed) % 4), 30093,
					 IPPROTO_UDP, 0);
		int act = rand_r(&seed) % 6;

		if (act == 0)
			assert_int_equal(be_set(9131 + rand_r(&seed) % 2, IP_R,
						(uint16_t)(53 + rand_r(&seed) % 8), XCNI_BE_ACTIVE),
					 0);
		else if (act == 1)
			npc_gen_bump();
		len = frame(&f, in);
		assert_int_equal(xdp_in(0, in, len, out, &out_len), XDP_TX);
		assert_int_equal(lb_send(FROM_OVERLAY_LB, DEV_U, in, len, out, &out_len),
				 TC_ACT_REDIRECT);
	}
	/* Most packets of the walk were answered from the cache, compared. */
	assert_true(npx.hits - hits > 40);
}

/*
 * A flood of new flows (more than the cache holds): the cache evicts its
 * entries (LRU), nothing else; a flow evicted takes the full path again,
 * the same frame.
 */
static void npx_cache_flood(void **state)
{
	uint8_t in[FRAME_MAX], out[NPX_OUT];
	struct fr f = outside_to(XC2, 1024, 30094, IPPROTO_UDP, 0);
	size_t len, out_len, n = 0, sent = 0;
	unsigned long tx;
	uint8_t key[sizeof(union xcni_tuple)], next[sizeof(union xcni_tuple)];
	int fd = map_fd("xcni_npc"), first = 1;

	struct bpf_map_info info = {};
	uint32_t il = sizeof(info), max;

	(void)state;
	assert_true(fd >= 0);
	/* One backend: the evicted flow's backend is the same again. */
	assert_int_equal(be_set(9133, IP_R, 55, XCNI_BE_ACTIVE), 0);
	assert_int_equal(svc_set(NODE_IP, 30094, IPPROTO_UDP, 9133, 0, 0, 0,
				 (const uint32_t[]){ 9133 }, 1, 0),
			 0);
	assert_int_equal(bpf_map_get_info_by_fd(fd, &info, &il), 0);
	max = info.max_entries;
	len = frame(&f, in);
	assert_int_equal(xdp_in(0, in, len, out, &out_len), XDP_TX);
	for (int i = 0; i < (int)max + 2000; i++) {
		char src[32];

		snprintf(src, sizeof(src), "100.%d.%d.%d", 64 + i / 60000, (i / 250) % 240 + 1,
			 i % 250 + 1);
		f = outside_to(src, (uint16_t)(1025 + i % 50000), 30094, IPPROTO_UDP, 0);
		len = frame(&f, in);
		sent += xdp_in(0, in, len, out, &out_len) == XDP_TX;
	}
	assert_true(sent > max);
	while (bpf_map_get_next_key(fd, first ? NULL : key, next) == 0) {
		first = 0;
		memcpy(key, next, sizeof(key));
		n++;
	}
	assert_true(n > 0 && n <= max);
	/* The first flow, evicted: XDP does what tc does (the differential),
	 * on conntrack and SNAT budgets emptied (the differential compares
	 * them whole, quadratic in their entries). */
	assert_int_equal(map_clear(map_fd("xcni_ct"), sizeof(struct xcni_ct_key)), 0);
	assert_int_equal(map_clear(map_fd("xcni_snat_cl"), sizeof(struct xcni_snat_cl_key)), 0);
	f = outside_to(XC2, 1024, 30094, IPPROTO_UDP, 0);
	len = frame(&f, in);
	tx = npx.tx + npx.pass;
	assert_int_equal(lb_send(FROM_OVERLAY_LB, DEV_U, in, len, out, &out_len),
			 TC_ACT_REDIRECT);
	/* Sent at XDP, or handed on (the flood's conntrack and SNAT ports are
	 * the full path's matter, as without the cache): compared either way. */
	assert_int_equal(npx.tx + npx.pass, tx + 1);
	/* The rows after run on small maps. */
	assert_int_equal(map_clear(fd, sizeof(union xcni_tuple)), 0);
	assert_int_equal(map_clear(map_fd("xcni_ct"), sizeof(struct xcni_ct_key)), 0);
}

static const struct CMUnitTest xdp_np_tests[] = {
	cmocka_unit_test(npx_remote_tcp),
	cmocka_unit_test(npx_remote_udp),
	cmocka_unit_test(npx_remote6),
	cmocka_unit_test(npx_handed_on),
	cmocka_unit_test(npx_local_be),
	cmocka_unit_test(npx_mtu_neigh),
	cmocka_unit_test(npx_dsr),
	cmocka_unit_test(npx_dsr_mtu),
	cmocka_unit_test(npx_prefilter_first),
	cmocka_unit_test(npx_cache_tcp),
	cmocka_unit_test(npx_cache_gens),
	cmocka_unit_test(npx_cache_flood),
	cmocka_unit_test(npx_cache_local),
	cmocka_unit_test(npx_cache_handoff),
};
const struct group xdp_np_group = { "xdp_np", TESTS(xdp_np_tests), .prep = np_state };
