/* SPDX-License-Identifier: Apache-2.0 */
/* What the packet tests' files share: the netns, the programs, the helpers (test_bpf.c). */
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
};
extern const struct pod pods[NR_DEVS];

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
	struct ring_buffer *rb;
	int ifindex[NR_DEVS];
	struct xcni_event ev[8]; /* the first 8 */
	int nev; /* all of them */
};
extern struct env env;

uint32_t ip4(const char *s);
uint16_t csum(const void *data, size_t len);
uint16_t flow_sport(const struct xcni_ct_key *t);
int run(int prog, int dev, uint8_t *in, size_t len, uint8_t *out, size_t out_len, int repeat,
	struct bpf_test_run_opts *o);
/* run, the packet arriving with skb->mark mark (XCNI_MARK_TRUSTED: handed to the stack by xcni). */
int run_mark(int prog, int dev, uint32_t mark, uint8_t *in, size_t len, uint8_t *out,
	     size_t out_len, int repeat, struct bpf_test_run_opts *o);
int map_fd(const char *name);
/* Service svc_id names backend backend_id (written before): its xcni_svcbe
 * entry, as user/lib/svcsync.c writes it. 0 or -errno. */
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
enum { EV_ZERO, EV_ADDRS, EV_FULL, EV_OUTER /* the outer Geneve tuple */ };

struct row {
	const char *name;
	int prog, dev;
	/* the frame */
	uint16_t eth; /* ethertype, default IPv4 */
	const uint8_t *smac; /* default: the pod's (from_pod) or the host's (to_pod) */
	const char *src, *dst; /* ARP: sender and target */
	uint8_t proto, flags, type, ttl, ihl; /* flags: TCP; type: ICMP */
	uint16_t sport, dport, frag, tot_len; /* ICMP echo id in sport */
	uint16_t ipid; /* IPv4 id, default 0x1234 */
	size_t cut; /* truncate the frame to this many bytes */
	/* expected */
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
};
/* A pod's packet from_pod handed to the stack (kube-proxy's DNAT), now in to_pod or to_overlay. */
#define VIA_STACK .mark = XCNI_MARK_TRUSTED

#define TCP(s, sp, d, dp, f) .src = s, .sport = sp, .dst = d, .dport = dp, .proto = IPPROTO_TCP, .flags = f
#define UDP(s, sp, d, dp) .src = s, .sport = sp, .dst = d, .dport = dp, .proto = IPPROTO_UDP
#define ICMP(s, d, t, id) .src = s, .dst = d, .proto = IPPROTO_ICMP, .type = t, .sport = id
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
/* A ClusterIP. The Service range, 10.96.0.0/12, also covers the test pods (10.99.x):
 * a pod, local or remote, is never taken for a Service. */
#define SVC_IP "10.96.0.10"

void check_row(void **state);
struct xcni_ct_key tuple_of(const struct row *r, bool rev);

/* tests/bpf/hostile.c: the hostile-packet matrix, run after the Services tests. */
int hostile_tests(struct CMUnitTest **tests, size_t *n);
void hostile_free(void);

/* tests/bpf/v6.c: IPv6, run after the hostile matrix; v6_event takes IPv6 events. */
extern const struct CMUnitTest cnp_tests[];
extern const size_t nr_cnp_tests;
extern const struct CMUnitTest v6_tests[];
extern const size_t nr_v6_tests;
void v6_event(const void *data);

/* tests/bpf/v6ovl.c: IPv6 in Geneve, run after v6.c; v6ovl_event takes IPv6 events. */
/* Geneve around an inner Ethernet + IPv6 frame over the IPv4 underlay, and its
 * outer source port (encap6.h's flow_sport6): v6ovl.c's, lb6.c's tests use them too. */
uint16_t geneve_sport6(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto);
size_t geneve_wrap6(const uint8_t *inner, size_t inner_len, const char *src, const char *dst,
		    uint16_t sport, uint32_t vni, uint8_t *out);
extern const struct CMUnitTest v6ovl_tests[];
extern const size_t nr_v6ovl_tests;
void v6ovl_event(const void *data);

/* tests/bpf/v6ul.c: Geneve over an IPv6 underlay, run after v6ovl.c (programs of its own). */
extern const struct CMUnitTest v6ul_tests[];
extern const size_t nr_v6ul_tests;
/* Its Geneve over IPv6 around an inner frame (no options), from src to dst, the
 * outer label and port from hash: the flow hash of an IPv4 or IPv6 5-tuple
 * (ports in host order), as bpf/lib/encap.h's flow_hash_of. */
size_t geneve_wrap_ul6(const uint8_t *inner, size_t inner_len, const char *src, const char *dst,
		       uint32_t hash, uint32_t vni, uint8_t *out);
uint32_t geneve_hash6(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto);

/* tests/bpf/lb6_v6ul.c: IPv6 NodePorts to a remote backend over the IPv6 underlay,
 * after lb6.c (programs of its own); ul6_bench: --bench's from_overlay rows. */
extern const struct CMUnitTest lb6_v6ul_tests[];
extern const size_t nr_lb6_v6ul_tests;
int ul6_bench(void);

/* tests/bpf/lb.c: Services in BPF, run after the rows. */
extern const struct CMUnitTest lb_tests[];
extern const size_t nr_lb_tests;
int lb_bench(void);
int bench6(void); /* tests/bpf/v6.c: --bench's IPv6 row */
/* lb.c's SCTP checks, shared with lb6.c: the bit-at-a-time CRC32c, a pcap, tshark's verdicts. */
uint32_t crc32c_ref(const uint8_t *d, size_t n);
void pcap_write(const char *path, uint8_t *const *frames, const size_t *lens, int n);
void tshark_sctp_status(const char *path, char *out, size_t cap);

/* tests/bpf/lb_nodeport.c: NodePort, DSR and external traffic, run after lb.c on its frontends. */
extern const struct CMUnitTest lb_nodeport_tests[];
extern const size_t nr_lb_nodeport_tests;

/* tests/bpf/lb_icmp_np.c: ICMP errors from outside about NodePort replies, after lb_nodeport.c. */
extern const struct CMUnitTest lb_icmp_np_tests[];
extern const size_t nr_lb_icmp_np_tests;

/* tests/bpf/lb6.c: IPv6 Services in BPF, run after tests/bpf/v6.c on its endpoints. */
extern const struct CMUnitTest lb6_tests[];
extern const size_t nr_lb6_tests;

/* tests/bpf/lb6_icmp_ovl.c: ICMPv6 errors about flows to a backend on another node, after lb6.c. */
extern const struct CMUnitTest lb6_icmp_ovl_tests[];
extern const size_t nr_lb6_icmp_ovl_tests;

/* tests/bpf/lb6_icmp_np.c: ICMPv6 errors from outside about IPv6 NodePort replies, after lb6.c. */
extern const struct CMUnitTest lb6_icmp_np_tests[];
extern const size_t nr_lb6_icmp_np_tests;

/* tests/bpf/dsr6.c: NodePort DSR for IPv6 frontends, run after lb6.c on its NodePorts. */
extern const struct CMUnitTest dsr6_tests[];
extern const size_t nr_dsr6_tests;

/* tests/bpf/np_mtu.c: NodePorts' path MTU (bpf/lib/ptb.h), last, on lb.c's and lb6.c's frontends. */
extern const struct CMUnitTest np_mtu_tests[];
extern const size_t nr_np_mtu_tests;

/* tests/bpf/attack_nd.c: ND/MLD-typed ICMPv6 beyond the link, outside hairpin; last. */
extern const struct CMUnitTest attack_nd_tests[];
extern const size_t nr_attack_nd_tests;
/* tests/bpf/attack_ul.c: a hostile host on the underlay and forged pod sources from the stack, last. */
extern const struct CMUnitTest attack_ul_tests[];
extern const size_t nr_attack_ul_tests;
/* tests/bpf/attack_geneve.c: Geneve a node's process sends (DSR to no backend, a socket's), last. */
extern const struct CMUnitTest attack_geneve_tests[];
extern const size_t nr_attack_geneve_tests;
/* tests/bpf/attack_ct.c: conntrack direction flips and fragment poisoning, last. */
extern const struct CMUnitTest attack_ct_tests[];
extern const size_t nr_attack_ct_tests;

/* tests/bpf/xdp6.c: the XDP prefilter on IPv6 sources, run after the rows. */
extern const struct CMUnitTest xdp6_tests[];
extern const size_t nr_xdp6_tests;

#endif
