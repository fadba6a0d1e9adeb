// SPDX-License-Identifier: Apache-2.0
/*
 * SCTP to a ClusterIP, both families (svc_lib.c's tables; prep
 * svc_both_state): the association through conntrack as TCP's flow, the
 * address translated alone where the backend's port is the frontend's (the
 * CRC has no pseudo-header: untouched), the CRC updated for a new port and
 * held against the bit-at-a-time reference (crc32c_ref) at every length bit
 * up to 2^11, corrupted CRCs kept corrupted, zero CRCs (RFC 9653) zero, and
 * tshark's verdict on what the programs sent. Without backends: svc_reject.c.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/pkt_cls.h>

#include "svc.h"

/* The stored CRC of the SCTP packet in frame buf (IPv4 without options). */
static uint32_t crc_of(const uint8_t *buf)
{
	uint32_t c;

	memcpy(&c, buf + ETH_HLEN + 20 + 8, 4);
	return c;
}

/* Pod A's SCTP packet from sport to vip:3868, one chunk of type chunk with payload bytes. */
static struct fr sctp_from_a(uint16_t sport, const char *vip, uint8_t chunk, uint16_t payload)
{
	struct fr f = from_dev(DEV_A, IP_A, sport, vip, 3868, IPPROTO_SCTP, chunk);

	f.payload = payload;
	return f;
}

/* f (from A) must reach B at B's address and port bport: the CRC (or its
 * error) computed in full. */
static void sctp_to_b(const struct fr *f, uint16_t bport)
{
	static uint8_t in[BIG_MAX], want[BIG_MAX];
	struct fr t = into(*f, DEV_B);
	size_t len = frame(f, in);

	t.daddr = ip4(IP_B);
	t.dport = bport;
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, frame(&t, want));
}

/* B's reply from bport to A's sport must reach A from vip:3868. */
static void sctp_to_a(uint16_t bport, uint16_t sport, const char *vip, uint8_t chunk)
{
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	struct fr f = from_dev(DEV_B, IP_B, bport, IP_A, sport, IPPROTO_SCTP, chunk), t;
	size_t len;

	f.payload = 20;
	len = frame(&f, in);
	t = into(f, DEV_A);
	t.saddr = ip4(vip);
	t.sport = 3868;
	expect(FROM_POD_LB, DEV_B, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, frame(&t, want));
}

/*
 * SCTP to a ClusterIP whose backend listens on the frontend's port: only
 * the destination address changes, and with it the IP checksum; the CRC has
 * no pseudo header, so the packet's stays as A computed it. The association
 * runs through conntrack as TCP does: INIT opens, INIT ACK establishes,
 * ABORT closes, an INIT after it opens again, an ABORT of nothing opens
 * nothing.
 */
static void lb_sctp(void **state)
{
	static const uint8_t check[] = "123456789";
	struct xcni_ct_entry e;
	uint32_t vip = ip4("10.96.2.1"), a = ip4(IP_A), b = ip4(IP_B);
	uint8_t in[FRAME_MAX];
	struct fr f;
	size_t len;
	int found;

	(void)state;
	/* The reference itself: CRC-32C's check value (RFC 3720 B.4's catalogue value). */
	assert_int_equal(crc32c_ref(check, 9), 0xe3069283);

	f = sctp_from_a(36412, "10.96.2.1", SC_INIT, 16);
	sctp_to_b(&f, 3868);
	/* The same port: the CRC is the one A sent, untouched. */
	len = frame(&f, in);
	assert_int_equal(crc_of(last_out), crc_of(in));
	svc_entries(IP_A, 36412, "10.96.2.1", 3868, IP_B, 3868, IPPROTO_SCTP, 201, 20);

	/* B's INIT ACK: the frontend back as its source. */
	sctp_to_a(3868, 36412, "10.96.2.1", SC_INIT_ACK);
	e = ct_get(a, b, 36412, 3868, IPPROTO_SCTP, &found);
	assert_int_equal(e.state, XCNI_CT_ESTABLISHED);

	/* COOKIE ECHO, then A's ABORT: the association and both entries closed. */
	f = sctp_from_a(36412, "10.96.2.1", SC_COOKIE_ECHO, 8);
	sctp_to_b(&f, 3868);
	f = sctp_from_a(36412, "10.96.2.1", SC_ABORT, 0);
	sctp_to_b(&f, 3868);
	e = ct_get(a, b, 36412, 3868, IPPROTO_SCTP, &found);
	assert_int_equal(e.state, XCNI_CT_CLOSED);
	e = ct_get(a, vip, 36412, 3868, IPPROTO_SCTP, &found);
	assert_int_equal(e.state, XCNI_CT_CLOSED);

	/* A new INIT on the closed tuple: a new association. */
	f = sctp_from_a(36412, "10.96.2.1", SC_INIT, 16);
	sctp_to_b(&f, 3868);
	e = ct_get(a, b, 36412, 3868, IPPROTO_SCTP, &found);
	assert_int_equal(e.state, XCNI_CT_NEW);

	/* An ABORT of no association opens none, and leaves no entry. */
	f = sctp_from_a(36413, "10.96.2.1", SC_ABORT, 0);
	len = frame(&f, in);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_SHOT, XCNI_DROP_CT_INVALID, NULL, 0);
	ct_get(a, vip, 36413, 3868, IPPROTO_SCTP, &found);
	assert_false(found);
	ct_get(a, b, 36413, 3868, IPPROTO_SCTP, &found);
	assert_false(found);
}

/* The SCTP frame of either family from pod dev (into_pod: as delivered into
 * it), src:sp -> dst:dp, one chunk (payload bytes), its CRC XORed with bad,
 * or 0 (zero): IPv4 by frame(), IPv6 by sframe6(). Its length. */
static size_t sctp_pkt(bool v6, int dev, bool into_pod, const char *src, uint16_t sp,
		       const char *dst, uint16_t dp, uint8_t chunk, uint16_t payload, uint32_t bad,
		       bool zero, uint8_t *buf)
{
	if (v6) {
		struct g6 g = from6(dev, src, sp, dst, dp, IPPROTO_SCTP, 0);

		if (into_pod)
			g = into6(g, dev);
		return sframe6(&g, chunk, payload, bad, zero, buf);
	}
	struct fr f = from_dev(dev, src, sp, dst, dp, IPPROTO_SCTP, chunk);

	if (into_pod)
		f = into(f, dev);
	f.payload = payload;
	f.crc_err = bad;
	f.no_csum = zero;
	return frame(&f, buf);
}

/* The frontend whose backend (B:38680) listens on another port: 10.96.2.2, fd00:96::e. */
static const char *port_vip(const struct fam *fa)
{
	return fa->v6 ? VIPE : "10.96.2.2";
}

/*
 * A's packet (chunk, payload, CRC error bad, or zero) from 36420 to the
 * frontend must reach B at B:38680, or (reply) B's from 38680 reach A from
 * the frontend, exactly: the CRC (or its error) computed in full. What came
 * out into out; its length.
 */
static size_t sctp_xlate(const struct fam *fa, bool reply, uint8_t chunk, uint16_t payload,
			 uint32_t bad, bool zero, uint8_t *out)
{
	static uint8_t in[BIG_MAX], want[BIG_MAX];
	const char *vip = port_vip(fa);
	int dev = reply ? DEV_B : DEV_A;
	size_t len, wlen;

	if (reply) {
		len = sctp_pkt(fa->v6, DEV_B, false, fa->b, 38680, fa->a, 36420, chunk, payload, bad,
			       zero, in);
		wlen = sctp_pkt(fa->v6, DEV_A, true, vip, 3868, fa->a, 36420, chunk, payload, bad,
				zero, want);
	} else {
		len = sctp_pkt(fa->v6, DEV_A, false, fa->a, 36420, vip, 3868, chunk, payload, bad,
			       zero, in);
		wlen = sctp_pkt(fa->v6, DEV_B, true, fa->a, 36420, fa->b, 38680, chunk, payload, bad,
				zero, want);
	}
	if (fa->v6) { /* past expect6's FRAME_MAX: verdict and bytes */
		spass6(dev, in, len, want, wlen, out);
		return wlen;
	}
	expect(FROM_POD_LB, dev, in, len, TC_ACT_REDIRECT, reply ? XCNI_FWD_REPLY : XCNI_FWD_LOCAL,
	       want, wlen);
	memcpy(out, last_out, last_len);
	return wlen;
}

/*
 * SCTP to a ClusterIP whose backend listens on another port, both families:
 * the address changes alone (no pseudo-header), the CRC is updated for the
 * port (sctp4_nat_port) and must equal the reference CRC of the translated
 * packet, both ways, at lengths that set every bit of the packet's length up
 * to 2^11; a corrupted CRC stays corrupted by the same error (nothing is
 * "fixed"); a zero CRC (RFC 9653) stays zero. tshark, given the programs'
 * translated frames in a pcap, finds the CRC good where it must be and bad
 * where it was bad.
 */
static void svc_sctp_port(void **state)
{
	static const uint16_t payloads[] = { 0, 4, 20, 52, 116, 244, 500, 1012, 1464, 2036 };
	static uint8_t keep[5][BIG_MAX];
	uint8_t *frames[4] = { keep[0], keep[1], keep[2], keep[3] };
	const struct fam *fa = *state;
	size_t lens[4], hl = ETH_HLEN + (fa->v6 ? 40u : 20u), n;
	uint32_t c;

	lens[0] = sctp_xlate(fa, false, SC_INIT, 16, 0, false, keep[0]);
	sctp_pkt(fa->v6, DEV_A, false, fa->a, 36420, port_vip(fa), 3868, SC_INIT, 16, 0, false,
		 keep[4]);
	assert_memory_not_equal(keep[0] + hl + 8, keep[4] + hl + 8, 4);
	svc_entries(fa->a, 36420, port_vip(fa), 3868, fa->b, 38680, IPPROTO_SCTP,
		    fa->v6 ? 3141 : 202, fa->v6 ? 314 : 21);
	lens[1] = sctp_xlate(fa, true, SC_INIT_ACK, 20, 0, false, keep[1]);

	/* DATA of every length, both ways: the update is right for each bit of it. */
	for (size_t i = 0; i < ARRAY_SIZE(payloads); i++) {
		n = sctp_xlate(fa, false, SC_DATA, payloads[i], 0, false, keep[4]);
		if (payloads[i] == 1464) {
			memcpy(keep[3], keep[4], n);
			lens[3] = n;
		}
		sctp_xlate(fa, true, SC_DATA, payloads[i], 0, false, keep[4]);
	}

	/* Corrupted on its way: the error goes through as it came. */
	lens[2] = sctp_xlate(fa, false, SC_DATA, 100, 0x00040001, false, keep[2]);
	memcpy(&c, keep[2] + hl + 8, 4);
	assert_int_not_equal(c, sctp_crc(keep[2] + hl, lens[2] - hl));
	/* No CRC (0, RFC 9653): none made up. */
	sctp_xlate(fa, false, SC_DATA, 100, 0, true, keep[4]);
	memcpy(&c, keep[4] + hl + 8, 4);
	assert_int_equal(c, 0);

	/* What the programs sent out, as tshark sees it: INIT, INIT ACK, the
	 * corrupted DATA, a DATA of 1464 bytes. */
	tshark_sctp_expect(frames, lens, 4, "1\n1\n0\n1\n");
}

/* After svc_sctp_port_v4: B's port unreachable about its flow reaches A
 * quoting the frontend; the first of IPv4 fragments cannot get a new port. */
static void lb_sctp_port_icmp_frag(void **state)
{
	static uint8_t in[BIG_MAX], want[BIG_MAX];
	uint8_t q[FRAME_MAX], qw[FRAME_MAX];
	uint32_t vip = ip4("10.96.2.2");
	struct fr f, t, err;
	size_t len, wlen;
	int found;

	(void)state;
	/* B's port unreachable about it: A sees it about 10.96.2.2:3868, from there. */
	f = from_dev(DEV_A, IP_A, 36420, IP_B, 38680, IPPROTO_SCTP, SC_DATA);
	f.payload = 8;
	f.ttl = 63;
	frame(&f, q);
	f.daddr = vip;
	f.dport = 3868;
	frame(&f, qw);
	err = from_dev(DEV_B, IP_B, 0, IP_A, 0, IPPROTO_ICMP, 0);
	len = icmp_error(&err, 3, 3, q, in);
	t = into(err, DEV_A);
	t.saddr = vip;
	wlen = icmp_error(&t, 3, 3, qw, want);
	expect(FROM_POD_LB, DEV_B, in, len, TC_ACT_REDIRECT, XCNI_FWD_REPLY, want, wlen);

	/* The first of IPv4 fragments: its CRC covers a length it does not tell.
	 * A new port cannot be given (dropped, no entry left); the same port can. */
	f = sctp_from_a(36422, "10.96.2.2", SC_DATA, 40);
	len = frame(&f, in);
	set_frag(in, 0x2000, 0x5c01);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_SHOT, XCNI_DROP_FRAGMENT, NULL, 0);
	ct_get(ip4(IP_A), vip, 36422, 3868, IPPROTO_SCTP, &found);
	assert_false(found);
	f = sctp_from_a(36422, "10.96.2.1", SC_DATA, 40);
	len = frame(&f, in);
	set_frag(in, 0x2000, 0x5c02);
	t = into(f, DEV_B);
	t.daddr = ip4(IP_B);
	wlen = frame(&t, want);
	set_frag(want, 0x2000, 0x5c02);
	expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_FWD_LOCAL, want, wlen);
}

static const struct CMUnitTest svc_sctp_tests[] = {
	cmocka_unit_test(lb_sctp),
	TWIN(svc_sctp_port),
	cmocka_unit_test(lb_sctp_port_icmp_frag),
};

const struct group svc_sctp_group = { "svc_sctp", TESTS(svc_sctp_tests), .prep = svc_both_state };
