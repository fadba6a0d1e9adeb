// SPDX-License-Identifier: Apache-2.0
#include <stddef.h>

#include "xcni_shared.h"
#include "lib/system/util.h"
#include "lib/observe/reasons.h"

#define R(code, n, d) [XCNI_REASON_IDX(code)] = { .name = n, .desc = d }

static const struct xcni_reason_info reasons[] = {
	R(XCNI_FWD_LOCAL, "fwd-local", "redirected to a pod on this node"),
	R(XCNI_FWD_STACK, "fwd-stack", "handed to the host stack (routing, TTL expiry)"),
	R(XCNI_FWD_REPLY, "fwd-reply", "reply of a tracked flow, handed on"),
	R(XCNI_PASS_ARP, "pass-arp", "ARP, or IPv6 neighbour discovery, from the endpoint's own address"),
	R(XCNI_DROP_NON_IP, "drop-non-ip", "neither IPv4, IPv6 nor ARP"),
	R(XCNI_DROP_SHORT, "drop-short", "truncated Ethernet, ARP, IPv4 or L4 header"),
	R(XCNI_DROP_BAD_IHL, "drop-bad-ihl", "IHL < 5, or tot_len shorter than the header or longer than the packet"),
	R(XCNI_DROP_FRAGMENT, "drop-fragment", "IPv4 fragment after the first, of no flow the first opened"),
	R(XCNI_DROP_SPOOF_IP, "drop-spoof-ip", "source IP (or ARP sender) is not the endpoint's"),
	R(XCNI_DROP_SPOOF_MAC, "drop-spoof-mac", "source MAC is not the endpoint's"),
	R(XCNI_DROP_NO_ENDPOINT, "drop-no-endpoint", "the device has no endpoint entry"),
	R(XCNI_DROP_UNKNOWN_DST, "drop-unknown-dst", "address in the node's pod CIDR with no endpoint"),
	R(XCNI_DROP_CT_INVALID, "drop-ct-invalid", "TCP segment or echo reply that neither opens nor continues a flow"),
	R(XCNI_DROP_REDIRECT, "drop-redirect", "the redirect helper failed"),
	R(XCNI_DROP_POLICY_EGRESS, "drop-policy-egress",
	  "the source pod is isolated for egress and no NetworkPolicy allows this"),
	R(XCNI_DROP_POLICY_INGRESS, "drop-policy-ingress",
	  "the destination pod is isolated for ingress and no NetworkPolicy allows this"),
	R(XCNI_FWD_ENCAP, "fwd-encap", "Geneve-encapsulated to the node hosting the destination"),
	R(XCNI_FWD_DECAP, "fwd-decap", "Geneve from a known node, decapsulated and delivered to a pod"),
	R(XCNI_FWD_DECAP_HOST, "fwd-decap-host",
	  "Geneve from a known node, decapsulated for this node's stack"),
	R(XCNI_PASS_UNDERLAY, "pass-underlay", "underlay traffic that is not xcni's Geneve"),
	R(XCNI_DROP_UNKNOWN_NODE, "drop-unknown-node", "Geneve from an address that is no known node"),
	R(XCNI_DROP_BAD_GENEVE, "drop-bad-geneve",
	  "Geneve with another version, protocol or VNI, or truncated"),
	R(XCNI_DROP_INNER_SPOOF, "drop-inner-spoof",
	  "inner source is not an address of the sending node"),
	R(XCNI_DROP_NO_TUNNEL, "drop-no-tunnel", "the destination pod's node is not (or no longer) known"),
	R(XCNI_DROP_GENEVE_INJECT, "drop-geneve-inject", "Geneve to a node from a pod, or Geneve inside Geneve"),
	R(XCNI_DROP_PREFILTER, "drop-prefilter", "source on the underlay's prefilter deny list"),
	R(XCNI_FWD_TOO_BIG, "fwd-too-big",
	  "too big to encapsulate: to the stack, which answers fragmentation-needed"),
	R(XCNI_DROP_ENCAP, "drop-encap", "making room for, or writing, the outer headers failed"),
	R(XCNI_DROP_NO_BACKEND, "drop-no-backend",
	  "a Service without backends: refused back to the client (TCP RST, ICMP port unreachable)"),
	R(XCNI_DROP_NO_LOCAL_BACKEND, "drop-no-local-backend",
	  "a Local traffic policy (external, or internal from a pod) and no backend on this "
	  "node, some elsewhere"),
	R(XCNI_DROP_NAT_NO_PORT, "drop-nat-no-port",
	  "NodePort to a remote backend: no free source port for its SNAT"),
	R(XCNI_DROP_EXTHDR, "drop-exthdr",
	  "IPv6 extension headers: more than the data plane walks, or cut short"),
	R(XCNI_DROP_TUNNEL_FAMILY, "drop-tunnel-family",
	  "the destination pod's node has no underlay address in a family this node has one in "
	  "(an IPv4-only and an IPv6-only node): give the node both (--node-ip twice)"),
	R(XCNI_DROP_TOO_BIG, "drop-too-big",
	  "from outside to a NodePort/externalIP whose backend is on another node: too big for "
	  "the underlay once encapsulated; the client was sent ICMP fragmentation-needed "
	  "(IPv4 with DF) or ICMPv6 Packet Too Big"),
	R(XCNI_DROP_BAD_ND, "drop-bad-nd",
	  "ND/MLD-typed ICMPv6 to a link-local or multicast address (or to a pod from a "
	  "link-local or unspecified source) with a hop limit no neighbour sends (ND: not 255; "
	  "MLD: not 1)"),
	R(XCNI_DROP_OUTSIDE_SPOOF, "drop-outside-spoof",
	  "from the underlay, outside Geneve: a client claiming a node, pod, gateway, link-local "
	  "or martian source"),
	R(XCNI_DROP_CLUSTERIP_OUTSIDE, "drop-clusterip-outside",
	  "a ClusterIP reached from outside the cluster (not served there)"),
	R(XCNI_DROP_GENEVE_SOCKET, "drop-geneve-socket",
	  "UDP to the Geneve port leaving the node from a socket (xcni's Geneve is built in BPF)"),
	R(XCNI_DROP_DSR_NOT_BACKEND, "drop-dsr-not-backend",
	  "a DSR option naming a frontend the inner destination is no backend of"),
	R(XCNI_DROP_POLICY_PENDING, "drop-policy-pending",
	  "the endpoint's policy is not programmed yet"),
	R(XCNI_DROP_POLICY_OVERFLOW, "drop-policy-overflow",
	  "the endpoint's policy did not fit the maps: closed until it does"),
	R(XCNI_DROP_POLICY_ADMIN, "drop-policy-admin",
	  "a ClusterNetworkPolicy of the Admin tier denies it"),
	R(XCNI_DROP_POLICY_BASELINE, "drop-policy-baseline",
	  "a ClusterNetworkPolicy of the Baseline tier denies it"),
	R(XCNI_DROP_ADDR_CONTESTED, "drop-addr-contested",
	  "another live pod claims the endpoint's address: closed until one of them is gone"),
	R(XCNI_DROP_SRC_FRONTEND, "drop-src-frontend",
	  "from the underlay, outside Geneve: a source that is a Service frontend (the Service "
	  "range, a frontend at its port, this node's NodePort): a forged Service reply"),
	R(XCNI_DROP_FRAG_SHARE, "drop-frag-share",
	  "a first fragment whose share of the fragment map (its endpoint's, the node's, or "
	  "its outside source's) already holds as many datagrams in flight as it may, or "
	  "whose outside source holds its part of that share"),
	R(XCNI_DROP_NAT_CLIENT, "drop-nat-client",
	  "from outside, NodePort to a remote backend: the client (an IPv4 address, an IPv6 "
	  "/64) has used its budget of new SNAT source ports on this node"),
	R(XCNI_DROP_TAIL_CALL, "drop-tail-call",
	  "a step that is a program of its own (a tail call) missing from its program array: "
	  "the array emptied, nothing pinned it"),
};

/* A reason added at the bottom of the enum without a name here fails the build. */
_Static_assert(ARRAY_SIZE(reasons) == XCNI_NR_REASONS,
	       "every enum xcni_reason needs a name in reasons[]");

const struct xcni_reason_info *xcni_reason_info(int reason)
{
	if (reason < XCNI_REASON_MIN || reason > XCNI_REASON_MAX)
		return NULL;
	return reasons[XCNI_REASON_IDX(reason)].name ? &reasons[XCNI_REASON_IDX(reason)] : NULL;
}

const char *xcni_dir_name(unsigned int dir)
{
	static const char *const names[XCNI_NR_DIRS] = {
		[XCNI_DIR_FROM_POD] = "from-pod",
		[XCNI_DIR_TO_POD] = "to-pod",
		[XCNI_DIR_FROM_OVERLAY] = "from-overlay",
		[XCNI_DIR_TO_OVERLAY] = "to-overlay",
	};

	return dir < XCNI_NR_DIRS ? names[dir] : NULL;
}
