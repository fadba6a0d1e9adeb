// SPDX-License-Identifier: Apache-2.0
/*
 * The IPFIX exporter (user/agent/ipfix.c) against sockets of the test's own:
 * --ipfix URLs refused with what is wrong; over UDP the messages, decoded
 * here from RFC 7011 (the template set, then data records read through it),
 * hold the records given; over TCP a collector that is not there or does
 * not read never makes the exporter wait: records are refused (they stay
 * pending) instead, and what was queued arrives templates first.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "xcni_shared.h"
#include "agent/ipfix.h"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_url(void **state)
{
	static const char *const good[] = { "udp://127.0.0.1:4739", "tcp://collector:4739",
					    "udp://[::1]:4739", "tcp://[fd00::1]:1" };
	static const struct {
		const char *url, *err;
	} bad[] = {
		{ "ftp://h:1", "not udp://" },	  { "udp://h", "no :PORT" },
		{ "udp://::1:4739", "no :PORT" }, { "udp://h:0", "port" },
		{ "udp://h:65536", "port" },	  { "udp://h:-1", "port" },
		{ "udp://:1", "no host" },	  { "udp://[::1:1", "[]" },
		{ "udp://h:1x", "port" },
	};
	char err[128];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(ipfix_check_url(good[i], err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(ipfix_check_url(bad[i].url, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].err))
			fail_msg("%s: \"%s\", wanted \"%s\"", bad[i].url, err, bad[i].err);
	}
}

static struct flow_rec rec4(uint16_t sport, uint64_t pkts, uint64_t rpkts)
{
	struct flow_rec r;

	memset(&r, 0, sizeof(r));
	r.key.family = 4;
	r.key.proto = IPPROTO_UDP;
	r.key.sport = sport;
	r.key.dport = 81;
	inet_pton(AF_INET, "10.244.1.3", r.key.saddr);
	inet_pton(AF_INET, "10.244.1.2", r.key.daddr);
	r.pkts[0] = pkts;
	r.pkts[1] = rpkts;
	r.bytes[0] = pkts * 142;
	r.bytes[1] = rpkts * 142;
	r.first_ns = 1000000000ULL;
	r.last_ns = 3000000000ULL;
	r.verdict = FLOW_DENIED;
	r.reason = -120;
	r.pol_dir = 1;
	r.policy = "x/web-ingress";
	r.rule = 3;
	r.src.identity = 300;
	r.src.ns = "x";
	r.src.pod = "b";
	r.dst.identity = 301;
	r.dst.ns = "x";
	return r;
}

/* ---- a decoder from the RFC ---------------------------------------------------- */

struct field {
	uint32_t ent;
	uint16_t id, len;
};
struct tmpl {
	uint16_t id, n;
	struct field f[64];
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)be16(p) << 16 | be16(p + 2);
}

static uint64_t be(const uint8_t *p, unsigned int len)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < len; i++)
		v = v << 8 | p[i];
	return v;
}

struct decoded {
	uint64_t pkts, rpkts, start, end, dpkts, dbytes, rdpkts, rdbytes, bytes;
	uint8_t end_reason, fwd;
	uint32_t saddr;
	uint16_t sport, rule;
	uint8_t verdict, proto;
	char policy[64], spod[64], dpod[64], node[64], reason[64];
};

/* RFC 5610's records seen: the names of xcni's elements, by their number. */
static char ie_names[64][40];
static uint8_t ie_types[64];

/* The templates of m into t (by id), its data records of template 257 into d,
 * the information element type records (template 259) into ie_names. */
static int decode(const uint8_t *m, size_t len, struct tmpl *t, size_t nt, struct decoded *d,
		  int maxd)
{
	int nd = 0;

	assert_true(len >= 16);
	assert_int_equal(be16(m), 10);
	assert_int_equal(be16(m + 2), len);
	for (size_t off = 16; off + 4 <= len;) {
		uint16_t sid = be16(m + off), slen = be16(m + off + 2);
		const uint8_t *b = m + off + 4, *end = m + off + slen;

		assert_true(slen >= 4 && off + slen <= len);
		if (sid == 2 || sid == 3) {
			while (b + 4 <= end) {
				uint16_t tid = be16(b), cnt = be16(b + 2);
				struct tmpl *x = &t[tid - 257];

				assert_true(tid >= 257 && tid < 257 + nt && cnt <= 64);
				b += sid == 3 ? 6 : 4; /* an options template: its scope count */
				x->id = tid;
				x->n = cnt;
				for (int i = 0; i < cnt; i++) {
					x->f[i].id = be16(b) & 0x7fff;
					x->f[i].len = be16(b + 2);
					x->f[i].ent = (be16(b) & 0x8000) ? be32(b + 4) : 0;
					b += (be16(b) & 0x8000) ? 8 : 4;
				}
			}
		} else if (sid == 259) {
			struct tmpl *x = &t[2];

			assert_int_equal(x->id, 259);
			while (b < end) {
				uint32_t pen = 0;
				uint16_t id = 0;
				uint8_t type = 0;
				char name[40] = "";

				for (int i = 0; i < x->n; i++) {
					unsigned int l = x->f[i].len;

					if (l == 65535) {
						l = *b++;
						if (l == 255) {
							l = be16(b);
							b += 2;
						}
					}
					if (x->f[i].id == 346)
						pen = (uint32_t)be(b, l);
					else if (x->f[i].id == 303)
						id = (uint16_t)be(b, l);
					else if (x->f[i].id == 339)
						type = (uint8_t)be(b, l);
					else if (x->f[i].id == 341)
						memcpy(name, b, l < 39 ? l : 39);
					b += l;
				}
				assert_true(b <= end);
				if (pen == XCNI_IPFIX_PEN && id < 64) {
					snprintf(ie_names[id], sizeof(ie_names[id]), "%s", name);
					ie_types[id] = type;
				}
			}
		} else if (sid == 257) {
			struct tmpl *x = &t[0];

			assert_int_equal(x->id, 257); /* the template came first */
			while (b < end && nd < maxd) {
				struct decoded *r = &d[nd++];

				memset(r, 0, sizeof(*r));
				for (int i = 0; i < x->n; i++) {
					unsigned int l = x->f[i].len;
					char *s = NULL;

					if (l == 65535) {
						l = *b++;
						if (l == 255) {
							l = be16(b);
							b += 2;
						}
					}
					switch (x->f[i].ent << 16 | x->f[i].id) {
					case 86: r->pkts = be(b, l); break;
					case 85: r->bytes = be(b, l); break;
					case 1: r->dbytes = be(b, l); break;
					case 2: r->dpkts = be(b, l); break;
					case 29305u << 16 | 1: r->rdbytes = be(b, l); break;
					case 29305u << 16 | 2: r->rdpkts = be(b, l); break;
					case 136: r->end_reason = (uint8_t)be(b, l); break;
					case 89: r->fwd = (uint8_t)be(b, l); break;
					case 29305u << 16 | 86: r->rpkts = be(b, l); break;
					case 152: r->start = be(b, l); break;
					case 153: r->end = be(b, l); break;
					case 8: r->saddr = (uint32_t)be(b, l); break;
					case 7: r->sport = (uint16_t)be(b, l); break;
					case 4: r->proto = (uint8_t)be(b, l); break;
					case 32473u << 16 | 1: r->verdict = (uint8_t)be(b, l); break;
					case 32473u << 16 | 5: r->rule = (uint16_t)be(b, l); break;
					case 32473u << 16 | 3: s = r->reason; break;
					case 32473u << 16 | 4: s = r->policy; break;
					case 32473u << 16 | 9: s = r->spod; break;
					case 32473u << 16 | 10: s = r->dpod; break;
					case 32473u << 16 | 11: s = r->node; break;
					}
					if (s)
						memcpy(s, b, l < 63 ? l : 63);
					b += l;
				}
				assert_true(b <= end);
			}
		}
		off += slen;
	}
	return nd;
}

static int udp_collector(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void test_udp(void **state)
{
	struct flow_render_ctx rc = { .wall_off_ns = 1700000000000000000LL, .node = "n1" };
	struct tmpl t[3] = { 0 };
	struct decoded d[200];
	struct ipfix *x;
	uint8_t m[65536];
	char url[64];
	uint16_t port;
	int fd = udp_collector(&port), nd = 0, msgs = 0;
	ssize_t n;

	(void)state;
	snprintf(url, sizeof(url), "udp://127.0.0.1:%u", port);
	assert_int_equal(ipfix_open(url, &x), 0);
	assert_true(ipfix_ready(x));
	/* 100: more than a message holds (1400 bytes). */
	for (int i = 0; i < 100; i++) {
		struct flow_rec r = rec4((uint16_t)(40000 + i), 5 + (uint64_t)i, 2);

		assert_true(ipfix_add(x, &r, &rc, IPFIX_END_IDLE));
	}
	ipfix_flush(x);
	assert_int_equal(ipfix_stats(x)->records, 100);
	assert_int_equal(ipfix_stats(x)->send_errors, 0);
	while ((n = recv(fd, m, sizeof(m), MSG_DONTWAIT)) > 0) {
		assert_true(n <= 1400);
		/* The flows' domain (0) numbers its flow records alone: the
		 * element type records are in a domain of their own (1). */
		if (be32(m + 12) == 0)
			assert_int_equal(be32(m + 8), nd);
		else
			assert_int_equal(be32(m + 12), 1);
		nd += decode(m, (size_t)n, t, 3, d + nd, 200 - nd);
		msgs++;
	}
	assert_true(msgs > 1);
	assert_int_equal(msgs, ipfix_stats(x)->messages);
	assert_int_equal(nd, 100);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(d[i].sport, 40000 + i);
		assert_int_equal(d[i].pkts, 5 + i);
		assert_int_equal(d[i].rpkts, 2);
		assert_int_equal(d[i].saddr, 0x0af40103);
		assert_int_equal(d[i].proto, IPPROTO_UDP);
		assert_int_equal(d[i].start, 1700000001000ULL);
		assert_int_equal(d[i].end, 1700000003000ULL);
		assert_int_equal(d[i].verdict, 1);
		assert_int_equal(d[i].rule, 3);
		assert_string_equal(d[i].policy, "x/web-ingress");
		assert_string_equal(d[i].reason, "drop-policy-ingress");
		assert_string_equal(d[i].spod, "x/b");
		assert_string_equal(d[i].dpod, "x/"); /* its namespace alone known */
		assert_string_equal(d[i].node, "n1");
		/* Never exported before: the deltas are the totals. */
		assert_int_equal(d[i].dpkts, 5 + i);
		assert_int_equal(d[i].dbytes, (5 + i) * 142);
		assert_int_equal(d[i].bytes, (5 + i) * 142);
		assert_int_equal(d[i].rdpkts, 2);
		assert_int_equal(d[i].rdbytes, 2 * 142);
		assert_int_equal(d[i].end_reason, IPFIX_END_IDLE);
		assert_int_equal(d[i].fwd, 129); /* dropped: ACL deny (RFC 7270) */
	}
	/* RFC 5610: every xcni element's name and type came with the templates. */
	assert_string_equal(ie_names[1], "xcniVerdict");
	assert_int_equal(ie_types[1], 1); /* unsigned8 (RFC 7012 section 3.1) */
	assert_string_equal(ie_names[4], "xcniPolicyName");
	assert_int_equal(ie_types[4], 13); /* string */
	assert_string_equal(ie_names[14], "xcniBackend");
	/* The next batch starts with the templates again (a collector that came late). */
	memset(t, 0, sizeof(t));
	{
		struct flow_rec r = rec4(41000, 1, 0);

		assert_true(ipfix_add(x, &r, &rc, IPFIX_END_IDLE));
	}
	ipfix_flush(x);
	/* libfixbuf keeps template sets in messages of their own: the
	 * templates, the element type records, then the data. */
	nd = msgs = 0;
	memset(ie_names, 0, sizeof(ie_names));
	while ((n = recv(fd, m, sizeof(m), MSG_DONTWAIT)) > 0) {
		nd += decode(m, (size_t)n, t, 3, d + nd, 200 - nd);
		msgs++;
	}
	assert_true(msgs >= 3);
	assert_int_equal(nd, 1);
	assert_int_equal(d[0].sport, 41000);
	assert_int_equal(t[0].id, 257);
	assert_string_equal(ie_names[11], "xcniNode");
	ipfix_free(x);
	close(fd);
}

/*
 * A collector that comes up after the exporter's first batch: that batch's
 * datagrams met a closed port, and the socket reports the port unreachable
 * on its next send, which does not go. That next send is the next batch's
 * first message, its templates: sent again, the collector decodes the
 * batch (before, it got the data sets alone, their template unknown).
 */
static void test_udp_late(void **state)
{
	struct flow_render_ctx rc = { .wall_off_ns = 1700000000000000000LL, .node = "n1" };
	struct tmpl t[3] = { 0 };
	struct decoded d[8];
	struct flow_rec r = rec4(42000, 1, 0);
	struct ipfix *x;
	uint8_t m[65536];
	char url[64];
	uint16_t port;
	int fd = udp_collector(&port), nd = 0;
	ssize_t n;

	(void)state;
	close(fd); /* nothing listens there yet */
	snprintf(url, sizeof(url), "udp://127.0.0.1:%u", port);
	assert_int_equal(ipfix_open(url, &x), 0);
	assert_true(ipfix_add(x, &r, &rc, IPFIX_END_IDLE));
	ipfix_flush(x);
	{
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		fd = socket(AF_INET, SOCK_DGRAM, 0);
		assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	r = rec4(42001, 1, 0);
	assert_true(ipfix_add(x, &r, &rc, IPFIX_END_IDLE));
	ipfix_flush(x);
	while ((n = recv(fd, m, sizeof(m), MSG_DONTWAIT)) > 0)
		nd += decode(m, (size_t)n, t, 3, d + nd, 8 - nd);
	assert_int_equal(t[0].id, 257);
	assert_int_equal(nd, 1);
	assert_int_equal(d[0].sport, 42001);
	ipfix_free(x);
	close(fd);
}

/*
 * A flow exported three times (active, active, end): each record's deltas are
 * what came since the one before, so they add up to the totals it carries;
 * forwardingStatus says forwarded for what passed and dropped for what not.
 */
static void test_deltas(void **state)
{
	struct flow_render_ctx rc = { .wall_off_ns = 1700000000000000000LL, .node = "n1" };
	static const uint64_t p[3] = { 4, 9, 9 }, rp[3] = { 1, 7, 8 };
	static const uint8_t why[3] = { IPFIX_END_ACTIVE, IPFIX_END_ACTIVE, IPFIX_END_OF_FLOW };
	struct tmpl t[3] = { 0 };
	struct decoded d[8];
	struct flow_rec r = rec4(42000, 0, 0), o;
	struct ipfix *x;
	uint8_t m[65536];
	char url[64];
	uint16_t port;
	int fd = udp_collector(&port), nd = 0;
	uint64_t sum = 0, rsum = 0, bsum = 0;
	ssize_t n;

	(void)state;
	snprintf(url, sizeof(url), "udp://127.0.0.1:%u", port);
	assert_int_equal(ipfix_open(url, &x), 0);
	r.verdict = FLOW_ALLOWED;
	r.reason = 0;
	for (int i = 0; i < 3; i++) {
		r.pkts[0] = p[i];
		r.pkts[1] = rp[i];
		r.bytes[0] = p[i] * 100;
		r.bytes[1] = rp[i] * 60;
		assert_true(ipfix_add(x, &r, &rc, why[i]));
		/* What xcnid does with a record taken (flows.c ipfix_rec). */
		memcpy(r.ipfix_pkts, r.pkts, sizeof(r.pkts));
		memcpy(r.ipfix_bytes, r.bytes, sizeof(r.bytes));
		ipfix_flush(x);
	}
	while ((n = recv(fd, m, sizeof(m), MSG_DONTWAIT)) > 0)
		nd += decode(m, (size_t)n, t, 3, d + nd, 8 - nd);
	assert_int_equal(nd, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(d[i].pkts, p[i]);
		assert_int_equal(d[i].rpkts, rp[i]);
		assert_int_equal(d[i].end_reason, why[i]);
		assert_int_equal(d[i].fwd, IPFIX_FWD_FORWARDED);
		sum += d[i].dpkts;
		rsum += d[i].rdpkts;
		bsum += d[i].dbytes;
	}
	assert_int_equal(d[1].dpkts, 5);
	assert_int_equal(d[2].dpkts, 0);
	assert_int_equal(d[2].rdpkts, 1);
	assert_int_equal(d[2].rdbytes, 60);
	assert_int_equal(sum, 9);
	assert_int_equal(rsum, 8);
	assert_int_equal(bsum, 900);
	ipfix_free(x);
	close(fd);

	/* forwardingStatus of the drop reasons (RFC 7270's codes). */
	o = rec4(1, 1, 0);
	o.reason = -120; /* drop-policy-ingress */
	assert_int_equal(ipfix_fwd_status(&o), 129);
	o.reason = -113; /* spoofed source */
	assert_int_equal(ipfix_fwd_status(&o), 140);
	o.reason = -116; /* no endpoint at the address */
	assert_int_equal(ipfix_fwd_status(&o), 131);
	o.reason = -133; /* too big to encapsulate */
	assert_int_equal(ipfix_fwd_status(&o), 133);
	o.reason = -118; /* the redirect failed */
	assert_int_equal(ipfix_fwd_status(&o), 128);
	o.verdict = FLOW_AUDIT;
	assert_int_equal(ipfix_fwd_status(&o), 64);
}

/* A port nothing listens on. */
static uint16_t closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/*
 * Which node exports a connection (ipfix_ours): one record per connection,
 * from the node that knows its real client. A NodePort connection n1 SNATed
 * to a backend on n2 is n1's, whether n2's pod takes it or its policy
 * denies it (issue 70: the denied case was exported by both, n2's with n1's
 * address as the client).
 */
static void test_ours(void **state)
{
	struct flow_rec r = {};
	static const struct {
		const char *what;
		uint32_t src_id;
		uint8_t dst_remote, client, verdict;
		bool all, want;
	} t[] = {
		{ "n1: NodePort, SNATed into the overlay", XCNI_ID_WORLD, 1, 4, FLOW_FORWARDED, false, true },
		{ "n2: that connection, allowed", XCNI_ID_REMOTE_NODE, 0, 0, FLOW_ALLOWED, false, false },
		{ "n2: that connection, denied by its pod's policy", XCNI_ID_REMOTE_NODE, 0, 0,
		  FLOW_DENIED, false, false },
		{ "n2: denied, --ipfix-all-nodes", XCNI_ID_REMOTE_NODE, 0, 0, FLOW_DENIED, true, true },
		{ "a pod's flow forwarded to another node's pod", 1234, 1, 0, FLOW_FORWARDED, false, false },
		{ "that flow denied here (egress)", 1234, 1, 0, FLOW_DENIED, false, true },
		{ "from another node's pod to a pod here", 1234, 0, 0, FLOW_ALLOWED, false, true },
		{ "this host to another node's pod", XCNI_ID_HOST, 1, 0, FLOW_FORWARDED, false, true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		r.src.identity = t[i].src_id;
		r.dst.remote = t[i].dst_remote;
		r.client_family = t[i].client;
		r.verdict = t[i].verdict;
		if (ipfix_ours(&r, t[i].all) != t[i].want)
			fail_msg("%s: exported %s", t[i].what, t[i].want ? "no" : "yes");
	}
}

static void test_tcp_refused(void **state)
{
	struct flow_render_ctx rc = { .node = "n1" };
	struct flow_rec r = rec4(40000, 1, 1);
	struct ipfix *x;
	char url[64];
	uint64_t t0 = now_ms();

	(void)state;
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", closed_port());
	assert_int_equal(ipfix_open(url, &x), 0);
	for (int i = 0; i < 5; i++) {
		ipfix_tick(x);
		assert_false(ipfix_add(x, &r, &rc, IPFIX_END_IDLE)); /* pending: it goes later */
		ipfix_flush(x);
	}
	assert_false(ipfix_ready(x));
	assert_int_equal(ipfix_stats(x)->records, 0);
	assert_int_equal(ipfix_stats(x)->connects, 0);
	ipfix_free(x);
	assert_true(now_ms() - t0 < 500);
}

static void test_tcp_slow(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct flow_render_ctx rc = { .wall_off_ns = 1700000000000000000LL, .node = "n1" };
	struct tmpl t[3] = { 0 };
	struct decoded d[4];
	socklen_t sl = sizeof(sa);
	struct ipfix *x;
	uint8_t m[1400 * 2];
	char url[64];
	int lfd = socket(AF_INET, SOCK_STREAM, 0), c, i;
	uint64_t t0;
	size_t got = 0;

	(void)state;
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", ntohs(sa.sin_port));
	assert_int_equal(ipfix_open(url, &x), 0);
	for (i = 0; i < 50 && !ipfix_ready(x); i++) {
		usleep(10000);
		ipfix_tick(x);
	}
	assert_true(ipfix_ready(x));
	assert_int_equal(ipfix_stats(x)->connects, 1);
	/* The collector never reads: the socket buffers fill, then the queue,
	 * then records are refused; no call waits. */
	t0 = now_ms();
	for (i = 0; i < 1000000; i++) {
		struct flow_rec r = rec4((uint16_t)(40000 + i % 20000), 1 + (uint64_t)i, 0);

		if (!ipfix_add(x, &r, &rc, IPFIX_END_IDLE))
			break;
		if (i % 100 == 99) {
			ipfix_flush(x);
			ipfix_tick(x);
		}
	}
	assert_true(i < 1000000);
	assert_false(ipfix_ready(x));
	assert_true(now_ms() - t0 < 5000);
	assert_true(ipfix_stats(x)->bytes >= IPFIX_TCP_QUEUE_MAX);
	/* The collector reads now: the first message has the templates. */
	c = accept(lfd, NULL, NULL);
	assert_true(c >= 0);
	/* The templates' message, then the first data. */
	for (int k = 0, nd = 0; !nd; k++) {
		assert_true(k < 6); /* templates, the types' template, their records (two), data */
		while (got < 4 || got < be16(m + 2)) {
			ssize_t n = recv(c, m + got, sizeof(m) - got, 0);

			assert_true(n > 0);
			got += (size_t)n;
		}
		nd = decode(m, be16(m + 2), t, 3, d, 4);
		assert_true(k > 0 || t[0].id == 257); /* the first message has them */
		got -= be16(m + 2);
		memmove(m, m + be16(m + 2), got);
	}
	assert_int_equal(d[0].sport, 40000);
	assert_int_equal(d[0].pkts, 1);
	ipfix_free(x);
	close(c);
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_udp),
		cmocka_unit_test(test_udp_late),
		cmocka_unit_test(test_deltas),
		cmocka_unit_test(test_ours),
		cmocka_unit_test(test_tcp_refused),
		cmocka_unit_test(test_tcp_slow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
