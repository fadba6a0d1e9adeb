// SPDX-License-Identifier: Apache-2.0
/*
 * A Service frontend never appears as a source (issue 41 item 6; DESIGN.md,
 * invariants): a host on the underlay that sends from a ClusterIP:port (or
 * an externalIP's, or this node's NodePort) forges a Service's reply. Let
 * in, it reaches any pod its policy does not close, and the conntrack
 * entry it leaves (xcni's, or the kernel's under kube-proxy) makes the
 * pod's next request from that port its "reply": before, from_pod's
 * lb_is_reply sent it on untranslated, to whoever routes the Service range.
 * On svc_state's frontends and these:
 *
 *   EXT4 198.51.100.7:53/UDP      12: B:5353     (an externalIP, outside the Service range)
 *   [EXT6]:53/UDP                 3012: B6:5353
 *   [N2_6]:30080/TCP              3011: B6:8080  (node n2's IPv6 NodePort; n2_6 remote-node)
 *
 * the underlay's programs given the Service ranges 10.96.0.0/16 and
 * fd00:96::/112 (harness.h, UL_SVC_RANGES):
 *
 *   from the underlay, plain        FROM_OVERLAY_LB   FROM_OVERLAY (kube-proxy)   XDP
 *   [ClusterIP]:53 -> pod B           src-frontend      src-frontend              src-frontend
 *   [ClusterIP]:12345 -> pod B        src-frontend      src-frontend              src-frontend
 *   [externalIP]:53 -> pod B          src-frontend      passes (no Service maps)  passes (to tc)
 *     ... in xcni_extfe (xcnid's)     (not read)        src-frontend              passes (to tc)
 *   [LB ingress IP]:443 -> B, node    (not read)        src-frontend (xcni_extfe)
 *   [externalIP]:54 -> pod B          passes (an outside host's address, no frontend's port)
 *   [this node]:30080 -> B, -> node   src-frontend (was drop-outside-spoof)
 *   [node n2]:30080 -> this node      passes (n2 itself: host to host is plain)
 *   [node n2]:30080 -> pod B          drop-outside-spoof (a node reaches pods in Geneve)
 *   world, world:53, a Service's outside backend's reply -> pod: pass
 *
 *   from_pod (lb) after a forged frontend's entry in conntrack: the pod's
 *   request to the frontend is translated (lb_is_reply narrowed to a node's
 *   own client bound to a NodePort's number, which still gets its reply).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <linux/pkt_cls.h>

#include "svc.h"

#define EXT4 "198.51.100.7"
#define EXT6 "2001:db8:77::7"
#define N2_6 "fc00:77::3" /* n2's IPv6 InternalIP (attack_ul.c's too) */
#define WORLD4 "198.18.7.7" /* not on node4_state's prefilter list */
#define WORLD6 "2001:db8:1::7"

/* One family's addresses for these tests. */
struct fsf {
	bool v6;
	const char *vip; /* a ClusterIP: :53/UDP -> b:5353, :80/TCP -> b:8080 */
	const char *ext; /* an externalIP: :53/UDP -> b:5353 */
	const char *node, *peer; /* this node, node n2 (a NodePort :30080/TCP each) */
	const char *a, *b, *world;
	const char *vipd, *outbe; /* a ClusterIP :443 whose backend is outside, at outbe:8443 */
	uint32_t be_dns; /* the backend id of b:5353 */
};

static const struct fsf fs4 = { false, "10.96.1.1", EXT4, NODE_IP, N2, IP_A, IP_B, WORLD4,
				"10.96.1.13", "192.0.2.50", 12 };
static const struct fsf fs6 = { true, VIP1, EXT6, NODE6, N2_6, A6, B6, WORLD6, VIPD, OUT6, 3012 };

#define FS_TWIN(fn)                                                                                \
	{ #fn "_v4", fn, NULL, NULL, (void *)&fs4 }, { #fn "_v6", fn, NULL, NULL, (void *)&fs6 }

static struct from_overlay *ul6; /* from_overlay of the IPv6 underlay, Services in BPF */
#define UL6_LB 100 /* ul6's program, in fs_send */

/* A frame from the underlay's router, plain. */
static struct pk from_ul(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto)
{
	return (struct pk){ .smac = pods[DEV_U].mac, .dmac = pods[DEV_U].host_mac, .src = s,
			    .dst = d, .sport = sp, .dport = dp, .proto = proto,
			    .flags = proto == IPPROTO_TCP ? TH_SYN : 0,
			    .payload = proto == IPPROTO_UDP ? 12 : 0 };
}

/*
 * p through prog (FROM_OVERLAY*, XDP, UL6_LB) on the underlay: verdict ret,
 * exactly the one counter of reason (from-overlay) moved (reason 0: none),
 * and a tc drop reported on the ring with its reason.
 */
static void fs_send(int prog, const struct pk *p, int ret, int reason)
{
	struct xcni_metric before[XCNI_NR_METRICS], after[XCNI_NR_METRICS];
	uint8_t in[FRAME_MAX], out[FRAME_MAX + 128];
	size_t len = pk_frame(p, in);
	int idx = reason ? (int)XCNI_METRIC_IDX(reason, XCNI_DIR_FROM_OVERLAY) : -1;
	struct __sk_buff ctx = { .ifindex = env.ifindex[DEV_U] };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = sizeof(out));
	char got[256];
	int n = 0;

	if (prog != XDP) {
		o.ctx_in = &ctx;
		o.ctx_size_in = sizeof(ctx);
	}
	assert_int_equal(read_metrics(before), 0);
	env.nev = 0;
	assert_int_equal(bpf_prog_test_run_opts(prog == UL6_LB ? bpf_program__fd(ul6->progs.from_overlay) :
								 prog_fd(prog),
						&o),
			 0);
	assert_true(ring_buffer__consume(env.rb) >= 0);
	assert_int_equal(read_metrics(after), 0);
	for (int i = 0; i < XCNI_NR_METRICS; i++) {
		uint64_t dp = after[i].packets - before[i].packets;

		if (dp != (uint64_t)(i == idx))
			n += snprintf(got + n, sizeof(got) - (size_t)n, " %s/%s+%" PRIu64,
				      reason_name(i / XCNI_NR_DIRS), dir_name(i % XCNI_NR_DIRS), dp);
	}
	if (n || (int)o.retval != ret)
		fail_msg("%s:%u -> %s:%u: verdict %d, want %d; counters off:%s (want %s)", p->src,
			 p->sport, p->dst, p->dport, (int)o.retval, ret, n ? got : " none",
			 reason ? reason_name(XCNI_REASON_IDX(reason)) : "nothing");
	if (prog != XDP && reason && reason <= XCNI_DROP_NON_IP) {
		assert_int_equal(env.nev, 1);
		assert_int_equal(env.ev[0].reason, reason);
	}
}

#define SRC_FRONTEND TC_ACT_SHOT, XCNI_DROP_SRC_FRONTEND

/* No conntrack entry of s:sp -> d:dp (a refused packet commits nothing). */
static void no_entry(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto)
{
	int found;

	(void)pk_ct(s, sp, d, dp, proto, &found);
	if (found)
		fail_msg("a conntrack entry for %s:%u -> %s:%u", s, sp, d, dp);
}

static void fs_setup(void **state)
{
	(void)state;
	assert_int_equal(svc_set(EXT4, 53, IPPROTO_UDP, 780, 0, 0, 0, (const uint32_t[]){ 12 }, 1,
				 0),
			 0);
	svc6(EXT6, 53, IPPROTO_UDP, 781, 0, (const uint32_t[]){ 3012 }, 1);
	svc6(N2_6, 30080, IPPROTO_TCP, 782, 0, (const uint32_t[]){ 3011 }, 1);
	ipc6_put(N2_6, XCNI_ID_REMOTE_NODE, N2, 0);
	/* This node's addresses the host's, as xcnid writes them. */
	ipc6_put(NODE6, XCNI_ID_HOST, NULL, 0);
	assert_int_equal(ipcache(NODE_IP, 32, XCNI_ID_HOST), 0);
	assert_int_equal(polrev_bump(), 0);
	ul6 = ul6_load(1);
	assert_non_null(ul6);
}

static void fs_teardown(void **state)
{
	(void)state;
	from_overlay__destroy(ul6);
	ul6 = NULL;
}

/*
 * The attack: a "DNS answer" from ClusterIP:53 to a pod without
 * ingress policy, from a host on the underlay. Before: delivered (tc
 * TC_ACT_OK to the stack, XDP_PASS), uncounted. Now refused whatever the
 * Services mode, and by XDP first; so is any port of the Service range.
 */
static void fs_clusterip_src(void **state)
{
	const struct fsf *f = *state;
	struct pk p = from_ul(f->vip, 53, f->b, 40000, IPPROTO_UDP);

	fs_send(FROM_OVERLAY_LB, &p, SRC_FRONTEND);
	no_entry(f->vip, 53, f->b, 40000, IPPROTO_UDP);
	fs_send(FROM_OVERLAY, &p, SRC_FRONTEND);
	fs_send(XDP, &p, XDP_DROP, XCNI_DROP_SRC_FRONTEND);
	if (f->v6)
		fs_send(UL6_LB, &p, SRC_FRONTEND);
	p.sport = 12345;
	p.proto = IPPROTO_TCP;
	p.flags = TH_SYN | TH_ACK;
	p.payload = 0;
	fs_send(FROM_OVERLAY_LB, &p, SRC_FRONTEND);
	fs_send(FROM_OVERLAY, &p, SRC_FRONTEND);
	/* To the node itself, too: under kube-proxy the kernel's conntrack is poisoned the same. */
	p = from_ul(f->vip, 53, f->node, 40000, IPPROTO_UDP);
	fs_send(FROM_OVERLAY, &p, SRC_FRONTEND);
	fs_send(FROM_OVERLAY_LB, &p, SRC_FRONTEND);
}

/*
 * Frontends of the Service maps at their ports (Services in BPF): an
 * externalIP's (outside the range; XDP hands it on, tc refuses it), this
 * node's NodePort. Another node's NodePort is that node speaking from its
 * own address, plain to this node's stack; to a pod it is a node's forgery.
 */
static void fs_frontend_src(void **state)
{
	const struct fsf *f = *state;
	struct pk p = from_ul(f->ext, 53, f->b, 40001, IPPROTO_UDP);

	fs_send(FROM_OVERLAY_LB, &p, SRC_FRONTEND);
	no_entry(f->ext, 53, f->b, 40001, IPPROTO_UDP);
	fs_send(XDP, &p, XDP_PASS, 0);
	/* Without Services in BPF xcni has no Service maps: the range, and what
	 * xcni_extfe holds (nothing here: fs_kp_frontend_src). */
	fs_send(FROM_OVERLAY, &p, TC_ACT_OK, 0);
	/* The externalIP's address at a port no frontend has: an outside host's. */
	p.sport = 54;
	fs_send(FROM_OVERLAY_LB, &p, TC_ACT_OK, 0);
	/* This node's NodePort as the source, to a pod and to the node itself. */
	p = from_ul(f->node, 30080, f->b, 8080, IPPROTO_TCP);
	fs_send(FROM_OVERLAY_LB, &p, SRC_FRONTEND);
	no_entry(f->node, 30080, f->b, 8080, IPPROTO_TCP);
	p.dst = f->node;
	p.dport = 22;
	fs_send(FROM_OVERLAY_LB, &p, SRC_FRONTEND);
	/* Node n2's NodePort: n2 itself, host to host; to a pod, a forgery as before. */
	p = from_ul(f->peer, 30080, f->node, 22, IPPROTO_TCP);
	fs_send(FROM_OVERLAY_LB, &p, TC_ACT_OK, 0);
	p.dst = f->b;
	p.dport = 8080;
	fs_send(FROM_OVERLAY_LB, &p, TC_ACT_SHOT, XCNI_DROP_OUTSIDE_SPOOF);
}

/* Frontend addr:port/proto in xcni_extfe (set) or out of it, as xcnid keeps it under kube-proxy. */
static void extfe(const char *addr, uint16_t port, uint8_t proto, bool set)
{
	struct xcni_svc_key k = { .port = htons(port), .proto = proto, .scope = XCNI_SCOPE_EXT };
	uint32_t one = 1;

	if (strchr(addr, ':')) {
		k.family = XCNI_AF_INET6;
		in6(addr, k.addr);
	} else {
		uint32_t a = ip4(addr);

		k.family = XCNI_AF_INET;
		memcpy(k.addr, &a, 4);
	}
	if (set)
		assert_int_equal(bpf_map_update_elem(map_fd("xcni_extfe"), &k, &one, BPF_ANY), 0);
	else
		assert_int_equal(bpf_map_delete_elem(map_fd("xcni_extfe"), &k), 0);
}

/*
 * The hole fs_frontend_src left (issue 41 item 6): kube-proxy translates
 * the Services, xcni has no Service maps, and an externalIP:port or a
 * load-balancer ingress IP:port as a source from the underlay reached the
 * kernel's conntrack. xcnid now keeps the Services' frontends in
 * xcni_extfe; from_plain refuses them at their ports (before: TC_ACT_OK,
 * uncounted, every refused row here), to a pod and to the node alike. The
 * same address as a destination, or as a source at another port, passes;
 * so does node n2 at its own address when it is a load-balancer IP.
 * The program with Services in BPF reads its own maps, not this one.
 */
static void fs_kp_frontend_src(void **state)
{
	const struct fsf *f = *state;
	const char *lbip = f->v6 ? "2001:db8:78::8" : "203.0.113.8"; /* an LB ingress IP */
	struct pk p;

	extfe(f->ext, 53, IPPROTO_UDP, true);
	extfe(lbip, 443, IPPROTO_TCP, true);
	extfe(f->peer, 8443, IPPROTO_TCP, true); /* n2's address as an LB ingress IP */
	/* An externalIP:53 answering pod B, and the node. */
	p = from_ul(f->ext, 53, f->b, 40001, IPPROTO_UDP);
	fs_send(FROM_OVERLAY, &p, SRC_FRONTEND);
	p.dst = f->node;
	fs_send(FROM_OVERLAY, &p, SRC_FRONTEND);
	/* The externalIP at a port its Service has not: an outside host's. */
	p.dst = f->b;
	p.sport = 54;
	fs_send(FROM_OVERLAY, &p, TC_ACT_OK, 0);
	/* The LB ingress IP:443, a forged SYN-ACK to pod B and to the node. */
	p = from_ul(lbip, 443, f->b, 40002, IPPROTO_TCP);
	p.flags = TH_SYN | TH_ACK;
	fs_send(FROM_OVERLAY, &p, SRC_FRONTEND);
	p.dst = f->node;
	p.dport = 40003;
	fs_send(FROM_OVERLAY, &p, SRC_FRONTEND);
	/* Its address at another port, its port over UDP: pass. */
	p.sport = 444;
	fs_send(FROM_OVERLAY, &p, TC_ACT_OK, 0);
	p = from_ul(lbip, 443, f->node, 40003, IPPROTO_UDP);
	fs_send(FROM_OVERLAY, &p, TC_ACT_OK, 0);
	/* The frontends as destinations: what kube-proxy is for. */
	p = from_ul(f->world, 40004, f->ext, 53, IPPROTO_UDP);
	fs_send(FROM_OVERLAY, &p, TC_ACT_OK, 0);
	p = from_ul(f->world, 40005, lbip, 443, IPPROTO_TCP);
	fs_send(FROM_OVERLAY, &p, TC_ACT_OK, 0);
	/* Node n2 from its own address (an LB IP too) to this node: host to host. */
	p = from_ul(f->peer, 8443, f->node, 40006, IPPROTO_TCP);
	p.flags = TH_SYN | TH_ACK;
	fs_send(FROM_OVERLAY, &p, TC_ACT_OK, 0);
	/* Services in BPF: xcni_svc decides, not this map (no such frontend there). */
	p = from_ul(lbip, 443, f->b, 40002, IPPROTO_TCP);
	fs_send(FROM_OVERLAY_LB, &p, TC_ACT_OK, 0);
	extfe(f->ext, 53, IPPROTO_UDP, false);
	extfe(lbip, 443, IPPROTO_TCP, false);
	extfe(f->peer, 8443, IPPROTO_TCP, false);
	/* Out of the map: passes again (what xcnid's removal does). */
	p.flags = TH_SYN | TH_ACK;
	fs_send(FROM_OVERLAY, &p, TC_ACT_OK, 0);
}

/* A live flow s:sp -> d:dp/proto in conntrack, as to_pod leaves a datagram's into d. */
static void ct_seed_p(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto)
{
	struct xcni_ct_entry e = { .state = XCNI_CT_NEW, .pkts_orig = 1, .bytes_orig = 60 };
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	e.created_ns = e.last_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (strchr(s, ':')) {
		struct xcni_ct6_key k = { .sport = htons(sp), .dport = htons(dp), .proto = proto };

		in6(s, k.saddr);
		in6(d, k.daddr);
		assert_int_equal(bpf_map_update_elem(map_fd("xcni_ct6"), &k, &e, BPF_ANY), 0);
	} else {
		struct xcni_ct_key k = { .saddr = ip4(s), .daddr = ip4(d), .sport = htons(sp),
					 .dport = htons(dp), .proto = proto };

		assert_int_equal(bpf_map_update_elem(map_fd("xcni_ct"), &k, &e, BPF_ANY), 0);
	}
}

/*
 * The attack's second half, whatever let the forged datagram in (XDP and a
 * tc program older than this, a second NIC): its entry frontend:53 -> A:p
 * in conntrack. A's next request from p to the frontend is a new flow to the
 * Service, translated to its backend (B:5353), never "the reply" sent on
 * untranslated (before: FWD_REPLY, TC_ACT_OK, the destination the frontend).
 */
static void fs_next_request(void **state)
{
	const struct fsf *f = *state;
	const char *fe[] = { f->vip, f->ext };

	for (size_t i = 0; i < 2; i++) {
		uint16_t sp = (uint16_t)(41000 + i);
		struct pk p = pk_from(DEV_A, f->a, sp, fe[i], 53, IPPROTO_UDP, 0), t;

		ct_seed_p(fe[i], 53, f->a, sp, IPPROTO_UDP);
		p.payload = 12;
		t = pk_into(p, DEV_B);
		t.dst = f->b;
		t.dport = 5353;
		pk_expect(FROM_POD_LB, DEV_A, &p, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, &t);
		svc_entries(f->a, sp, fe[i], 53, f->b, 5353, IPPROTO_UDP, f->be_dns,
			    i ? (f->v6 ? 781 : 780) : (f->v6 ? 302 : 2));
	}
}

/*
 * What lb_is_reply is for: a node's own client bound to a NodePort's number
 * (this node's host, or n2's inside its Geneve) opened a flow to pod B; B's
 * answer to node:30080 goes back untranslated (to the stack; Geneve to n2),
 * no service entry made. Passes before and after.
 */
static void fs_node_client(void **state)
{
	const struct fsf *f = *state;
	const char *peer[] = { f->node, f->peer };
	const int ret[] = { TC_ACT_OK, TC_ACT_REDIRECT }, reason[] = { XCNI_FWD_REPLY, XCNI_FWD_ENCAP };

	for (size_t i = 0; i < 2; i++) {
		struct pk p = pk_from(DEV_B, f->b, 8080, peer[i], 30080, IPPROTO_TCP, TH_SYN | TH_ACK);
		struct xcni_ct_entry e;
		int found;

		ct_seed_p(peer[i], 30080, f->b, 8080, IPPROTO_TCP);
		pk_expect(FROM_POD_LB, DEV_B, &p, ret[i], reason[i], NULL);
		no_entry(f->b, 8080, peer[i], 30080, IPPROTO_TCP);
		e = pk_ct(peer[i], 30080, f->b, 8080, IPPROTO_TCP, &found);
		assert_true(found);
		assert_int_equal(e.pkts_reply, 1);
	}
}

/*
 * Ordinary traffic from outside is untouched: a client to a pod (not ours:
 * the stack's), a DNS server's answer from :53 outside the cluster, a
 * client to this node's NodePort (translated into B), and the reply of a
 * Service flow whose backend is outside the cluster (from the backend's
 * address: the frontend is put back by to_pod, after the stack).
 */
static void fs_world(void **state)
{
	const struct fsf *f = *state;
	struct pk p = from_ul(f->world, 40000, f->b, 8080, IPPROTO_TCP);

	fs_send(FROM_OVERLAY_LB, &p, TC_ACT_OK, 0);
	fs_send(FROM_OVERLAY, &p, TC_ACT_OK, 0);
	fs_send(XDP, &p, XDP_PASS, 0);
	p = from_ul(f->v6 ? "2001:4860:4860::8888" : "8.8.8.8", 53, f->b, 40002, IPPROTO_UDP);
	fs_send(FROM_OVERLAY_LB, &p, TC_ACT_OK, 0);
	fs_send(FROM_OVERLAY, &p, TC_ACT_OK, 0);
	fs_send(XDP, &p, XDP_PASS, 0);
	p = from_ul(f->world, 40003, f->node, 30080, IPPROTO_TCP);
	fs_send(FROM_OVERLAY_LB, &p, TC_ACT_REDIRECT, XCNI_FWD_LOCAL);
	/* A's flow to the outside backend, then the backend's answer from the underlay. */
	p = pk_from(DEV_A, f->a, 42000, f->vipd, 443, IPPROTO_TCP, TH_SYN);
	pk_expect(FROM_POD_LB, DEV_A, &p, TC_ACT_OK, XCNI_FWD_STACK, NULL);
	p = from_ul(f->outbe, 8443, f->a, 42000, IPPROTO_TCP);
	p.flags = TH_SYN | TH_ACK;
	fs_send(XDP, &p, XDP_PASS, 0);
	fs_send(FROM_OVERLAY_LB, &p, TC_ACT_OK, 0);
	p.smac = pods[DEV_A].host_mac;
	p.dmac = pods[DEV_A].mac;
	{
		struct pk t = p;

		t.src = f->vipd;
		t.sport = 443;
		pk_expect(TO_POD_LB, DEV_A, &p, TC_ACT_OK, XCNI_FWD_REPLY, &t);
	}
}

static const struct CMUnitTest frontsrc_tests[] = {
	{ .name = "frontsrc: setup", .test_func = fs_setup },
	FS_TWIN(fs_clusterip_src),
	FS_TWIN(fs_frontend_src),
	FS_TWIN(fs_kp_frontend_src),
	FS_TWIN(fs_next_request),
	FS_TWIN(fs_node_client),
	FS_TWIN(fs_world),
	{ .name = "frontsrc: teardown", .test_func = fs_teardown },
};

const struct group frontsrc_group = { "frontsrc", TESTS(frontsrc_tests), .prep = svc_state };
