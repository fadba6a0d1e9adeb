// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl's argument parsers (user/ctl/args.c, built in here on its own):
 * addresses of either family (--ip), numbers, PORT/PROTO, svc/NS/NAME and
 * ADDR:PORT/PROTO frontends; the identities and reason names it takes through
 * the vocabulary (lib/observe/vocab.c); and the prefilter's prefixes of
 * either family (lib/prefilter.c). Whatever one accepts must
 * print back to what it read: an accepted argument the CLI would show
 * differently is a finding.
 */
#include <arpa/inet.h>

#include "fuzz.h"
#include "ctl/args.c"
#include "lib/observe/vocab.h"
#include "lib/policy/prefilter.h"

FUZZ_LOG_ALL()

/* What a frontend key reads as, printed the way the CLI takes it. */
static void frontend_str(const struct xcni_svc_key *k, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	int af = k->family == XCNI_AF_INET6 ? AF_INET6 : AF_INET;

	FUZZ_ASSERT(inet_ntop(af, k->addr, a, sizeof(a)));
	snprintf(buf, len, af == AF_INET6 ? "[%s]:%u/%s" : "%s:%u/%s", a, ntohs(k->port),
		 proto_name(k->proto));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size), buf[256];
	struct xcni_svc_key k, k2;
	struct xcni_svcname n, n2;
	struct ctl_addr a, a2;
	struct xcni_prefix pf, pf2;
	char why[192];
	unsigned long v;
	__u32 ip, id;
	__u16 port, port2;
	__u8 proto, proto2;
	int r;

	if (!s)
		return 0;
	if (!parse_ip_any(s, &a)) {
		static const __u8 zero[12];

		/* IPv4 exactly where inet_pton takes it; its unused bytes zero; printed, the same. */
		FUZZ_ASSERT((a.family == XCNI_AF_INET) == (inet_pton(AF_INET, s, &ip) == 1));
		FUZZ_ASSERT(a.family == XCNI_AF_INET6 || !memcmp(a.addr + 4, zero, sizeof(zero)));
		inet_ntop(a.family == XCNI_AF_INET6 ? AF_INET6 : AF_INET, a.addr, buf, sizeof(buf));
		FUZZ_ASSERT(!parse_ip_any(buf, &a2) && !memcmp(&a, &a2, sizeof(a)));
	}
	if (!xcni_prefilter_parse(s, &pf, why, sizeof(why))) {
		FUZZ_ASSERT(pf.family == 4 || pf.family == 6);
		FUZZ_ASSERT(pf.len >= 1 && pf.len <= (pf.family == 6 ? 128u : 32u));
		/* What list prints is what add and del take back, host bits and all. */
		xcni_prefix_str(&pf, buf, sizeof(buf));
		FUZZ_ASSERT(!xcni_prefilter_parse(buf, &pf2, why, sizeof(why)) &&
			    !memcmp(&pf, &pf2, sizeof(pf)));
	}
	if (!parse_uint(s, 65535, &v)) {
		FUZZ_ASSERT(v <= 65535);
		snprintf(buf, sizeof(buf), "%lu", v);
		FUZZ_ASSERT(!parse_uint(buf, 65535, &v) && (unsigned long)atol(buf) == v);
	}
	if (!vocab_identity(s, &id, why, sizeof(why)) && s[0] == 'r')
		FUZZ_ASSERT(xcni_reserved_identity(id) && !strcmp(xcni_reserved_identity(id), s));
	if (!vocab_reason(s, &r, why, sizeof(why)))
		FUZZ_ASSERT(xcni_reason_info(r) && !strcmp(xcni_reason_info(r)->name, s));
	if (!parse_port_proto(s, &proto, &port)) {
		FUZZ_ASSERT(proto_name(proto));
		if (proto == IPPROTO_ICMP) {
			FUZZ_ASSERT(port == 0);
			snprintf(buf, sizeof(buf), "icmp");
		} else {
			FUZZ_ASSERT(port >= 1);
			snprintf(buf, sizeof(buf), "%u/%s", port, proto_name(proto));
		}
		FUZZ_ASSERT(!parse_port_proto(buf, &proto2, &port2) && proto == proto2 &&
			    port == port2);
	}
	if (!parse_service_arg(s, &n, &k)) {
		if (parse_svc_ref(s, &n2)) {
			/* Both names there, each within its field. */
			FUZZ_ASSERT(n.ns[0] && n.name[0]);
			FUZZ_ASSERT(memchr(n.ns, 0, sizeof(n.ns)) && memchr(n.name, 0, sizeof(n.name)));
			snprintf(buf, sizeof(buf), "svc/%s/%s", n.ns, n.name);
			FUZZ_ASSERT(!strcmp(buf, s));
		} else {
			FUZZ_ASSERT(k.family == XCNI_AF_INET || k.family == XCNI_AF_INET6);
			FUZZ_ASSERT(k.scope == XCNI_SCOPE_EXT);
			frontend_str(&k, buf, sizeof(buf));
			FUZZ_ASSERT(!parse_frontend(buf, &k2) && !memcmp(&k, &k2, sizeof(k)));
		}
	}
	free(s);
	return 0;
}
