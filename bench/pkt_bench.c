// SPDX-License-Identifier: Apache-2.0
/*
 * pkt_bench: per-packet cost (BPF_PROG_TEST_RUN) of the paths test_bpf
 * --bench has no row for, built against one tree's skeletons so that two
 * trees (before and after a change of bpf/) are measured by the same driver:
 *
 *   to_pod4      to_pod, IPv4 UDP from the node (192.168.77.1) into pod A
 *   to_pod6      to_pod, IPv6 UDP from the node (fc00:77::1) into pod A
 *   to_pod[6] mark  the same from pod R (R6) of node n2 with skb->mark
 *                XCNI_MARK_TRUSTED (what from_overlay hands the stack)
 *   gnv4[-lb]    from_overlay, Geneve over the IPv4 underlay from node n2,
 *                IPv4 inside (pod R -> pod A), Services in BPF off / on; the
 *                inner UDP from a client's port to a server's (40002 -> 7001):
 *                conntrack's first lookup finds it (a lower port to a higher
 *                is looked up first as a reply, lib/conntrack.h's ct_track)
 *   gnv6[-lb]    the same with IPv6 inside (R6 -> A6)
 *   np-local     from_overlay (Services on), UDP from a client on the
 *                underlay to this node's NodePort 30080, backend B:8080 here
 *   np-remote    the same to NodePort 30081, backend R:80 on n2 (DNAT, SNAT
 *                to this node, Geneve to n2)
 *   np6-remote   from_overlay of a node on both underlays, an IPv6 NodePort
 *                ([NODE6]:30083) to R36 on n3: SNAT, Geneve over IPv6 (the
 *                XDP IPv6-underlay hit's packet)
 *   gnv6ul4[-lb] from_overlay of a node on the IPv6 underlay (node_ip6
 *                NODE6), Geneve over IPv6 from node n3 (N3_6), IPv4 inside
 *                (pod R3 -> pod A), Services off / on
 *   gnv6ul6[-lb] the same with IPv6 inside (R36 -> A6)
 *   ul6-plain[-lb] the same from_overlay, a plain IPv6 UDP packet from a host
 *                on the underlay (N3_6) to the node's port 53: not Geneve,
 *                nothing counted, passed to the stack untouched (what
 *                bench/ul6_plain_bench.c measures alone)
 *   from_pod4    from_pod (Services on), pod A's UDP to pod B of this node
 *                (conntrack, A's egress and B's ingress judged, into B)
 *   from_pod4/6 remote  A's UDP to pod R (A6 to R6) of node n2: Geneve to n2
 *   new flow     the connection-opening path: a new flow every packet (its
 *                ports, or a NodePort client's address, turned before each
 *                call): from_pod A -> B with no policy and with A's egress
 *                policy (xcni_polep put or removed before each batch), to a
 *                ClusterIP of each family, NodePort's local backend
 *   reply        from_pod on B's device, answers of A's flows (opened by the
 *                row's prep): B's UDP, B's TCP SYN+ACK to A's SYN
 *   TCP SYN      from_pod A -> B: a new tuple each packet, and a reused
 *                tuple (each of 5000 tuples' entry CLOSED before each batch,
 *                as conn_rate's client reuses its ports)
 *   policy, open A -> B under A's egress policy (judged once, at warm-up)
 *   ClusterIP    from_pod, A's UDP to a ClusterIP (IPv4 CIP, IPv6 CIP6), its
 *                backend R (R6) on n2: translated, Geneve to n2
 *   frag ...     to_pod, fragments of an outside client's UDP datagram (CLIENT,
 *                CLIENT6) into A, both families: its first fragment again
 *                (its place in its share found and written), a later one
 *                (the first's ports found), and another outside source's
 *                first fragment past what it may hold (refused, drop-frag-share:
 *                16 first fragments of its own before; the fragment maps
 *                cleared before each batch of these rows)
 *   xdp ...      xdp_underlay (a tree with the NodePort fast path, issue 42:
 *                bpf/lib/nodeport_xdp.h), acceleration off (the prefilter
 *                alone) and on: np-remote's packet translated and sent at
 *                XDP (XDP_TX; a flow of its own), the packets it hands on
 *                to tc (np-local's backend here, UDP to the node's port 53,
 *                Geneve from n2) and a prefilter drop; the hit again with
 *                --node-port-mode dsr (lb_dsr) and, over the IPv6 underlay
 *                (node_ip6 NODE6), an IPv6 NodePort ([NODE6]:30083) to R36
 *                on n3. The netns's underlay device gets NODE_IP and NODE6,
 *                n2 and n3 as its neighbours for the fast path's FIB lookup.
 *                PKT_BENCH_XDP_OBJS: more XDP objects
 *                (space-separated paths), each run unchecked on the hit's
 *                packet, its maps the pinned ones.
 *   xdp live     xdp_underlay live (BPF_F_TEST_XDP_LIVE_FRAMES) into
 *                from_overlay at the underlay's tc ingress, np-local's
 *                packet: acceleration off, on (the handoff) and a program
 *                that only passes (the harness's floor); on, the frontend
 *                flagged all-local (30082: passed after one lookup)
 *   sum: ...     issue 56's sums of this run's rows: a local backend's
 *                packet with acceleration on (XDP's hand-on + tc's row)
 *                and off (the prefilter + tc's), and a miss over the
 *                prefilter (port 53; Geneve over its acceleration-off row),
 *                and its ratios (the live rows', a hit's over its tc row)
 *
 * PKT_BENCH_ONLY=TEXT[|TEXT...] runs only the rows whose names hold one
 * (PKT_BENCH_ONLY=live: the live rows). PKT_BENCH_AGE=S waits S seconds
 * after the warm-up: with S > 5 every remote NodePort flow (unanswered) is
 * past XCNI_CT_SNAT_NEW_NS and each packet checks its tuple is still its
 * own, which a full run's later rounds do anyway and a short one's not.
 *
 * It fills only the map entries these rows need (endpoints, ipcache, n2's
 * tunnel, the two NodePort frontends and their backends), with fields both
 * trees' bpf/xcni_shared.h have. Every run is checked: the verdict, the
 * counter of the intended reason (xcni_metrics, exactly one per packet) and
 * the output (destination MAC and address, the outer header for Geneve).
 * The flows' first packets run before the rounds (warm-up), so what is
 * measured is a flow conntrack knows. Rows run in rounds, each row 5000
 * calls a round (to_pod: 100 calls of repeat 100, as nothing is rewritten;
 * the others repeat 1, as a repeat would rerun the rewritten skb), and the
 * mean over all rounds is printed in ns per packet. With PKT_BENCH_BLOCKS=1
 * in the environment each row runs alone instead, all its rounds one after
 * the other after one unmeasured round: no row is measured just after
 * another program's test run (an XDP test run with repeat > 1 leaves the
 * next ~1,000 tc packets up to 1.9x slower on a quiet machine, which the
 * rotation then charges to whichever row follows the XDP rows).
 *
 * Built with -DPKT_BENCH_PREFILTER (bench/nodeport-xdp.sh does; a tree
 * before the tc prefilter, 3d92410, has no tc_prefilter to build it with),
 * the underlay prefilter at both of its places, a deny list of one /32
 * (DENIED, its /24 in xcni_pf24):
 *   np-local/np-remote, prefilter at tc  the NodePort rows through a
 *                from_overlay with tc_prefilter (xcnid --xdp-mode tc): the
 *                prefilter's miss (the two hash lookups) before the
 *                translation, to set beside the rows without it
 *   tc hit       that from_overlay, a frame from DENIED: TC_ACT_SHOT,
 *                drop-prefilter
 *   XDP miss/hit xdp_underlay (BPF_PROG_TEST_RUN on the XDP program; its
 *                rodata as the tree's defaults: the prefilter alone), the
 *                NodePort frame (XDP_PASS, nothing counted) and DENIED's
 *                (XDP_DROP, drop-prefilter)
 *
 * It runs in a network namespace of its own (its veths vanish with it) and
 * pins its maps in DIR (created; must not hold another tree's maps), which it
 * empties and removes on exit. As root, holding the test lock:
 *
 *   gcc -O2 -Wall -I$TREE/build/gen -I$TREE/bpf -o pkt_bench bench/pkt_bench.c -lbpf
 *   flock -o /tmp/xcni-test.lock ./pkt_bench /sys/fs/bpf/pkt-bench-$$ [rounds]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/stat.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

#include "xcni_shared.h"
#include "from_overlay.skel.h"
#include "from_pod.skel.h"
#include "to_pod.skel.h"
/* A tree with the XDP NodePort fast path, unless PKT_BENCH_NO_XDP (set by
 * bench/pkt-bench.sh when the other side has none): both sides must run the
 * same rows, as an XDP test run with repeat > 1 leaves the next ~1,000 tc
 * packets measured up to 1.9x slower (the to_pod row after it: 287 against
 * 152 ns per packet, docs/decisions/flow-on-stack.md). */
#if defined(XCNI_HAS_NPACCEL) && !defined(PKT_BENCH_NO_XDP)
#include "xdp_underlay.skel.h"
#define NP_XDP 1
#endif

#define IP_A "10.99.5.10"
#define IP_B "10.99.5.11"
#define IP_R "10.99.6.5"
#define A6 "fd00:99::a"
#define R6 "fd00:98::5"
#define NODE_IP "192.168.77.1"
#define NODE6 "fc00:77::1"
#define N2 "192.168.77.2"
#define CLIENT "203.0.113.9"
#define CLIENT6 "2001:db8:113::9"
#define IP_R3 "10.99.7.5"
#define R36 "fd00:97::5"
#define N3_6 "fc00:77::3" /* node n3, on the IPv6 underlay only */
#define CIP "10.96.0.10" /* a ClusterIP, backend R:8080 */
#define CIP6 "fd00:96::10" /* an IPv6 ClusterIP, backend R6:8080 */
#define CIP_PORT 80 /* the ClusterIPs' ports: 80 .. 80 + CIP_PORTS - 1 */
#define CIP_PORTS 12
#define NP_META_KEY 0x2c4b1e07U /* the XDP to tc handoff's key (np_meta_key) */
#define VNI 42
#define ID_A 1000
#define ID_B 1001
#define ID_R 2000
#define FRAME 256
/* XCNI_MARK_TRUSTED where the tree has it (the base has no such bit: any value) */
#ifdef XCNI_MARK_TRUSTED
#define TRUSTED_MARK XCNI_MARK_TRUSTED
#else
#define TRUSTED_MARK 0x00100000u
#endif
#ifdef PKT_BENCH_PREFILTER
#include "xdp_underlay.skel.h"
#define DENIED "198.18.0.9"
#endif

enum { DEV_A, DEV_B, DEV_U, NR_DEVS };
static const char *const devs[NR_DEVS] = { "xpba", "xpbb", "xpbu" };
static const uint8_t pod_mac[NR_DEVS][6] = { { 2, 0, 0, 0, 0, 0xa }, { 2, 0, 0, 0, 0, 0xb },
					     { 2, 0, 0, 0, 2, 2 } };
static const uint8_t host_mac[NR_DEVS][6] = { { 2, 0, 0, 0, 1, 0xa }, { 2, 0, 0, 0, 1, 0xb },
					      { 2, 0, 0, 0, 2, 1 } };
static const uint8_t n2_mac[6] = { 2, 0, 0, 0, 3, 3 };
static int ifindex[NR_DEVS];
#ifdef PKT_BENCH_PREFILTER
static struct from_overlay *fo_pf; /* Services on, the prefilter at tc */
static struct xdp_underlay *xu_pf; /* the prefilter alone */
#endif

static const char *pin;
static struct to_pod *tp;
static struct from_pod *fp;
static struct from_overlay *fo[4]; /* Services in BPF off, on; the same on the IPv6 underlay */
#ifdef NP_XDP
static struct xdp_underlay *xu[4]; /* the NodePort fast path off, on, DSR, IPv6 underlay */
static struct bpf_object *xobj[16]; /* PKT_BENCH_XDP_OBJS's */
static int nxobj;
#endif

static uint32_t ip4(const char *s)
{
	struct in_addr a = {};

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

static void ip6(const char *s, void *out)
{
	inet_pton(AF_INET6, s, out);
}

static int map_fd(const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(fo[0]->obj, name);

	if (!m)
		m = bpf_object__find_map_by_name(tp->obj, name);
	if (!m) {
		fprintf(stderr, "pkt_bench: no map %s\n", name);
		exit(1);
	}
	return bpf_map__fd(m);
}

static void put(const char *map, const void *k, const void *v)
{
	if (bpf_map_update_elem(map_fd(map), k, v, BPF_ANY)) {
		fprintf(stderr, "pkt_bench: %s: %s\n", map, strerror(errno));
		exit(1);
	}
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint32_t sum16(const uint8_t *b, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += b[i] << 8 | b[i + 1];
	if (n & 1)
		s += b[n - 1] << 8;
	return s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* Ethernet + IPv4 (l4 bytes after it, zeroed) into b, the header's checksum in full; the
 * IPv4 header. */
static uint8_t *eth_ip4(uint8_t *b, const uint8_t *dmac, const uint8_t *smac, const char *src,
			const char *dst, uint8_t proto, uint16_t l4)
{
	uint8_t *ip = b + 14;
	uint32_t s = ip4(src), d = ip4(dst);

	memset(b, 0, 14 + 20 + l4);
	memcpy(b, dmac, 6);
	memcpy(b + 6, smac, 6);
	put16(b + 12, ETH_P_IP);
	ip[0] = 0x45;
	put16(ip + 2, 20 + l4);
	put16(ip + 4, 0x1234);
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, &s, 4);
	memcpy(ip + 16, &d, 4);
	put16(ip + 10, ~fold(sum16(ip, 20)) & 0xffff);
	return ip;
}

/* Ethernet + IPv4 + UDP (8 bytes of payload), checksums in full; returns the length. */
static size_t udp4(uint8_t *b, const uint8_t *dmac, const uint8_t *smac, const char *src,
		   const char *dst, uint16_t sp, uint16_t dp)
{
	uint8_t *ip = eth_ip4(b, dmac, smac, src, dst, IPPROTO_UDP, 16), *u = ip + 20;
	uint32_t ps;

	put16(u, sp);
	put16(u + 2, dp);
	put16(u + 4, 16);
	for (int i = 0; i < 8; i++)
		u[8 + i] = (uint8_t)(0xa0 + i);
	ps = sum16(ip + 12, 8) + IPPROTO_UDP + 16 + sum16(u, 16);
	put16(u + 6, ~fold(ps) & 0xffff);
	return 14 + 20 + 16;
}

/* Ethernet + IPv4 + TCP (20 bytes, no options, no payload) with the TCP
 * flags fl (byte 13), checksums in full; returns the length. */
static size_t tcp4(uint8_t *b, const uint8_t *dmac, const uint8_t *smac, const char *src,
		   const char *dst, uint16_t sp, uint16_t dp, uint8_t fl)
{
	uint8_t *ip = eth_ip4(b, dmac, smac, src, dst, IPPROTO_TCP, 20), *t = ip + 20;
	uint32_t ps;

	put16(t, sp);
	put16(t + 2, dp);
	put16(t + 4, 0x1000); /* sequence number */
	if (fl & 0x10)
		put16(t + 8, 0x2000); /* acknowledgment number */
	t[12] = 0x50;
	t[13] = fl;
	put16(t + 14, 0xfaf0);
	ps = sum16(ip + 12, 8) + IPPROTO_TCP + 20 + sum16(t, 20);
	put16(t + 16, ~fold(ps) & 0xffff);
	return 14 + 20 + 20;
}

/* Ethernet + IPv6 + UDP (8 bytes of payload), checksum in full. */
static size_t udp6(uint8_t *b, const uint8_t *dmac, const uint8_t *smac, const char *src,
		   const char *dst, uint16_t sp, uint16_t dp)
{
	uint8_t *ip = b + 14, *u = ip + 40;
	uint32_t ps;

	memset(b, 0, 14 + 40 + 16);
	memcpy(b, dmac, 6);
	memcpy(b + 6, smac, 6);
	put16(b + 12, ETH_P_IPV6);
	ip[0] = 0x60;
	put16(ip + 4, 16);
	ip[6] = IPPROTO_UDP;
	ip[7] = 64;
	ip6(src, ip + 8);
	ip6(dst, ip + 24);
	put16(u, sp);
	put16(u + 2, dp);
	put16(u + 4, 16);
	for (int i = 0; i < 8; i++)
		u[8 + i] = (uint8_t)(0xa0 + i);
	ps = sum16(ip + 8, 32) + IPPROTO_UDP + 16 + sum16(u, 16);
	put16(u + 6, ~fold(ps) & 0xffff);
	return 14 + 40 + 16;
}

/*
 * A fragment of a UDP datagram src:sp -> dst:dp (id) at offset off (8-byte
 * units), more to come: the first carries the UDP header and 8 bytes, a later
 * one 16 bytes of payload. IPv4, or IPv6 (a fragment header) as dst says.
 */
static size_t frag(uint8_t *b, const uint8_t *dmac, const uint8_t *smac, const char *src,
		   const char *dst, uint16_t sp, uint16_t dp, uint32_t id, uint16_t off, int more)
{
	int v6 = strchr(dst, ':') != NULL;
	uint8_t *ip = b + 14, *l4 = ip + (v6 ? 48 : 20);

	memset(b, 0, FRAME);
	memcpy(b, dmac, 6);
	memcpy(b + 6, smac, 6);
	if (off == 0) {
		put16(l4, sp);
		put16(l4 + 2, dp);
		put16(l4 + 4, 8 + 64); /* the whole datagram's */
	}
	for (int i = off ? 0 : 8; i < 16; i++)
		l4[i] = (uint8_t)(0xa0 + i);
	if (v6) {
		put16(b + 12, ETH_P_IPV6);
		ip[0] = 0x60;
		put16(ip + 4, 8 + 16);
		ip[6] = 44; /* a fragment header */
		ip[7] = 64;
		ip6(src, ip + 8);
		ip6(dst, ip + 24);
		ip[40] = IPPROTO_UDP;
		put16(ip + 42, (uint16_t)(off << 3 | more));
		put16(ip + 44, (uint16_t)(id >> 16));
		put16(ip + 46, (uint16_t)id);
		return 14 + 48 + 16;
	}
	uint32_t s = ip4(src), d = ip4(dst);

	put16(b + 12, ETH_P_IP);
	ip[0] = 0x45;
	put16(ip + 2, 20 + 16);
	put16(ip + 4, (uint16_t)id);
	put16(ip + 6, (uint16_t)(off | (more ? 0x2000 : 0)));
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, &s, 4);
	memcpy(ip + 16, &d, 4);
	put16(ip + 10, ~fold(sum16(ip, 20)) & 0xffff);
	return 14 + 20 + 16;
}

/* Geneve over IPv4 from src to dst (the underlay's MACs) around an inner frame. */
static size_t geneve4(uint8_t *b, const uint8_t *inner, size_t ilen, const char *src,
		      const char *dst)
{
	uint8_t *ip = b + 14, *u = ip + 20, *g = u + 8;
	uint32_t s = ip4(src), d = ip4(dst);

	memset(b, 0, 14 + 36);
	memcpy(b, host_mac[DEV_U], 6);
	memcpy(b + 6, n2_mac, 6);
	put16(b + 12, ETH_P_IP);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(36 + ilen));
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, &s, 4);
	memcpy(ip + 16, &d, 4);
	put16(ip + 10, ~fold(sum16(ip, 20)) & 0xffff);
	put16(u, 49999);
	put16(u + 2, XCNI_GENEVE_PORT);
	put16(u + 4, (uint16_t)(16 + ilen));
	put16(g + 2, XCNI_GENEVE_PROTO_ETH);
	g[4] = (VNI >> 16) & 0xff;
	g[5] = (VNI >> 8) & 0xff;
	g[6] = VNI & 0xff;
	memcpy(g + 8, inner, ilen);
	return 14 + 36 + ilen;
}

/* Geneve over IPv6 from src to dst (the underlay's MACs) around an inner frame. */
static size_t geneve6(uint8_t *b, const uint8_t *inner, size_t ilen, const char *src,
		      const char *dst)
{
	uint8_t *ip = b + 14, *u = ip + 40, *g = u + 8;
	uint32_t ps;

	memset(b, 0, 14 + 56);
	memcpy(b, host_mac[DEV_U], 6);
	memcpy(b + 6, n2_mac, 6);
	put16(b + 12, ETH_P_IPV6);
	ip[0] = 0x60;
	put16(ip + 4, (uint16_t)(16 + ilen));
	ip[6] = IPPROTO_UDP;
	ip[7] = 64;
	ip6(src, ip + 8);
	ip6(dst, ip + 24);
	put16(u, 49999);
	put16(u + 2, XCNI_GENEVE_PORT);
	put16(u + 4, (uint16_t)(16 + ilen));
	put16(g + 2, XCNI_GENEVE_PROTO_ETH);
	g[4] = (VNI >> 16) & 0xff;
	g[5] = (VNI >> 8) & 0xff;
	g[6] = VNI & 0xff;
	memcpy(g + 8, inner, ilen);
	ps = sum16(ip + 8, 32) + IPPROTO_UDP + (uint32_t)(16 + ilen) + sum16(u, 16 + ilen);
	put16(u + 6, ~fold(ps) & 0xffff);
	return 14 + 56 + ilen;
}

struct row {
	const char *name;
	int fd, dev, repeat;
	uint32_t mark; /* skb->mark the packet arrives with */
	uint8_t in[FRAME];
	size_t len;
	int ret, reason, dir; /* reason 0: nothing counted in dir */
	int xdp; /* an XDP program: an xdp_md from the underlay device */
	int any; /* a step of the hit (PKT_BENCH_XDP_OBJS): any verdict, nothing checked */
	int live; /* XDP live (BPF_F_TEST_XDP_LIVE_FRAMES): what it passes goes on into
		   * the stack and through from_overlay at the device's tc ingress; the
		   * reason is tc's, no output read */
	int (*check)(const struct row *r, const uint8_t *out, uint32_t out_len);
	/* before each batch, unmeasured: the fragment rows' state */
	int (*prep)(const struct row *r);
	/* a new flow each packet: 1 its ports (source, then destination) turned
	 * before each call; 2 its source port and IPv4 source address (a
	 * NodePort's client; the header checksum made again); 3 as 1 over the
	 * ClusterIPs' ports; 4 a reused tuple (REUSED) */
	int vary;
	uint64_t ns, pkts;
};

/* The packets counted under reason in dir; reason 0: under any reason in dir. */
static uint64_t metric(int reason, int dir)
{
	int ncpu = libbpf_num_possible_cpus();
	struct xcni_metric v[ncpu];
	uint64_t n = 0;

	for (int r = XCNI_REASON_MIN; r <= XCNI_REASON_MAX; r++) {
		uint32_t idx = XCNI_METRIC_IDX(r, dir);

		if (reason && r != reason)
			continue;
		if (bpf_map_lookup_elem(map_fd("xcni_metrics"), &idx, v)) {
			fprintf(stderr, "pkt_bench: metrics: %s\n", strerror(errno));
			exit(1);
		}
		for (int c = 0; c < ncpu; c++)
			n += v[c].packets;
	}
	return n;
}

/* to_pod: nothing rewritten. */
static int same(const struct row *r, const uint8_t *out, uint32_t len)
{
	return len == r->len && !memcmp(out, r->in, len);
}

/* Decapsulated into A: the inner frame, A's MACs, A's address. */
static int into_a4(const struct row *r, const uint8_t *out, uint32_t len)
{
	uint32_t a = ip4(IP_A);

	return len == r->len - 50 && !memcmp(out, pod_mac[DEV_A], 6) &&
	       !memcmp(out + 14 + 16, &a, 4);
}

/* The same after the IPv6 underlay's 70 bytes of outer headers. */
static int into_a4_ul6(const struct row *r, const uint8_t *out, uint32_t len)
{
	uint32_t a = ip4(IP_A);

	return len == r->len - 70 && !memcmp(out, pod_mac[DEV_A], 6) &&
	       !memcmp(out + 14 + 16, &a, 4);
}

static int into_a6_ul6(const struct row *r, const uint8_t *out, uint32_t len)
{
	uint8_t a[16];

	ip6(A6, a);
	return len == r->len - 70 && !memcmp(out, pod_mac[DEV_A], 6) &&
	       !memcmp(out + 14 + 24, a, 16);
}

static int into_a6(const struct row *r, const uint8_t *out, uint32_t len)
{
	uint8_t a[16];

	ip6(A6, a);
	return len == r->len - 50 && !memcmp(out, pod_mac[DEV_A], 6) &&
	       !memcmp(out + 14 + 24, a, 16);
}

/* NodePort, local backend: DNAT to B:8080 (the client, as sent, kept), into B. */
static int into_b(const struct row *r, const uint8_t *out, uint32_t len)
{
	uint32_t b = ip4(IP_B);

	return len == r->len && !memcmp(out, pod_mac[DEV_B], 6) && !memcmp(out + 14 + 16, &b, 4) &&
	       !memcmp(out + 14 + 12, r->in + 14 + 12, 4) && out[14 + 22] == 8080 >> 8 &&
	       out[14 + 23] == (8080 & 0xff);
}

/* NodePort, remote backend: Geneve to n2 around NODE_IP -> R:80. */
static int to_n2(const struct row *r, const uint8_t *out, uint32_t len)
{
	uint32_t n2 = ip4(N2), node = ip4(NODE_IP), rr = ip4(IP_R);
	const uint8_t *in = out + 14 + 36 + 14;

	return len == r->len + 50 && !memcmp(out + 14 + 16, &n2, 4) &&
	       out[14 + 22] == XCNI_GENEVE_PORT >> 8 && out[14 + 23] == (XCNI_GENEVE_PORT & 0xff) &&
	       !memcmp(in + 12, &node, 4) && !memcmp(in + 16, &rr, 4) && in[22] == 0 && in[23] == 80;
}

/* An IPv6 NodePort over the IPv6 underlay: Geneve/IPv6 to n3 around NODE6 -> R36:80. */
static int to_n3_ul6(const struct row *r, const uint8_t *out, uint32_t len)
{
	uint8_t n3[16], node[16], rr[16];
	const uint8_t *in = out + 70 + 14;

	ip6(N3_6, n3);
	ip6(NODE6, node);
	ip6(R36, rr);
	return len == r->len + 70 && out[12] == 0x86 && out[13] == 0xdd &&
	       !memcmp(out + 14 + 24, n3, 16) && out[14 + 40 + 2] == XCNI_GENEVE_PORT >> 8 &&
	       out[14 + 40 + 3] == (XCNI_GENEVE_PORT & 0xff) && !memcmp(in + 8, node, 16) &&
	       !memcmp(in + 24, rr, 16) && in[40 + 2] == 0 && in[40 + 3] == 80;
}
#ifdef NP_XDP
/* NodePort DSR at XDP: Geneve with the DSR option to n2 around CLIENT -> R:80. */
static int to_n2_dsr(const struct row *r, const uint8_t *out, uint32_t len)
{
	uint32_t n2 = ip4(N2), c = ip4(CLIENT), rr = ip4(IP_R);
	const uint8_t *in = out + XCNI_ENCAP_DSR_LEN;

	return len == r->len + XCNI_ENCAP_DSR_LEN && !memcmp(out + 14 + 16, &n2, 4) &&
	       out[14 + 22] == XCNI_GENEVE_PORT >> 8 && out[14 + 23] == (XCNI_GENEVE_PORT & 0xff) &&
	       !memcmp(in + 14 + 12, &c, 4) && !memcmp(in + 14 + 16, &rr, 4) && in[14 + 22] == 0 &&
	       in[14 + 23] == 80;
}

#endif

/* from_pod, local: into B (B's MACs, the addresses kept). */
static int into_b_pod(const struct row *r, const uint8_t *out, uint32_t len)
{
	uint32_t a = ip4(IP_A), b = ip4(IP_B);

	return len == r->len && !memcmp(out, pod_mac[DEV_B], 6) && !memcmp(out + 14 + 12, &a, 4) &&
	       !memcmp(out + 14 + 16, &b, 4);
}

/* from_pod on B's device, a reply of A's flow: into A, the addresses kept. */
static int into_a_pod(const struct row *r, const uint8_t *out, uint32_t len)
{
	uint32_t a = ip4(IP_A), b = ip4(IP_B);

	return len == r->len && !memcmp(out, pod_mac[DEV_A], 6) && !memcmp(out + 14 + 12, &b, 4) &&
	       !memcmp(out + 14 + 16, &a, 4);
}

/* from_pod, remote: Geneve to n2 around the packet sent (its L4 as it was). */
static int geneve_n2(const struct row *r, const uint8_t *out, uint32_t len)
{
	uint32_t n2 = ip4(N2);
	size_t l4 = 14 + (r->in[12] == 0x86 ? 40 : 20);

	return len == r->len + 50 && !memcmp(out + 14 + 16, &n2, 4) &&
	       out[14 + 22] == XCNI_GENEVE_PORT >> 8 && out[14 + 23] == (XCNI_GENEVE_PORT & 0xff) &&
	       !memcmp(out + 50 + l4, r->in + l4, r->len - l4);
}

/* from_pod to a ClusterIP whose backend is on n2: Geneve to n2, the inner
 * packet's destination port the backend's 8080. */
static int geneve_n2_dnat(const struct row *r, const uint8_t *out, uint32_t len)
{
	uint32_t n2 = ip4(N2);
	size_t l4 = 14 + 36 + 14 + (r->in[12] == 0x86 ? 40 : 20);

	return len == r->len + 50 && !memcmp(out + 14 + 16, &n2, 4) &&
	       out[14 + 22] == XCNI_GENEVE_PORT >> 8 && out[14 + 23] == (XCNI_GENEVE_PORT & 0xff) &&
	       out[l4 + 2] == 8080 >> 8 && out[l4 + 3] == (8080 & 0xff);
}

/*
 * The next flow of a new-flow row (vary): every packet of a run a 5-tuple
 * of its own, from one counter for all such rows. 64,000 source ports, then
 * the destination port (vary 1; vary 3 over a ClusterIP's CIP_PORTS ports) or
 * the source address's third byte (vary 2) moves on: ~100k packets a row a run, all new, in a conntrack of 262,144
 * (the LRU evicts the oldest the same way on both trees).
 */
static uint32_t flows_made;

/* vary 4: A's SYNs into B:7005 from REUSED source ports in turn, each
 * tuple's entry CLOSED before each batch (closed_pool): every packet a new
 * connection on a reused tuple, as conn_rate's client makes them. */
#define REUSED 5000
static uint32_t reused;

static void vary(struct row *r)
{
	uint8_t *ip = r->in + 14, *l4 = ip + (r->in[12] == 0x86 ? 40 : 20);
	uint32_t c = flows_made++;

	if (r->vary == 4) {
		put16(l4, (uint16_t)(1024 + reused++ % REUSED));
		return;
	}
	put16(l4, (uint16_t)(1024 + c % 64000));
	if (r->vary != 2) {
		put16(l4 + 2, (uint16_t)((r->vary == 1 ? 10000 : CIP_PORT) + c / 64000 % CIP_PORTS));
		return;
	}
	ip[14] = (uint8_t)(c / 64000);
	put16(ip + 10, 0);
	put16(ip + 10, ~fold(sum16(ip, 20)) & 0xffff);
}

static int run(struct row *r, int calls, int measure)
{
	uint8_t out[FRAME + 128];
	struct __sk_buff ctx = { .ifindex = (uint32_t)ifindex[r->dev], .mark = r->mark };
	struct xdp_md xctx = { .data_end = (uint32_t)r->len,
			       .ingress_ifindex = (uint32_t)ifindex[r->dev] }, xco = {};
	uint64_t before;

	if (r->prep && r->prep(r))
		return -1;
	before = metric(r->reason, r->dir);
	for (int i = 0; i < calls; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = r->in, .data_size_in = (uint32_t)r->len,
			    .data_out = out, .data_size_out = sizeof(out),
			    .ctx_in = r->xdp ? (void *)&xctx : (void *)&ctx,
			    .ctx_size_in = r->xdp ? sizeof(xctx) : sizeof(ctx), .repeat = r->repeat);
		uint32_t meta = 0;

		if (r->vary)
			vary(r);
		/* XDP's output starts at its metadata (the handoff's record,
		 * xcni_np_meta): the frame checked apart from it. */
		if (r->xdp && !r->live) {
			o.ctx_out = &xco;
			o.ctx_size_out = sizeof(xco);
		}
		if (r->live) {
			o.data_out = NULL;
			o.data_size_out = 0;
			o.flags = BPF_F_TEST_XDP_LIVE_FRAMES;
		}
		if (bpf_prog_test_run_opts(r->fd, &o)) {
			fprintf(stderr, "%s: test run: %s\n", r->name, strerror(errno));
			return -1;
		}
		if (r->xdp && !r->live)
			meta = xco.data;
		if (!r->any && !r->live &&
		    ((int)o.retval != r->ret || meta > o.data_size_out ||
		     !r->check(r, out + meta, o.data_size_out - meta))) {
			fprintf(stderr, "%s: verdict %d (want %d), output %u bytes: not the intended path\n",
				r->name, (int)o.retval, r->ret, o.data_size_out);
			return -1;
		}
		if (measure) {
			r->ns += (uint64_t)o.duration * r->repeat;
			r->pkts += r->repeat;
		}
	}
	if (!r->any &&
	    metric(r->reason, r->dir) - before != (r->reason ? (uint64_t)calls * r->repeat : 0)) {
		fprintf(stderr, "%s: %llu counted under the intended reason, want %llu\n", r->name,
			(unsigned long long)(metric(r->reason, r->dir) - before),
			r->reason ? (unsigned long long)calls * r->repeat : 0ull);
		return -1;
	}
	return 0;
}

/* Both fragment maps emptied. */
static int frag_clear(void)
{
	const char *maps[] = { "xcni_frag", "xcni_frag6" };

	for (int m = 0; m < 2; m++) {
		uint32_t key;

		while (bpf_map_get_next_key(map_fd(maps[m]), NULL, &key) == 0)
			if (bpf_map_delete_elem(map_fd(maps[m]), &key))
				return -1;
	}
	return 0;
}

/* One packet of a fragment row's datagram, unmeasured, its verdict unchecked. */
static int frag_send(const struct row *r, const char *src, uint32_t id, uint16_t off)
{
	uint8_t in[FRAME], out[FRAME + 128];
	struct __sk_buff ctx = { .ifindex = (uint32_t)ifindex[r->dev] };
	int v6 = r->in[12] == 0x86;
	size_t len = frag(in, pod_mac[r->dev], host_mac[r->dev], src, v6 ? A6 : IP_A, 44000, 7001,
			  id, off, 1);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));

	return bpf_prog_test_run_opts(r->fd, &o);
}

/* The rows' datagram from CLIENT (CLIENT6): its first fragment passed. */
static int frag_prep_first(const struct row *r)
{
	return frag_clear() || frag_send(r, r->in[12] == 0x86 ? CLIENT6 : CLIENT, 0x77, 0);
}

/* Another outside source (FLOODER, FLOODER6): 16 first fragments of its own,
 * as many as any share holds; its row's is one more. */
#define FLOODER "198.18.3.3"
#define FLOODER6 "2001:db8:333::3"
static int frag_prep_full(const struct row *r)
{
	if (frag_clear())
		return -1;
	for (uint32_t id = 1; id <= 16; id++)
		if (frag_send(r, r->in[12] == 0x86 ? FLOODER6 : FLOODER, id, 0))
			return -1;
	return 0;
}

static void cleanup(void)
{
	struct bpf_map *m;

	if (tp)
		bpf_object__for_each_map(m, tp->obj)
			if (bpf_map__is_pinned(m))
				bpf_map__unpin(m, NULL);
	for (int i = 0; i < 4; i++)
		if (fo[i])
			bpf_object__for_each_map(m, fo[i]->obj)
				if (bpf_map__is_pinned(m))
					bpf_map__unpin(m, NULL);
#ifdef PKT_BENCH_PREFILTER
	if (fo_pf)
		bpf_object__for_each_map(m, fo_pf->obj)
			if (bpf_map__is_pinned(m))
				bpf_map__unpin(m, NULL);
	if (xu_pf)
		bpf_object__for_each_map(m, xu_pf->obj)
			if (bpf_map__is_pinned(m))
				bpf_map__unpin(m, NULL);
	xdp_underlay__destroy(xu_pf);
	from_overlay__destroy(fo_pf);
#endif
	if (fp)
		bpf_object__for_each_map(m, fp->obj)
			if (bpf_map__is_pinned(m))
				bpf_map__unpin(m, NULL);
#ifdef NP_XDP
	for (int i = nxobj - 1; i >= 0; i--)
		bpf_object__close(xobj[i]);
	for (int i = 3; i >= 0; i--)
		xdp_underlay__destroy(xu[i]);
#endif
	from_pod__destroy(fp);
	for (int i = 3; i >= 0; i--)
		from_overlay__destroy(fo[i]);
	to_pod__destroy(tp);
	if (rmdir(pin))
		fprintf(stderr, "pkt_bench: rmdir %s: %s (left behind)\n", pin, strerror(errno));
}

static struct from_overlay *load_fo(int lb, int ul6)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin);
	struct from_overlay *o = from_overlay__open_opts(&oo);

	if (!o)
		return NULL;
	o->rodata->node_ip = ip4(NODE_IP);
	o->rodata->vni = VNI;
	o->rodata->lb_enabled = (uint32_t)lb;
#ifdef XCNI_NP_META_KEYED
	o->rodata->np_meta_key = NP_META_KEY; /* xcnid's is random */
#endif
	if (ul6)
		ip6(NODE6, (void *)o->rodata->node_ip6);
	if (from_overlay__load(o)) {
		from_overlay__destroy(o);
		return NULL;
	}
	return o;
}

static void endpoints(void)
{
	for (int i = DEV_A; i <= DEV_B; i++) {
		struct xcni_endpoint ep = { .ifindex = (uint32_t)ifindex[i], .ep_id = 101 + i };
		struct xcni_ipcache_key k = { .prefixlen = 32, .addr = ip4(i == DEV_A ? IP_A : IP_B) };
		struct xcni_ipcache_val v = { .identity = i == DEV_A ? ID_A : ID_B,
					      .flags = XCNI_IPC_POD };
		uint32_t ifi = (uint32_t)ifindex[i];

		memcpy(ep.pod_mac, pod_mac[i], 6);
		memcpy(ep.host_mac, host_mac[i], 6);
		snprintf(ep.host_if, sizeof(ep.host_if), "%s", devs[i]);
		put("xcni_endpoints", &k.addr, &ep);
#if XCNI_ABI_VERSION >= 23 /* the device's entry holds the pod's endpoint */
		struct xcni_pod_dev d = { .addr = k.addr, .ep = ep };
		struct xcni_pod_dev6 d6 = { .ep = ep };
#else
		__u32 d = k.addr;
		struct xcni_in6 d6;
#endif

		put("xcni_ifindex", &ifi, &d);
		put("xcni_ipcache", &k, &v);
		if (i == DEV_A) {
			struct xcni_in6 a6;
			struct xcni_ipcache6_key k6 = { .prefixlen = 128 };

			ip6(A6, a6.addr);
			memcpy(k6.addr, a6.addr, 16);
			memcpy(&d6, &a6, 16); /* the address first in either layout */
			put("xcni_endpoints6", &a6, &ep);
			put("xcni_ifindex6", &ifi, &d6);
			put("xcni_ipcache6", &k6, &v);
		}
	}
}

/* Node n2 (its tunnel and counters) and its pod R, both families. */
static void node_n2(void)
{
	int ncpu = libbpf_num_possible_cpus();
	struct xcni_tunstat zero[ncpu];
	struct xcni_tunnel t = { .pod_cidr = ip4("10.99.6.0"), .pod_cidr_len = 24 };
	struct xcni_ipcache_key k = { .prefixlen = 32, .addr = ip4(IP_R) };
	struct xcni_ipcache_val v = { .identity = ID_R, .tunnel_ip = ip4(N2), .flags = XCNI_IPC_POD };
	struct xcni_ipcache6_key k6 = { .prefixlen = 128 };
	uint32_t n2 = ip4(N2);

	memset(zero, 0, sizeof(zero));
	snprintf(t.node, sizeof(t.node), "n2");
	put("xcni_ipcache", &k, &v);
	ip6(R6, k6.addr);
	put("xcni_ipcache6", &k6, &v);
	k.addr = n2;
	v = (struct xcni_ipcache_val){ .identity = XCNI_ID_REMOTE_NODE, .tunnel_ip = n2 };
	put("xcni_ipcache", &k, &v);
	put("xcni_tunnel", &n2, &t);
	put("xcni_tunstat", &n2, zero);
}

/* Node n3, on the IPv6 underlay only (its tunnel6 and counters), and its pod R3 (R36). */
static void node_n3(void)
{
	int ncpu = libbpf_num_possible_cpus();
	struct xcni_tunstat zero[ncpu];
	struct xcni_tunnel t = { .pod_cidr = ip4("10.99.7.0"), .pod_cidr_len = 24 };
	struct xcni_ipcache_key k = { .prefixlen = 32, .addr = ip4(IP_R3) };
	struct xcni_ipcache_val v = { .identity = ID_R, .flags = XCNI_IPC_POD | XCNI_IPC_TUN6 };
	struct xcni_ipcache6_key k6 = { .prefixlen = 128 };
	struct xcni_in6 n3;

	memset(zero, 0, sizeof(zero));
	snprintf(t.node, sizeof(t.node), "n3");
	ip6(N3_6, n3.addr);
	memcpy(v.tunnel_ip6, n3.addr, 16);
	put("xcni_ipcache", &k, &v);
	ip6(R36, k6.addr);
	put("xcni_ipcache6", &k6, &v);
	put("xcni_tunnel6", &n3, &t);
	put("xcni_tunstat6", &n3, zero);
}

/* fe:port/UDP (NODE_IP: a NodePort; a ClusterIP) -> backend id (ip:bport), service
 * id sid, as the agent writes it. */
static uint8_t np_flags; /* the next svc4()'s XCNI_SVC_F_* */

static void svc4(const char *fe, uint16_t port, uint32_t sid, uint32_t bid, const char *ip,
		 uint16_t bport)
{
	struct xcni_backend b = { .port = htons(bport), .family = XCNI_AF_INET,
				  .state = XCNI_BE_ACTIVE };
	struct xcni_svcslot_key sk = { .svc_id = sid };
	struct xcni_revnat rn = { .port = htons(port), .family = XCNI_AF_INET };
	struct xcni_svc_key k = { .port = htons(port), .family = XCNI_AF_INET,
				  .proto = IPPROTO_UDP, .scope = XCNI_SCOPE_EXT };
	struct xcni_svc s = { .id = sid, .count = 1, .rev_nat = (uint16_t)sid, .flags = np_flags };
	uint32_t a = ip4(ip), node = ip4(fe);
	uint16_t rid = (uint16_t)sid;

	memcpy(b.addr, &a, 4);
	put("xcni_backend", &bid, &b);
	put("xcni_svcslot", &sk, &bid);
	memcpy(rn.addr, &node, 4);
	put("xcni_revnat", &rid, &rn);
	memcpy(k.addr, &node, 4);
	put("xcni_svc", &k, &s);
}

/* [fe]:port/UDP -> backend id (ip:bport), as the agent writes an IPv6 NodePort
 * ([NODE6]) or ClusterIP. */
static void svc6(const char *fe, uint16_t port, uint32_t sid, uint32_t bid, const char *ip,
		 uint16_t bport)
{
	struct xcni_backend b = { .port = htons(bport), .family = XCNI_AF_INET6,
				  .state = XCNI_BE_ACTIVE };
	struct xcni_svcslot_key sk = { .svc_id = sid };
	struct xcni_revnat rn = { .port = htons(port), .family = XCNI_AF_INET6 };
	struct xcni_svc_key k = { .port = htons(port), .family = XCNI_AF_INET6,
				  .proto = IPPROTO_UDP, .scope = XCNI_SCOPE_EXT };
	struct xcni_svc s = { .id = sid, .count = 1, .rev_nat = (uint16_t)sid };
	struct xcni_ipcache6_key k6 = { .prefixlen = 128 };
	struct xcni_ipcache_val host = { .identity = XCNI_ID_HOST };
	uint16_t rid = (uint16_t)sid;

	ip6(ip, b.addr);
	put("xcni_backend", &bid, &b);
	put("xcni_svcslot", &sk, &bid);
	ip6(fe, rn.addr);
	put("xcni_revnat", &rid, &rn);
	ip6(fe, k.addr);
	put("xcni_svc", &k, &s);
	/* The node's own IPv6 address: the SNAT's source (nodeport6_self). */
	ip6(NODE6, k6.addr);
	put("xcni_ipcache6", &k6, &host);
}

/*
 * A's egress policy, as the compiler writes it: A isolated for egress, UDP
 * to B's and R's identities allowed on any port (xcni_policy, port 0). Its
 * polep entry is put by the rows that want it (pol_on) and removed by the
 * others' (pol_off: no polep, A not judged, open where no agent judges).
 */
static void policy_a(void)
{
	uint32_t peers[] = { ID_B, ID_R };

	for (int i = 0; i < 2; i++) {
		struct xcni_polhash_key k = { .ep = ip4(IP_A), .peer = peers[i],
					      .dir = XCNI_DIR_FROM_POD, .proto = IPPROTO_UDP };
		struct xcni_policy_val v = { .policy_id = 1 };

		put("xcni_policy", &k, &v);
	}
}

static int pol_on(const struct row *r)
{
	struct xcni_polep pe = { .identity = ID_A, .isolated = XCNI_ISOLATED(XCNI_DIR_FROM_POD) };
	uint32_t a = ip4(IP_A);

	(void)r;
	pe.has[XCNI_DIR_FROM_POD & 1] = XCNI_HAS_ANY_PORT;
	return bpf_map_update_elem(map_fd("xcni_polep"), &a, &pe, BPF_ANY);
}

static int pol_off(const struct row *r)
{
	uint32_t a = ip4(IP_A);

	(void)r;
	return bpf_map_delete_elem(map_fd("xcni_polep"), &a) && errno != ENOENT ? -1 : 0;
}

/* A's packet (the frame of len bytes) through from_pod, unmeasured: the flow
 * a reply row answers opened. */
static int open_from_a(const uint8_t *in, size_t len)
{
	uint8_t out[FRAME + 128];
	struct __sk_buff ctx = { .ifindex = (uint32_t)ifindex[DEV_A] };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));

	if (bpf_prog_test_run_opts(bpf_program__fd(fp->progs.from_pod), &o) ||
	    (int)o.retval != TC_ACT_REDIRECT) {
		fprintf(stderr, "pkt_bench: A's opening packet not delivered (%d)\n", (int)o.retval);
		return -1;
	}
	return 0;
}

/* The reply rows' flows: A's UDP A:41000 -> B:7003 (the local row's), A's
 * SYN A:42000 -> B:7004; A's egress not judged (the SYN is TCP). */
static int open_udp_a_b(const struct row *r)
{
	uint8_t in[FRAME];

	return pol_off(r) ||
	       open_from_a(in, udp4(in, host_mac[DEV_A], pod_mac[DEV_A], IP_A, IP_B, 41000, 7003));
}

static int open_syn_a_b(const struct row *r)
{
	uint8_t in[FRAME];

	return pol_off(r) || open_from_a(in, tcp4(in, host_mac[DEV_A], pod_mac[DEV_A], IP_A, IP_B,
						  42000, 7004, 0x02));
}

/* vary 4's tuples, A:1024.. -> B:7005, each with an entry CLOSED now (an
 * earlier connection's, ended): the next SYN of each opens a new one there. */
static int closed_pool(const struct row *r)
{
	struct timespec ts;
	struct xcni_ct_entry e = { .state = XCNI_CT_CLOSED, .pkts_orig = 5, .pkts_reply = 5 };
	struct xcni_ct_key k = { .saddr = ip4(IP_A), .daddr = ip4(IP_B), .dport = htons(7005),
				 .proto = IPPROTO_TCP };

	clock_gettime(CLOCK_MONOTONIC, &ts);
	e.created_ns = e.last_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	reused = 0;
	for (uint32_t i = 0; i < REUSED; i++) {
		k.sport = htons((uint16_t)(1024 + i));
		if (bpf_map_update_elem(map_fd("xcni_ct"), &k, &e, BPF_ANY))
			return -1;
	}
	return pol_off(r);
}

#ifdef NP_XDP
static struct xdp_underlay *load_xu(int accel)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin);
	struct xdp_underlay *o = xdp_underlay__open_opts(&oo);

	if (!o)
		return NULL;
	o->rodata->node_ip = ip4(NODE_IP);
	o->rodata->vni = VNI;
	o->rodata->lb_enabled = 1;
	o->rodata->np_accel = (uint32_t)!!accel;
#ifdef XCNI_NP_META_KEYED
	o->rodata->np_meta_key = NP_META_KEY;
#endif
	/* 2: --node-port-mode dsr; 3: the IPv6 underlay beside the IPv4 one. */
	o->rodata->lb_dsr = accel == 2;
	if (accel == 3)
		ip6(NODE6, (void *)o->rodata->node_ip6);
	if (xdp_underlay__load(o)) {
		xdp_underlay__destroy(o);
		return NULL;
	}
	return o;
}

/*
 * PKT_BENCH_XDP_OBJS: XDP objects beside the tree's (bench/xdp_floor.bpf.c,
 * say), their maps the pinned ones, xdp_underlay's rodata as load_xu(1) sets it; each
 * runs the hit's packet, its verdict and output unchecked.
 */
static int load_xobj(const char *path)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin);
	struct bpf_object *o = bpf_object__open_file(path, &oo);
	struct bpf_map *m;
	size_t sz;

	if (!o || nxobj == 16)
		return -1;
	xobj[nxobj++] = o;
	bpf_object__for_each_map(m, o) {
		void *v = bpf_map__initial_value(m, &sz);

		if (!v || !strstr(bpf_map__name(m), ".rodata"))
			continue;
		if (bpf_object__find_program_by_name(o, "xdp_underlay") &&
		    sz >= sizeof(struct xdp_underlay__rodata)) {
			struct xdp_underlay__rodata *r = v;

			r->node_ip = ip4(NODE_IP);
			r->vni = VNI;
			r->lb_enabled = 1;
			r->np_accel = 1;
		} else if (sz == 8) {
			uint32_t *a = v;

			a[0] = ip4(NODE_IP);
			a[1] = ip4(N2);
		}
	}
	return bpf_object__load(o);
}

/* The prefilter's deny entry 198.18.0.0/24, as xcnictl prefilter add writes it. */
static void deny_198_18(void)
{
	struct xcni_prefilter_key k = { .prefixlen = 24, .addr = ip4("198.18.0.0") };
	struct xcni_prefilter_val v = {};
	uint32_t net = ip4("198.18.0.0"), one = 1;

	put("xcni_pf24", &net, &one);
	put("xcni_prefilter", &k, &v);
}
#endif

static int netns(void)
{
	char cmd[256];

	if (unshare(CLONE_NEWNET)) {
		perror("pkt_bench: unshare");
		return -1;
	}
	for (int i = 0; i < NR_DEVS; i++) {
		snprintf(cmd, sizeof(cmd), "ip link add %s type veth peer name %s-p", devs[i], devs[i]);
		if (system(cmd) || !(ifindex[i] = (int)if_nametoindex(devs[i]))) {
			fprintf(stderr, "pkt_bench: veth %s\n", devs[i]);
			return -1;
		}
	}
	/* The underlay as a node has it (the XDP fast path's FIB lookup): NODE_IP
	 * on it, n2 its neighbour, forwarding on. */
	snprintf(cmd, sizeof(cmd), "ip link set %s up && ip link set %s-p up && ip addr add %s/24 dev %s",
		 devs[DEV_U], devs[DEV_U], NODE_IP, devs[DEV_U]);
	if (system(cmd)) {
		fprintf(stderr, "pkt_bench: %s\n", cmd);
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "ip neigh replace %s lladdr 02:00:00:00:03:03 dev %s nud permanent",
		 N2, devs[DEV_U]);
	if (system(cmd) || system("sysctl -qw net.ipv4.conf.all.forwarding=1")) {
		fprintf(stderr, "pkt_bench: the underlay's neighbour, forwarding\n");
		return -1;
	}
	/* The IPv6 underlay beside it: NODE6, n3 its neighbour (the IPv6 hit's FIB lookup). */
	snprintf(cmd, sizeof(cmd),
		 "ip -6 addr add %s/64 dev %s nodad && ip -6 neigh replace %s lladdr 02:00:00:00:03:04 dev %s nud permanent",
		 NODE6, devs[DEV_U], N3_6, devs[DEV_U]);
	if (system(cmd) || system("sysctl -qw net.ipv6.conf.all.forwarding=1")) {
		fprintf(stderr, "pkt_bench: the underlay's neighbour, forwarding\n");
		return -1;
	}
	return 0;
}

/*
 * A row's calls a round for calls packets, a live row's a tenth: each live
 * test run swaps the XDP dispatcher's program in and out (two
 * synchronize_rcu, ~20 ms at load 15), not measured but 20 rounds of 100
 * such calls a row took minutes a run.
 */
static int row_calls(const struct row *r, int calls)
{
	return (r->live ? calls / 10 : calls) / r->repeat;
}

/* A row's mean by name; -1 when it did not run. */
static double row_ns(const struct row *rows, int nr, const char *name)
{
	for (int i = 0; i < nr; i++)
		if (!strcmp(rows[i].name, name))
			return (double)rows[i].ns / rows[i].pkts;
	return -1;
}

/*
 * Issue 56's sums, from this run's rows: a local backend's packet with
 * acceleration on (XDP's hand-on, then tc) and off (the prefilter, then
 * tc), and what a miss pays over the prefilter (the same packet's row with
 * acceleration off for Geneve; ns/packet, as the rows).
 */
static void derived(const struct row *rows, int nr)
{
	double tc = row_ns(rows, nr, "NodePort from outside, local backend (DNAT into B)");
	double off = row_ns(rows, nr, "xdp, acceleration off: NodePort UDP, passed (prefilter only)");
	double on = row_ns(rows, nr, "xdp fast path to tc: NodePort, local backend (XDP_PASS)");
	double miss = row_ns(rows, nr, "xdp fast path miss: UDP to the node's port 53 (XDP_PASS)");
	double gen = row_ns(rows, nr, "xdp fast path miss: Geneve from n2 (XDP_PASS)");
	double gen_off = row_ns(rows, nr, "xdp, acceleration off: Geneve from n2 (XDP_PASS)");

	if (tc < 0 || off < 0 || on < 0 || miss < 0 || gen < 0 || gen_off < 0)
		return;
	printf("%-62s %7.1f ns/packet\n", "sum: local backend, acceleration on (XDP + tc)", on + tc);
	printf("%-62s %7.1f ns/packet\n", "sum: local backend, acceleration off (prefilter + tc)",
	       off + tc);
	printf("%-62s %7.1f ns/packet\n", "sum: miss (port 53) over the prefilter", miss - off);
	printf("%-62s %7.1f ns/packet\n", "sum: miss (Geneve) over acceleration off", gen - gen_off);
}

/* The ratios of issue 56's targets (the live rows', a hit's over the tc
 * row of its packet), each when its rows ran. */
static void ratios(const struct row *rows, int nr)
{
	static const char *const r[][3] = {
		{ "sum: live, local backend, acceleration on / off",
		  "xdp live into tc: NodePort, local backend, acceleration on",
		  "xdp live into tc: NodePort, local backend, acceleration off" },
		{ "sum: live, local backend, XDP_PASS only / acceleration off",
		  "xdp live into tc: NodePort, local backend, XDP_PASS only",
		  "xdp live into tc: NodePort, local backend, acceleration off" },
		{ "sum: live, local backend, acceleration on / XDP_PASS only",
		  "xdp live into tc: NodePort, local backend, acceleration on",
		  "xdp live into tc: NodePort, local backend, XDP_PASS only" },
		{ "sum: live, local-backends frontend, acceleration on / off",
		  "xdp live into tc: local-backends frontend, acceleration on",
		  "xdp live into tc: NodePort, local backend, acceleration off" },
		{ "sum: IPv4 hit / its tc row", "xdp fast path hit: NodePort, remote backend (XDP_TX)",
		  "NodePort from outside, remote backend (SNAT + Geneve to n2)" },
		{ "sum: IPv6-underlay hit / its tc row",
		  "xdp fast path hit, IPv6 underlay: IPv6 NodePort, remote backend (XDP_TX)",
		  "NodePort IPv6 from outside, IPv6 underlay, remote backend (SNAT + Geneve to n3)" },
	};

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		double a = row_ns(rows, nr, r[i][1]), b = row_ns(rows, nr, r[i][2]);

		if (a > 0 && b > 0)
			printf("%-62s %7.3f x\n", r[i][0], a / b);
	}
}

#include "pkt_bench_rows.h"

int main(int argc, char **argv)
{
	int rounds = argc > 2 ? atoi(argv[2]) : 20, calls = 5000;
	struct row rows[64] = {};
	int nr = 0, err = 1;

	if (argc < 2 || rounds < 1) {
		fprintf(stderr, "usage: pkt_bench PIN_DIR [rounds]\n");
		return 2;
	}
	pin = argv[1];
	/* One CPU for every run: per-CPU state (the XDP flow cache, issue 56)
	 * is the one the warm-up filled. */
	{
		cpu_set_t one;

		CPU_ZERO(&one);
		CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &one);
		sched_setaffinity(0, sizeof(one), &one);
	}
	if (netns())
		return 1;
	if (mkdir(pin, 0700)) {
		fprintf(stderr, "pkt_bench: mkdir %s: %s (a fresh directory is needed)\n", pin,
			strerror(errno));
		return 1;
	}
	atexit(cleanup);
	{
		LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin);

		tp = to_pod__open_opts(&oo);
		if (!tp)
			return 1;
		tp->rodata->lb_enabled = 1;
		if (to_pod__load(tp)) {
			fprintf(stderr, "pkt_bench: to_pod: %s\n", strerror(errno));
			return 1;
		}
	}
	{
		LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin);

		fp = from_pod__open_opts(&oo);
		if (!fp)
			return 1;
		fp->rodata->lb_enabled = 1;
		fp->rodata->node_ip = ip4(NODE_IP);
		fp->rodata->vni = VNI;
		fp->rodata->underlay_ifindex = (uint32_t)ifindex[DEV_U];
		if (from_pod__load(fp)) {
			fprintf(stderr, "pkt_bench: from_pod: %s\n", strerror(errno));
			return 1;
		}
	}
	for (int i = 0; i < 4; i++)
		fo[i] = load_fo(i & 1, i >> 1);
	if (!fo[0] || !fo[1] || !fo[2] || !fo[3]) {
		fprintf(stderr, "pkt_bench: from_overlay: %s\n", strerror(errno));
		return 1;
	}
#ifdef NP_XDP
	xu[0] = load_xu(0);
	xu[1] = load_xu(1);
	xu[2] = load_xu(2);
	xu[3] = load_xu(3);
	if (!xu[0] || !xu[1] || !xu[2] || !xu[3]) {
		fprintf(stderr, "pkt_bench: xdp_underlay: %s\n", strerror(errno));
		return 1;
	}
	deny_198_18();
#endif
	endpoints();
	node_n2();
	node_n3();
	svc4(NODE_IP, 30080, 14, 11, IP_B, 8080);
	svc4(NODE_IP, 30081, 15, 101, IP_R, 80);
	svc6(NODE6, 30083, 17, 103, R36, 80);
	for (int i = 0; i < CIP_PORTS; i++) {
		svc4(CIP, CIP_PORT + i, 20 + i, 120 + i, IP_R, 8080);
		svc6(CIP6, CIP_PORT + i, 40 + i, 140 + i, R6, 8080);
	}
	policy_a();
#ifdef XCNI_SVC_F_LOCAL_BE
	/* 30082: B again, flagged as xcnid flags a frontend whose backends are all here. */
	np_flags = XCNI_SVC_F_LOCAL_BE;
	svc4(NODE_IP, 30082, 16, 12, IP_B, 8080);
	np_flags = 0;
#endif
	nr = pkt_bench_rows(rows);
	if (nr < 0)
		goto out;
	/* PKT_BENCH_ONLY: the rows whose names hold one of its |-separated
	 * texts, the others left out. */
	if (getenv("PKT_BENCH_ONLY")) {
		int kept = 0;

		for (int i = 0; i < nr; i++) {
			char *only = strdup(getenv("PKT_BENCH_ONLY")), *save = NULL, *t;

			for (t = strtok_r(only, "|", &save); t; t = strtok_r(NULL, "|", &save))
				if (strstr(rows[i].name, t)) {
					rows[kept++] = rows[i];
					break;
				}
			free(only);
		}
		nr = kept;
	}
	/* Warm up: each flow's first packet (conntrack, NAT), caches. */
	for (int i = 0; i < nr; i++)
		if (run(&rows[i], row_calls(&rows[i], calls), 0))
			goto out;
	/* PKT_BENCH_AGE=S: S seconds between the warm-up and the rounds, so that
	 * every flow is older than the 5 s after which an unanswered SNATed
	 * flow checks its tuple each packet (a short run's flows are not). */
	if (getenv("PKT_BENCH_AGE"))
		sleep((unsigned)atoi(getenv("PKT_BENCH_AGE")));
	/* Blocks: each row alone, an unmeasured round, then its rounds. */
	if (getenv("PKT_BENCH_BLOCKS") && !strcmp(getenv("PKT_BENCH_BLOCKS"), "1"))
		for (int i = 0; i < nr; i++) {
			if (run(&rows[i], row_calls(&rows[i], calls), 0))
				goto out;
			for (int r = 0; r < rounds; r++)
				if (run(&rows[i], row_calls(&rows[i], calls), 1))
					goto out;
		}
	/* Rounds: every row in each, the order turned by one a round. */
	else
		for (int r = 0; r < rounds; r++)
			for (int j = 0; j < nr; j++) {
				struct row *w = &rows[(j + r) % nr];

				if (run(w, row_calls(w, calls), 1))
					goto out;
			}
	for (int i = 0; i < nr; i++)
		printf("%-62s %7.1f ns/packet\n", rows[i].name, (double)rows[i].ns / rows[i].pkts);
	derived(rows, nr);
	ratios(rows, nr);
	err = 0;
out:
	return err;
}
