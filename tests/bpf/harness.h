/* SPDX-License-Identifier: Apache-2.0 */
/* What the packet tests' files share: the netns, the programs, the helpers (harness.c). */
#ifndef XCNI_TEST_HARNESS_H
#define XCNI_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/if_ether.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "xcni_shared.h"
#include "from_overlay.skel.h"
#include "from_pod.skel.h"
#include "to_overlay.skel.h"
#include "to_pod.skel.h"
#include "xdp_underlay.skel.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define FRAME_MAX 256

/* The program a row runs; the first four are also the direction they count under. */
enum {
	FROM_POD = XCNI_DIR_FROM_POD,
	TO_POD = XCNI_DIR_TO_POD,
	FROM_OVERLAY = XCNI_DIR_FROM_OVERLAY,
	TO_OVERLAY = XCNI_DIR_TO_OVERLAY,
	FROM_POD_OV, /* from_pod of a node with an overlay */
	FROM_POD_LB, /* from_pod with the overlay and Services in BPF (lb_enabled) */
	TO_POD_LB, /* to_pod with lb_enabled */
	FROM_OVERLAY_LB, /* from_overlay with lb_enabled */
	FROM_OVERLAY_DSR, /* from_overlay with lb_enabled, --node-port-mode dsr */
	XDP, /* xdp_underlay */
	FROM_OVERLAY_PF, /* from_overlay with the prefilter in it (tc_prefilter: xcnid --xdp-mode tc) */
	/* tests/bpf/underlay6.c's node of the IPv6 underlay (UL6_NODE, node_ip6, no IPv4 underlay) */
	FROM_POD_UL6,
	FROM_OVERLAY_UL6,
	FROM_OVERLAY_UL6_LB, /* with lb_enabled */
	TO_OVERLAY_UL6,
};
enum { DEV_A, DEV_B, DEV_C, DEV_X, DEV_U, NR_DEVS };

unsigned int prog_dir(int prog);
int prog_fd(int prog);

#define IP_A "10.99.5.10"
#define IP_B "10.99.5.11"
#define IP_C "10.99.5.12"
#define IP_GW "10.99.5.1"
#define IP_R "10.99.6.5" /* a pod on node n2 */
#define IP_GONE "10.99.7.9" /* a pod whose node is gone */
#define NODE_IP "192.168.77.1"
#define N2 "192.168.77.2"
#define VNI 42
#define ID_R 2000
#define LB_LOOPBACK "169.254.42.1" /* the hairpin source */

struct pod {
	const char *dev, *ip;
	uint32_t ep_id;
	uint8_t mac[ETH_ALEN], host_mac[ETH_ALEN];
	const char *ip6; /* its IPv6 (tests/bpf/parse.c's v6_setup gives it) */
};
extern const struct pod pods[NR_DEVS];
/* The pod's IPv6 endpoint id (v6_setup's): its IPv4 one, else 201 + dev; 0 without IPv6. */
uint32_t pod_ep6_id(int dev);

struct env {
	char pin_dir[64];
	struct from_pod *from;
	struct to_pod *to;
	struct from_pod *from_ov; /* the same program on a node with an overlay */
	struct from_overlay *ovin;
	struct to_overlay *ovout;
	struct xdp_underlay *xdp;
	/* Services in BPF: lb_enabled, the overlay on, loopback LB_LOOPBACK */
	struct from_pod *from_lb;
	struct to_pod *to_lb;
	struct from_overlay *ovin_lb;
	struct from_overlay *ovin_dsr; /* ovin_lb with lb_dsr */
	struct from_overlay *ovin_pf; /* ovin with tc_prefilter */
	/* xdp_underlay with the NodePort fast path (np_accel, lb_enabled: the
	 * settings of ovin_lb), and with lb_dsr too (ovin_dsr's): xdp_np.c */
	struct xdp_underlay *xdp_np;
	struct xdp_underlay *xdp_np_dsr;
	struct ring_buffer *rb;
	int ifindex[NR_DEVS];
	struct xcni_event ev[8]; /* the first 8 */
	struct xcni_event6 ev6[8]; /* an IPv6 event's whole record, at the same index */
	int nev; /* all of them */
};
extern struct env env;

uint32_t ip4(const char *s);
uint16_t csum(const void *data, size_t len);
uint16_t flow_sport(const struct xcni_ct_key *t);
/*
 * Every packet test's run: Geneve between families (IPv6 inside IPv4, IPv4
 * inside IPv6) into a tc program, on a kernel whose bpf_skb_adjust_room lacks
 * BPF_F_ADJ_ROOM_DECAP_L3 (< 6.3: xcnid's own probe, adjust-room-decap-l3,
 * says so, as at xcnid's start), is skipped with the reason: from_overlay
 * drops such a frame there (drop-bad-geneve), as xcnid warns it will.
 */
int test_run(int fd, struct bpf_test_run_opts *o);
extern unsigned int test_run_skips; /* the frames it skipped so */
bool kernel_decap_l3(void); /* xcnid's probe, asked once */
/* XCNI_TEST_CT_OLD=1 (harness.c): conntrack moved into an old table around every run.
 * A row timing a token bucket in milliseconds skips under it (the moves take them). */
bool ct_old_on(void);
struct row;
/* A loop's row test_run would skip: said and counted, the loop goes on. */
bool row_across_skipped(const struct row *r);
#define bpf_prog_test_run_opts(fd, o) test_run(fd, o)

int run(int prog, int dev, uint8_t *in, size_t len, uint8_t *out, size_t out_len, int repeat,
	struct bpf_test_run_opts *o);
/* run, the packet arriving with skb->mark mark (XCNI_MARK_TRUSTED: handed to the stack by xcni). */
int run_mark(int prog, int dev, uint32_t mark, uint8_t *in, size_t len, uint8_t *out,
	     size_t out_len, int repeat, struct bpf_test_run_opts *o);
int map_fd(const char *name);
/* The node config (xcni_config's one entry) read, and written back: 0 or -errno. */
int cfg_get(struct xcni_config *cfg);
int cfg_put(const struct xcni_config *cfg);
/* Service svc_id names backend backend_id (written before): its xcni_svcbe
 * entry, as user/lib/services/svcsync.c writes it. 0 or -errno. */
int svcbe_put(uint32_t svc_id, uint32_t backend_id);
/* One more policy revision, as xcnid writes after every policy change. */
int polrev_bump(void);
int read_metrics(struct xcni_metric m[XCNI_NR_METRICS]);
const char *reason_name(int idx);
const char *dir_name(unsigned int d);
size_t geneve_wrap(struct xcni_ct_key t, const uint8_t *inner, size_t inner_len,
		   const uint8_t eth[ETH_HLEN], const char *src, const char *dst, uint32_t vni,
		   unsigned int optwords, uint8_t out[FRAME_MAX]);

/* Which part of the tuple a drop event carries: it reports what was parsed. */
enum {
	EV_ZERO,
	EV_ADDRS, /* the addresses and protocol, no ports */
	EV_FULL,
	EV_OUTER, /* the outer Geneve tuple */
	EV_ADDRS_ONLY, /* IPv6: the addresses, not what the extension headers hide */
};

struct row {
	const char *name;
	int prog, dev;
	/* the frame */
	uint16_t eth; /* ethertype, default IPv4 */
	const uint8_t *smac; /* default: the pod's (from_pod) or the host's (to_pod) */
	const char *src, *dst; /* IPv4 or IPv6 (by the address); ARP: sender and target */
	uint8_t proto, flags, type, ttl, ihl; /* flags: TCP; type: ICMP, ICMPv6; ttl: hop limit */
	uint16_t sport, dport, frag, tot_len; /* ICMP echo id in sport */
	uint16_t ipid; /* IPv4 id, default 0x1234; IPv6: a fragment header's id */
	/* IPv6 extension headers after the IPv6 one, in order (EXTHDRS): 44 a fragment
	 * header (.frag: offset in 8-byte units << 3 | more), any other 8 bytes of
	 * PadN; the last names .proto */
	uint8_t ext6[8], n_ext6;
	size_t cut; /* truncate the frame to this many bytes */
	/* expected */
	const uint8_t *want; /* the output bytes, where the program writes a frame of its own */
	size_t want_len;
	int err; /* from the test run itself */
	int ret, reason, ev;
	uint8_t ct; /* state of the flow's entry afterwards */
	bool ct_rev; /* the flow was opened the other way */
	bool no_ct; /* refused: no entry may be left behind */
	bool ct_stack; /* the entry is marked XCNI_CT_F_STACK (replies go through the stack) */
	int8_t ep_of; /* 1 + the device whose pod the event and a new entry name (default: by prog) */
	/* policy: a verdict event naming the rule that allowed the flow */
	bool vev;
	uint32_t policy_id;
	uint16_t rule;
	uint8_t pol_dir;
	/* tiered policy (tests/bpf/cnp.c): the event's pol_flags (XCNI_POLV_*), and for a
	 * drop the policy and rule it names */
	bool flags_set;
	uint8_t pol_flags;
	/* a step that changes the maps instead of sending a packet */
	int (*step)(void);
	/* overlay: FROM_OVERLAY rows arrive Geneve-encapsulated from node (VNI vni, or
	 * VNI; optwords 4-byte option words) unless plain; encapsulating rows name the
	 * node they must go to */
	const char *node;
	uint32_t vni;
	uint8_t optwords;
	bool plain;
	bool uncounted; /* not xcni's: no counter moves */
	bool no_ev; /* a drop without an event: the prefilter's, in tc as at XDP */
	/* hostile frames (tests/bpf/hostile.c) */
	uint16_t arp_op; /* default request */
	const uint8_t *arp_sha; /* ARP sender MAC, default the Ethernet source */
	uint8_t ver; /* IPv4 header version field, default 4 */
	uint8_t gnv_claim; /* 1 + the option words the Geneve header claims (default: optwords) */
	const uint8_t *tail; /* bytes after the L4 header (an ICMP error's quote), in tot_len */
	uint8_t tail_len;
	bool trace; /* forwarded with traces on: one trace event */
	uint32_t mark; /* skb->mark it arrives with (to_pod, to_overlay: XCNI_MARK_TRUSTED when
			* from_pod handed it to the stack) */
	/* Services (tests/bpf/svc_*.c): the TCP or UDP checksum computed in full (a
	 * translating program updates it; implied by nat_*), the frame the program
	 * must leave the row's with the source and/or destination translated
	 * (NAT_SRC, NAT_DST), and its entry naming no Service (rev_nat 0, no flag
	 * but ct_stack's) */
	bool l4csum;
	const char *nat_src, *nat_dst;
	uint16_t nat_sport, nat_dport;
	bool ct_no_svc;
	/* a translated flow's event (its tuple the translated one) names Service
	 * ev_rev_nat (when not 0) and backend ev_backend; no_ct: nor is there an
	 * entry of the translated tuple */
	uint16_t ev_rev_nat;
	uint32_t ev_backend;
	uint8_t tclass; /* IPv6 traffic class, IPv4 TOS (Geneve carries it to the outer header) */
	bool gnv_crit; /* Geneve's critical-options bit */
};
/* A pod's packet from_pod handed to the stack (kube-proxy's DNAT), now in to_pod or to_overlay. */
#define VIA_STACK .mark = XCNI_MARK_TRUSTED

#define TCP(s, sp, d, dp, f) .src = s, .sport = sp, .dst = d, .dport = dp, .proto = IPPROTO_TCP, .flags = f
#define UDP(s, sp, d, dp) .src = s, .sport = sp, .dst = d, .dport = dp, .proto = IPPROTO_UDP
#define ICMP(s, d, t, id) .src = s, .dst = d, .proto = IPPROTO_ICMP, .type = t, .sport = id
#define EXTHDRS(...) .ext6 = { __VA_ARGS__ }, .n_ext6 = sizeof((uint8_t[]){ __VA_ARGS__ })
#define ICMPV6(s, d, t, id) .src = s, .dst = d, .proto = IPPROTO_ICMPV6, .type = t, .sport = id
#define ARP(sender, target) .eth = ETH_P_ARP, .src = sender, .dst = target
#define OK(r) .ret = TC_ACT_OK, .reason = XCNI_##r
#define REDIR(r) .ret = TC_ACT_REDIRECT, .reason = XCNI_##r
#define SHOT(r, e) .ret = TC_ACT_SHOT, .reason = XCNI_##r, .ev = e
/* Allowed by policy id's rule, decided in direction d (the last one checked). */
#define BY(id, r, d) .vev = true, .policy_id = id, .rule = r, .pol_dir = d
#define POLICY_DROP(r) SHOT(r, EV_FULL), .no_ct = true
/* The verdict entry's flags the event carries. */
#define FLAGS(f) .flags_set = true, .pol_flags = (f)
/* Dropped by a tier's Deny (or NetworkPolicy's, id 0): the event names policy, rule, side. */
#define DENIED(r, id, ru, d, f) POLICY_DROP(r), .policy_id = id, .rule = ru, .pol_dir = d, FLAGS(f)
#define EP_OF(d) .ep_of = (d) + 1
/* Services rows: the output translated to a:p (real checksums, l4csum's, both ways). */
#define NAT_SRC(a, p) .nat_src = a, .nat_sport = p
#define NAT_DST(a, p) .nat_dst = a, .nat_dport = p
/* The event names Service (rev-NAT index) s and backend b. */
#define EV_SVC(s, b) .ev_rev_nat = s, .ev_backend = b
/* A ClusterIP. The Service range, 10.96.0.0/12, also covers the test pods (10.99.x):
 * a pod, local or remote, is never taken for a Service. */
#define SVC_IP "10.96.0.10"

/* The Service ranges the underlay's programs are given (from_overlay, xdp_underlay: xcnid
 * --service-cidr, user/agent/overlay.c), in their rodata rd: 10.96.0.0/16 (kind's) and
 * fd00:96::/112, which hold svc_lib.c's ClusterIPs and no pod (10.99.x, fd00:9x::). */
#define UL_SVC_RANGES(rd)                                                                          \
	do {                                                                                       \
		(rd)->svc_cidr = ip4("10.96.0.0");                                                 \
		(rd)->svc_cidr_mask = htonl(0xffff0000);                                           \
		((uint32_t *)(rd)->svc_cidr6)[0] = htonl(0xfd000096);                              \
		((uint32_t *)(rd)->svc_mask6)[0] = ((uint32_t *)(rd)->svc_mask6)[1] = 0xffffffff;  \
		((uint32_t *)(rd)->svc_mask6)[2] = 0xffffffff;                                     \
		((uint32_t *)(rd)->svc_mask6)[3] = htonl(0xffff0000);                              \
	} while (0)

/* The test node's fragment-share secret (frag_key, bpf/lib/config.h: xcnid
 * draws it at random), written into every tc object env_setup loads; the
 * tests pick sources of a share with it, an attacker without it. */
#define TEST_FRAG_K0 0x6b1d2e37u
#define TEST_FRAG_K1 0x0c5a91f4u
#define FRAG_KEY_SET(rd)                                                                           \
	do {                                                                                       \
		((uint32_t *)(rd)->frag_key)[0] = TEST_FRAG_K0;                                    \
		((uint32_t *)(rd)->frag_key)[1] = TEST_FRAG_K1;                                    \
	} while (0)

void check_row(void **state);
/* The length the row's event carries (len: the frame as it arrived; what:
 * the tuple it names, EV_*): from_overlay's of Geneve, once past the outer
 * headers (not EV_OUTER), the inner frame's (what the sender's conntrack
 * counted: len less what build wrapped it in), the others len. */
size_t row_ev_len(const struct row *r, size_t len, int what);
/* check_row on each of n rows in turn: a test made of steps that build on each other. */
void check_rows(const struct row *rows, size_t n);
struct xcni_ct_key tuple_of(const struct row *r, bool rev);
/* An ESTABLISHED entry of endpoint 102's, seen now, under r's tuple in from's xcni_ct: 0 or -errno. */
int ct_put_established(const struct row *r);
/* An IPv6 row (its addresses are IPv6), and its tuple as xcni_ct6 keys it. */
bool row_v6(const struct row *r);
struct xcni_ct6_key tuple6_of(const struct row *r, bool rev);
/* The row's frame (Geneve around it for FROM_OVERLAY rows, cut), into buf; its length. */
size_t build(const struct row *r, uint8_t buf[FRAME_MAX]);

/* The private netns, the programs and their maps, pinned in a private dir;
 * the pods' IPv4 endpoints. 0 or -errno; env_teardown undoes all of it. */
int env_setup(void **state);
int env_teardown(void **state);
/* Back to env_setup's state: every map as loading left it, the endpoints. */
int env_reset(void);
/* Empties a hash or trie map of keys of ksz bytes. */
int map_clear(int fd, size_t ksz);
/* --bench: from_pod's forwarding path. */
int bench(void);

/* tests/bpf/encap.c: IPv6 in Geneve; v6ovl_event takes IPv6 events. */
/* Geneve around an inner Ethernet + IPv6 frame over the IPv4 underlay, and its
 * outer source port (bpf/lib/encap.h's flow_sport6): encap.c's; the NodePort files,
 * attack_geneve.c and attack_ul.c use them too. */
uint16_t geneve_sport6(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto);
size_t geneve_wrap6(const uint8_t *inner, size_t inner_len, const char *src, const char *dst,
		    uint16_t sport, uint32_t vni, uint8_t *out);
void v6ovl_event(const void *data);

/* tests/bpf/underlay6.c: Geneve over an IPv6 underlay (programs of its own). */
/* Its Geneve over IPv6 around an inner frame (no options), from src to dst, the
 * outer label and port from hash: the flow hash of an IPv4 or IPv6 5-tuple
 * (ports in host order), as bpf/lib/encap.h's flow_hash_of. */
size_t geneve_wrap_ul6(const uint8_t *inner, size_t inner_len, const char *src, const char *dst,
		       uint32_t hash, uint32_t vni, uint8_t *out);
uint32_t geneve_hash6(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto);
/* An address as one word: IPv4 as is, IPv6 folded (bpf/lib/encap.h's in6_fold;
 * how a DSR flow's entry keeps its sending node, nat_addr). */
uint32_t addr_word(const char *a);

/* tests/bpf/nodeport.c: ul6_bench, --bench's from_overlay rows. */
int ul6_bench(void);

/* tests/bpf/svc_bench.c: --bench-lb. */
int lb_bench(void);
int bench6(void); /* tests/bpf/conntrack.c: --bench's IPv6 row */
/* svc_lib.c's, for both families' SCTP checks: the bit-at-a-time CRC32c, a pcap,
 * tshark's verdicts. */
uint32_t crc32c_ref(const uint8_t *d, size_t n);
void pcap_write(const char *path, uint8_t *const *frames, const size_t *lens, int n);
void tshark_sctp_status(const char *path, char *out, size_t cap);

/*
 * A group of tests: test_bpf GROUP runs it alone. Every group starts on a
 * the maps as env_setup leaves them (env_reset), then its prep, then its rows
 * (check_row each), then its tests: it depends on no other group's state.
 * A file of tests defines one (`const struct group NAME_group = {...}`) and
 * adds one line, G(NAME), to the list in test_bpf.c.
 */
struct group {
	const char *name;
	const struct row *rows;
	size_t nrows;
	const struct CMUnitTest *tests;
	size_t ntests;
	int (*prep)(void); /* the maps the group starts from; 0 or -errno */
	/* tests built at run time (hostile.c's generated cuts), after the rows */
	int (*make)(struct CMUnitTest **tests, size_t *n);
	void (*free)(void);
};
#define ROWS(t) .rows = (t), .nrows = ARRAY_SIZE(t)
#define TESTS(t) .tests = (t), .ntests = ARRAY_SIZE(t)
/* Runs the named groups (all when none are named) as one cmocka run "bpf";
 * --list prints the groups. main's exit code. */
#define ID_A 1000
#define ID_B 1001
#define ID_C 1002

/* policy.c: its map writers, the steps other groups' rows take, the state
 * its rows leave (policy4_state), --bench-policy. */
int allow(const char *ep, uint8_t version, uint8_t dir, uint32_t peer, uint8_t proto,
	  uint16_t port, int port_bits, uint32_t policy_id, uint16_t rule);
int set_polep(const char *ep, uint32_t identity, uint8_t version, uint8_t isolated, uint8_t has);
int ipcache(const char *addr, int len, uint32_t identity);
int policy_ingress_a(void);
int policy_egress_b(void);
int policy_a_v1(void);
int policy_a_off(void);
int policy_b_back(void);
int policy_a_from_r(void);
int policy_a_v1_again(void);
int policy_a_egress_nothing(void);
int policy4_state(void);
int bench_policy(void);
/* cnp.c: a new flow's verdict with and without tiers compiled (--bench-tiers). */
int bench_tiers(void);
/* encap.c: node n2 hosting R (IP_R), a pod whose node is gone (IP_GONE). */
int overlay_setup(void);
/* prefilter.c: 203.0.113.0/24 on the deny list. */
int prefilter_add(void);
/* test_bpf.c: the maps the IPv4 groups leave (their flows aside). */
int node4_state(void);
/* What the groups written on top of others start from (their setups, no flows):
 * svc_lib.c's Services (lb4_state), parse.c's IPv6 endpoints (v6_state), both
 * families' Services and nodeport.c's IPv6 NodePorts (svc_state, svc_lib.c). */
int lb4_state(void);
void v6_setup(void **state);
int v6_state(void);
int svc_state(void);
int v6ovl_state(void); /* v6_state and encap.c's IPv6 overlay */
void v6ovl_setup(void **state); /* encap.c's IPv6 overlay alone: n2's R6, R6B */
int dsr6_state(void); /* svc_state and nodeport_dsr.c's DSR NodePorts (dsr6_setup) */
/* tests/bpf/nodeport.c: the IPv6 NodePorts and externalIPs (np6_setup, which
 * svc_state writes too); lb4_state, v6_state's endpoints with
 * their policy opened and np6_setup's NodePorts (np_state). */
void np6_setup(void **state);
int np_state(void);
int run_groups(const struct group *const *groups, size_t n, int argc, char **argv);

/*
 * tests/bpf/xdp_np.c: the XDP NodePort fast path. xdp_np_load: its two
 * programs (env.xdp_np, env.xdp_np_dsr) and the netns's route and
 * neighbour towards N2 its FIB lookup needs. The differential: every run of
 * FROM_OVERLAY_LB or FROM_OVERLAY_DSR (run_mark, expect6_fd) first runs the frame
 * through the matching XDP program, records what it did and puts the maps
 * back (npx_before); the tc run that follows is the oracle (npx_after).
 */
int xdp_np_load(struct bpf_object_open_opts *opts);
void xdp_np_destroy(void);
int npx_before(int prog, const uint8_t *in, size_t len, int repeat);
void npx_after(int prog, int err, const struct bpf_test_run_opts *o);
/*
 * The same for runs of a program by its fd (expect6_fd: the IPv6 rows):
 * FROM_OVERLAY_LB's and FROM_OVERLAY_DSR's, and a group's own from_overlay
 * of a node on the IPv6 underlay once npx_attach gave it an XDP program of
 * the same settings (node_ip6 node6, no node_ip, lb_dsr dsr; npx_detach
 * before its fd is closed).
 */
int npx_before_fd(int fd, const uint8_t *in, size_t len);
/* fd run on o (after npx_before_fd's run of its input, xdp_diff): no error, and one
 * packet counted under idx (XCNI_METRIC_IDX), no other counter moving. */
void npx_run_counted(int fd, struct bpf_test_run_opts *o, __u32 idx, bool xdp_diff);
int npx_attach(int tc_fd, const char *node6, int dsr);
/* npx_attach for a node with both node_ip (NODE_IP) and node_ip6 node6. */
int npx_attach_dual(int tc_fd, const char *node6, int dsr);
void npx_detach(int tc_fd);
/* Frames the differential has seen translated at XDP and compared, so far. */
unsigned long npx_translated(void);
/* xdp_np.c: one more generation of the XDP flow cache (xcni_npgen), as xcnid adds. */
void npc_gen_bump(void);

/*
 * xdp_np.c's map snapshots (decap_xdp.c's differential takes them too):
 * every entry of the pinned map name (snap_take; -E2BIG past 20000), the
 * map put back as it was (snap_restore), and two snapshots of one map
 * compared (snap_same: 0, else msg names the first difference; ct:
 * conntrack's clocks and XDP flag aside; allow_svc: a random pick's
 * service entry on one side only is let by).
 */
struct msnap {
	int fd, type, percpu;
	uint32_t ksz, vsz; /* vsz: all CPUs' values for a per-CPU map */
	uint32_t vsz1; /* one CPU's */
	size_t n;
	uint8_t *k, *v;
};
int snap_take(struct msnap *s, const char *name);
int snap_restore(const struct msnap *s);
void snap_free(struct msnap *s);
int snap_same(const struct msnap *a, const struct msnap *b, const char *name, int ct,
	      int allow_svc, char *msg, size_t cap);

/* fragshare.c: datagram k's entry in any fragment share (1, its first
 * fragment's ports in f), 0 when it has none. */
int frag_held(const struct xcni_frag_key *k, struct xcni_frag *f);
int frag6_held(const struct xcni_frag6_key *k, struct xcni_frag6 *f);

/* parse.c: v6_setup as a group's prep or a step row (0). */
int v6_endpoints(void);

/* underlay6.c: the node of the IPv6 underlay's address (the outer destination of
 * rows whose .node is IPv6), its programs' fds, its Geneve over IPv6 with
 * optwords zero option words (crit: the C bit, the first an unknown critical
 * option). */
#define UL6_NODE "fc00:78::1"
int ul6_prog_fd(int prog);
/* underlay6.c's prep: its node's programs and state, for decap_xdp.c's IPv6-underlay group. */
int ul6_state(void);
size_t geneve_wrap_ul6_opt(const uint8_t *inner, size_t inner_len, const char *src,
			   const char *dst, uint32_t hash, uint32_t vni, unsigned int optwords,
			   bool crit, uint8_t *out);

/* The row's frame into in and the bytes check_row wants its program to leave
 * into want (what it compares the output with); want's length. */
size_t row_want(const struct row *r, uint8_t in[FRAME_MAX], uint8_t want[FRAME_MAX]);

#endif
