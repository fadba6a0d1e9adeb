/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The programs' settings: every .rodata variable any program reads, written
 * by xcnid before load (user/agent/settings.c: a row each, by these names,
 * into the objects the row names) and frozen with the object. Declared once, here: every
 * header that reads one includes this, so no header depends on where a
 * program declares its settings. A program holds all of them in its .rodata
 * (each object is compiled alone); those it never reads stay 0 and cost
 * nothing. Network byte order unless said.
 */
#ifndef XCNI_CONFIG_H
#define XCNI_CONFIG_H

#include <linux/types.h>

/* This node's IPv4 pod CIDR and the pods' gateway (from_pod). */
const volatile __u32 pod_cidr = 0;

const volatile __u32 pod_cidr_mask = 0;
const volatile __u32 gateway_ip = 0;
/* The Service (ClusterIP) range: 0/0 when the node has none. */
const volatile __u32 svc_cidr = 0;

/* The IPv6 Service range, network order, as 4 words and their masks: all 0 when none. */
const volatile __u32 svc_cidr6[4] = {};

const volatile __u32 svc_cidr_mask = 0;

const volatile __u32 svc_mask6[4] = {};

/* The overlay: all 0 when the node has none. */
const volatile __u32 node_ip = 0;

/* This node's underlay IPv6, network order (all 0: the underlay is IPv4). */
const volatile __u32 node_ip6[4] = {};

const volatile __u32 underlay_ifindex = 0;
/* The underlay prefilter runs in from_overlay (tc) rather than at XDP
 * (xcnid --xdp-mode tc; lib/prefilter.h). */
const volatile __u32 tc_prefilter = 0;
const volatile __u32 vni = 0;

/* Services in BPF (kube-proxy replacement): 0 leaves Services to kube-proxy. */
const volatile __u32 lb_enabled = 0;
/* The source a pod reaching itself through a Service sees (hairpin). */
const volatile __u32 lb_loopback_ip = 0;
/* --node-port-mode dsr: a remote backend answers the client itself. */
const volatile __u32 lb_dsr = 0;
/* --external-clusterip: ClusterIPs served to clients outside the cluster too. */
const volatile __u32 external_clusterip = 0;
/* --nodeport-acceleration native|generic: xdp_underlay translates NodePort,
 * externalIP and load-balancer traffic from outside itself (nodeport_xdp.h). */
const volatile __u32 np_accel = 0;
/* --overlay-decap xdp: the cookie xdp_underlay writes in front of Geneve it
 * decapsulated (struct xcni_decap_meta); from_overlay takes a packet with
 * that record as decapsulated. All zero: off, data_meta never read. */
const volatile __u32 decap_cookie[2] = {};
/* --nodeport-acceleration: the key xdp_underlay writes in the record it hands
 * tc for a local backend's flow (struct xcni_np_meta), random per agent
 * (settings.c), so that metadata another XDP program wrote cannot pass for
 * it. 0: no record written, data_meta never read for it. */
const volatile __u32 np_meta_key = 0;

/* The node's secret for the outside fragment shares (xcni_frag_outside_share,
 * lib/frag.h): random per agent start (settings.c), so that no sender can
 * pick sources of a victim's share (docs/decisions/fragment-shares.md). Host
 * order. */
const volatile __u32 frag_key[2] = {};

/* Egress by DNS name (bpf/lib/dns.h; xcnid --fqdn-policy writes from_pod's,
 * to_pod's and from_overlay's): 0 leaves the answers' path as it was; the hold of a learned address, seconds (0:
 * XCNI_FQDN_TTL_MIN, XCNI_FQDN_TTL_MAX). */
const volatile __u32 fqdn_enabled = 0;
const volatile __u32 fqdn_ttl_min = 0;
const volatile __u32 fqdn_ttl_max = 0;

/* An outside client's budget of new NodePort SNAT tuples (xcni_snat_cl,
 * lib/nodeport_plan.h; xcnid --snat-client-burst, --snat-client-rate): the
 * bucket's tokens, and the nanoseconds one takes to come back. 0:
 * XCNI_SNAT_CL_BURST, one every 1/XCNI_SNAT_CL_RATE s. Host order. */
const volatile __u32 snat_cl_burst = 0;
const volatile __u32 snat_cl_tok_ns = 0;
/* ... and the tuples it may hold (xcni_snat_cl's held; --snat-client-max; 0:
 * XCNI_SNAT_CL_MAX). */
const volatile __u32 snat_cl_max = 0;

#endif
