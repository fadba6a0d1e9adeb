/* SPDX-License-Identifier: Apache-2.0 */
/* The policy that denied a probe, from the lab agents' flow records. */
#ifndef XCNI_LAB_FATE_H
#define XCNI_LAB_FATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lab/state.h"

/*
 * A lab node's agent asked req on its flows socket: its answer (*ans, *alen
 * bytes, to free), 0, or -errno (flows off there, or the agent busy).
 */
int lab_node_flows(const struct lab_node *n, const char *req, long timeout_s, char **ans,
		   size_t *alen);
/*
 * What denied the probe that left from source port sport to port dport, in
 * words: "by POLICY rule N SIDE" (a tier's Deny) or "isolated by A, B (SIDE:
 * nothing allows)", as the first lab node's flow record that says denied
 * gives it, into buf (len bytes). 0, or -ENOENT (buf ""): no node's record
 * says (flows off, sport 0). Its near misses into nm (nmlen bytes; "" for none).
 */
int lab_fate_denied_by(struct lab *lab, uint16_t sport, uint16_t dport, char *buf, size_t len,
		       char *nm, size_t nmlen);
/*
 * The drops to port dport (protocol proto: "tcp", "udp") the lab nodes' flow
 * records name: fn per record of a policy drop (policy true) or a Service
 * without endpoints (false), with its source address (as inet_ntop writes
 * it; a remote pod's IPv6 record may not name the pod) and port.
 * Returns how many nodes answered (0: flows off, nothing said).
 */
size_t lab_fate_drops(struct lab *lab, uint16_t dport, const char *proto,
		      void (*fn)(void *arg, const char *saddr, uint16_t sport, bool policy), void *arg);

#endif
