// SPDX-License-Identifier: Apache-2.0
/*
 * Conntrack and fragments under attack (issue 26 items 5 and 9), both
 * families, through from_pod on the rows' endpoints and parse.c's IPv6 ones
 * (v6_setup; the group's prep, svc_state):
 *
 *   xta  A 10.99.5.10  fd00:99::a   the client (ID_A)
 *   xtb  B 10.99.5.11  fd00:99::b   the server V (ID_B)
 *   xtc  C 10.99.5.12  fd00:99::c   (ID_C)
 *
 * Direction flip: A opens a flow to B that B's ingress allows; its entry goes
 * (LRU eviction, which a pod forces by filling the table with cheap UDP
 * flows); B's next packet, in the reply direction, picks the flow up as
 * B->A; then policy revokes A->B (and B->A is not allowed either). From then
 * on nothing of that flow may pass, whichever way it travels. The control:
 * where B->A is allowed by policy, the flow B could have opened goes on.
 *
 * Fragments: a first fragment records its ports for the later ones only once
 * it was let through: one with a forged source, or one policy refuses,
 * leaves no entry and does not touch another source's.
 *
 * Policy (versions 0 and 1 of the pods' keys, exact ports only):
 *   before: B isolated for ingress, A may reach it on UDP 5300, 5301 and
 *           TCP 8300, 8301 (policy 501); A not isolated
 *   after:  B's ingress allows nothing; A isolated for ingress, B may reach
 *           it on UDP 46501 and TCP 46601 (policy 502): only the control
 *           flows (A's ports 46501, 46601) are flows B could open
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <linux/pkt_cls.h>

#include "lb6.h"

#define ID_A 1000
#define ID_B 1001
#define ID_C 1002
#define B6 "fd00:99::b"
#define C6 "fd00:99::c"
#define POL_BEFORE 501
#define POL_AFTER 502

static void allow_exact(const char *ep, uint8_t version, uint32_t peer, uint8_t proto,
			uint16_t port, uint32_t policy_id)
{
	struct xcni_polhash_key k = { .ep = ip4(ep), .peer = peer, .version = version,
				      .dir = XCNI_DIR_TO_POD, .proto = proto, .port = htons(port) };
	struct xcni_policy_val v = { .policy_id = policy_id };

	assert_int_equal(bpf_map_update_elem(map_fd("xcni_policy"), &k, &v, BPF_ANY), 0);
}

/* ep isolated for ingress under version (or not at all: version < 0); a new revision. */
static void ingress(const char *ep, uint32_t id, int version)
{
	struct xcni_polep v = { .identity = id, .version = (uint8_t)version,
				.isolated = XCNI_ISOLATED(XCNI_DIR_TO_POD) };
	uint32_t k = ip4(ep);

	if (version < 0)
		bpf_map_delete_elem(map_fd("xcni_polep"), &k);
	else
		assert_int_equal(bpf_map_update_elem(map_fd("xcni_polep"), &k, &v, BPF_ANY), 0);
	assert_int_equal(polrev_bump(), 0);
}

static void row(const struct row *r)
{
	check_row((void **)&r);
}

/* The entry of r's flow (rev: keyed the other way) goes, as LRU eviction takes it. */
static void evict4(const struct row *r, bool rev)
{
	struct xcni_ct_key k = tuple_of(r, rev);

	assert_int_equal(bpf_map_delete_elem(map_fd("xcni_ct"), &k), 0);
}

static bool ct4_has(const struct row *r, bool rev)
{
	struct xcni_ct_key k = tuple_of(r, rev);
	struct xcni_ct_entry e;

	return !bpf_map_lookup_elem(map_fd("xcni_ct"), &k, &e);
}

static void ct_setup(void **state)
{
	static const struct { const char *ip; uint32_t id; } ids[] = {
		{ IP_A, ID_A }, { IP_B, ID_B }, { IP_C, ID_C }, { IP_GW, XCNI_ID_HOST },
	};
	int fd = map_fd("xcni_ipcache");

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
		struct xcni_ipcache_key k = { .prefixlen = 32, .addr = ip4(ids[i].ip) };
		struct xcni_ipcache_val v = { .identity = ids[i].id };

		assert_int_equal(bpf_map_update_elem(fd, &k, &v, BPF_ANY), 0);
	}
	allow_exact(IP_B, 0, ID_A, IPPROTO_UDP, 5300, POL_BEFORE);
	allow_exact(IP_B, 0, ID_A, IPPROTO_UDP, 5301, POL_BEFORE);
	allow_exact(IP_B, 0, ID_A, IPPROTO_TCP, 8300, POL_BEFORE);
	allow_exact(IP_B, 0, ID_A, IPPROTO_TCP, 8301, POL_BEFORE);
	allow_exact(IP_A, 1, ID_B, IPPROTO_UDP, 46501, POL_AFTER);
	allow_exact(IP_A, 1, ID_B, IPPROTO_TCP, 46601, POL_AFTER);
	ingress(IP_A, ID_A, -1);
	ingress(IP_C, ID_C, -1);
	ingress(IP_B, ID_B, 0);
}

/* ---- IPv4: open, evict, pick up from the reply direction ---------------- */

#define A_B_UDP(sp, dp) .dev = DEV_A, UDP(IP_A, sp, IP_B, dp)
#define B_A_UDP(sp, dp) .dev = DEV_B, UDP(IP_B, sp, IP_A, dp)
#define A_B_TCP(sp, dp, f) .dev = DEV_A, TCP(IP_A, sp, IP_B, dp, f)
#define B_A_TCP(sp, dp, f) .dev = DEV_B, TCP(IP_B, sp, IP_A, dp, f)

static void flip4_open(void **state)
{
	static const struct row udp[] = {
		{ "A->B UDP: allowed by B's ingress", A_B_UDP(46500, 5300), REDIR(FWD_LOCAL),
		  .ct = XCNI_CT_NEW, BY(POL_BEFORE, 0, TO_POD) },
		{ "B->A: its reply", B_A_UDP(5300, 46500), REDIR(FWD_REPLY),
		  .ct = XCNI_CT_ESTABLISHED, .ct_rev = true },
	};
	static const struct row udp_pickup =
		{ "B->A after eviction: picks the flow up as B->A", B_A_UDP(5300, 46500),
		  REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW };
	static const struct row tcp[] = {
		{ "A->B SYN", A_B_TCP(46600, 8300, TH_SYN), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW,
		  BY(POL_BEFORE, 0, TO_POD) },
		{ "B->A SYN-ACK", B_A_TCP(8300, 46600, TH_SYN | TH_ACK), REDIR(FWD_REPLY),
		  .ct = XCNI_CT_ESTABLISHED, .ct_rev = true },
		{ "A->B ACK", A_B_TCP(46600, 8300, TH_ACK), REDIR(FWD_LOCAL),
		  .ct = XCNI_CT_ESTABLISHED },
	};
	static const struct row tcp_pickup =
		{ "B->A ACK after eviction: picked up mid-stream as B->A", B_A_TCP(8300, 46600, TH_ACK),
		  REDIR(FWD_LOCAL), .ct = XCNI_CT_ESTABLISHED };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(udp); i++)
		row(&udp[i]);
	evict4(&udp[0], false);
	row(&udp_pickup);
	for (size_t i = 0; i < ARRAY_SIZE(tcp); i++)
		row(&tcp[i]);
	evict4(&tcp[0], false);
	row(&tcp_pickup);
}

/* The control flows: the same, on the ports B will still be allowed to reach A on. */
static void flip4_open_control(void **state)
{
	static const struct row r[] = {
		{ "A->B UDP (control)", A_B_UDP(46501, 5301), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW,
		  BY(POL_BEFORE, 0, TO_POD) },
		{ "B->A reply (control)", B_A_UDP(5301, 46501), REDIR(FWD_REPLY),
		  .ct = XCNI_CT_ESTABLISHED, .ct_rev = true },
		{ "A->B SYN (control)", A_B_TCP(46601, 8301, TH_SYN), REDIR(FWD_LOCAL),
		  .ct = XCNI_CT_NEW, BY(POL_BEFORE, 0, TO_POD) },
		{ "B->A SYN-ACK (control)", B_A_TCP(8301, 46601, TH_SYN | TH_ACK), REDIR(FWD_REPLY),
		  .ct = XCNI_CT_ESTABLISHED, .ct_rev = true },
	};
	static const struct row pick[] = {
		{ "B->A UDP after eviction (control): picked up", B_A_UDP(5301, 46501),
		  REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW },
		{ "B->A ACK after eviction (control): picked up", B_A_TCP(8301, 46601, TH_ACK),
		  REDIR(FWD_LOCAL), .ct = XCNI_CT_ESTABLISHED },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(r); i++)
		row(&r[i]);
	evict4(&r[0], false);
	evict4(&r[2], false);
	for (size_t i = 0; i < ARRAY_SIZE(pick); i++)
		row(&pick[i]);
}

/* ---- IPv6: the same flows ------------------------------------------------ */

static void send6(int dev, const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto,
		  uint8_t flags, int ret, int reason)
{
	struct g6 f = from6(dev, s, sp, d, dp, proto, flags);
	uint8_t in[FRAME_MAX];
	size_t len = frame6(&f, in);

	expect6(FROM_POD, dev, in, len, ret, reason, NULL, 0);
}

#define FWD6(r) TC_ACT_REDIRECT, XCNI_##r
#define DROP6(r) TC_ACT_SHOT, XCNI_##r

static int ct6_state(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto)
{
	int found;
	struct xcni_ct_entry e = ct6_get(s, sp, d, dp, proto, &found);

	return found ? e.state : -1;
}

static void evict6(const char *s, uint16_t sp, const char *d, uint16_t dp, uint8_t proto)
{
	struct xcni_ct6_key k = { .sport = htons(sp), .dport = htons(dp), .proto = proto };

	in6(s, k.saddr);
	in6(d, k.daddr);
	assert_int_equal(bpf_map_delete_elem(map_fd("xcni_ct6"), &k), 0);
}

/* A's flow to B on sp -> dp (ports: UDP, then TCP sp + 100 -> dp + 3000), opened,
 * evicted, picked up by B's next packet. */
static void open6(uint16_t sp, uint16_t dp)
{
	uint16_t tsp = sp + 100, tdp = dp + 3000;

	send6(DEV_A, A6, sp, B6, dp, IPPROTO_UDP, 0, FWD6(FWD_LOCAL));
	send6(DEV_B, B6, dp, A6, sp, IPPROTO_UDP, 0, FWD6(FWD_REPLY));
	evict6(A6, sp, B6, dp, IPPROTO_UDP);
	send6(DEV_B, B6, dp, A6, sp, IPPROTO_UDP, 0, FWD6(FWD_LOCAL));
	assert_int_equal(ct6_state(B6, dp, A6, sp, IPPROTO_UDP), XCNI_CT_NEW);

	send6(DEV_A, A6, tsp, B6, tdp, IPPROTO_TCP, T_SYN, FWD6(FWD_LOCAL));
	send6(DEV_B, B6, tdp, A6, tsp, IPPROTO_TCP, T_SYN | T_ACK, FWD6(FWD_REPLY));
	send6(DEV_A, A6, tsp, B6, tdp, IPPROTO_TCP, T_ACK, FWD6(FWD_LOCAL));
	evict6(A6, tsp, B6, tdp, IPPROTO_TCP);
	send6(DEV_B, B6, tdp, A6, tsp, IPPROTO_TCP, T_ACK, FWD6(FWD_LOCAL));
	assert_int_equal(ct6_state(B6, tdp, A6, tsp, IPPROTO_TCP), XCNI_CT_ESTABLISHED);
}

static void flip6_open(void **state)
{
	(void)state;
	open6(46500, 5300);
	open6(46501, 5301); /* the control */
}

/* ---- the revocation ------------------------------------------------------ */

static void revoke(void **state)
{
	(void)state;
	ingress(IP_B, ID_B, 1);
	ingress(IP_A, ID_A, 1);
}

static void flip4_revoked(void **state)
{
	static const struct row udp[] = {
		{ "A->B UDP after the revocation: dropped", A_B_UDP(46500, 5300),
		  POLICY_DROP(DROP_POLICY_INGRESS) },
		{ "B->A UDP after the revocation: dropped", B_A_UDP(5300, 46500),
		  POLICY_DROP(DROP_POLICY_INGRESS) },
		{ "A->B UDP again: dropped", A_B_UDP(46500, 5300),
		  POLICY_DROP(DROP_POLICY_INGRESS) },
	};
	static const struct row tcp[] = {
		{ "A->B ACK after the revocation: dropped", A_B_TCP(46600, 8300, TH_ACK),
		  POLICY_DROP(DROP_POLICY_INGRESS) },
		{ "B->A ACK after the revocation: dropped", B_A_TCP(8300, 46600, TH_ACK),
		  POLICY_DROP(DROP_POLICY_INGRESS) },
		{ "A->B ACK again: dropped", A_B_TCP(46600, 8300, TH_ACK),
		  POLICY_DROP(DROP_POLICY_INGRESS) },
	};

	(void)state;
	row(&udp[0]);
	/* The flow is gone both ways, not only refused once. */
	assert_false(ct4_has(&udp[0], false));
	assert_false(ct4_has(&udp[0], true));
	row(&udp[1]);
	row(&udp[2]);
	row(&tcp[0]);
	assert_false(ct4_has(&tcp[0], false));
	assert_false(ct4_has(&tcp[0], true));
	row(&tcp[1]);
	row(&tcp[2]);
}

static void flip4_control(void **state)
{
	/* B may still reach A on these ports. After the change each side's first
	 * packet is judged its own way: A's (its entry held B->A) as A->B, which
	 * B's ingress now refuses, the entry gone with it; B's as B->A, allowed,
	 * a flow again, whose replies A's packets are. A picked-up flow loses at
	 * most the first packet its non-opening side sends after a change. */
	static const struct row r[] = {
		{ "A->B UDP (control) after the revocation: judged as A->B, refused",
		  A_B_UDP(46501, 5301), POLICY_DROP(DROP_POLICY_INGRESS) },
		{ "B->A UDP (control): judged as B->A, still allowed: a flow again",
		  B_A_UDP(5301, 46501), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW,
		  BY(POL_AFTER, 0, TO_POD) },
		{ "A->B UDP (control): its reply now, passes", A_B_UDP(46501, 5301), REDIR(FWD_REPLY),
		  .ct = XCNI_CT_ESTABLISHED, .ct_rev = true },
		{ "B->A ACK (control) after the revocation: judged again, allowed",
		  B_A_TCP(8301, 46601, TH_ACK), REDIR(FWD_LOCAL), .ct = XCNI_CT_ESTABLISHED,
		  BY(POL_AFTER, 0, TO_POD) },
		{ "A->B ACK (control): its reply, passes", A_B_TCP(46601, 8301, TH_ACK),
		  REDIR(FWD_REPLY), .ct = XCNI_CT_ESTABLISHED, .ct_rev = true },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(r); i++)
		row(&r[i]);
}

static void flip6_revoked(void **state)
{
	(void)state;
	send6(DEV_A, A6, 46500, B6, 5300, IPPROTO_UDP, 0, DROP6(DROP_POLICY_INGRESS));
	assert_int_equal(ct6_state(B6, 5300, A6, 46500, IPPROTO_UDP), -1);
	assert_int_equal(ct6_state(A6, 46500, B6, 5300, IPPROTO_UDP), -1);
	send6(DEV_B, B6, 5300, A6, 46500, IPPROTO_UDP, 0, DROP6(DROP_POLICY_INGRESS));
	send6(DEV_A, A6, 46500, B6, 5300, IPPROTO_UDP, 0, DROP6(DROP_POLICY_INGRESS));

	send6(DEV_A, A6, 46600, B6, 8300, IPPROTO_TCP, T_ACK, DROP6(DROP_POLICY_INGRESS));
	assert_int_equal(ct6_state(B6, 8300, A6, 46600, IPPROTO_TCP), -1);
	assert_int_equal(ct6_state(A6, 46600, B6, 8300, IPPROTO_TCP), -1);
	send6(DEV_B, B6, 8300, A6, 46600, IPPROTO_TCP, T_ACK, DROP6(DROP_POLICY_INGRESS));
	send6(DEV_A, A6, 46600, B6, 8300, IPPROTO_TCP, T_ACK, DROP6(DROP_POLICY_INGRESS));

	/* The control: B may still reach A there (as flip4_control: A's first
	 * packet after the change is judged as A->B and refused, B's opens the
	 * flow again, A's are its replies). */
	send6(DEV_A, A6, 46501, B6, 5301, IPPROTO_UDP, 0, DROP6(DROP_POLICY_INGRESS));
	send6(DEV_B, B6, 5301, A6, 46501, IPPROTO_UDP, 0, FWD6(FWD_LOCAL));
	send6(DEV_A, A6, 46501, B6, 5301, IPPROTO_UDP, 0, FWD6(FWD_REPLY));
	send6(DEV_B, B6, 8301, A6, 46601, IPPROTO_TCP, T_ACK, FWD6(FWD_LOCAL));
	send6(DEV_A, A6, 46601, B6, 8301, IPPROTO_TCP, T_ACK, FWD6(FWD_REPLY));
	assert_int_equal(ct6_state(B6, 5301, A6, 46501, IPPROTO_UDP), XCNI_CT_ESTABLISHED);
	assert_int_equal(ct6_state(B6, 8301, A6, 46601, IPPROTO_TCP), XCNI_CT_ESTABLISHED);
}

/* ---- fragments ----------------------------------------------------------- */

/* The IPv4 fragment shares' entry for (s, d, id, UDP): 1 with its ports, 0 when none. */
static int frag4(const char *s, const char *d, uint16_t id, uint16_t *sp, uint16_t *dp)
{
	struct xcni_frag_key k = { .saddr = ip4(s), .daddr = ip4(d), .id = htons(id),
				   .proto = IPPROTO_UDP };
	struct xcni_frag f;

	if (!frag_held(&k, &f))
		return 0;
	*sp = ntohs(f.sport);
	*dp = ntohs(f.dport);
	return 1;
}

static void frag4_rows(void **state)
{
	static const struct row legit =
		{ "B->C UDP first fragment: allowed, records its ports", .dev = DEV_B,
		  .frag = 0x2000, .ipid = 0x0a01, UDP(IP_B, 46700, IP_C, 53), REDIR(FWD_LOCAL),
		  .ct = XCNI_CT_NEW };
	static const struct row spoof =
		{ "A sends B's first fragment (same id, ports 1->2): spoofed, dropped", .dev = DEV_A,
		  .frag = 0x2000, .ipid = 0x0a01, UDP(IP_B, 1, IP_C, 2), SHOT(DROP_SPOOF_IP, EV_FULL),
		  .no_ct = true };
	static const struct row spoof_new =
		{ "A sends a first fragment as B (a new id): spoofed, dropped", .dev = DEV_A,
		  .frag = 0x2000, .ipid = 0x0a02, UDP(IP_B, 1, IP_C, 2), SHOT(DROP_SPOOF_IP, EV_FULL),
		  .no_ct = true };
	static const struct row later =
		{ "B's later fragment: its own ports, its flow", .dev = DEV_B, .frag = 185,
		  .ipid = 0x0a01, UDP(IP_B, 46700, IP_C, 53), REDIR(FWD_LOCAL) };
	static const struct row denied =
		{ "A->B first fragment B's ingress refuses: dropped", .dev = DEV_A, .frag = 0x2000,
		  .ipid = 0x0a03, UDP(IP_A, 46702, IP_B, 5300), POLICY_DROP(DROP_POLICY_INGRESS) };
	static const struct row denied_later =
		{ "... its later fragment finds no ports: dropped", .dev = DEV_A, .frag = 185,
		  .ipid = 0x0a03, UDP(IP_A, 46702, IP_B, 5300), SHOT(DROP_FRAGMENT, EV_ADDRS),
		  .no_ct = true };
	uint16_t sp = 0, dp = 0;

	(void)state;
	row(&legit);
	assert_true(frag4(IP_B, IP_C, 0x0a01, &sp, &dp));
	assert_int_equal(sp, 46700);
	assert_int_equal(dp, 53);
	row(&spoof);
	assert_true(frag4(IP_B, IP_C, 0x0a01, &sp, &dp));
	assert_int_equal(sp, 46700);
	assert_int_equal(dp, 53);
	row(&spoof_new);
	assert_false(frag4(IP_B, IP_C, 0x0a02, &sp, &dp));
	row(&later);
	row(&denied);
	assert_false(frag4(IP_A, IP_B, 0x0a03, &sp, &dp));
	row(&denied_later);
}

/* An IPv6 first fragment (offset 0, M set) of a UDP datagram s:sp -> d:dp, from pod dev. */
static size_t frag6_frame(int dev, const char *s, uint16_t sp, const char *d, uint16_t dp,
			  uint32_t id, uint16_t offset8, uint8_t *buf)
{
	uint8_t *ip = buf + ETH_HLEN, *fh = ip + 40, *u = fh + 8;

	memset(buf, 0, FRAME_MAX);
	memcpy(buf, pods[dev].host_mac, ETH_ALEN);
	memcpy(buf + ETH_ALEN, pods[dev].mac, ETH_ALEN);
	buf[12] = 0x86;
	buf[13] = 0xdd;
	ip6_hdr(ip, s, d, 44, 64, 8 + 16);
	fh[0] = IPPROTO_UDP;
	fh[2] = (uint8_t)(offset8 >> 5);
	fh[3] = (uint8_t)(offset8 << 3) | (offset8 ? 0 : 1);
	*(uint32_t *)(fh + 4) = htonl(id);
	*(uint16_t *)u = htons(sp);
	*(uint16_t *)(u + 2) = htons(dp);
	*(uint16_t *)(u + 4) = htons(64);
	return ETH_HLEN + 40 + 8 + 16;
}

static int frag6(const char *s, const char *d, uint32_t id, uint16_t *sp, uint16_t *dp)
{
	struct xcni_frag6_key k = { .id = htonl(id) };
	struct xcni_frag6 f;

	in6(s, k.saddr);
	in6(d, k.daddr);
	if (!frag6_held(&k, &f))
		return 0;
	*sp = ntohs(f.sport);
	*dp = ntohs(f.dport);
	return 1;
}

static void frag6_rows(void **state)
{
	uint8_t in[FRAME_MAX];
	uint16_t sp = 0, dp = 0;
	size_t len;

	(void)state;
	len = frag6_frame(DEV_B, B6, 46700, C6, 53, 0x0b01, 0, in);
	expect6(FROM_POD, DEV_B, in, len, FWD6(FWD_LOCAL), NULL, 0);
	assert_true(frag6(B6, C6, 0x0b01, &sp, &dp));
	assert_int_equal(sp, 46700);
	assert_int_equal(dp, 53);
	/* A forges B's first fragment: dropped, B's entry untouched. */
	len = frag6_frame(DEV_A, B6, 1, C6, 2, 0x0b01, 0, in);
	expect6(FROM_POD, DEV_A, in, len, DROP6(DROP_SPOOF_IP), NULL, 0);
	assert_true(frag6(B6, C6, 0x0b01, &sp, &dp));
	assert_int_equal(sp, 46700);
	assert_int_equal(dp, 53);
	len = frag6_frame(DEV_A, B6, 1, C6, 2, 0x0b02, 0, in);
	expect6(FROM_POD, DEV_A, in, len, DROP6(DROP_SPOOF_IP), NULL, 0);
	assert_false(frag6(B6, C6, 0x0b02, &sp, &dp));
	/* B's later fragment follows its own flow. */
	len = frag6_frame(DEV_B, B6, 9, C6, 9, 0x0b01, 185, in);
	expect6(FROM_POD, DEV_B, in, len, FWD6(FWD_LOCAL), NULL, 0);
	/* A first fragment policy refuses records nothing. */
	len = frag6_frame(DEV_A, A6, 46702, B6, 5300, 0x0b03, 0, in);
	expect6(FROM_POD, DEV_A, in, len, DROP6(DROP_POLICY_INGRESS), NULL, 0);
	assert_false(frag6(A6, B6, 0x0b03, &sp, &dp));
	len = frag6_frame(DEV_A, A6, 46702, B6, 5300, 0x0b03, 185, in);
	expect6(FROM_POD, DEV_A, in, len, DROP6(DROP_FRAGMENT), NULL, 0);
}

static void ct_teardown(void **state)
{
	(void)state;
	ingress(IP_A, ID_A, -1);
	ingress(IP_B, ID_B, -1);
}

static const struct CMUnitTest attack_ct_tests[] = {
	cmocka_unit_test(ct_setup),
	cmocka_unit_test(flip4_open),
	cmocka_unit_test(flip4_open_control),
	cmocka_unit_test(flip6_open),
	cmocka_unit_test(revoke),
	cmocka_unit_test(flip4_revoked),
	cmocka_unit_test(flip4_control),
	cmocka_unit_test(flip6_revoked),
	cmocka_unit_test(frag4_rows),
	cmocka_unit_test(frag6_rows),
	cmocka_unit_test(ct_teardown),
};
const struct group attack_ct_group = { "attack_ct", TESTS(attack_ct_tests), .prep = svc_state };
