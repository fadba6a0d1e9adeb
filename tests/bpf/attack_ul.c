// SPDX-License-Identifier: Apache-2.0
/*
 * A hostile host on the underlay (issue 26 items 2 and 3; DESIGN.md, trust
 * boundaries): it reaches pods only as the outside world does, and a pod,
 * node, gateway, link-local or martian source it claims is a forgery. Run
 * on the frontends and nodes the group's prep (svc_state: svc_lib.c's
 * lb_setup, lb6_setup, nodeport.c's np6_setup) writes, n2 and its pod R,
 * R6N, and nv and RV6 behind the IPv6 underlay (nodeport.c's ul6_node):
 *
 *   from the underlay (plain, not Geneve), each forged source to
 *     NODE_IP:30080 (B: a local backend)   NODE_IP:30081 (R: SNAT + Geneve)
 *     10.96.1.1:80 (a ClusterIP: B)        B:8080 (a pod, directly)
 *     [NODE6]:30080 (B6)  [NODE6]:30081 (R6N)  [fd00:96::1]:80  B6:8080
 *     over the IPv6 underlay: [NODE6]:30191 (RV6 on nv)  B6:8080
 *   is dropped as drop-outside-spoof and leaves no conntrack entry; a client
 *   outside the cluster is served, but for ClusterIPs (drop-clusterip-outside,
 *   unless xcnid --external-clusterip);
 *
 *   from the stack into a pod (to_pod) or to a remote pod (to_overlay), a pod
 *   source without XCNI_MARK_TRUSTED (which only from_pod and a decapsulating
 *   from_overlay set: the packet came in some other way, a second NIC) is
 *   dropped the same and commits nothing; with the mark, as before.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <linux/pkt_cls.h>

#include "harness.h"
#include "lb.h"
#include "lb6.h"

#define CLIENT "203.0.113.77" /* outside the cluster */
#define B6 "fd00:99::b"
#define R6N "fd00:98::2" /* np6_setup's pod of n2 (IPv4 underlay) */
#define N2_6 "fc00:77::3" /* n2's IPv6 InternalIP (written here: a remote node) */
#define NV "fc00:77::2" /* nodeport.c's node behind the IPv6 underlay */
#define RV6 "fd00:95::2" /* its pod */
#define VIP1 "fd00:96::1"
#define CIP "10.96.1.1" /* a ClusterIP: B:8080 */

/* The programs a row runs, beyond the harness's. */
enum { UL6_LB = 100 /* from_overlay on the IPv6 underlay, Services in BPF */,
       OVL_CIP /* from_overlay with Services in BPF and --external-clusterip */ };

static struct from_overlay *ul6; /* node_ip6 NODE6, lb_enabled */
static struct from_overlay *cip; /* the harness's ovin_lb with --external-clusterip */

struct ul_row {
	int prog, dev;
	bool v6;
	const char *src, *dst;
	uint16_t dport;
	uint8_t proto;
	uint32_t mark; /* skb->mark it arrives with */
	int ret, reason; /* reason 0: not xcni's, no counter moves */
	bool no_ct; /* nothing in conntrack for it afterwards */
	const char *be; /* ... nor for it translated to be:bport */
	uint16_t bport;
	bool marks; /* handed to the stack with XCNI_MARK_TRUSTED */
	const char *node; /* Geneve from this node (the IPv4 underlay), not plain */
};

static uint16_t next_port = 47000;

static int fd_of(int prog)
{
	if (prog == UL6_LB)
		return bpf_program__fd(ul6->progs.from_overlay);
	if (prog == OVL_CIP)
		return bpf_program__fd(cip->progs.from_overlay);
	return prog_fd(prog);
}

static unsigned int dir_of(int prog)
{
	return prog == UL6_LB || prog == OVL_CIP ? XCNI_DIR_FROM_OVERLAY : prog_dir(prog);
}

/* The frame r sends (source port sp): from the router's MAC on the underlay, else the host's. */
static size_t ul_frame(const struct ul_row *r, uint16_t sp, uint8_t *buf)
{
	const uint8_t *smac = pods[r->dev].host_mac, *dmac = pods[r->dev].mac;
	uint8_t inner[FRAME_MAX];
	size_t n;

	if (r->node) {
		struct ul_row t = *r;
		struct xcni_ct_key k = { .saddr = ip4(NODE_IP) };

		t.node = NULL;
		t.prog = FROM_POD; /* any but the underlay's: the inner MACs */
		n = ul_frame(&t, sp, inner);
		uint8_t eth[ETH_HLEN] = { 0 };

		memcpy(eth, pods[DEV_U].host_mac, ETH_ALEN);
		memcpy(eth + ETH_ALEN, pods[DEV_U].mac, ETH_ALEN);
		return r->v6 ? geneve_wrap6(inner, n, r->node, NODE_IP, 6081, VNI, buf) :
			       geneve_wrap(k, inner, n, eth, r->node, NODE_IP, VNI, 0, buf);
	}
	if (r->prog == FROM_POD) {
		smac = pods[r->dev].mac;
		dmac = pods[r->dev].host_mac;
	}

	if (r->prog == FROM_OVERLAY || r->prog == FROM_OVERLAY_LB || r->prog == UL6_LB ||
	    r->prog == OVL_CIP) {
		smac = pods[DEV_U].mac;
		dmac = pods[DEV_U].host_mac;
	}
	if (r->v6) {
		struct g6 f = { .smac = smac, .dmac = dmac, .src = r->src, .dst = r->dst,
				.sport = sp, .dport = r->dport, .proto = r->proto,
				.flags = r->proto == IPPROTO_TCP ? T_SYN : 0,
				.payload = r->proto == IPPROTO_UDP ? 12 : 0 };

		return frame6(&f, buf);
	}
	struct fr f = { .smac = smac, .dmac = dmac, .saddr = ip4(r->src), .daddr = ip4(r->dst),
			.sport = sp, .dport = r->dport, .proto = r->proto,
			.flags = r->proto == IPPROTO_TCP ? TH_SYN : 0,
			.payload = r->proto == IPPROTO_UDP ? 12 : 0 };

	return frame(&f, buf);
}

static bool ct_has(const struct ul_row *r, const char *d, uint16_t sp, uint16_t dp)
{
	int found;

	if (r->v6)
		ct6_get(r->src, sp, d, dp, r->proto, &found);
	else
		ct_get(ip4(r->src), ip4(d), sp, dp, r->proto, &found);
	return found;
}

static void check_ul(void **state)
{
	const struct ul_row *r = *state;
	struct xcni_metric before[XCNI_NR_METRICS], after[XCNI_NR_METRICS];
	uint8_t in[FRAME_MAX], out[FRAME_MAX + 128];
	struct __sk_buff ctx = { .ifindex = env.ifindex[r->dev], .mark = r->mark };
	uint16_t sp = next_port++;
	size_t len = ul_frame(r, sp, in);
	unsigned int dir = dir_of(r->prog);
	int idx = r->reason ? (int)XCNI_METRIC_IDX(r->reason, dir) : -1, n = 0;
	char got[256];
	bool bad = false;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .ctx_out = &ctx, .ctx_size_out = sizeof(ctx));

	assert_int_equal(read_metrics(before), 0);
	assert_int_equal(bpf_prog_test_run_opts(fd_of(r->prog), &o), 0);
	assert_true(ring_buffer__consume(env.rb) >= 0);
	assert_int_equal(read_metrics(after), 0);
	for (int i = 0; i < XCNI_NR_METRICS; i++)
		if (after[i].packets - before[i].packets != (uint64_t)(i == idx))
			bad = true;
	if (bad) {
		/* Every counter that moved, for the record of what it got instead. */
		for (int i = 0; i < XCNI_NR_METRICS; i++) {
			uint64_t dp = after[i].packets - before[i].packets;

			if (dp)
				n += snprintf(got + n, sizeof(got) - n, " %s/%s", reason_name(i / XCNI_NR_DIRS),
					      dir_name(i % XCNI_NR_DIRS));
		}
		fail_msg("counted:%s (verdict %d); want %s", n ? got : " nothing", (int)o.retval,
			 r->reason ? reason_name(XCNI_REASON_IDX(r->reason)) : "nothing");
	}
	assert_int_equal((int)o.retval, r->ret);
	if (r->marks && !(ctx.mark & XCNI_MARK_TRUSTED))
		fail_msg("handed to the stack without XCNI_MARK_TRUSTED (mark 0x%x)", ctx.mark);
	if (!r->marks && r->prog != TO_POD && r->prog != TO_OVERLAY && (ctx.mark & XCNI_MARK_TRUSTED))
		fail_msg("XCNI_MARK_TRUSTED on a packet xcni did not hand the stack");
	if (r->no_ct && ct_has(r, r->dst, sp, r->dport))
		fail_msg("a conntrack entry for the forged flow");
	if (r->no_ct && r->be && ct_has(r, r->be, sp, r->bport))
		fail_msg("a conntrack entry for the forged flow, translated");
}

/*
 * What the prep does not write: n2's IPv6 InternalIP (a remote node),
 * ClusterIPs marked as such (as xcnid writes them), the IPv6 underlay's
 * from_overlay (nodeport.c's ul6_load, on the same maps).
 */
static void mark_clusterip(const char *vip, uint16_t port, bool v6)
{
	struct xcni_svc_key k = { .port = htons(port), .proto = IPPROTO_TCP,
				  .family = v6 ? XCNI_AF_INET6 : XCNI_AF_INET };
	struct xcni_svc s;
	uint32_t a;

	if (v6) {
		in6(vip, k.addr);
	} else {
		a = ip4(vip);
		memcpy(k.addr, &a, 4);
	}
	assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_svc"), &k, &s), 0);
	s.flags |= XCNI_SVC_F_CLUSTERIP;
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_svc"), &k, &s, BPF_EXIST), 0);
}

static void ul_setup(void **state)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = env.pin_dir);

	(void)state;
	cip = from_overlay__open_opts(&opts);
	assert_non_null(cip);
	cip->rodata->node_ip = ip4(NODE_IP);
	cip->rodata->vni = VNI;
	cip->rodata->lb_enabled = 1;
	cip->rodata->external_clusterip = 1;
	UL_SVC_RANGES(cip->rodata);
	assert_int_equal(from_overlay__load(cip), 0);
	ipc6_put(N2_6, XCNI_ID_REMOTE_NODE, N2, 0);
	mark_clusterip(CIP, 80, false);
	mark_clusterip(VIP1, 80, true);
	ul6 = ul6_load(1);
	assert_non_null(ul6);
	/* nv and its pod as nodeport.c's ul6_node writes them, a NodePort of its own to RV6
	 * (nodeport_icmp.c takes 30181 for n2's R6N), this node's addresses the host's, as xcnid
	 * writes them. */
	assert_int_equal(ul6_node(NV, "nv", RV6, 0x3100), 0);
	be6(3901, RV6, 80);
	svc6(NODE6, 30191, IPPROTO_TCP, 390, 0, (const uint32_t[]){ 3901 }, 1);
	ipc6_put(NODE6, XCNI_ID_HOST, NULL, 0);
	self6_put_fd(bpf_map__fd(ul6->maps.xcni_self6), NODE6);
	assert_int_equal(ipcache(NODE_IP, 32, XCNI_ID_HOST), 0);
}

static void ul_teardown(void **state)
{
	(void)state;
	from_overlay__destroy(ul6);
	from_overlay__destroy(cip);
	ul6 = NULL;
	cip = NULL;
}

#define SPOOF .ret = TC_ACT_SHOT, .reason = XCNI_DROP_OUTSIDE_SPOOF, .no_ct = true
#define ROW(n, ...) \
	{ .name = n, .test_func = check_ul, .initial_state = (void *)&(const struct ul_row){ __VA_ARGS__ } }
/* IPv4 from the underlay, Services in BPF: the four targets. */
#define NP_LOCAL(s) .prog = FROM_OVERLAY_LB, .dev = DEV_U, .src = s, .dst = NODE_IP, .dport = 30080, \
		    .proto = IPPROTO_TCP, .be = IP_B, .bport = 8080
#define NP_REMOTE(s) .prog = FROM_OVERLAY_LB, .dev = DEV_U, .src = s, .dst = NODE_IP, \
		     .dport = 30081, .proto = IPPROTO_TCP, .be = IP_R, .bport = 80
#define CLUSTER_IP(s) CLUSTER_IP_P(FROM_OVERLAY_LB, s)
#define CLUSTER_IP_P(p, s) .prog = p, .dev = DEV_U, .src = s, .dst = CIP, .dport = 80, \
		      .proto = IPPROTO_TCP, .be = IP_B, .bport = 8080
#define POD(p, s) .prog = p, .dev = DEV_U, .src = s, .dst = IP_B, .dport = 8080, .proto = IPPROTO_UDP
#define FOUR(what, s) \
	ROW("underlay: " what " -> NodePort, local backend: drop-outside-spoof", NP_LOCAL(s), SPOOF), \
	ROW("underlay: " what " -> NodePort, remote backend: drop-outside-spoof", NP_REMOTE(s), SPOOF), \
	ROW("underlay: " what " -> ClusterIP: drop-outside-spoof", CLUSTER_IP(s), SPOOF), \
	ROW("underlay: " what " -> pod B, plain: drop-outside-spoof", POD(FROM_OVERLAY_LB, s), SPOOF), \
	ROW("underlay, no Services in BPF: " what " -> pod B, plain: drop-outside-spoof", \
	    POD(FROM_OVERLAY, s), SPOOF)
/* IPv6 from the underlay (IPv4 underlay), Services in BPF. */
#define NP6_LOCAL(s) .v6 = true, .prog = FROM_OVERLAY_LB, .dev = DEV_U, .src = s, .dst = NODE6, \
		     .dport = 30080, .proto = IPPROTO_TCP, .be = B6, .bport = 8080
#define NP6_REMOTE(s) .v6 = true, .prog = FROM_OVERLAY_LB, .dev = DEV_U, .src = s, .dst = NODE6, \
		      .dport = 30081, .proto = IPPROTO_TCP, .be = R6N, .bport = 80
#define CLUSTER_IP6(s) CLUSTER_IP6_P(FROM_OVERLAY_LB, s)
#define CLUSTER_IP6_P(p, s) .v6 = true, .prog = p, .dev = DEV_U, .src = s, .dst = VIP1, \
		       .dport = 80, .proto = IPPROTO_TCP, .be = B6, .bport = 8080
#define POD6(p, s) .v6 = true, .prog = p, .dev = DEV_U, .src = s, .dst = B6, .dport = 8080, \
		   .proto = IPPROTO_UDP
#define FOUR6(what, s) \
	ROW("underlay: " what " -> IPv6 NodePort, local backend: drop-outside-spoof", NP6_LOCAL(s), \
	    SPOOF), \
	ROW("underlay: " what " -> IPv6 NodePort, remote backend: drop-outside-spoof", \
	    NP6_REMOTE(s), SPOOF), \
	ROW("underlay: " what " -> IPv6 ClusterIP: drop-outside-spoof", CLUSTER_IP6(s), SPOOF), \
	ROW("underlay: " what " -> pod B6, plain: drop-outside-spoof", POD6(FROM_OVERLAY_LB, s), \
	    SPOOF), \
	ROW("underlay, no Services in BPF: " what " -> pod B6, plain: drop-outside-spoof", \
	    POD6(FROM_OVERLAY, s), SPOOF)
/* The IPv6 underlay: its NodePort to a pod of nv, and B6 directly. */
#define UL6_NP(s) .v6 = true, .prog = UL6_LB, .dev = DEV_U, .src = s, .dst = NODE6, .dport = 30191, \
		  .proto = IPPROTO_TCP, .be = RV6, .bport = 80
#define UL6_TWO(what, s) \
	ROW("IPv6 underlay: " what " -> NodePort, remote backend: drop-outside-spoof", UL6_NP(s), \
	    SPOOF), \
	ROW("IPv6 underlay: " what " -> pod B6, plain: drop-outside-spoof", \
	    POD6(UL6_LB, s), SPOOF)
/* From the stack (to_pod on A's device, to_overlay on the overlay device). */
#define STACK_TO_A(s, m) .prog = TO_POD, .dev = DEV_A, .src = s, .dst = IP_A, .dport = 6001, \
			 .proto = IPPROTO_UDP, .mark = m
#define STACK_TO_A6(s, m) .v6 = true, .prog = TO_POD, .dev = DEV_A, .src = s, .dst = "fd00:99::a", \
			  .dport = 6001, .proto = IPPROTO_UDP, .mark = m
#define STACK_TO_R(s, m) .prog = TO_OVERLAY, .dev = DEV_X, .src = s, .dst = IP_R, .dport = 6001, \
			 .proto = IPPROTO_UDP, .mark = m

static const struct CMUnitTest attack_ul_tests[] = {
	{ .name = "underlay attacker: setup", .test_func = ul_setup },
	/* A client outside the cluster: served as before. */
	ROW("underlay: outside client -> NodePort, local backend: into B", NP_LOCAL(CLIENT),
	    .ret = TC_ACT_REDIRECT, .reason = XCNI_FWD_LOCAL),
	ROW("underlay: outside client -> NodePort, remote backend: SNAT, Geneve", NP_REMOTE(CLIENT),
	    .ret = TC_ACT_REDIRECT, .reason = XCNI_FWD_ENCAP),
	ROW("underlay: outside client -> pod B, plain: to the stack, not ours",
	    POD(FROM_OVERLAY_LB, CLIENT), .ret = TC_ACT_OK),
	ROW("underlay, no Services in BPF: outside client -> pod B, plain: not ours",
	    POD(FROM_OVERLAY, CLIENT), .ret = TC_ACT_OK),
	ROW("underlay: outside client -> ClusterIP: drop-clusterip-outside", CLUSTER_IP(CLIENT),
	    .ret = TC_ACT_SHOT, .reason = XCNI_DROP_CLUSTERIP_OUTSIDE, .no_ct = true),
	/* --external-clusterip: served, but still to outside clients only. */
	ROW("underlay, --external-clusterip: outside client -> ClusterIP: into B",
	    CLUSTER_IP_P(OVL_CIP, CLIENT), .ret = TC_ACT_REDIRECT, .reason = XCNI_FWD_LOCAL),
	ROW("underlay, --external-clusterip: outside client -> IPv6 ClusterIP: into B6",
	    CLUSTER_IP6_P(OVL_CIP, CLIENT6), .ret = TC_ACT_REDIRECT, .reason = XCNI_FWD_LOCAL),
	ROW("underlay, --external-clusterip: this node's address -> ClusterIP: drop-outside-spoof",
	    CLUSTER_IP_P(OVL_CIP, NODE_IP), SPOOF),
	ROW("underlay, --external-clusterip: pod A -> ClusterIP: drop-outside-spoof",
	    CLUSTER_IP_P(OVL_CIP, IP_A), SPOOF),
	ROW("underlay, --external-clusterip: fe80::1 -> IPv6 ClusterIP: drop-outside-spoof",
	    CLUSTER_IP6_P(OVL_CIP, "fe80::1"), SPOOF),
	/* Forged: this node, its pod gateway, its pod, another node's pod, another node, martians. */
	FOUR("this node's address", NODE_IP),
	FOUR("the pod gateway", IP_GW),
	FOUR("pod A (this node's)", IP_A),
	FOUR("pod R (n2's)", IP_R),
	FOUR("node n2", N2),
	FOUR("0.1.2.3 (this network)", "0.1.2.3"),
	FOUR("127.0.0.1", "127.0.0.1"),
	FOUR("169.254.3.4 (link-local)", "169.254.3.4"),
	FOUR("224.0.0.5 (multicast)", "224.0.0.5"),
	FOUR("240.0.0.1 (reserved)", "240.0.0.1"),
	FOUR("255.255.255.255", "255.255.255.255"),
	/* IPv6, the IPv4 underlay. */
	ROW("underlay: outside client -> IPv6 NodePort, local backend: into B6", NP6_LOCAL(CLIENT6),
	    .ret = TC_ACT_REDIRECT, .reason = XCNI_FWD_LOCAL),
	ROW("underlay: outside client -> IPv6 NodePort, remote backend: SNAT, Geneve",
	    NP6_REMOTE(CLIENT6), .ret = TC_ACT_REDIRECT, .reason = XCNI_FWD_ENCAP),
	ROW("underlay: outside client -> pod B6, plain: not ours", POD6(FROM_OVERLAY_LB, CLIENT6),
	    .ret = TC_ACT_OK),
	ROW("underlay, no Services in BPF: outside client -> pod B6, plain: not ours",
	    POD6(FROM_OVERLAY, CLIENT6), .ret = TC_ACT_OK),
	ROW("underlay: outside client -> IPv6 ClusterIP: drop-clusterip-outside",
	    CLUSTER_IP6(CLIENT6), .ret = TC_ACT_SHOT, .reason = XCNI_DROP_CLUSTERIP_OUTSIDE,
	    .no_ct = true),
	FOUR6("this node's IPv6 address", NODE6),
	FOUR6("fe80::1 (the pod gateway's)", "fe80::1"),
	FOUR6("fe80::8:9 (link-local)", "fe80::8:9"),
	FOUR6("febf::1 (link-local, fe80::/10)", "febf::1"),
	FOUR6("pod A6 (this node's)", "fd00:99::a"),
	FOUR6("pod R6N (n2's)", R6N),
	FOUR6("node n2's IPv6", N2_6),
	FOUR6("::", "::"),
	FOUR6("::1", "::1"),
	FOUR6("ff02::1 (multicast)", "ff02::1"),
	FOUR6("::ffff:10.99.5.10 (IPv4-mapped)", "::ffff:10.99.5.10"),
	/* The IPv6 underlay. */
	ROW("IPv6 underlay: outside client -> NodePort, remote backend: SNAT, Geneve",
	    UL6_NP(CLIENT6), .ret = TC_ACT_REDIRECT, .reason = XCNI_FWD_ENCAP),
	ROW("IPv6 underlay: outside client -> pod B6, plain: not ours", POD6(UL6_LB, CLIENT6),
	    .ret = TC_ACT_OK),
	UL6_TWO("this node's address", NODE6),
	UL6_TWO("node nv", NV),
	UL6_TWO("pod RV6 (nv's)", RV6),
	UL6_TWO("pod A6 (this node's)", "fd00:99::a"),
	UL6_TWO("fe80::1", "fe80::1"),
	UL6_TWO("::1", "::1"),
	/* From the stack: a pod source without the mark came in some other way. */
	ROW("to_pod: B -> A from the stack, unmarked: drop-outside-spoof", STACK_TO_A(IP_B, 0),
	    SPOOF),
	ROW("to_pod: R -> A from the stack, unmarked: drop-outside-spoof", STACK_TO_A(IP_R, 0),
	    SPOOF),
	ROW("to_pod: B -> A from the stack, marked (from_pod's): delivered, tracked",
	    STACK_TO_A(IP_B, XCNI_MARK_TRUSTED), .ret = TC_ACT_OK, .reason = XCNI_FWD_LOCAL),
	ROW("to_pod: R -> A from the stack, marked (decapsulated): delivered",
	    STACK_TO_A(IP_R, XCNI_MARK_TRUSTED), .ret = TC_ACT_OK, .reason = XCNI_FWD_LOCAL),
	ROW("to_pod: the gateway -> A, unmarked (the host's own): delivered",
	    STACK_TO_A(IP_GW, 0), .ret = TC_ACT_OK, .reason = XCNI_FWD_LOCAL),
	ROW("to_pod: an outside client -> A, unmarked (routed in): delivered",
	    STACK_TO_A(CLIENT, 0), .ret = TC_ACT_OK, .reason = XCNI_FWD_LOCAL),
	ROW("to_pod: B6 -> A6 from the stack, unmarked: drop-outside-spoof", STACK_TO_A6(B6, 0),
	    SPOOF),
	ROW("to_pod: R6N -> A6 from the stack, unmarked: drop-outside-spoof", STACK_TO_A6(R6N, 0),
	    SPOOF),
	ROW("to_pod: B6 -> A6 from the stack, marked: delivered",
	    STACK_TO_A6(B6, XCNI_MARK_TRUSTED), .ret = TC_ACT_OK, .reason = XCNI_FWD_LOCAL),
	ROW("to_overlay: A -> R from the stack, unmarked: drop-outside-spoof", STACK_TO_R(IP_A, 0),
	    SPOOF),
	ROW("to_overlay: A -> R from the stack, marked (from_pod's): Geneve to n2",
	    STACK_TO_R(IP_A, XCNI_MARK_TRUSTED), .ret = TC_ACT_REDIRECT, .reason = XCNI_FWD_ENCAP),
	ROW("to_overlay: the node -> R, unmarked (the host's own): Geneve to n2",
	    STACK_TO_R(NODE_IP, 0), .ret = TC_ACT_REDIRECT, .reason = XCNI_FWD_ENCAP),
	/* What xcni hands the stack carries the mark: a pod's packet, decapsulated Geneve. */
	ROW("from_pod: A -> outside, to the stack: marked", .prog = FROM_POD, .dev = DEV_A,
	    .src = IP_A, .dst = "8.8.4.4", .dport = 53, .proto = IPPROTO_UDP, .ret = TC_ACT_OK,
	    .reason = XCNI_FWD_STACK, .marks = true),
	ROW("from_pod: A6 -> outside, to the stack: marked", .v6 = true, .prog = FROM_POD,
	    .dev = DEV_A, .src = "fd00:99::a", .dst = "2001:db8::53", .dport = 53,
	    .proto = IPPROTO_UDP, .ret = TC_ACT_OK, .reason = XCNI_FWD_STACK, .marks = true),
	ROW("from_overlay: R -> this node in n2's Geneve, decapsulated to the stack: marked",
	    .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2, .src = IP_R, .dst = NODE_IP,
	    .dport = 10250, .proto = IPPROTO_UDP, .ret = TC_ACT_OK, .reason = XCNI_FWD_DECAP_HOST,
	    .marks = true),
	ROW("from_overlay: R6N -> this node in n2's Geneve, decapsulated to the stack: marked",
	    .v6 = true, .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2, .src = R6N, .dst = NODE6,
	    .dport = 10250, .proto = IPPROTO_UDP, .ret = TC_ACT_OK, .reason = XCNI_FWD_DECAP_HOST,
	    .marks = true),
	{ .name = "underlay attacker: teardown", .test_func = ul_teardown },
};

const struct group attack_ul_group = { "attack_ul", TESTS(attack_ul_tests), .prep = svc_state };
