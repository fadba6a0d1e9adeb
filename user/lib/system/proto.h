/* SPDX-License-Identifier: Apache-2.0 */
/* IP protocol numbers by name, in one table for the CLI, the lab and the Service builder. */
#ifndef XCNI_PROTO_H
#define XCNI_PROTO_H

#include <stdint.h>

/* "tcp", "udp", "sctp", "icmp", "icmpv6"; NULL for any other number. */
const char *proto_name(uint8_t proto);
/* Kubernetes' spelling, as a Service or EndpointSlice port writes it: "TCP", "UDP",
 * "SCTP"; NULL for any other number (Kubernetes has no name for it). */
const char *proto_k8s_name(uint8_t proto);
/* As flow records write it: "TCP", "UDP", "SCTP", "ICMP", "ICMPv6"; NULL for any other. */
const char *proto_label(uint8_t proto);

#endif
