// SPDX-License-Identifier: Apache-2.0
/*
 * The DNS answers' reader fuzzed (group dnsfuzz): fqdn.c's programs, maps and
 * messages (fqdn.h), generated answers on every path into a pod, libresolv's
 * parse the oracle.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <dirent.h>
#include <errno.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fqdn.h"

/* ---- the reader fuzzed (group dnsfuzz) ------------------------------------ */

/*
 * Generated DNS answers through the real programs on the three paths into a
 * pod (to_pod, from_pod's local delivery, from_overlay), both families, as
 * one datagram, as two fragments (the later one another generated answer),
 * over TCP, from a source that is not the DNS Service's, with a UDP length
 * over the datagram's; the messages with compression pointers back, forward,
 * to themselves, out of range and into a label, CNAME chains, up to 140
 * records, odd record lengths, TC and QR and opcode bits, counts that lie,
 * cut short and bytes flipped. The oracle: glibc's libresolv reads the same
 * bytes (ns_skiprr, ns_name_uncompress); every address the pod holds after
 * an answer must be an A/AAAA record of class IN, whole, whose owner is the
 * question (a name the pod's patterns name) or a CNAME target of its chain,
 * in a whole, unfragmented UDP message from the DNS Service; nothing is
 * learned for another pod, nor over the pod's ring (XCNI_FQDN_PER_POD).
 * The reader may learn less than the oracle (it takes only pointers that
 * point back, DNS_MAX_RR records, DNS_MAX_CNAME steps), never more.
 *
 * make check: every input of tests/bpf/dns_corpus/ (a case as bytes:
 * flags, extra, the message's length, the message, the later fragment's
 * message) and DNSFUZZ_CHECK generated cases of a fixed seed. make fuzz
 * (tests/fuzz/run.sh): XCNI_DNS_FUZZ_SECONDS of cases from a new seed
 * (XCNI_DNS_FUZZ_SEED to repeat one); a case the oracle refuses is written
 * to XCNI_DNS_FUZZ_OUT (default build/fuzz/out/crashes/bpf_dns/) for the corpus.
 */
#define DF_PATH 3 /* 0 to_pod, 1 from_pod, 2 from_overlay */
#define DF_V6 4
#define DF_FRAG 8
#define DF_TCP 16
#define DF_NOTSRV 32
#define DNSFUZZ_CHECK 400
#define DF_MAXN 1900
#define DF_HDR 12
#define DF_OVMAX 130 /* from_overlay's and a later fragment's: the harness's frames are FRAME_MAX */

struct dcase {
	uint8_t flags, extra;
	struct msg m, forged;
};

static uint64_t df_rng;

static uint32_t rnd(uint32_t n)
{
	df_rng ^= df_rng << 13;
	df_rng ^= df_rng >> 7;
	df_rng ^= df_rng << 17;
	return n ? (uint32_t)(df_rng >> 32) % n : 0;
}

static const char *const df_q[] = { "api.example.test", "API.Example.TEST", "x.wild.test",
				    "a.b.wild.test",    "wild.test",        "other.test",
				    "api.example.test.evil" };
static const char *const df_t[] = { "cdn.example.net", "x.wild.test", "api.example.test",
				    "edge.cdn.example.net", "c.other.test" };

/* An owner or a CNAME's target: in full, a pointer back to a name written
 * before (at[]), or hostile: forward, to itself, out of range, into a label. */
static void df_name(struct msg *m, const uint16_t *at, unsigned int nat)
{
	uint32_t k = rnd(16);

	if (k < 5 && nat) {
		ptr(m, at[rnd(nat)]);
	} else if (k < 9) {
		name(m, df_t[rnd(ARRAY_SIZE(df_t))]);
	} else if (k < 11 && nat) {
		put8(m, 4);
		for (int i = 0; i < 4; i++)
			put8(m, (uint8_t)"edge"[i]);
		ptr(m, at[rnd(nat)]);
	} else if (k == 11) {
		ptr(m, (uint16_t)(m->n + rnd(60))); /* forward */
	} else if (k == 12) {
		ptr(m, (uint16_t)m->n); /* itself */
	} else if (k == 13) {
		ptr(m, (uint16_t)(0x3fff - rnd(16))); /* out of range */
	} else if (k == 14) {
		ptr(m, (uint16_t)rnd((uint32_t)m->n)); /* anywhere before */
	} else {
		ptr(m, 12);
	}
}

/* A message of at most maxn bytes. */
static void df_msg(struct msg *m, size_t maxn)
{
	uint16_t at[64], fl = 0x8180, qd = 1, an = 0;
	unsigned int nat = 0, nrr = rnd(4) ? rnd(8) : rnd(141);
	uint8_t rd[64];

	if (!rnd(6))
		fl ^= (uint16_t)(1u << rnd(16)); /* QR, opcode, TC (0x0200), ... */
	if (!rnd(16))
		qd = (uint16_t)rnd(3);
	hdr(m, qd, 0);
	m->b[2] = (uint8_t)(fl >> 8);
	m->b[3] = (uint8_t)fl;
	at[nat++] = 12;
	question(m, df_q[rnd(ARRAY_SIZE(df_q))], rnd(2) ? 1 : 28);
	if (!rnd(16))
		m->b[m->n - 1] = 3; /* class CH */
	for (unsigned int i = 0; i < nrr && m->n + 40 < maxn; i++, an++) {
		uint32_t t = rnd(10), rdlen;
		uint16_t type, class = rnd(20) ? 1 : (uint16_t)rnd(300);

		if (nat < ARRAY_SIZE(at))
			at[nat++] = (uint16_t)m->n;
		df_name(m, at, nat - 1);
		for (size_t j = 0; j < sizeof(rd); j++)
			rd[j] = (uint8_t)rnd(256);
		rd[0] = 203; /* most A records in one /24: renewals */
		if (t < 4) {
			type = 1;
			rdlen = rnd(10) ? 4 : rnd(8);
		} else if (t < 6) {
			type = 28;
			rdlen = rnd(10) ? 16 : rnd(24);
		} else if (t < 9) {
			struct msg c = { .n = 0 };
			size_t start = m->n + 10;

			type = 5;
			df_name(&c, at, nat);
			rdlen = (uint32_t)c.n;
			if (!rnd(10))
				rdlen = rnd(rdlen + 4);
			rr(m, type, class, rnd(100000), c.b, (uint16_t)(rdlen < c.n ? rdlen : c.n));
			while (m->n < start + rdlen)
				put8(m, (uint8_t)rnd(256));
			if (c.b[0] < 64 && nat < ARRAY_SIZE(at))
				at[nat++] = (uint16_t)start; /* a name later records point to */
			continue;
		} else {
			type = rnd(2) ? 16 : (uint16_t)rnd(65536);
			rdlen = rnd(sizeof(rd));
		}
		rr(m, type, class, rnd(4) ? rnd(100000) : (uint32_t)rnd(0xffffffff) * 2, rd,
		   (uint16_t)rdlen);
	}
	if (!rnd(10))
		an = (uint16_t)rnd(200); /* a count that lies */
	m->b[6] = (uint8_t)(an >> 8);
	m->b[7] = (uint8_t)an;
	if (m->n > maxn)
		m->n = maxn;
	if (!rnd(8))
		m->n = DF_HDR + rnd((uint32_t)(m->n - DF_HDR)) + 1; /* cut short */
	for (uint32_t k = rnd(6) ? 0 : rnd(5) + 1; k; k--)
		m->b[rnd((uint32_t)m->n)] = (uint8_t)rnd(256);
}

static void df_gen(struct dcase *c)
{
	c->flags = (uint8_t)(rnd(3) | (rnd(2) ? DF_V6 : 0));
	c->extra = rnd(16) ? 0 : (uint8_t)(rnd(40) + 1);
	if (!rnd(6))
		c->flags |= DF_FRAG;
	else if (!rnd(16))
		c->flags = DF_TCP; /* to_pod, IPv4 */
	else if (!rnd(16))
		c->flags = (uint8_t)(c->flags & DF_V6) | DF_NOTSRV; /* to_pod */
	df_msg(&c->m, (c->flags & (DF_PATH | DF_TCP)) == 2 ? DF_OVMAX : DF_MAXN);
	c->forged.n = 0;
	if (c->flags & DF_FRAG)
		df_msg(&c->forged, DF_OVMAX);
}

/* The oracle: the addresses the message m lets pod EP_A learn, in ok[] (max), their number. */
static unsigned int df_oracle(const struct msg *m, struct xcni_fqdn_key *ok, unsigned int max)
{
	const uint8_t *msg = m->b, *eom = m->b + m->n, *p;
	char cur[NS_MAXDNAME], own[NS_MAXDNAME];
	unsigned int n = 0, an;
	size_t l;
	int k;

	if (m->n < DF_HDR || !(msg[2] & 0x80) || (msg[2] & 0x78) || ns_get16(msg + 4) != 1)
		return 0;
	an = ns_get16(msg + 6);
	if (ns_name_uncompress(msg, eom, msg + DF_HDR, cur, sizeof(cur)) < 0)
		return 0;
	k = ns_skiprr(msg + DF_HDR, eom, ns_s_qd, 1);
	if (k < 0)
		return 0;
	p = msg + DF_HDR + k;
	if (ns_get16(p - 2) != ns_c_in)
		return 0;
	l = strlen(cur);
	/* the patterns of fqdn_state: api.example.test, *.wild.test */
	if (strcasecmp(cur, "api.example.test") &&
	    (l <= 10 || strcasecmp(cur + l - 10, ".wild.test")))
		return 0;
	for (unsigned int i = 0; i < an && p < eom; i++) {
		const uint8_t *r;
		unsigned int type, class, rdlen;

		k = ns_skiprr(p, eom, ns_s_an, 1);
		if (k < 0 || ns_name_uncompress(msg, eom, p, own, sizeof(own)) < 0)
			break;
		r = p + dn_skipname(p, eom);
		type = ns_get16(r);
		class = ns_get16(r + 2);
		rdlen = ns_get16(r + 8);
		p += k;
		if (class != ns_c_in || strcasecmp(own, cur))
			continue;
		if (type == ns_t_cname) {
			if (ns_name_uncompress(msg, eom, r + 10, cur, sizeof(cur)) < 0)
				break;
		} else if (((type == ns_t_a && rdlen == 4) || (type == ns_t_aaaa && rdlen == 16)) &&
			   n < max) {
			memset(&ok[n], 0, sizeof(ok[n]));
			ok[n].ep_id = EP_A;
			ok[n].family = type == ns_t_a ? XCNI_AF_INET : XCNI_AF_INET6;
			memcpy(ok[n].addr, r + 10, rdlen);
			n++;
		}
	}
	return n;
}

/* The paths' DNS, by flags: to_pod's the Service's, from_pod's pod B, from_overlay's R (R6). */
static const char *const df_dns[2][3] = { { DNS4, IP_B, IP_R }, { DNS6, "fd00:99::b", "fd00:98::5" } };

static void df_state(void **state)
{
	struct xcni_ipcache6_key k6 = { .prefixlen = 128 };
	struct xcni_ipcache_val iv = { .identity = ID_R, .tunnel_ip = ip4(N2), .flags = XCNI_IPC_POD };

	fqdn_state(state);
	for (int f = 0; f < 2; f++)
		for (int p = 1; p < 3; p++)
			srv_add(df_dns[f][p], 53);
	assert_int_equal(overlay_setup(), 0);
	assert_int_equal(inet_pton(AF_INET6, "fd00:98::5", k6.addr), 1);
	assert_int_equal(bpf_map_update_elem(map_fd("xcni_ipcache6"), &k6, &iv, BPF_ANY), 0);
	qport = QPORT;
}

static const char *df_out(void)
{
	const char *o = getenv("XCNI_DNS_FUZZ_OUT");

	return o && *o ? o : "build/fuzz/out/crashes/bpf_dns";
}

static void df_save(const struct dcase *c, const char *path)
{
	FILE *f = fopen(path, "w");
	uint8_t h[4] = { c->flags, c->extra, (uint8_t)(c->m.n >> 8), (uint8_t)c->m.n };

	if (!f) {
		fprintf(stderr, "# dnsfuzz: cannot write %s: %s\n", path, strerror(errno));
		return;
	}
	fwrite(h, 1, sizeof(h), f);
	fwrite(c->m.b, 1, c->m.n, f);
	fwrite(c->forged.b, 1, c->forged.n, f);
	fclose(f);
}

static int df_load(struct dcase *c, const char *path)
{
	uint8_t b[4 + 2 * sizeof(c->m.b)];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -errno;
	n = fread(b, 1, sizeof(b), f);
	fclose(f);
	if (n < 4 || (size_t)(b[2] << 8 | b[3]) > n - 4 ||
	    (b[2] << 8 | b[3]) > ((b[0] & (DF_PATH | DF_TCP)) == 2 ? DF_OVMAX : DF_MAXN) ||
	    n - 4 - (b[2] << 8 | b[3]) > DF_OVMAX)
		return -EINVAL;
	c->flags = b[0];
	c->extra = b[1];
	c->m.n = (size_t)(b[2] << 8 | b[3]);
	memcpy(c->m.b, b + 4, c->m.n);
	c->forged.n = n - 4 - c->m.n;
	memcpy(c->forged.b, b + 4 + c->m.n, c->forged.n);
	return 0;
}

static unsigned int df_learned_cases;

/* Case c through its path; 0 when what pod EP_A holds after is the oracle's, else -1 (said). */
static int df_run(const struct dcase *c)
{
	static const int via[3] = { -1, DEV_B, VIA_OVERLAY };
	struct xcni_fqdn_key ok[160], k, next, *prev = NULL;
	bool v6 = c->flags & DF_V6, tcp = c->flags & DF_TCP;
	const char *dns = df_dns[v6 && !tcp][tcp ? 0 : (c->flags & DF_PATH) % 3];
	const char *src = c->flags & DF_NOTSRV ? (v6 ? NOT_DNS6 : NOT_DNS) : dns;
	bool whole = !(c->flags & (DF_FRAG | DF_TCP | DF_NOTSRV)) && !c->extra;
	unsigned int nok = whole ? df_oracle(&c->m, ok, ARRAY_SIZE(ok)) : 0, held = 0;
	int fd = fmap("xcni_fqdn"), ep = EP_A, bad = 0;

	/* IPv6 over the IPv4 underlay: not on a kernel < 6.3 (test_run). */
	if (v6 && !tcp && (c->flags & DF_PATH) % 3 == 2 && !kernel_decap_l3())
		return 0;
	if (tcp)
		ask_answer_via(DEV_A, VIA_TCP, DNS4, DNS4, &c->m, 0, false);
	else if ((c->flags & DF_FRAG) && c->m.n > FRAG1_L4) {
		frag_forged = &c->forged;
		ask_answer_via(DEV_A, via[(c->flags & DF_PATH) % 3], dns, src, &c->m, 0, false);
		frag_forged = NULL;
	} else {
		ask_answer_via(DEV_A, (c->flags & DF_NOTSRV) ? -1 : via[(c->flags & DF_PATH) % 3],
			       dns, src, &c->m, c->extra, false);
	}
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		unsigned int i = 0;

		while (i < nok && memcmp(&ok[i], &next, sizeof(next)))
			i++;
		if (i == nok) {
			char a[INET6_ADDRSTRLEN];

			inet_ntop(next.family == XCNI_AF_INET ? AF_INET : AF_INET6, next.addr, a,
				  sizeof(a));
			fprintf(stderr, "# dnsfuzz: pod %u learned %s, not an answer of the message\n",
				next.ep_id, a);
			bad = -1;
		}
		held += next.ep_id == EP_A;
		k = next;
		prev = &k;
	}
	if (held > XCNI_FQDN_PER_POD) {
		fprintf(stderr, "# dnsfuzz: pod holds %u addresses, over its %u\n", held,
			XCNI_FQDN_PER_POD);
		bad = -1;
	}
	df_learned_cases += held > 0;
	/* the next case from nothing learned */
	while (!bpf_map_get_next_key(fd, NULL, &next))
		assert_int_equal(bpf_map_delete_elem(fd, &next), 0);
	bpf_map_delete_elem(fmap("xcni_fqdn_ring"), &ep);
	return bad;
}

/* Every input of the regression corpus, each its own delivery: none refused. */
static void dnsfuzz_corpus(void **state)
{
	const char *dir = getenv("XCNI_DNS_CORPUS");
	struct dirent **ents;
	char path[4096];
	int n, bad = 0;

	dir = dir && *dir ? dir : "tests/bpf/dns_corpus";
	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0)
		fail_msg("dnsfuzz: the corpus %s: %s (run from the repository's top)", dir,
			 strerror(errno));
	df_state(state);
	for (int i = 0; i < n; i++) {
		struct dcase c;

		if (ents[i]->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
			assert_int_equal(df_load(&c, path), 0);
			if (df_run(&c)) {
				fprintf(stderr, "# dnsfuzz: refused: %s\n", path);
				bad++;
			}
		}
		free(ents[i]);
	}
	free(ents);
	assert_int_equal(bad, 0);
}

/*
 * Generated cases: DNSFUZZ_CHECK of seed 1, or for XCNI_DNS_FUZZ_SECONDS
 * from XCNI_DNS_FUZZ_SEED (else the clock's). XCNI_DNS_FUZZ_SAVE=N: also
 * the first N cases that pass written to the output, named by their flags
 * and whether the pod learned (a corpus to pick from).
 */
static void dnsfuzz_gen(void **state)
{
	const char *sec = getenv("XCNI_DNS_FUZZ_SECONDS"), *seed = getenv("XCNI_DNS_FUZZ_SEED");
	const char *save = getenv("XCNI_DNS_FUZZ_SAVE");
	long secs = sec ? atol(sec) : 0, nsave = save ? atol(save) : 0;
	time_t end = time(NULL) + secs;
	unsigned long i = 0, bad = 0;
	static struct dcase c;
	uint64_t seed0;
	char path[4096];

	df_rng = seed ? strtoull(seed, NULL, 0) : secs ? (uint64_t)time(NULL) : 1;
	df_rng = df_rng ? df_rng : 1;
	seed0 = df_rng;
	fprintf(stderr, "# dnsfuzz: seed %llu\n", (unsigned long long)seed0);
	df_learned_cases = 0;
	df_state(state);
	for (; secs ? time(NULL) < end : i < DNSFUZZ_CHECK; i++) {
		if (qport > 60000)
			df_state(state); /* the flows' ports used up: conntrack from nothing */
		unsigned int learned = df_learned_cases;

		df_gen(&c);
		if (df_run(&c)) {
			snprintf(path, sizeof(path), "%s/case-%llu-%lu", df_out(),
				 (unsigned long long)seed0, i);
			df_save(&c, path);
			fprintf(stderr, "# dnsfuzz: case %lu refused, written to %s\n", i, path);
			if (++bad >= 10)
				break;
		} else if ((long)i < nsave) {
			snprintf(path, sizeof(path), "%s/gen-%02x-%s-%04lu", df_out(), c.flags,
				 learned < df_learned_cases ? "learned" : "none", i);
			df_save(&c, path);
		}
	}
	fprintf(stderr, "# dnsfuzz: %lu cases, %u learned something, %lu refused\n", i,
		df_learned_cases, bad);
	assert_int_equal(bad, 0);
	/* the oracle is not empty-handed: whole answers of the pod's names do teach */
	assert_true(df_learned_cases > i / 50);
}

static const struct CMUnitTest dnsfuzz_tests[] = {
	cmocka_unit_test(dnsfuzz_corpus),
	cmocka_unit_test(dnsfuzz_gen),
};

const struct group dnsfuzz_group = { "dnsfuzz", TESTS(dnsfuzz_tests), .prep = fqdn_prep,
				     .make = fqdn_make, .free = fqdn_free };
