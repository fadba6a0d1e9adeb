// SPDX-License-Identifier: Apache-2.0
#include <netinet/in.h>
#include <stddef.h>

#include "lib/system/proto.h"

static const struct {
	uint8_t proto;
	const char *name;
	const char *k8s; /* NULL: not a Kubernetes port protocol */
	const char *label; /* as flow records name it */
} protos[] = {
	{ IPPROTO_TCP, "tcp", "TCP", "TCP" },	 { IPPROTO_UDP, "udp", "UDP", "UDP" },
	{ IPPROTO_SCTP, "sctp", "SCTP", "SCTP" }, { IPPROTO_ICMP, "icmp", NULL, "ICMP" },
	{ IPPROTO_ICMPV6, "icmpv6", NULL, "ICMPv6" },
};

const char *proto_name(uint8_t proto)
{
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].proto == proto)
			return protos[i].name;
	return NULL;
}

const char *proto_k8s_name(uint8_t proto)
{
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].proto == proto)
			return protos[i].k8s;
	return NULL;
}

const char *proto_label(uint8_t proto)
{
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].proto == proto)
			return protos[i].label;
	return NULL;
}
