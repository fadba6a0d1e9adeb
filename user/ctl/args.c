// SPDX-License-Identifier: Apache-2.0
/*
 * The parsers of xcnictl's arguments: addresses, numbers, PORT/PROTO,
 * Services and frontends, and the names they print (identities and reasons:
 * the vocabulary's, lib/observe/vocab.h). Nothing here touches a map:
 * tests/fuzz/fuzz_ctl_args.c builds this file on its own.
 */
#include <strings.h>

#include "ctl/ctl.h"

int parse_ip_any(const char *s, struct ctl_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->addr) == 1) {
		a->family = XCNI_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->addr) == 1) {
		a->family = XCNI_AF_INET6;
		return 0;
	}
	return -EINVAL;
}

int parse_uint(const char *s, unsigned long max, unsigned long *v)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end || errno || n > max)
		return -EINVAL;
	*v = n;
	return 0;
}

/* "80/TCP", "53/udp", "9/sctp", "icmp": what the first packet carries. */
int parse_port_proto(const char *s, __u8 *proto, __u16 *port)
{
	int err = explain_port_proto(s, proto, port);

	if (err)
		pr_err("PORT/PROTO \"%s\": " PORT_PROTO_WANT "\n", s);
	return err;
}

bool parse_svc_ref(const char *s, struct xcni_svcname *out)
{
	const char *slash;

	memset(out, 0, sizeof(*out));
	if (strncmp(s, "svc/", 4))
		return false;
	s += 4;
	slash = strchr(s, '/');
	if (!slash || strchr(slash + 1, '/') || (size_t)(slash - s) >= sizeof(out->ns) ||
	    strlen(slash + 1) >= sizeof(out->name))
		return true; /* ns or name left empty: malformed */
	snprintf(out->ns, sizeof(out->ns), "%.*s", (int)(slash - s), s);
	snprintf(out->name, sizeof(out->name), "%s", slash + 1);
	return true;
}

/*
 * ADDR:PORT/PROTO, ADDR an IPv4 address or [IPv6]: the frontend's key, its
 * scope left EXT. 0 or -EINVAL (said).
 */
int parse_frontend(const char *s, struct xcni_svc_key *k)
{
	static const __u8 protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP };
	const char *slash = strrchr(s, '/'), *colon;
	char addr[INET6_ADDRSTRLEN + 2], port[8];
	unsigned long v;
	size_t i;

	memset(k, 0, sizeof(*k));
	if (!slash)
		goto bad;
	for (i = 0; i < ARRAY_SIZE(protos) && strcasecmp(slash + 1, proto_name(protos[i])); i++)
		;
	if (i == ARRAY_SIZE(protos))
		goto bad;
	k->proto = protos[i];
	colon = memrchr(s, ':', (size_t)(slash - s));
	if (!colon || (size_t)(colon - s) >= sizeof(addr) || (size_t)(slash - colon - 1) >= sizeof(port))
		goto bad;
	snprintf(addr, sizeof(addr), "%.*s", (int)(colon - s), s);
	snprintf(port, sizeof(port), "%.*s", (int)(slash - colon - 1), colon + 1);
	if (parse_uint(port, 65535, &v))
		goto bad;
	k->port = htons((__u16)v);
	if (addr[0] == '[' && addr[strlen(addr) - 1] == ']') {
		addr[strlen(addr) - 1] = 0;
		if (inet_pton(AF_INET6, addr + 1, k->addr) != 1)
			goto bad;
		k->family = XCNI_AF_INET6;
	} else {
		if (inet_pton(AF_INET, addr, k->addr) != 1)
			goto bad;
		k->family = XCNI_AF_INET;
	}
	return 0;
bad:
	return pr_err_ret(-EINVAL, "FRONTEND \"%s\": expected ADDRESS:PORT/PROTO (an IPv4 address "
			  "or [an IPv6 one], PORT 0 to 65535, PROTO tcp, udp or sctp)\n", s);
}

/* svc/NS/NAME: 0, or -EINVAL (said). */
static int check_svc_ref(const char *s, struct xcni_svcname *n)
{
	if (n->ns[0] && n->name[0])
		return 0;
	return pr_err_ret(-EINVAL, "SERVICE \"%s\": expected svc/NAMESPACE/NAME (a namespace of at "
			  "most %zu characters, a name of at most %zu)\n", s, sizeof(n->ns) - 1,
			  sizeof(n->name) - 1);
}

/* A Service by name or a frontend: svc/NS/NAME or ADDR:PORT/PROTO. */
int parse_service_arg(const char *s, struct xcni_svcname *n, struct xcni_svc_key *k)
{
	if (parse_svc_ref(s, n))
		return check_svc_ref(s, n);
	return parse_frontend(s, k);
}
