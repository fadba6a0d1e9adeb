// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl's filter words and the parsers of their values (vocab.h): one
 * table, one meaning a word. "Either end" is the row's, event's or record's
 * source or destination (a map row about one address: that address).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/system/util.h"
#include "xcni_shared.h"
#include "lib/observe/reasons.h"
#include "lib/observe/vocab.h"

#define ALL (VOCAB_FLOWS | VOCAB_MONITOR | VOCAB_MAPS)
#define FL VOCAB_FLOWS
#define FM (VOCAB_FLOWS | VOCAB_MONITOR)

const struct vocab_word vocab_words[] = {
	/* Either end: every command that filters. */
	{ "pod", 0, "POD", ALL, "either end is POD (NAMESPACE/NAME, or its IP)" },
	{ "ip", 0, "IP", ALL, "either end is IP (flows: or in the prefix IP/LEN)" },
	{ "namespace", 'n', "NS", ALL, "either end is a pod of namespace NS" },
	{ "identity", 0, "ID", ALL, "either end has identity ID (a number or reserved:NAME)" },
	/* What happened: commands of events and records. */
	{ "verdict", 0, "V", FL | VOCAB_MONITOR,
	  "allowed, forwarded, denied (by a policy), audit, refused (flows: the "
	  "destination answered RST), no-backend (a Service without endpoints), "
	  "timeout (flows: nothing answered the SYN, no drop seen) or dropped (a named reason "
	  "no policy gave); Hubble's FORWARDED, DROPPED (any drop), AUDIT; the old allow, deny" },
	{ "reason", 0, "REASON", FL | VOCAB_MONITOR,
	  "dropped (or, monitor, forwarded) for REASON (xcnictl metrics --all lists them)" },
	{ "type", 0, "TYPE", VOCAB_MONITOR, "drop, verdict or trace events" },
	{ "label", 0, "SELECTOR", ALL, "either end's labels match SELECTOR (k=v,k!=v,k,!k)" },
	/* Flow records and monitor's events: a direction, ports, a Service; records only: a window. */
	{ "from", 0, "X", FM, "the source is X: pod:NS/NAME, ns:NS, label:SEL, ip:IP[/LEN], identity:ID" },
	{ "to", 0, "X", FM, "the destination is X (as --from)" },
	{ "from-pod", 0, "POD", FM, "the source's pod name begins so ([NS/]NAME; NS: default)" },
	{ "to-pod", 0, "POD", FM, "the destination's pod name begins so" },
	{ "from-ip", 0, "IP", FM, "the source is IP (or in IP/LEN)" },
	{ "to-ip", 0, "IP", FM, "the destination is IP (or in IP/LEN)" },
	{ "from-namespace", 0, "NS", FM, "the source is a pod of namespace NS" },
	{ "to-namespace", 0, "NS", FM, "the destination is a pod of namespace NS" },
	{ "from-label", 0, "SELECTOR", FM, "the source's labels match SELECTOR" },
	{ "to-label", 0, "SELECTOR", FM, "the destination's labels match SELECTOR" },
	{ "from-identity", 0, "ID", FM, "the source has identity ID" },
	{ "to-identity", 0, "ID", FM, "the destination has identity ID" },
	{ "port", 0, "N", FM, "either end's port" },
	{ "from-port", 0, "N", FM, "the source's port" },
	{ "to-port", 0, "N", FM, "the destination's port" },
	{ "protocol", 0, "P", FM, "tcp, udp, icmp, icmpv6, sctp or a number" },
	{ "service", 0, "NS/NAME[:PORT]", FM, "translated for that Service" },
	{ "since", 0, "T", FL, "seen since T (RFC 3339, or a duration before now)" },
	{ "until", 0, "T", FL, "seen until T" },
	{ "last", 0, "N", FL, "the last N that match" },
	{ "first", 0, "N", FL, "the first N that match" },
	{ "not", 0, NULL, FL, "the filter after it negated" },
	{}
};

#define VERR(...) (snprintf(err, errlen, __VA_ARGS__), -EINVAL)

int vocab_verdict(const char *s, int *v, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		int v;
	} vs[] = {
		{ "allowed", VOCAB_ALLOWED }, { "forwarded", VOCAB_FORWARDED },
		{ "denied", VOCAB_DENIED },   { "audit", VOCAB_AUDIT },
		{ "refused", VOCAB_REFUSED }, { "no-backend", VOCAB_NO_BACKEND },
		{ "timeout", VOCAB_TIMEOUT }, { "dropped", VOCAB_DROPPED },
		/* Hubble's (hubble observe --verdict) */
		{ "FORWARDED", VOCAB_PASSED }, { "DROPPED", VOCAB_DROPS },
		{ "AUDIT", VOCAB_AUDIT },
		/* the old spellings of monitor */
		{ "allow", VOCAB_ALLOWED },   { "deny", VOCAB_DENIED },
	};

	for (size_t i = 0; i < ARRAY_SIZE(vs); i++)
		if (!strcmp(s, vs[i].name)) {
			*v = vs[i].v;
			return 0;
		}
	return VERR("--verdict %s: not allowed, forwarded, denied, audit, refused, no-backend, timeout, "
		    "dropped (or "
		    "Hubble's FORWARDED, "
		    "DROPPED, AUDIT; the old allow, deny)", s);
}

int vocab_identity(const char *s, uint32_t *id, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		uint32_t id;
	} rs[] = {
		{ "reserved:host", XCNI_ID_HOST },
		{ "reserved:world", XCNI_ID_WORLD },
		{ "reserved:unmanaged", XCNI_ID_UNMANAGED },
		{ "reserved:remote-node", XCNI_ID_REMOTE_NODE },
	};
	unsigned long long n;
	char *end;

	for (size_t i = 0; i < ARRAY_SIZE(rs); i++)
		if (!strcmp(s, rs[i].name)) {
			*id = rs[i].id;
			return 0;
		}
	errno = 0;
	n = strtoull(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end || errno || n > UINT32_MAX)
		return VERR("--identity %s: not an identity (a number or reserved:host, "
			    "reserved:world, reserved:unmanaged, reserved:remote-node)", s);
	*id = (uint32_t)n;
	return 0;
}

int vocab_reason(const char *s, int *reason, char *err, size_t errlen)
{
	for (int r = XCNI_REASON_MAX; r >= XCNI_REASON_MIN; r--) {
		const struct xcni_reason_info *ri = xcni_reason_info(r);

		if (ri && !strcmp(ri->name, s)) {
			*reason = r;
			return 0;
		}
	}
	return VERR("--reason %s: no such reason (xcnictl metrics --all lists them)", s);
}

int vocab_namespace(const char *s, size_t len, char *err, size_t errlen)
{
	if (!*s || strchr(s, '/') || strlen(s) >= len)
		return VERR("--namespace %s: not a namespace name", s);
	return 0;
}

int vocab_pod(const char *s, char *err, size_t errlen)
{
	const char *slash = strchr(s, '/');
	unsigned char a[16];
	char pre[64];

	if (inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1)
		return 0;
	snprintf(pre, sizeof(pre), "%.*s", (int)strcspn(s, "/"), s);
	if (slash && (inet_pton(AF_INET, pre, a) == 1 || inet_pton(AF_INET6, pre, a) == 1))
		return VERR("--pod %s: a pod is NAMESPACE/NAME or its IP (an address, not a "
			    "prefix: --ip takes those)", s);
	if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/'))
		return VERR("--pod %s: a pod is NAMESPACE/NAME or its IP", s);
	return 0;
}
