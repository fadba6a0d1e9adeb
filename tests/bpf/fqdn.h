/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the DNS answers' groups share (fqdn.c, the reader's tests; dnsfuzz.c,
 * the reader fuzzed): the addresses, the maps, DNS messages built by hand,
 * an answer asked for and delivered on one of the paths into a pod, and the
 * programs both groups load (fqdn.c holds them).
 */
#ifndef XCNI_TEST_BPF_FQDN_H
#define XCNI_TEST_BPF_FQDN_H

#include "harness.h"

#define DNS4 "10.96.0.10" /* the DNS Service's ClusterIP, as kube-proxy's reply shows it */
#define DNS4_EP "10.99.8.53" /* a CoreDNS pod on another node */
#define DNS6 "fd00:96::a"
#define NOT_DNS "192.0.2.53" /* a host outside: answers from it are not the DNS's */
#define NOT_DNS6 "2001:db8:53::1"
#define A6 "fd00:99::a"
#define QPORT 40000
#define EP_A 101
#define EP_B 102

struct msg {
	uint8_t b[2100];
	size_t n;
};

/* ask_answer_via's via: the DNS on another node, its answer in Geneve through from_overlay. */
#define VIA_OVERLAY (-2)
/* ... the query over TCP (a SYN), the answer one segment (SYN-ACK, then PSH-ACK) into to_pod. */
#define VIA_TCP (-3)

/* A fragmented answer's first fragment: its UDP header and FRAG1_L4 - 8 bytes
 * of the message (frag_split); the later one's message, *frag_forged. */
#define FRAG1_L4 32
extern const struct msg *frag_forged;
extern uint16_t qport; /* a new query's port: each answer its own flow */

int fmap(const char *name);
void srv_add(const char *addr, uint16_t port);
struct xcni_fqdn_val *learned(uint32_t ep, const char *addr);
void put8(struct msg *m, uint8_t v);
void hdr(struct msg *m, uint16_t qd, uint16_t an);
void name(struct msg *m, const char *s);
void ptr(struct msg *m, uint16_t off);
void question(struct msg *m, const char *q, uint16_t type);
void rr(struct msg *m, uint16_t type, uint16_t class, uint32_t ttl, const void *rd,
	uint16_t rdlen);
void ask_answer_via(int dev, int via, const char *dns, const char *src, const struct msg *m,
		    size_t extra, bool plain);
void fqdn_state(void **state);
int fqdn_prep(void);
int fqdn_make(struct CMUnitTest **tests, size_t *n);
void fqdn_free(void);

#endif
