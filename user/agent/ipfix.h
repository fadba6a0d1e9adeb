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
/* One record into the message being built; true: taken (it will be sent). */
bool ipfix_add(struct ipfix *x, const struct flow_rec *r, const struct flow_render_ctx *rc);
/* Sends the message being built, if any. */
void ipfix_flush(struct ipfix *x);
/* Every second: TCP's connection and queue. */
void ipfix_tick(struct ipfix *x);
const struct ipfix_stats *ipfix_stats(const struct ipfix *x);

#endif
