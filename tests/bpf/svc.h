/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the ClusterIP tests of both families (tests/bpf/svc_*.c) share beyond
 * lb.h (IPv4) and lb6.h (IPv6), all of it in tests/bpf/svc_lib.c: the IPv6
 * table's addresses, the helpers both families' tests use, and a
 * frame of either family (struct pk) with the family table (struct fam) that
 * lets one test body run on IPv4 and on IPv6.
 */
#ifndef XCNI_TESTS_BPF_SVC_H
#define XCNI_TESTS_BPF_SVC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"
#include "lb.h"
#include "lb6.h"

/* lb6_setup's addresses (svc_lib.c's table). */
#define B6 "fd00:99::b"
#define C6 "fd00:99::c"
#define VIP1 "fd00:96::1"
#define VIP3 "fd00:96::3"
#define VIP5 "fd00:96::5"
#define VIP7 "fd00:96::7"
#define VIP9 "fd00:96::9"
#define VIPD "fd00:96::d"
#define VIPE "fd00:96::e"
#define VIPF "fd00:96::f"
#define OUT6 "2001:db8::50"
#define LOOP6 "100::a9fe:2a01" /* the hairpin source */
#define KEY_X "0.0.0.7"

/* Frames of long SCTP packets (the CRC update at every length bit up to 2^11). */
#define BIG_MAX 2200
#define SCTP6_MAX 2200 /* frames up to an SCTP packet of 2052 bytes (length bit 2^11) */
#define SC6_DATA 0
#define SC6_INIT 1
#define SC6_INIT_ACK 2

/* IPv4 (struct fr). */
uint32_t sctp_crc(const uint8_t *l4, size_t len);
uint16_t l4_csum(uint32_t s, uint32_t d, uint8_t proto, const uint8_t *l4, size_t len);
/* in through prog from dev's side, output into out (cap bytes): the verdict, nothing checked. */
int lb_send_n(int prog, int dev, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
	      size_t *out_len);
int lb_send(int prog, int dev, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len);
extern uint8_t last_out[BIG_MAX]; /* the last output expect() saw */
extern size_t last_len;
uint16_t out_dport(const uint8_t *out); /* a translated TCP/UDP frame's destination port */
void set_frag(uint8_t *buf, uint16_t frag_off, uint16_t id);
int lb_setup(void **state);

/* The frames' SCTP checksums as tshark finds them ("1\n" good, "0\n" bad, each in turn): want. */
void tshark_sctp_expect(uint8_t *const *frames, const size_t *lens, int n, const char *want);

/* IPv6 (struct g6). */
void pass6(int d, const struct g6 *f, int to, const struct g6 *t, int reason);
uint16_t out_dport6(void); /* of the last frame expect6 saw */
/* An SCTP frame (tag 0x11223344, one chunk), its CRC XORed with bad, or 0 (zero). */
size_t sframe6(const struct g6 *f, uint8_t chunk, uint16_t payload, uint32_t bad, int zero,
	       uint8_t *buf);
uint32_t scrc6(const uint8_t *frame);
/* in through from_pod (lb) of pod d: redirected, exactly want (out: what came out). */
void spass6(int d, const uint8_t *in, size_t len, const uint8_t *want, size_t wlen,
	    uint8_t *out);

/* lb4_state, then parse.c's IPv6 endpoints and lb6_setup's Services: both tables. */
int svc_both_state(void);

/* ---- both families ------------------------------------------------------- */

/* One family's side of the tables: its pods, hairpin source, outside backend,
 * ClusterIPs (the IPv4 10.96.1.N), and the ids its Services (svc + the IPv4
 * id) and backends (be + the IPv4 id) have. */
struct fam {
	const char *name;
	bool v6;
	const char *a, *b, *c, *loop, *out;
	const char *vip1, *vip3, *vip5, *vip7, *vip9, *vipd;
	uint32_t svc, be;
	const char *sctp_none; /* the SCTP frontend without backends, port 3868 */
	uint32_t sctp_none_id;
};
extern const struct fam fam4, fam6;
/* A test body run once per family: a cmocka test NAME_v4 and NAME_v6 of fn. */
#define TWIN(fn)                                                                                   \
	{ #fn "_v4", fn, NULL, NULL, (void *)&fam4 }, { #fn "_v6", fn, NULL, NULL, (void *)&fam6 }

/* A frame of either family (by its addresses): Ethernet, IPv4 or IPv6, TCP or
 * UDP with a real checksum (frame(), frame6()); ttl: TTL or hop limit, 0 is 64. */
struct pk {
	const uint8_t *smac, *dmac;
	const char *src, *dst;
	uint16_t sport, dport;
	uint8_t proto, flags, ttl;
	uint16_t payload;
	bool no_csum; /* IPv4 UDP without a checksum */
};
bool pk_v6(const struct pk *p);
size_t pk_frame(const struct pk *p, uint8_t *buf);
/* From pod d's side (pod MAC -> gateway MAC); into: as delivered into pod d (TTL 63). */
struct pk pk_from(int d, const char *src, uint16_t sp, const char *dst, uint16_t dp,
		  uint8_t proto, uint8_t flags);
struct pk pk_into(struct pk p, int d);
/* expect() or expect6() on p's frame; want (when given) the frame it must leave. */
void pk_expect(int prog, int dev, const struct pk *p, int ret, int reason, const struct pk *want);
/* expect() or expect6() by the frame's ethertype, the events counted from 0. */
void fam_expect(int prog, int dev, const uint8_t *in, size_t len, int ret, int reason,
		const uint8_t *want, size_t want_len);
/* What a Service without backends answers the TCP segment (the IP packet) in,
 * either family, into want: a RST from its destination (RFC 9293 3.10.7.1: a
 * segment with ACK gets seq = its ACK; else RST|ACK acknowledging it, a SYN
 * taking one), MACs swapped; an ICMP port unreachable (ICMPv6 1/4) quoting
 * its IP header and 8 bytes. Their lengths. */
size_t rst_answer(const uint8_t *in, uint8_t *want);
size_t unreach_answer(const uint8_t *in, uint8_t *want);
/* The drop event the last packet left names the Service rev_nat, backend, and dst. */
void ev_names(const char *dst, uint32_t rev_nat, uint32_t backend);
/* The conntrack entry of s:sp -> d:dp/proto of either family. */
struct xcni_ct_entry pk_ct(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto,
			   int *found);
/* A new flow from pod A, s:sp -> vip:vp translated to be:bp: its service
 * entry (the tuple as sent) names the backend and Service, its flow's entry
 * (NEW) the Service and backend too. */
void svc_entries(const char *s, uint16_t sp, const char *vip, uint16_t vp, const char *be,
		 uint16_t bp, uint8_t proto, uint32_t backend, uint32_t rev_nat);
/* The destination port of the last frame pk_expect saw of family v6. */
uint16_t pk_out_dport(bool v6);
/* A new TCP flow from pod A to vip:80 from sport, delivered locally: the backend's port. */
uint16_t pk_open(const struct fam *f, const char *vip, uint16_t sport);
/* The pod at dev/ip sends a SYN to vip:80 whose backend is itself at bport: it
 * arrives back in the pod from the loopback address loop. */
void hairpin_syn(int dev, const char *ip, uint16_t sport, const char *vip, uint16_t bport,
		 const char *loop);

#endif
