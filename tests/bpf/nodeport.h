/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the NodePort files share: tests/bpf/nodeport.c (local and remote
 * backends, externalIPs, ETP Local, SCTP, both underlays), nodeport_dsr.c
 * (DSR), nodeport_ul46.c (IPv4 NodePorts over the IPv6 underlay, SNAT and
 * DSR), nodeport_icmp.c (ICMP errors about NodePort flows). Both families:
 * lb.h's IPv4 frame builder, lb6.h's IPv6 one.
 */
#ifndef XCNI_TESTS_BPF_NODEPORT_H
#define XCNI_TESTS_BPF_NODEPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lb.h"
#include "lb6.h"

#define CLIENT "203.0.113.9" /* outside the cluster: no ipcache entry (world) */
#define CLIENT2 "203.0.113.10"
#define CLIENT3 "203.0.113.11" /* a spoofed source never confirmed */
#define B6 "fd00:99::b" /* parse.c's pod B (v6_setup) */
#define R6N "fd00:98::2" /* a pod of n2 (np6_setup) */
/* The IPv6 underlay (nodeport.c's lb6u_setup, nodeport_ul46.c's lb46u_setup). */
#define NV "fc00:77::2" /* node nv, behind it */
#define RV6 "fd00:95::2" /* a pod of nv */
#define ID_RV 0x3100 /* RV6's identity */

/* TCP from outside, on the underlay (the router's MAC -> the node's), to NODE_IP:dp. */
struct fr from_outside(const char *src, uint16_t sp, uint16_t dp, uint8_t flags);
/* nodeport.c: f (from outside, or a pod's) as the node that took it sends it
 * on to be:bport, one hop less: DNAT only (sp 0: the client's address and
 * port kept) or SNATed to NODE_IP:sp; the inner frame of the Geneve packet
 * into inner (its length returned), its tuple (what the outer source port
 * hashes) into *tuple when given. lb6.h's np6_snat_inner is IPv6's. */
size_t np4_inner(const struct fr *f, uint16_t sp, const char *be, uint16_t bport, uint8_t *inner,
		 struct xcni_ct_key *tuple);
/* The TCP flow's conntrack entry (s:sp -> d:dp), which must be there with flags. */
struct xcni_ct_entry flow_entry4(uint32_t s, uint32_t d, uint16_t sp, uint16_t dp, uint8_t flags);
struct xcni_ct_entry flow_entry6(const char *s, uint16_t sp, const char *d, uint16_t dp,
				 uint8_t flags);
/* np_mtu.c: what tc answers a NodePort packet (in, the client's) too big for
 * the encapsulation: ICMP fragmentation needed with next-hop MTU mtu, from
 * the address in was sent to; ICMPv6 Packet Too Big from fe to client. */
size_t np_frag_needed_want(const uint8_t *in, uint16_t mtu, uint8_t *want);
size_t np_ptb_want(const uint8_t *in, const char *fe, const char *client, uint32_t mtu,
		   uint8_t *want);
/*
 * nodeport_dsr.c: Geneve pkt (len bytes, no options; the outer header IPv6
 * when ip6, else IPv4) with the DSR option for [fe]:fport/proto (RFC 8926
 * 3.5: class 0xfff0, type 0x81; family XCNI_AF_INET: fe IPv4, 0: IPv6) when
 * fe is given: 24 bytes after the Geneve header, whose option length
 * becomes 6 words and its C bit set; the outer lengths grow by them (IPv4's
 * checksum computed again). The new length.
 */
size_t with_dsr_opt(uint8_t *pkt, size_t len, bool ip6, const char *fe, uint16_t fport,
		    uint8_t proto, uint8_t family);
/* nodeport_dsr.c: B's answer B:bport -> client:cport (TCP flags; UDP with
 * 12 bytes) through from_pod, of a DSR flow another node took at its
 * frontend fe:fport: from the frontend, out of the underlay, IPv6
 * (b_answers, B6) or IPv4 (b_answers4, IP_B). */
void b_answers(const char *client, uint16_t cport, uint16_t bport, uint8_t proto, uint8_t flags,
	       const char *fe, uint16_t fport);
void b_answers4(const char *client, uint16_t cport, uint16_t bport, uint8_t proto, uint8_t flags,
		const char *fe, uint16_t fport);
/* nodeport.c: the backend be's ICMP fragmentation needed (3/4), from its node
 * in Geneve, about the SNATed NodePort flow CLIENT:cport -> NODE_IP:fport
 * (NODE_IP:cport -> be:80 behind it, one hop less): the error be -> NODE_IP
 * into inner (its length returned), and what the client must get into
 * want (*wlen): the error from NODE_IP quoting what it sent. */
size_t np4_frag_err(const char *be, uint16_t cport, uint16_t fport, uint8_t *inner, uint8_t *want,
		    size_t *wlen);
/* np_mtu.c: in (len bytes, up to 2048) through tc program fd on the
 * underlay device (after the XDP differential's run of it, npx_before_fd,
 * with xdp_diff): verdict ret, counted once under reason (from-overlay);
 * its output in out (2048 bytes), its length. */
size_t np_run_big(int fd, const uint8_t *in, size_t len, int ret, int reason, uint8_t *out,
		  bool xdp_diff);
#define NM4 "192.168.79.5" /* node nm's IPv4 InternalIP (nodeport_ul46.c, decap_xdp.c) */
#define NM6 "fc00:77::5" /* its IPv6 InternalIP */
#define DSR_FPORT 30189 /* nm's NodePorts (dsr_fam_begin) */

/*
 * nodeport_ul46.c, a DSR flow whose frontend's node changes --tunnel-family
 * (there, and decap_xdp.c's XDP rows): dual_node writes node name of both
 * families as xcnid does on a node of both: in xcni_tunnel at a4 and
 * xcni_tunnel6 at a6 (counters zero), its InternalIPs in the ipcache
 * (remote node, both endpoints); with fport, its NodePorts a4:fport/TCP
 * (index id) -> B:8080 and [a6]:fport/TCP (id + 1) -> B6:8080. dual_unnode
 * takes the node away (its frontends stay).
 */
void dual_node(const char *name, const char *a4, const char *a6, uint16_t fport, uint32_t id);
void dual_unnode(const char *a4, const char *a6);
/*
 * The four ways round (lb46u_dsr_family_change, dxn_dsr_family): IPv4 or
 * IPv6 inside (to B or B6); nm's InternalIP that sends the SYN with the
 * option (first), the other one that sends the rest (then); fe, nm's
 * frontend of the inner family (at DSR_FPORT); other, nz (another node of
 * both families) at then's family. dsr_fam_begin writes nm (its NodePorts:
 * index id for IPv4, id + 1 for IPv6) and nz (dual_node); dsr_fam_end takes
 * both away.
 */
struct dsr_fam {
	bool inner6;
	const char *first, *then, *fe, *other;
};
extern const struct dsr_fam dsr_fams[4];
void dsr_fam_begin(uint32_t id);
void dsr_fam_end(void);
/* The client's TCP packet (flags) to B:8080, or B6:8080 (inner6), as the
 * frontend's node put it in Geneve (one hop less), or (at_b) as this node
 * delivers it into B. Its length. */
size_t dsr_inner(const char *client, uint16_t cport, bool inner6, uint8_t flags, bool at_b,
		 uint8_t *out);
/* That packet in node's Geneve to this node: over the IPv6 underlay to NODE6
 * when node is an IPv6 address, else over the IPv4 one to NODE_IP; with the
 * DSR option for fe:fport (its family fe's) when fe is given. Its length. */
size_t dsr_geneve(const char *node, const char *client, uint16_t cport, bool inner6,
		  uint8_t flags, const char *fe, uint16_t fport, uint8_t *out);
/* The TCP flow client:cport -> B:8080 (B6: inner6)'s conntrack entry,
 * which must be there as DSR opens it (NodePort and DSR). */
struct xcni_ct_entry dsr_flow(const char *client, uint16_t cport, bool inner6);
/* B's SYN-ACK to that flow through from_pod, from the frontend fe:fport
 * (b_answers or b_answers4). */
void dsr_b_synack(const char *client, uint16_t cport, bool inner6, const char *fe, uint16_t fport);
/* The packets sent towards node over the IPv6 underlay (xcni_tunstat6, all CPUs). */
uint64_t tx_to(const char *node);

/* nodeport.c: what from_overlay sends for f (in: its frame) to R:80, SNATed to
 * source port sp (want: its bytes); its length. */
size_t nodeport_remote_want(const struct fr *f, const uint8_t *in, uint16_t sp, uint8_t *want);
/* nodeport.c: R's answer to f through n2's Geneve to NODE_IP:sp, leaving as the
 * frontend's (remote4_reply: sp the client's own port). */
void remote4_reply_sp(const struct fr *f, uint16_t bport, uint16_t sp, uint8_t flags,
		      uint16_t payload);
void remote4_reply(const struct fr *f, uint16_t bport, uint8_t flags, uint16_t payload);
/* nodeport_snat.c: the client at a (fam's bytes) known in xcni_snat_known (fd)?
 * Holding held tuples in xcni_snat_cl (fd)? */
int cl_known(int fd, int fam, const void *a);
void cl_hold(int fd, int fam, const void *a, uint32_t held);
/* nodeport_snat.c's rows of the group nodeport (np_state): IPv4's SNAT. */
void lb_nodeport_snat_reuse(void **state);
void lb_nodeport_snat_budget(void **state);
void lb_nodeport_snat_held(void **state);
void lb_nodeport_snat_spoofed(void **state);
void lb_nodeport_snat_unanswered(void **state);
void lb_nodeport_snat_blind_ack(void **state);
void lb_nodeport_snat_unconfirmed(void **state);
void lb_nodeport_snat_spare(void **state);
void lb_nodeport_snat_bare_ack(void **state);
void lb_nodeport_snat_flood(void **state);
void lb_nodeport_snat_not_frontend(void **state);

#endif
