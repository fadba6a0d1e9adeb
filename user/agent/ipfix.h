/* SPDX-License-Identifier: Apache-2.0 */
/*
 * IPFIX (RFC 7011) export of flow records (xcnid --flows --ipfix URL), to a
 * collector over UDP or TCP. libfixbuf builds the messages (templates, data
 * sets, the transcoding of each record) into a buffer of xcni's; the socket
 * is xcni's own and never blocks: UDP sends or drops (counted); TCP connects
 * without waiting, queues at most IPFIX_TCP_QUEUE_MAX bytes for a slow
 * collector, and while it cannot take more (or is not connected) records
 * stay pending and go later. docs/ipfix.md: the templates and xcni's
 * enterprise-specific information elements.
 */
#ifndef XCNID_IPFIX_H
#define XCNID_IPFIX_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/observe/flows.h"

/* RFC 5612's enterprise number for documentation: xcni has none registered. */
#define XCNI_IPFIX_PEN 32473
#define IPFIX_TCP_QUEUE_MAX (1u << 20)
#define IPFIX_TCP_RETRY_S 5

struct ipfix;

struct ipfix_stats {
	uint64_t records; /* data records handed to a message */
	uint64_t messages, bytes; /* messages sent (UDP) or queued (TCP), their bytes */
	uint64_t send_errors; /* messages UDP could not send, TCP queues dropped */
	uint64_t connects; /* TCP connections made */
};

/* "udp://HOST:PORT" or "tcp://HOST:PORT" (HOST: a name, an address, [IPv6]).
 * 0 or -EINVAL with err saying what is wrong. */
int ipfix_check_url(const char *url, char *err, size_t errlen);
/* Resolves the collector and opens its socket (TCP: starts connecting). 0 or -errno. */
int ipfix_open(const char *url, struct ipfix **out);
void ipfix_free(struct ipfix *x);
/*
 * Whether a record handed now would go out (UDP: always; TCP: connected and
 * the queue has room). Records not taken stay pending in the caller.
 */
bool ipfix_ready(struct ipfix *x);
/* flowEndReason (IE 136, IANA's registry): why a record goes now. */
enum ipfix_end_reason {
	IPFIX_END_IDLE = 1, /* no packet for the idle timeout (conntrack's lifetime ran out) */
	IPFIX_END_ACTIVE = 2, /* still going: the active timeout's report */
	IPFIX_END_OF_FLOW = 3, /* TCP FIN or RST seen and its entry gone */
	IPFIX_END_FORCED = 4, /* xcnid stops */
	IPFIX_END_LACK_OF_RESOURCES = 5, /* pushed out of the full window */
};
/* forwardingStatus (IE 89, RFC 7270) values xcni sends. */
#define IPFIX_FWD_FORWARDED 64 /* forwarded, reason unknown */
#define IPFIX_FWD_DROP_UNKNOWN 128
#define IPFIX_FWD_DROP_ACL_DENY 129 /* a policy (or a deny list) */
#define IPFIX_FWD_DROP_UNROUTABLE 131 /* no endpoint, tunnel or backend */
#define IPFIX_FWD_DROP_FRAG_DF 133 /* too big to encapsulate */
#define IPFIX_FWD_DROP_BAD_HDR_LEN 136 /* a header cut short or too long */
#define IPFIX_FWD_DROP_RPF 140 /* a spoofed source */
uint8_t ipfix_fwd_status(const struct flow_rec *r);
/* Is r this node's to export (one exporting point per connection, ipfix.c)? */
bool ipfix_ours(const struct flow_rec *r, bool all);
/*
 * One record into the message being built; true: taken (it will be sent).
 * Its delta counts are from r's ipfix_pkts/ipfix_bytes (the totals of its
 * previous export), which the caller moves on when it was taken.
 */
bool ipfix_add(struct ipfix *x, const struct flow_rec *r, const struct flow_render_ctx *rc,
	       uint8_t end_reason);
/* Sends the message being built, if any. */
void ipfix_flush(struct ipfix *x);
/* Every second: TCP's connection and queue. */
void ipfix_tick(struct ipfix *x);
const struct ipfix_stats *ipfix_stats(const struct ipfix *x);

#endif
