// SPDX-License-Identifier: Apache-2.0
/*
 * The overlay over the IPv4 underlay, both inner families: from_pod and
 * to_overlay encapsulating to node n2, from_overlay taking n2's packets
 * apart, policy judged on both sides. IPv4 inside: rows, run in order.
 * IPv6 inside (from_pod6's encapsulation, from_overlay6's decapsulation,
 * to_overlay6), on the pods' IPv6 addresses (parse.c's v6_setup): every
 * expected frame written out here byte by byte, the flow hash computed from
 * its definition (bpf/lib/encap.h), the encapsulated frame read back by
 * tshark. The IPv6 underlay: underlay6.c.
 *
 *   R    10.99.6.5    a pod on n2 (identity ID_R), tunnel N2
 *   GONE 10.99.7.9    a pod whose node is gone (no tunnel)
 *   R6   fd00:98::5   a pod on n2 (identity ID_R), tunnel N2
 *   R6B  fd00:98::6   another pod on n2 (identity ID_R6B), tunnel N2
 *   GONE fd00:97::9   a pod whose node is gone (no tunnel)
 *   N2_6 fc00:77::2   n2's IPv6 InternalIP: remote node, tunnel N2
 *   SELF fc00:77::1   this node's IPv6 InternalIP: host
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/pkt_cls.h>

#include "harness.h"

int overlay_setup(void)
{
	struct xcni_ipcache_key k = { .prefixlen = 32, .addr = ip4(IP_R) };
	struct xcni_ipcache_val v = { .identity = ID_R, .tunnel_ip = ip4(N2), .flags = XCNI_IPC_POD };
	struct xcni_tunnel t = { .pod_cidr = ip4("10.99.6.0"), .pod_cidr_len = 24, .node = "n2" };
	struct xcni_tunstat zero[libbpf_num_possible_cpus()];
	uint32_t n2 = ip4(N2);
	int fd = map_fd("xcni_ipcache");

	memset(zero, 0, sizeof(zero));
	if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
		return -errno;
	k.addr = ip4(N2);
	v = (struct xcni_ipcache_val){ .identity = XCNI_ID_REMOTE_NODE, .tunnel_ip = ip4(N2) };
	if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
		return -errno;
	k.addr = ip4(IP_GONE);
	v = (struct xcni_ipcache_val){ .identity = ID_R + 1, .flags = XCNI_IPC_POD };
	if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
		return -errno;
	if (bpf_map_update_elem(map_fd("xcni_tunnel"), &n2, &t, BPF_ANY) ||
	    bpf_map_update_elem(map_fd("xcni_tunstat"), &n2, zero, BPF_ANY))
		return -errno;
	return 0;
}

#define A6 "fd00:99::a"
#define B6 "fd00:99::b"
#define R6 "fd00:98::5"
#define R6B "fd00:98::6"
#define GONE6 "fd00:97::9"
#define N2_6 "fc00:77::2"
#define SELF6 "fc00:77::1"
#define WORLD6 "2001:db8::53"
#define ID_R6B 2006
#define N3 "192.168.77.99" /* no node */

static void in6(const char *s, uint8_t out[16])
{
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
}

/* bpf/lib/encap.h's flow_sport6, from its definition: addresses folded by xor. */
uint16_t geneve_sport6(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto)
{
	uint32_t a[4], b[4];
	struct xcni_ct_key k = { .sport = htons(sp), .dport = htons(dp), .proto = proto };

	in6(s, (uint8_t *)a);
	in6(d, (uint8_t *)b);
	k.saddr = a[0] ^ a[1] ^ a[2] ^ a[3];
	k.daddr = b[0] ^ b[1] ^ b[2] ^ b[3];
	return flow_sport(&k);
}

/*
 * Geneve around an inner Ethernet + IPv6 frame, as RFC 8926 and the node
 * send it: outer Ethernet (the inner's MACs, type IPv4), IPv4 (TOS = the
 * inner traffic class, DF, TTL 64, UDP, checksum), UDP (source port sport,
 * 6081, length, checksum 0), Geneve (no options, protocol 0x6558, vni),
 * the inner frame. Returns the length.
 */
size_t geneve_wrap6(const uint8_t *inner, size_t inner_len, const char *src, const char *dst,
		    uint16_t sport, uint32_t vni, uint8_t *out)
{
	uint8_t *ip = out + ETH_HLEN, *udp = ip + 20, *g = udp + 8;
	size_t l3 = inner_len - ETH_HLEN; /* the inner IPv6 packet */
	uint16_t v;
	uint32_t a;

	memset(out, 0, FRAME_MAX);
	memcpy(out, inner, 12);
	out[12] = 0x08;
	out[13] = 0x00;
	ip[0] = 0x45;
	ip[1] = (uint8_t)(inner[14] << 4 | inner[15] >> 4);
	v = htons((uint16_t)(l3 + 50));
	memcpy(ip + 2, &v, 2);
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	a = ip4(src);
	memcpy(ip + 12, &a, 4);
	a = ip4(dst);
	memcpy(ip + 16, &a, 4);
	v = csum(ip, 20);
	memcpy(ip + 10, &v, 2);
	v = htons(sport);
	memcpy(udp, &v, 2);
	v = htons(XCNI_GENEVE_PORT);
	memcpy(udp + 2, &v, 2);
	v = htons((uint16_t)(l3 + 50 - 20));
	memcpy(udp + 4, &v, 2);
	g[2] = 0x65;
	g[3] = 0x58;
	a = htonl(vni << 8);
	memcpy(g + 4, &a, 4);
	memcpy(g + 8, inner, inner_len);
	return ETH_HLEN + 36 + inner_len;
}

static void ipc6(const char *a, uint32_t id, const char *tunnel, uint32_t flags)
{
	struct xcni_ipcache6_key k = { .prefixlen = 128 };
	struct xcni_ipcache_val v = { .identity = id, .tunnel_ip = tunnel ? ip4(tunnel) : 0,
				      .flags = flags };

	in6(a, k.addr);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_ipcache6"), &k, &v, BPF_ANY), 0);
}

static uint64_t tun_tx(void)
{
	int ncpu = libbpf_num_possible_cpus();
	struct xcni_tunstat s[ncpu];
	uint32_t n2 = ip4(N2);
	uint64_t tx = 0;

	assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_tunstat"), &n2, s), 0);
	for (int i = 0; i < ncpu; i++)
		tx += s[i].tx_packets;
	return tx;
}

/* n2's IPv6 pods and addresses, this node's (the pods' own: v6_setup). */
void v6ovl_setup(void **state)
{
	(void)state;
	ipc6(R6, ID_R, N2, XCNI_IPC_POD);
	ipc6(R6B, ID_R6B, N2, XCNI_IPC_POD);
	ipc6(GONE6, ID_R + 7, NULL, XCNI_IPC_POD);
	ipc6(N2_6, XCNI_ID_REMOTE_NODE, N2, 0);
	ipc6(SELF6, XCNI_ID_HOST, NULL, 0);
	assert_int_equal(polrev_bump(), 0);
}


static int encap6_state(void)
{
	v6_setup(NULL);
	v6ovl_setup(NULL);
	return 0;
}

/* A's ingress: R (ID_R) on TCP 80 only (policy 79); R6B of the same node refused. */
static struct xcni_polhash_key a_r80 = { .peer = ID_R, .dir = XCNI_DIR_TO_POD,
					 .proto = IPPROTO_TCP };

static int a_admits_r(void)
{
	struct xcni_policy_val pv = { .policy_id = 79 };
	struct xcni_polep ep = { .identity = ID_A, .isolated = XCNI_ISOLATED(XCNI_DIR_TO_POD) };
	uint32_t ka = ip4(IP_A);

	a_r80.ep = ka;
	a_r80.port = htons(80);
	if (bpf_map_update_elem(map_fd("xcni_policy"), &a_r80, &pv, BPF_ANY) ||
	    bpf_map_update_elem(map_fd("xcni_polep"), &ka, &ep, BPF_ANY))
		return -errno;
	return polrev_bump();
}

static int a_admits_r_gone(void)
{
	uint32_t ka = ip4(IP_A);

	bpf_map_delete_elem(map_fd("xcni_polep"), &ka);
	bpf_map_delete_elem(map_fd("xcni_policy"), &a_r80);
	return polrev_bump();
}

/*
 * from_overlay's IPv6 decapsulation is a program of its own (ovl_decap6,
 * slot 0 of xcni_ovlcalls): gone from the array (nothing pinned it), the
 * packet is dropped and counted (drop-tail-call), never passed on whole.
 */
static int ovl_decap6_slot(bool set)
{
	int fd = bpf_map__fd(env.ovin->maps.xcni_ovlcalls);
	int prog = bpf_program__fd(env.ovin->progs.ovl_decap6);
	uint32_t k = 0;

	return set ? bpf_map_update_elem(fd, &k, &prog, BPF_ANY) : bpf_map_delete_elem(fd, &k);
}

static int ovl_decap6_gone(void)
{
	return ovl_decap6_slot(false);
}

static int ovl_decap6_back(void)
{
	return ovl_decap6_slot(true);
}

/*
 * The rows both inner families share, written once: fam names the family,
 * the flow (or the addresses) is the family's. From a pod of this node
 * (FROM_POD_OV), from n2 in Geneve (FROM_OVERLAY), from the host through the
 * overlay device (TO_OVERLAY, dev: a device with no endpoint of the family).
 */
#define OV_POD(fam, what, flow...) { fam what, .prog = FROM_POD_OV, .dev = DEV_A, flow }
#define OV_N2(fam, what, flow...) { fam what, .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2, flow }
/* A pod of n2 opens a flow to A (a, r: their addresses, port A's): tracked
 * here too; A's answer goes back encapsulated. */
#define REMOTE_OPEN_ROWS(fam, a, r, port)                                                          \
	OV_N2(fam, "R->A SYN from n2: a new flow, tracked here too",                               \
	      TCP(r, 43000, a, port, TH_SYN), REDIR(FWD_DECAP), .ct = XCNI_CT_NEW),                \
	OV_POD(fam, "A->R SYN-ACK: the reply goes back encapsulated",                              \
	       TCP(a, port, r, 43000, TH_SYN | TH_ACK), REDIR(FWD_ENCAP), .node = N2,              \
	       .ct = XCNI_CT_ESTABLISHED, .ct_rev = true)
#define GONE_ROW(fam, flow...)                                                                     \
	OV_POD(fam, "A->pod of a node that is gone: dropped, not black-holed", flow,               \
	       SHOT(DROP_NO_TUNNEL, EV_FULL), .no_ct = true)
#define INJECT_ROW(fam, flow...)                                                                   \
	OV_POD(fam, "A->n2 UDP 6081: a pod may not inject Geneve", flow,                           \
	       SHOT(DROP_GENEVE_INJECT, EV_FULL))
#define UNKNOWN_NODE_ROW(fam, node_, flow...)                                                      \
	{ fam "R->A from an unknown node: refused before the inner packet is looked at",           \
	  .prog = FROM_OVERLAY, .dev = DEV_U, .node = node_, flow,                                 \
	  SHOT(DROP_UNKNOWN_NODE, EV_OUTER), .no_ct = true }
#define INNER_SPOOF_ROW(fam, flow...)                                                              \
	OV_N2(fam, "B's address inside n2's Geneve: not n2's to claim", flow,                      \
	      SHOT(DROP_INNER_SPOOF, EV_FULL), .no_ct = true)
#define DECAP_HOST_ROW(fam, flow...)                                                               \
	OV_N2(fam, "Geneve for this node: decapsulated to its stack", flow, OK(FWD_DECAP_HOST))
#define HOST_TO_R_ROWS(fam, dev_, host, r, gone)                                                   \
	{ fam "host->R via the overlay device: encapsulated", .prog = TO_OVERLAY, .dev = dev_,     \
	  TCP(host, 44000, r, 80, TH_SYN), REDIR(FWD_ENCAP), .node = N2 },                         \
	{ fam "host->address no node hosts via the overlay device", .prog = TO_OVERLAY,            \
	  .dev = dev_, TCP(host, 44001, gone, 80, TH_SYN), SHOT(DROP_NO_TUNNEL, EV_FULL) }

static const struct row encap_rows[] = {
	/* The overlay. Expected output bytes are built from the input: outer IPv4,
	 * UDP (source port the flow hash, checksum 0), Geneve, inner Ethernet. */
	{ "overlay: node n2 hosts R; a pod whose node is gone", .step = overlay_setup },
	{ "A->R SYN: encapsulated to n2", .prog = FROM_POD_OV, .dev = DEV_A,
	  TCP(IP_A, 42000, IP_R, 80, TH_SYN), REDIR(FWD_ENCAP), .node = N2, .ct = XCNI_CT_NEW },
	{ "A->R UDP: encapsulated", .prog = FROM_POD_OV, .dev = DEV_A, UDP(IP_A, 42001, IP_R, 53),
	  REDIR(FWD_ENCAP), .node = N2, .ct = XCNI_CT_NEW },
	{ "A->R echo: encapsulated", .prog = FROM_POD_OV, .dev = DEV_A,
	  ICMP(IP_A, IP_R, ICMP_ECHO, 77), REDIR(FWD_ENCAP), .node = N2, .ct = XCNI_CT_NEW },
	INJECT_ROW("", UDP(IP_A, 42002, N2, XCNI_GENEVE_PORT)),
	GONE_ROW("", UDP(IP_A, 42003, IP_GONE, 53)),
	{ "R->A SYN-ACK from n2: the reply, decapsulated into A", .prog = FROM_OVERLAY,
	  .dev = DEV_U, .node = N2, TCP(IP_R, 80, IP_A, 42000, TH_SYN | TH_ACK), REDIR(FWD_DECAP),
	  .ct = XCNI_CT_ESTABLISHED, .ct_rev = true },
	REMOTE_OPEN_ROWS("", IP_A, IP_R, 8080),
	UNKNOWN_NODE_ROW("", "192.168.77.9", TCP(IP_R, 43001, IP_A, 80, TH_SYN)),
	INNER_SPOOF_ROW("", TCP(IP_B, 43002, IP_A, 80, TH_SYN)),
	{ "Geneve with 8 bytes of options: skipped", .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2,
	  .optwords = 2, UDP(IP_R, 43003, IP_A, 53), REDIR(FWD_DECAP), .ct = XCNI_CT_NEW },
	{ "the prefilter in tc (--xdp-mode tc): Geneve from n2 still decapsulated into A",
	  .prog = FROM_OVERLAY_PF, .dev = DEV_U, .node = N2, UDP(IP_R, 43090, IP_A, 53),
	  REDIR(FWD_DECAP), .ct = XCNI_CT_NEW },
	{ "Geneve with another VNI", .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2, .vni = 7,
	  UDP(IP_R, 43004, IP_A, 53), SHOT(DROP_BAD_GENEVE, EV_OUTER) },
	{ "truncated Geneve header", .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2,
	  UDP(IP_R, 43005, IP_A, 53), .cut = ETH_HLEN + 20 + 8 + 4, SHOT(DROP_BAD_GENEVE, EV_OUTER) },
	DECAP_HOST_ROW("", UDP(IP_R, 43006, NODE_IP, 53)),
	{ "plain UDP on the underlay: not ours, untouched", .prog = FROM_OVERLAY, .dev = DEV_U,
	  .plain = true, UDP(N2, 5000, NODE_IP, 53), .ret = TC_ACT_OK, .uncounted = true },
	{ "policy: A admits R on TCP 80 only (12/0)", .step = policy_a_from_r },
	{ "R->A TCP 80 from n2: allowed by 12/0", .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2,
	  TCP(IP_R, 43007, IP_A, 80, TH_SYN), REDIR(FWD_DECAP), .ct = XCNI_CT_NEW,
	  BY(12, 0, TO_POD) },
	{ "R->A UDP from n2: ingress policy, source identity from the ipcache", .prog = FROM_OVERLAY,
	  .dev = DEV_U, .node = N2, UDP(IP_R, 43008, IP_A, 54), POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "policy: A's version 1 again: only C on TCP 80 (11/0)", .step = policy_a_v1_again },
	{ "R->A ACK from n2 on 43007: judged again, refused, forgotten", .prog = FROM_OVERLAY,
	  .dev = DEV_U, .node = N2, TCP(IP_R, 43007, IP_A, 80, TH_ACK),
	  POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "policy: A no longer isolated", .step = policy_a_off },
	HOST_TO_R_ROWS("", DEV_X, NODE_IP, IP_R, "10.99.9.9"),
	{ "A->R via the overlay device (a Service DNATed to R): tracked as the stack's",
	  .prog = TO_OVERLAY, .dev = DEV_X, TCP(IP_A, 44002, IP_R, 80, TH_SYN), REDIR(FWD_ENCAP),
	  .node = N2, .ct = XCNI_CT_NEW, .ct_stack = true, EP_OF(DEV_A), VIA_STACK },
	{ "R->A SYN-ACK from n2: reply of the stack's flow, decapsulated to the stack",
	  .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2,
	  TCP(IP_R, 80, IP_A, 44002, TH_SYN | TH_ACK), OK(FWD_DECAP_HOST),
	  .ct = XCNI_CT_ESTABLISHED, .ct_rev = true, .ct_stack = true },
	{ "B->R via the overlay device: B's egress (only A on TCP 80) is judged there",
	  .prog = TO_OVERLAY, .dev = DEV_X, UDP(IP_B, 44003, IP_R, 53),
	  POLICY_DROP(DROP_POLICY_EGRESS), EP_OF(DEV_B), VIA_STACK },
	{ "policy: A's egress allows nothing", .step = policy_a_egress_nothing },
	{ "A->R ACK via the overlay device on 44002: judged again, refused, forgotten",
	  .prog = TO_OVERLAY, .dev = DEV_X, TCP(IP_A, 44002, IP_R, 80, TH_ACK),
	  POLICY_DROP(DROP_POLICY_EGRESS), EP_OF(DEV_A), VIA_STACK },
	{ "policy: A not isolated again", .step = policy_a_off },

	/* IPv6 inside Geneve over the IPv4 underlay. */
	{ "IPv6: the pods' endpoints, n2's pods", .step = encap6_state },
	{ "IPv6: A->R hop limit 1: the stack answers time exceeded", .prog = FROM_POD_OV,
	  .dev = DEV_A, UDP(A6, 40001, R6, 53), .ttl = 1, OK(FWD_STACK) },
	GONE_ROW("IPv6: ", UDP(A6, 40002, GONE6, 53)),
	INJECT_ROW("IPv6: ", UDP(A6, 40003, N2_6, XCNI_GENEVE_PORT)),
	/* Another node's IPv6 address, another port: through the overlay too, as
	 * IPv4's, so its replies to a flow it opened to the pod (an IPv6 NodePort
	 * it SNATed) go back the way it came. */
	{ "IPv6: A->n2's IPv6 TCP 22: encapsulated", .prog = FROM_POD_OV, .dev = DEV_A,
	  TCP(A6, 40004, N2_6, 22, TH_SYN), REDIR(FWD_ENCAP), .node = N2 },
	REMOTE_OPEN_ROWS("IPv6: ", A6, R6, 80),
	DECAP_HOST_ROW("IPv6: ", ICMPV6(R6, SELF6, 128, 7)),
	{ "IPv6: n2 itself (its IPv6 InternalIP) speaks for itself", .prog = FROM_OVERLAY,
	  .dev = DEV_U, .node = N2, UDP(N2_6, 43001, A6, 53), REDIR(FWD_DECAP) },
	/* Who may send what: the inner source must be the outer node's; the node must be known. */
	INNER_SPOOF_ROW("IPv6: ", UDP(B6, 44000, A6, 53)),
	{ "IPv6: an address no node owns inside n2's Geneve", .prog = FROM_OVERLAY, .dev = DEV_U,
	  .node = N2, UDP(WORLD6, 44001, A6, 53), SHOT(DROP_INNER_SPOOF, EV_FULL) },
	UNKNOWN_NODE_ROW("IPv6: ", N3, UDP(R6, 44002, A6, 53)),
	{ "IPv6: R->an address here that is no pod", .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2,
	  UDP(R6, 44003, "fd00:99::77", 53), SHOT(DROP_UNKNOWN_DST, EV_FULL) },
	{ "IPv6: policy: A admits R on TCP 80 only (79/0)", .step = a_admits_r },
	{ "IPv6: R->A TCP 80 from n2: allowed by 79/0", .prog = FROM_OVERLAY, .dev = DEV_U,
	  .node = N2, TCP(R6, 45000, A6, 80, TH_SYN), REDIR(FWD_DECAP), .ct = XCNI_CT_NEW,
	  BY(79, 0, TO_POD) },
	{ "IPv6: R6B->A TCP 80 from n2: refused, the event names R6B", .prog = FROM_OVERLAY,
	  .dev = DEV_U, .node = N2, TCP(R6B, 45001, A6, 80, TH_SYN),
	  POLICY_DROP(DROP_POLICY_INGRESS) },
	{ "IPv6: policy: A not isolated again", .step = a_admits_r_gone },
	{ "IPv6: ovl_decap6 gone from xcni_ovlcalls", .step = ovl_decap6_gone },
	{ "IPv6: R->A from n2, its step's program gone: dropped (drop-tail-call)",
	  .prog = FROM_OVERLAY, .dev = DEV_U, .node = N2, UDP(R6, 45002, A6, 53),
	  SHOT(DROP_TAIL_CALL, EV_ZERO), .no_ev = true },
	{ "IPv6: ovl_decap6 back in xcni_ovlcalls", .step = ovl_decap6_back },
	{ "IPv6: R->A from n2 again: decapsulated into A", .prog = FROM_OVERLAY, .dev = DEV_U,
	  .node = N2, UDP(R6, 45003, A6, 53), REDIR(FWD_DECAP) },
	/* The host's IPv6 to a remote pod, routed to xcni0: encapsulated as it is. */
	/* (the device: X has an IPv6 endpoint, U none) */
	HOST_TO_R_ROWS("IPv6: ", DEV_U, SELF6, R6, GONE6),
};

/* Encapsulation: the row (every outer byte), the tunnel's counter, what tshark reads. */
static void encap6_tshark(void **state)
{
	/* DSCP EF: carried to the outer TOS. */
	static const struct row r = { "IPv6: A->R UDP: encapsulated to n2", .prog = FROM_POD_OV,
				      .dev = DEV_A, UDP(A6, 40000, R6, 53), .tclass = 0xb8,
				      REDIR(FWD_ENCAP), .node = N2, .ct = XCNI_CT_NEW };
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	char path[] = "/tmp/xcni-v6ovl-XXXXXX", cmd[512], got[512] = "";
	uint64_t tx = tun_tx();
	uint8_t *frames[1] = { want };
	size_t wlen;
	FILE *p;
	int fd;

	(void)state;
	check_rows(&r, 1);
	assert_int_equal(tun_tx(), tx + 1);
	/* The output check_row found byte for byte. */
	wlen = row_want(&r, in, want);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	pcap_write(path, frames, &wlen, 1);
	snprintf(cmd, sizeof(cmd),
		 "tshark -n -r %s -T fields -E separator=' ' -e ip.src -e ip.dst -e ip.dsfield "
		 "-e ip.checksum.status -e udp.srcport -e udp.dstport -e geneve.vni "
		 "-e geneve.proto_type -e ipv6.src -e ipv6.dst -e ipv6.hlim "
		 "-o ip.check_checksum:TRUE 2>/dev/null",
		 path);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(got, sizeof(got), p));
	assert_int_equal(pclose(p), 0);
	unlink(path);
	/* Outer, then inner UDP ports; checksum status 1: good. */
	snprintf(cmd, sizeof(cmd), "%s %s 0xb8 1 %u,40000 6081,53 0x00002a 0x6558 %s %s 63\n",
		 NODE_IP, N2, geneve_sport6(A6, 40000, R6, 53, IPPROTO_UDP), A6, R6);
	if (strcmp(got, cmd))
		fail_msg("tshark: %swant:   %s", got, cmd);
}

/*
 * A pod's packet refused for where it goes leaves the conntrack entry its
 * tuple names as it was: dropped before ct_track, which would count it and
 * keep the flow alive (from_pod4's order). pkts_orig and last_ns as put.
 */
static void ct6_untouched_by(const struct row *r)
{
	struct xcni_ct6_key k = tuple6_of(r, false);
	struct xcni_ct_entry e = { .pkts_orig = 7, .state = XCNI_CT_ESTABLISHED }, got;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	e.created_ns = e.last_ns = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec - 1000;
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_ct6"), &k, &e, BPF_ANY), 0);
	check_rows(r, 1);
	assert_int_equal(bpf_map_lookup_elem(map_fd("xcni_ct6"), &k, &got), 0);
	assert_int_equal(got.pkts_orig, 7);
	assert_int_equal(got.last_ns, e.last_ns);
	assert_int_equal(bpf_map_delete_elem(map_fd("xcni_ct6"), &k), 0);
}

static void encap6_ct_untouched(void **state)
{
	static const struct row gone = { "IPv6: A->gone, a flow open: untouched",
					 .prog = FROM_POD_OV, .dev = DEV_A,
					 UDP(A6, 40009, GONE6, 53), SHOT(DROP_NO_TUNNEL, EV_FULL) };
	static const struct row inject = { "IPv6: A->n2 6081, a flow open: untouched",
					   .prog = FROM_POD_OV, .dev = DEV_A,
					   UDP(A6, 40009, N2_6, XCNI_GENEVE_PORT),
					   SHOT(DROP_GENEVE_INJECT, EV_FULL) };

	(void)state;
	ct6_untouched_by(&gone);
	ct6_untouched_by(&inject);
}

/* 1500 bytes of IPv6 do not fit the underlay's 1500 once wrapped: to the
 * stack untouched, which routes it to xcni0 (MTU - 50) and answers Packet
 * Too Big. The row's headers, the payload grown past FRAME_MAX. */
static void encap6_too_big(void **state)
{
	static const struct row r = { .prog = FROM_POD_OV, .dev = DEV_A, UDP(A6, 40005, R6, 53) };
	static uint8_t big[ETH_HLEN + 1500], bout[ETH_HLEN + 1600];
	uint8_t in[FRAME_MAX];
	struct bpf_test_run_opts o = {};
	struct xcni_metric before[XCNI_NR_METRICS], after[XCNI_NR_METRICS];
	__u32 idx = XCNI_METRIC_IDX(XCNI_FWD_TOO_BIG, XCNI_DIR_FROM_POD);

	(void)state;
	memcpy(big, in, build(&r, in));
	big[ETH_HLEN + 4] = (1500 - 40) >> 8; /* payload length 1460 */
	big[ETH_HLEN + 5] = (1500 - 40) & 0xff;
	big[ETH_HLEN + 40 + 4] = (1500 - 40) >> 8; /* UDP length */
	big[ETH_HLEN + 40 + 5] = (1500 - 40) & 0xff;
	assert_int_equal(read_metrics(before), 0);
	assert_int_equal(run(FROM_POD_OV, DEV_A, big, sizeof(big), bout, sizeof(bout), 0, &o), 0);
	assert_true(ring_buffer__consume(env.rb) >= 0);
	assert_int_equal(read_metrics(after), 0);
	assert_int_equal(o.retval, TC_ACT_OK);
	assert_int_equal(after[idx].packets - before[idx].packets, 1);
	assert_int_equal(o.data_size_out, sizeof(big));
	assert_memory_equal(bout, big, sizeof(big));
}

/* harness.c's on_event hands every IPv6 event here too: the last one, whole. */
static struct xcni_event6 last6;

void v6ovl_event(const void *data)
{
	memcpy(&last6, data, sizeof(last6));
}

static const struct CMUnitTest encap_tests[] = {
	cmocka_unit_test(encap6_tshark),
	cmocka_unit_test(encap6_ct_untouched),
	cmocka_unit_test(encap6_too_big),
};

/* v6_state with v6ovl_setup's IPv6 overlay (n2's pods, this node's SELF6). */
int v6ovl_state(void)
{
	int err = v6_state();

	if (!err)
		v6ovl_setup(NULL);
	return err;
}

const struct group encap_group = { "encap", ROWS(encap_rows), TESTS(encap_tests),
				   .prep = policy4_state };
