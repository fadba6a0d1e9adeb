// SPDX-License-Identifier: Apache-2.0
/*
 * A ClusterIP without backends, both families (svc_lib.c's tables; prep
 * svc_both_state): refused as kube-proxy's REJECT does, the answer built by
 * the program and sent back into the client: TCP a RST from the frontend,
 * UDP and SCTP an ICMP (ICMPv6) port unreachable from the frontend quoting
 * the packet; no conntrack entry left behind, the drop counted and its
 * event naming the Service.
 */
#include <arpa/inet.h>
#include <string.h>
#include <linux/pkt_cls.h>

#include "svc.h"

/* TCP: a SYN gets a RST|ACK, a segment with ACK (its backend went away
 * mid-flow) a RST with the ACK as its sequence. */
static void svc_reject_tcp(void **state)
{
	const struct fam *fa = *state;
	struct pk p = pk_from(DEV_A, fa->a, 40700, fa->vip3, 80, IPPROTO_TCP, TH_SYN);
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	size_t len = pk_frame(&p, in);
	int found;

	fam_expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_DROP_NO_BACKEND, want,
		   rst_answer(in, want));
	/* The refusal names the Service it was for, and no backend. */
	ev_names(fa->vip3, fa->svc + 3, 0);
	pk_ct(fa->a, 40700, fa->vip3, 80, IPPROTO_TCP, &found);
	assert_false(found);

	p.flags = TH_ACK;
	p.payload = 10;
	len = pk_frame(&p, in);
	fam_expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_DROP_NO_BACKEND, want,
		   rst_answer(in, want));
}

/* UDP: ICMP (ICMPv6) port unreachable from the frontend. */
static void svc_reject_udp(void **state)
{
	const struct fam *fa = *state;
	struct pk p = pk_from(DEV_A, fa->a, 40701, fa->vip3, 53, IPPROTO_UDP, 0);
	uint8_t in[FRAME_MAX], want[FRAME_MAX];
	size_t len;
	int found;

	p.payload = fa->v6 ? 12 : 5;
	len = pk_frame(&p, in);
	fam_expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_DROP_NO_BACKEND, want,
		   unreach_answer(in, want));
	ev_names(fa->vip3, fa->svc + 4, 0);
	pk_ct(fa->a, 40701, fa->vip3, 53, IPPROTO_UDP, &found);
	assert_false(found);
}

/* SCTP: an INIT gets ICMP (ICMPv6) port unreachable (kube-proxy's REJECT). */
static void svc_reject_sctp(void **state)
{
	const struct fam *fa = *state;
	uint8_t in[SCTP6_MAX], want[FRAME_MAX];
	size_t len;
	int found;

	if (fa->v6) {
		struct g6 g = from6(DEV_A, fa->a, 36430, fa->sctp_none, 3868, IPPROTO_SCTP, 0);

		len = sframe6(&g, SC6_INIT, 16, 0, 0, in);
	} else {
		struct fr f = from_dev(DEV_A, fa->a, 36430, fa->sctp_none, 3868, IPPROTO_SCTP, SC_INIT);

		f.payload = 16;
		len = frame(&f, in);
	}
	fam_expect(FROM_POD_LB, DEV_A, in, len, TC_ACT_REDIRECT, XCNI_DROP_NO_BACKEND, want,
		   unreach_answer(in, want));
	ev_names(fa->sctp_none, fa->sctp_none_id, 0);
	pk_ct(fa->a, 36430, fa->sctp_none, 3868, IPPROTO_SCTP, &found);
	assert_false(found);
}

static const struct CMUnitTest svc_reject_tests[] = {
	TWIN(svc_reject_tcp),
	TWIN(svc_reject_udp),
	TWIN(svc_reject_sctp),
};

const struct group svc_reject_group = { "svc_reject", TESTS(svc_reject_tests),
					.prep = svc_both_state };
