/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the IPv4 Services tests (tests/bpf/svc_*.c: ClusterIP, SCTP, the bench;
 * tests/bpf/nodeport*.c, np_mtu.c: NodePort, DSR, external traffic) share: the IPv4
 * frame builder, the one-packet check and the conntrack lookup, in
 * tests/bpf/svc_lib.c. They run on the frontends and backends its lb_setup
 * writes (the table atop svc_lib.c).
 */
#ifndef XCNI_TESTS_BPF_LB_H
#define XCNI_TESTS_BPF_LB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

#define TCP_SEQ 0x01020304u
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

/* SCTP chunk types (RFC 9260 3.2). */
#define SC_DATA 0
#define SC_INIT 1
#define SC_INIT_ACK 2
#define SC_ABORT 6
#define SC_COOKIE_ECHO 10

/* A frame: Ethernet, IPv4 (no options), TCP, UDP or SCTP with a real checksum. */
struct fr {
	const uint8_t *smac, *dmac;
	uint32_t saddr, daddr;
	uint16_t sport, dport; /* host order */
	uint8_t proto, flags, ttl; /* flags: TCP's; for SCTP, the one chunk's type */
	uint16_t payload; /* bytes after the L4 header (SCTP: the chunk's value) */
	bool no_csum; /* UDP without checksum; SCTP with 0 (RFC 9653) */
	uint32_t crc_err; /* SCTP: XORed into the right CRC (a corrupted packet) */
	uint32_t ack; /* TCP with ACK: its number; 0: TCP_SEQ + 1 (a SYN-ACK's, acknowledged) */
};

/* Into buf, FRAME_MAX bytes or the frame's length if more. */
size_t frame(const struct fr *f, uint8_t *buf);
/* From pod d's side (pod MAC -> gateway MAC); into: as delivered into pod d. */
struct fr from_dev(int d, const char *src, uint16_t sp, const char *dst, uint16_t dp,
		   uint8_t proto, uint8_t flags);
struct fr into(struct fr f, int d);
/* One packet through prog from dev's side: verdict ret, counted once under
 * reason, output exactly want (when given), an event for a drop. */
void expect(int prog, int dev, const uint8_t *in, size_t len, int ret, int reason,
	    const uint8_t *want, size_t want_len);
struct xcni_ct_entry ct_get(uint32_t s, uint32_t d, uint16_t sp, uint16_t dp, uint8_t proto,
			    int *found);
/* Map writers, as the agent writes them (0 or -errno): backend id (state
 * XCNI_BE_*); a frontend (scope EXT) over backends ids[0..count) active and
 * [count, count + term) terminating, under version v, with its rev_nat entry. */
int be_set(uint32_t id, const char *ip, uint16_t port, uint8_t state);
int svc_set(const char *vip, uint16_t port, uint8_t proto, uint32_t id, uint8_t v, uint8_t flags,
	    uint32_t affinity_s, const uint32_t *ids, uint16_t count, uint16_t term);
/* The RST answering f (a SYN), into want. */
void rst_want(const struct fr *f, uint8_t *want);
/* An ICMP error frame answering f, quoting the IP packet in quoted. */
size_t icmp_error(const struct fr *f, uint8_t type, uint8_t code, const uint8_t *quoted,
		  uint8_t *buf);

#endif
