/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the IPv6 Services tests (tests/bpf/svc_*.c: ClusterIPs) share with the
 * IPv6 NodePort tests (tests/bpf/nodeport.c: over both underlays, the IPv6
 * one on a from_overlay of its own; nodeport_dsr.c: DSR; nodeport_icmp.c:
 * ICMPv6 errors, from outside and back through Geneve; np_mtu.c) and the
 * attackers: the frame builder, the one-packet check and the map writers, in
 * tests/bpf/svc_lib.c, as tests/bpf/lb.h is for the IPv4 files.
 */
#ifndef XCNI_TESTS_BPF_LB6_H
#define XCNI_TESTS_BPF_LB6_H

#include <stddef.h>
#include <stdint.h>

#include "harness.h"

#define A6 "fd00:99::a" /* parse.c's pod A (v6_setup) */
#define NODE6 "fc00:77::1" /* this node's IPv6 InternalIP */
#define CLIENT6 "2001:db8:1::7" /* outside the cluster: world */
#define SEQ 0x01020304u
#define T_FIN 0x01
#define T_SYN 0x02
#define T_RST 0x04
#define T_ACK 0x10

/* A frame: Ethernet, IPv6 (no extension headers), TCP (flags T_*), UDP or
 * ICMPv6 (type, code 0, then the payload: no ports) with a real checksum;
 * hop 0 is 64. The payload: body's bytes when given, else 0xa0, 0xa1, ... */
struct g6 {
	const uint8_t *smac, *dmac;
	const char *src, *dst;
	uint16_t sport, dport; /* host order */
	uint8_t proto, flags, hop, type;
	uint16_t payload;
	const uint8_t *body;
	uint32_t ack; /* TCP with ACK: its number; 0: SEQ + 1 (a SYN-ACK's, acknowledged) */
};

void in6(const char *s, uint8_t out[16]);
/* The checksum over the IPv6 pseudo-header of packet ip6 and the L4 bytes, in full. */
uint16_t csum6(const uint8_t *ip6, uint8_t nh, const uint8_t *l4, size_t len);
/* An IPv6 header src -> dst, next header nh, hop limit hop, payload plen, into ip (40 bytes). */
void ip6_hdr(uint8_t *ip, const char *src, const char *dst, uint8_t nh, uint8_t hop, size_t plen);
/* Into buf (FRAME_MAX bytes); returns the frame's length. */
size_t frame6(const struct g6 *f, uint8_t *buf);
/* From pod d (pod MAC -> its gateway's); UDP with 12 bytes of payload. */
struct g6 from6(int d, const char *src, uint16_t sp, const char *dst, uint16_t dp, uint8_t proto,
		uint8_t flags);
/* f as delivered into pod d: its MACs, one hop less (hop 63). */
struct g6 into6(struct g6 f, int d);
/* From the outside, on the underlay (DEV_U), to dst:dp. */
struct g6 outside6_to(const char *src, uint16_t sp, const char *dst, uint16_t dp, uint8_t proto,
		      uint8_t flags);
/* f (from outside) as it leaves for backend:bport, SNATed to NODE6:sp, one hop
 * less: the inner frame of the Geneve packet, into inner; its length. */
size_t np6_snat_inner(const struct g6 *f, uint16_t sp, const char *backend, uint16_t bport,
		      uint8_t *inner);
/* f with src:sp -> dst:dp instead (a reply made the frontend's, a SNATed
 * packet), into buf; its length. */
size_t frame6_as(const struct g6 *f, const char *src, uint16_t sp, const char *dst, uint16_t dp,
		 uint8_t *buf);
/* The xcni_snat entry (map fd) of NODE6:sp -> backend:bport names client:cport. */
void snat6_check(int fd, uint16_t sp, const char *backend, uint16_t bport, uint8_t proto,
		 const char *client, uint16_t cport);

/* The xcni_ct6 entry of s:sp -> d:dp/proto (*found says whether there is one). */
struct xcni_ct_entry ct6_get(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto,
			     int *found);

/*
 * One packet through prog (a harness tc program) from device dev: verdict ret,
 * counted once under (reason, the program's direction) and nowhere else,
 * output exactly want when given. expect6_fd: the same through the program
 * fd, counted under dir.
 */
void expect6(int prog, int dev, const uint8_t *in, size_t len, int ret, int reason,
	     const uint8_t *want, size_t want_len);
extern uint32_t expect6_mark;
void expect6_fd(int fd, unsigned int dir, int dev, const uint8_t *in, size_t len, int ret,
		int reason, const uint8_t *want, size_t want_len);

/* Map writers, as the agent writes them: a backend, a frontend over the
 * backends ids (count of them; also its rev_nat entry), an ipcache6 /128,
 * xcni_self6 (NULL: zero) of the from_overlay map fd. */
void be6(uint32_t id, const char *ip, uint16_t port);
void svc6(const char *vip, uint16_t port, uint8_t proto, uint32_t id, uint8_t flags,
	  const uint32_t *ids, uint16_t count);
void ipc6_put(const char *a, uint32_t id, const char *tunnel, uint8_t flags);
void self6_put_fd(int fd, const char *a);
/* tests/bpf/svc_lib.c's IPv6 ClusterIPs (its table), the pods' policy opened. */
void lb6_setup(void **state);

/* tests/bpf/nodeport.c's, shared with nodeport_icmp.c, np_mtu.c and attack_ul.c: a
 * from_overlay of the IPv6 underlay (node_ip6 NODE6; lb: Services in BPF) on the
 * harness's maps, and node a behind that underlay (xcni_tunnel6, its counters) with
 * its pod p. */
struct from_overlay *ul6_load(int lb);
/* nodeport.c's, for nodeport_ul46.c: the from_overlay of a node with node_ip NODE_IP on the IPv6
 * underlay (node_ip6 NODE6), lb_enabled; dsr: lb_dsr. */
struct from_overlay *ul46_load(int dsr);
int ul6_node(const char *a, const char *name, const char *p, uint32_t id);

#endif
