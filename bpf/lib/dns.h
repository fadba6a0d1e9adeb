/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Egress by DNS name, the answers' half: a DNS answer on its way into a pod
 * (to_pod, UDP from port 53, a reply of the pod's own flow) is read here,
 * before it is delivered, and every A or AAAA address it gives for a name a
 * pattern of that pod names (xcni_fqdn_pat) is written to xcni_fqdn for that
 * pod. Nothing in userspace is on the answer's path; the pod cannot hold an
 * answer whose address is not learned yet. docs/decisions/fqdn-in-bpf.md.
 *
 * Bounds: the answer's first DNS_BUF bytes are read (a record past them
 * stops the walk); a name is at most XCNI_FQDN_NAME_MAX flat bytes, every
 * compression pointer must point before the part of the name that held it
 * (no loop can be written), and its steps are bounded anyway (DNS_NAME_STEPS);
 * DNS_MAX_RR answer records, DNS_MAX_CNAME CNAMEs in a chain. Anything
 * malformed stops the walk (counted, XCNI_FQDN_ST_GIVEUP); what was learned
 * before stays. The packet itself always goes on: the parser never decides
 * its fate.
 *
 * TCP answers are not read (docs/decisions/fqdn-in-bpf.md, "TCP"): a segment
 * is not a message (its start may be the middle of one, whose bytes a name's
 * owner chose), so reading one needs the stream's message boundaries; a name
 * answered only over TCP is judged by the other rules.
 *
 * dns_learn is a global function: verified once on its own, called from one
 * branch that a packet which is not a DNS answer (and every packet when no
 * policy names a domain: fqdn_enabled, rodata) never takes.
 */
#ifndef XCNI_DNS_H
#define XCNI_DNS_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "../xcni_shared.h"
#include "config.h"
#include "conntrack.h" /* CT_REPLY */
#include "flow.h"
#include "maps.h" /* xcni_dns_srv, xcni_fqdn_pat, xcni_fqdn, xcni_fqdn_ring, xcni_fqdn_stats */

#define DNS_BUF 2048 /* a power of two: offsets are masked with DNS_BUF - 1 */
#define DNS_NAME_STEPS 400 /* 254 bytes, 127 labels' lengths, pointers */
#define DNS_MAX_RR 128
#define DNS_MAX_CNAME 8
#define DNS_HDR 12
#define DNS_T_A 1
#define DNS_T_CNAME 5
#define DNS_T_AAAA 28
#define DNS_C_IN 1

enum { DNS_CUR, DNS_OWN, DNS_NAMES };

/* One answer's working state, per CPU, off the stack. */
struct dns_scratch {
	__u8 pkt[DNS_BUF + 64]; /* the DNS message; the slack takes a masked read's tail */
	__u8 name[DNS_NAMES][256]; /* flat names: the chain's current, a record's */
	__u8 start[256]; /* 1 where a label of name[DNS_CUR] starts */
	__u32 len; /* of pkt */
	__u32 nlen[DNS_NAMES];
	/* dns_name's state */
	__u32 pos, lowest, after, out, rem, which, err;
	/* the walk's */
	__u32 off, cnames, rule_ref, prio, matched;
	__u32 ep_id, pat_kind;
	__u64 hash, pat_hash; /* pat_*: the best match's key (the one name people see) */
	struct xcni_fqdn_pat_key pk;
	struct xcni_fqdn_key key, old;
	/* dns_learn's: here, not on the stack (from_pod calls it from a deep frame) */
	struct xcni_dns_srv_key sk;
	__u8 udp[8];
	struct xcni_fqdn_val val;
	struct xcni_fqdn_ring empty; /* never written: a pod's first ring */
};

struct {
	XCNI_MAP(BPF_MAP_TYPE_PERCPU_ARRAY, 1, __u32, struct dns_scratch);
} xcni_dns_scratch SEC(".maps");

static __always_inline void dns_stat(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&xcni_fqdn_stats, &idx);

	if (c)
		(*c)++;
}

static __always_inline struct dns_scratch *dns_sc(void)
{
	return bpf_map_lookup_elem(&xcni_dns_scratch, &map_zero);
}

static __always_inline __u8 dns_byte(const struct dns_scratch *s, __u32 off)
{
	return s->pkt[off & (DNS_BUF - 1)];
}

static __always_inline __u32 dns_u16(const struct dns_scratch *s, __u32 off)
{
	return ((__u32)dns_byte(s, off) << 8) | dns_byte(s, off + 1);
}

/*
 * One step of reading a name (bpf_loop's callback): a byte of a label, a
 * label's length, a pointer, or the end. s->err set and 1 (stop) on anything
 * out of bounds: past the message, a pointer not strictly before the part
 * being read (so no loop), a reserved length, a name over the limit.
 */
static long dns_name_step(__u32 i __attribute__((unused)), void *ctx __attribute__((unused)))
{
	struct dns_scratch *s = dns_sc();
	__u32 pos, w, out;
	__u8 c;

	if (!s)
		return 1;
	pos = s->pos;
	w = s->which ? DNS_OWN : DNS_CUR;
	out = s->out;
	if (pos >= s->len || out > XCNI_FQDN_NAME_MAX) {
		s->err = 1;
		return 1;
	}
	c = dns_byte(s, pos);
	if (s->rem) {
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		s->name[w][out & 255] = c;
		s->out = out + 1;
		s->pos = pos + 1;
		s->rem--;
		return 0;
	}
	if (c == 0) {
		if (!s->after)
			s->after = pos + 1;
		s->nlen[w] = out;
		return 1;
	}
	if ((c & 0xc0) == 0xc0) {
		__u32 ptr;

		if (pos + 1 >= s->len) {
			s->err = 1;
			return 1;
		}
		ptr = ((__u32)(c & 0x3f) << 8) | dns_byte(s, pos + 1);
		if (ptr >= s->lowest) {
			s->err = 1;
			return 1;
		}
		if (!s->after)
			s->after = pos + 2;
		s->lowest = ptr;
		s->pos = ptr;
		return 0;
	}
	if (c & 0xc0 || out + 1 + c > XCNI_FQDN_NAME_MAX) {
		s->err = 1;
		return 1;
	}
	if (!w)
		s->start[out & 255] = 1;
	s->name[w][out & 255] = c;
	s->out = out + 1;
	s->pos = pos + 1;
	s->rem = c;
	return 0;
}

/*
 * The name at off into name[which], flat. The offset after it in its record
 * (past its first pointer or its end), or 0 when malformed.
 */
static __always_inline __u32 dns_name(struct dns_scratch *s, __u32 off, __u32 which)
{
	s->pos = off;
	s->lowest = off;
	s->after = 0;
	s->out = 0;
	s->rem = 0;
	s->which = which;
	s->err = 0;
	s->nlen[which ? DNS_OWN : DNS_CUR] = DNS_BUF; /* unset: no end met */
	if (!which)
		__builtin_memset(s->start, 0, sizeof(s->start));
	bpf_loop(DNS_NAME_STEPS, dns_name_step, NULL, 0);
	if (s->err || s->nlen[which ? DNS_OWN : DNS_CUR] == DNS_BUF)
		return 0;
	return s->after;
}

/* bpf_loop's callback: byte i of the two names differs (stop). */
static long dns_cmp_step(__u32 i __attribute__((unused)), void *ctx __attribute__((unused)))
{
	struct dns_scratch *s = dns_sc();

	if (!s)
		return 1;
	if (s->name[DNS_CUR][i & 255] != s->name[DNS_OWN][i & 255]) {
		s->err = 1;
		return 1;
	}
	return 0;
}

/* A record's owner (name[DNS_OWN]) is the chain's current name. */
static __always_inline int dns_owner_is_cur(struct dns_scratch *s)
{
	__u32 n = s->nlen[DNS_CUR];

	if (n != s->nlen[DNS_OWN] || n > XCNI_FQDN_NAME_MAX)
		return 0;
	s->err = 0;
	bpf_loop(n, dns_cmp_step, NULL, 0);
	return !s->err;
}

/* bpf_loop's callback: byte i of a pattern (s->pk's value, the suffix
 * from s->off) differs. */
static long dns_pat_cmp_step(__u32 i __attribute__((unused)), void *ctx __attribute__((unused)))
{
	struct dns_scratch *s = dns_sc();
	const struct xcni_fqdn_pat *p;

	if (!s)
		return 1;
	p = bpf_map_lookup_elem(&xcni_fqdn_pat, &s->pk);
	if (!p || p->name[i & 255] != s->name[DNS_CUR][(s->off + i) & 255]) {
		s->err = 1;
		return 1;
	}
	return 0;
}

/*
 * Matching from the right (bpf_loop's callback over the question's flat
 * bytes, last first): the hash takes one more byte; where a label starts,
 * the suffix from there is looked up, as the whole name (EXACT) at the
 * first label, as a wildcard's suffix (WILD: at least one label before it)
 * at every other. A hit whose bytes are the suffix's, of a lower prio than
 * the best so far, names the rule.
 */
static long dns_match_step(__u32 i __attribute__((unused)), void *ctx __attribute__((unused)))
{
	struct dns_scratch *s = dns_sc();
	const struct xcni_fqdn_pat *p;
	__u32 at, n;

	if (!s)
		return 1;
	n = s->nlen[DNS_CUR];
	if (i >= n || n > XCNI_FQDN_NAME_MAX)
		return 1;
	at = n - 1 - i;
	s->hash = xcni_fqdn_step(s->hash, s->name[DNS_CUR][at & 255]);
	if (!s->start[at & 255])
		return 0;
	s->pk.ep_id = s->ep_id;
	s->pk.kind = at ? XCNI_FQDN_WILD : XCNI_FQDN_EXACT;
	s->pk.hash = s->hash;
	p = bpf_map_lookup_elem(&xcni_fqdn_pat, &s->pk);
	if (!p || p->len != n - at || (s->matched && p->prio >= s->prio))
		return 0;
	s->off = at;
	s->err = 0;
	bpf_loop(p->len, dns_pat_cmp_step, NULL, 0);
	if (s->err)
		return 0;
	s->matched = 1;
	s->prio = p->prio;
	s->rule_ref = p->rule_ref;
	s->pat_kind = s->pk.kind;
	s->pat_hash = s->pk.hash;
	return 0;
}

/*
 * The address (fam's, 4 or 16 bytes in s->key.addr) learned for the pod:
 * renewed when held (the later expiry kept); else into the pod's ring,
 * whose oldest address leaves when it is full, then into xcni_fqdn.
 */
static __always_inline void dns_learn_addr(struct dns_scratch *s, __u32 ttl)
{
	struct xcni_fqdn_val *v;
	struct xcni_fqdn_ring *r;
	__u32 min = fqdn_ttl_min ? fqdn_ttl_min : XCNI_FQDN_TTL_MIN;
	__u32 max = fqdn_ttl_max ? fqdn_ttl_max : XCNI_FQDN_TTL_MAX;
	__u32 hold = ttl < min ? min : ttl > max ? max : ttl, idx;
	__u64 now = bpf_ktime_get_ns();
	__u64 exp = now + (__u64)hold * 1000000000ULL;

	s->key.ep_id = s->ep_id;
	v = bpf_map_lookup_elem(&xcni_fqdn, &s->key);
	if (v) {
		if (v->expires_ns < exp)
			v->expires_ns = exp;
		v->rule_ref = (__u16)s->rule_ref;
		v->pat_kind = (__u8)s->pat_kind;
		v->pat_hash = s->pat_hash;
		v->ttl = ttl;
		dns_stat(XCNI_FQDN_ST_LEARNED);
		return;
	}
	r = bpf_map_lookup_elem(&xcni_fqdn_ring, &s->ep_id);
	if (!r) {
		bpf_map_update_elem(&xcni_fqdn_ring, &s->ep_id, &s->empty, BPF_NOEXIST);
		r = bpf_map_lookup_elem(&xcni_fqdn_ring, &s->ep_id);
		if (!r) {
			dns_stat(XCNI_FQDN_ST_FULL);
			return;
		}
	}
	/*
	 * The slot is taken by one atomic fetch-and-add (BPF_FETCH: 5.12, the
	 * kernels promised; clang 14 emits it for a 64-bit counter without
	 * -mcpu=v3): two CPUs learning for one pod at once take two slots.
	 * A plain read and increment let both take the same one, and the
	 * address written first was then in no ring (never evicted: the pod
	 * past its 64). docs/decisions/fqdn-in-bpf.md, "Per pod".
	 */
	idx = (__u32)__sync_fetch_and_add(&r->next, 1) & (XCNI_FQDN_PER_POD - 1);
	if (r->slot[idx].family) {
		s->old.ep_id = s->ep_id;
		s->old.family = r->slot[idx].family;
		__builtin_memcpy(s->old.addr, r->slot[idx].addr, 16);
		bpf_map_delete_elem(&xcni_fqdn, &s->old);
		dns_stat(XCNI_FQDN_ST_EVICTED);
	}
	r->slot[idx].family = s->key.family;
	__builtin_memcpy(r->slot[idx].addr, s->key.addr, 16);
	s->val.expires_ns = exp;
	s->val.pat_hash = s->pat_hash;
	s->val.pat_kind = (__u8)s->pat_kind;
	s->val.rule_ref = (__u16)s->rule_ref;
	s->val.ttl = ttl;
	if (bpf_map_update_elem(&xcni_fqdn, &s->key, &s->val, BPF_ANY)) {
		r->slot[idx].family = 0;
		dns_stat(XCNI_FQDN_ST_FULL);
		return;
	}
	dns_stat(XCNI_FQDN_ST_LEARNED);
}

/* The walk's end: malformed (counted), 1 (stop). */
static __always_inline long dns_giveup(void)
{
	dns_stat(XCNI_FQDN_ST_GIVEUP);
	return 1;
}

/*
 * One answer record (bpf_loop's callback): its owner must be the chain's
 * current name (the question, then each CNAME's target in turn), its class
 * IN; a CNAME moves the chain on, an A or AAAA is learned. Anything else is
 * skipped by its length.
 */
static long dns_rr_step(__u32 i __attribute__((unused)), void *ctx __attribute__((unused)))
{
	struct dns_scratch *s = dns_sc();
	__u32 off, type, ttl, rdlen, rd;

	if (!s)
		return 1;
	off = dns_name(s, s->off, DNS_OWN);
	if (!off || off + 10 > s->len)
		return dns_giveup();
	rdlen = dns_u16(s, off + 8);
	rd = off + 10;
	if (rd + rdlen > s->len)
		return dns_giveup();
	s->off = rd + rdlen;
	/* The type and TTL read after the owner's comparison (a bpf_loop):
	 * held across it they were spilled, a frame of 64 bytes, and 6.1
	 * counts the callbacks' frames into from_pod's chain (416 + 32 +
	 * this + 32: 544, docs/decisions/kernel-matrix.md). */
	if (dns_u16(s, off + 2) != DNS_C_IN || !dns_owner_is_cur(s)) {
		dns_stat(XCNI_FQDN_ST_IGNORED);
		return 0;
	}
	type = dns_u16(s, off);
	ttl = (dns_u16(s, off + 4) << 16) | dns_u16(s, off + 6);
	if (ttl > 0x7fffffff) /* RFC 2181 8: a TTL with the top bit set is 0 */
		ttl = 0;
	if (type == DNS_T_CNAME) {
		__u32 end;

		if (++s->cnames > DNS_MAX_CNAME)
			return dns_giveup();
		end = dns_name(s, rd, DNS_CUR);
		if (!end || end > rd + rdlen)
			return dns_giveup();
		return 0;
	}
	if ((type == DNS_T_A && rdlen == 4) || (type == DNS_T_AAAA && rdlen == 16)) {
		__builtin_memset(s->key.addr, 0, 16);
		if (type == DNS_T_A) {
			s->key.family = XCNI_AF_INET;
			__builtin_memcpy(s->key.addr, &s->pkt[rd & (DNS_BUF - 1)], 4);
		} else {
			s->key.family = XCNI_AF_INET6;
			__builtin_memcpy(s->key.addr, &s->pkt[rd & (DNS_BUF - 1)], 16);
		}
		dns_learn_addr(s, ttl);
		return 0;
	}
	dns_stat(XCNI_FQDN_ST_IGNORED);
	return 0;
}

/*
 * A UDP datagram from port 53 into pod ep_id (fam a constant, its UDP header
 * at l4_off of the frame), a reply of the pod's own flow: when its source is
 * one of the DNS Service's (xcni_dns_srv) and it is an answer to one
 * question of class IN whose name a pattern of the pod names, its chain's A
 * and AAAA addresses are learned for the pod. Always 0: the packet's fate is
 * not the parser's.
 */
__attribute__((noinline)) int dns_learn(struct __sk_buff *skb, __u32 fam, __u32 l4_off,
					__u32 ep_id)
{
	struct dns_scratch *s = dns_sc();
	__u32 len, an, qd, fl, off;

	if (!skb || !s)
		return 0;
	if (bpf_skb_load_bytes(skb, l4_off, s->udp, sizeof(s->udp)))
		return 0;
	__builtin_memset(&s->sk, 0, sizeof(s->sk));
	s->sk.family = (__u8)fam;
	s->sk.port = *(__be16 *)s->udp;
	if (fam == XCNI_AF_INET6) {
		if (bpf_skb_load_bytes(skb, ETH_HLEN + 8, s->sk.addr, 16))
			return 0;
	} else if (bpf_skb_load_bytes(skb, ETH_HLEN + 12, s->sk.addr, 4)) {
		return 0;
	}
	if (!bpf_map_lookup_elem(&xcni_dns_srv, &s->sk)) {
		dns_stat(XCNI_FQDN_ST_NOT_SERVER);
		return 0;
	}
	len = ((__u32)s->udp[4] << 8 | s->udp[5]);
	if (len < 8 + DNS_HDR || l4_off + len > skb->len) {
		dns_stat(XCNI_FQDN_ST_GIVEUP);
		return 0;
	}
	len -= 8;
	if (len > DNS_BUF)
		len = DNS_BUF;
	if (len < DNS_HDR || len > DNS_BUF) {
		dns_stat(XCNI_FQDN_ST_GIVEUP);
		return 0;
	}
	/* The same len, rebuilt as ((len - 1) & (DNS_BUF - 1)) + 1 behind a barrier:
	 * 6.12's verifier lost the lower bound of the checks above ("R4 invalid
	 * zero-sized read: u64=[0,2047]", kernel matrix, docs/decisions/kernel-matrix.md);
	 * this form is [1, DNS_BUF] on its own. */
	len -= 1;
	asm volatile("" : "+r"(len));
	len = (len & (DNS_BUF - 1)) + 1;
	if (bpf_skb_load_bytes(skb, l4_off + 8, s->pkt, len)) {
		dns_stat(XCNI_FQDN_ST_GIVEUP);
		return 0;
	}
	s->len = len;
	dns_stat(XCNI_FQDN_ST_ANSWERS);
	fl = dns_u16(s, 2);
	qd = dns_u16(s, 4);
	an = dns_u16(s, 6);
	/* An answer (QR), a standard query's (opcode 0), of one question. */
	if (!(fl & 0x8000) || (fl & 0x7800) || qd != 1 || !an)
		return 0;
	off = dns_name(s, DNS_HDR, DNS_CUR);
	if (!off || off + 4 > len || dns_u16(s, off + 2) != DNS_C_IN) {
		dns_stat(XCNI_FQDN_ST_GIVEUP);
		return 0;
	}
	s->ep_id = ep_id;
	s->hash = XCNI_FQDN_HASH_INIT;
	s->matched = 0;
	bpf_loop(XCNI_FQDN_NAME_MAX, dns_match_step, NULL, 0);
	if (!s->matched)
		return 0;
	dns_stat(XCNI_FQDN_ST_MATCHED);
	s->off = off + 4;
	s->cnames = 0;
	bpf_loop(an < DNS_MAX_RR ? an : DNS_MAX_RR, dns_rr_step, NULL, 0);
	return 0;
}

/*
 * Where a packet is handed to pod ep_id in its final form (decapsulated,
 * translated back): a UDP reply from port 53 of the pod's own flow is read
 * by dns_learn before delivery. The three deliveries call it: to_pod (through
 * the node's stack: kube-proxy), from_pod (from a DNS pod of the same node)
 * and from_overlay (from one of another node), so no path into a pod passes
 * an answer unread.
 */
static __always_inline void dns_learn_reply(struct __sk_buff *skb, const struct flow *f, int fam,
					    int ct, __u32 ep_id)
{
	if (!fqdn_enabled || ct != CT_REPLY ||
	    (fam == XCNI_AF_INET ? f->tuple.v4.proto : f->tuple.v6.proto) != IPPROTO_UDP ||
	    tuple_sport(&f->tuple, fam) != bpf_htons(53))
		return;
	/*
	 * Only a whole message is read. A later fragment has its ports from
	 * xcni_frag and no UDP header: its bytes are the middle of an answer's
	 * records, which whoever owns a name the pod resolves writes; a first
	 * fragment holds part of a message. Neither is read, both are counted
	 * (docs/decisions/fqdn-in-bpf.md, "Fragments").
	 */
	if (f->frag_later || f->frag_first) {
		dns_stat(XCNI_FQDN_ST_FRAG);
		return;
	}
	dns_learn(skb, fam, fam == XCNI_AF_INET ? ETH_HLEN + f->l3_len : f->l4_off, ep_id);
}

#endif
