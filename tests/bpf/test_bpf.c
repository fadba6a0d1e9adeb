// SPDX-License-Identifier: Apache-2.0
/*
 * The packet tests: the programs through BPF_PROG_TEST_RUN, one table row
 * per packet (input frame, verdict, the one (reason, direction) counter it
 * bumps, output bytes, the drop event, the conntrack entry), by group, one
 * group per concern (the list below). Needs root.
 *
 *   private netns            pods (xcni_endpoints / xcni_ifindex)
 *   xta <-> xta-p            A 10.99.5.10  ep 101
 *   xtb <-> xtb-p            B 10.99.5.11  ep 102
 *   xtc <-> xtc-p            C 10.99.5.12  ep 103
 *   xtx <-> xtx-p            no endpoint
 *   xtu <-> xtu-p            the underlay (from_overlay, xdp_underlay; MTU 1500)
 *   node: pod CIDR 10.99.5.0/24, gateway 10.99.5.1, underlay 192.168.77.1, VNI 42;
 *   remote node n2 192.168.77.2 hosts pod R 10.99.6.5;
 *   maps pinned under a private /sys/fs/bpf/xcni-test-* dir
 *
 * `test_bpf` runs every group, `test_bpf GROUP...` those, `test_bpf --list`
 * names them; each group starts on the maps as loading left them (harness.c).
 * `test_bpf --bench` times from_pod's forwarding path instead.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"

/*
 * The IPv4 node the rows of conntrack.c to events.c leave, minus their
 * flows: the identities, node n2 with R, B isolated for egress (10/0,
 * version 0), A's policy entries in both versions but A not isolated, the
 * prefilter's deny entry. The groups written on top of them start from it.
 */
int node4_state(void)
{
	return policy4_state() ?: overlay_setup() ?: policy_a_from_r() ?: policy_a_off() ?:
	       prefilter_add();
}

/* The groups in the order `test_bpf` runs them; each starts on fresh maps.
 * A new file of tests adds one line at the bottom. */
#define GROUPS(G)                                                                                  \
	G(conntrack) /* flows, start to end, both families */                                             \
	G(parse) /* spoofed, unknown, malformed; IPv6 extension headers */                                \
	G(neigh) /* ARP, IPv6 neighbour discovery */                                                      \
	G(frag) /* fragments, both families */                                                            \
	G(policy) /* NetworkPolicy, both families */                                                      \
	G(encap) /* the overlay over the IPv4 underlay, both inner families */                            \
	G(prefilter) /* XDP on the underlay, both families */                                             \
	G(events) /* traces, the event budget */                                                          \
	G(svc_xlate) /* ClusterIP translation, both families */                                           \
	G(svc_reject) /* ClusterIP without backends, both families */                                     \
	G(svc_backend) /* backend choice, both families */                                                \
	G(svc_sctp) /* SCTP to a ClusterIP, both families */                                              \
	G(svc_policy) /* policy on translated flows */                                                    \
	G(hostile) /* the hostile-packet matrix */                                                        \
	G(underlay6) /* the overlay over the IPv6 underlay */                                             \
	G(nodeport) /* NodePorts and externalIPs, both families and underlays */                          \
	G(nodeport_dsr) /* NodePort DSR, both families */                                                 \
	G(nodeport_icmp) /* ICMP errors about NodePort and Service flows */                               \
	G(np_mtu) /* NodePorts' path MTU */                                                               \
	G(attack_nd) /* ND/MLD beyond the link, outside hairpin */                                        \
	G(attack_ul) /* the underlay attacker */                                                          \
	G(attack_geneve) /* Geneve from a node's process */                                               \
	G(attack_ct) /* conntrack and fragments attacked, both families */                                \
	G(svc_flows) /* kube-proxy's flows, the maps from Service YAML by the compiler */                 \
	G(cnp) /* tiered verdict entries and audit */                                                     \
	G(frontsrc) /* a Service frontend as a source from the underlay, both families */                \
	G(fragshare) /* fragments per endpoint, both families */                                      \
	G(fragsrc_np) /* fragments per outside source to NodePorts, both families */                  \
	G(xdp_np) /* the NodePort fast path at XDP, against tc */                                        \
	G(decap_xdp) /* Geneve decapsulated at XDP, against tc */                                     \
	G(decap_xdp_ul6) /* the same over the IPv6 underlay */                                       \
	G(decap_xdp_np) /* NodePort replies and too-big frames meeting it */ \
	G(nodeport_ul46) /* IPv4 NodePorts over the IPv6 underlay, SNAT and DSR */ \
	G(fqdn) /* DNS answers read into a pod: domainNames learning, hostile answers */ \
	G(dnsfuzz) /* the DNS reader fuzzed: generated answers, libresolv's parse the oracle */

#define G_DECL(n) extern const struct group n##_group;
#define G_REF(n) &n##_group,
GROUPS(G_DECL)

int main(int argc, char **argv)
{
	static const struct group *const groups[] = { GROUPS(G_REF) };
	int err;

	if (argc > 1 && !strcmp(argv[1], "--bench-policy")) {
		if ((err = env_setup(NULL)))
			fprintf(stderr, "setup: %s\n", strerror(-err));
		else if ((err = bench_policy()))
			fprintf(stderr, "bench: %s\n", strerror(-err));
		env_teardown(NULL);
		return err ? 1 : 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--bench-tiers")) {
		if ((err = env_setup(NULL)))
			fprintf(stderr, "setup: %s\n", strerror(-err));
		else if ((err = node4_state()) || (err = bench_tiers()))
			fprintf(stderr, "bench: %s\n", strerror(-err));
		env_teardown(NULL);
		return err ? 1 : 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--bench")) {
		if ((err = env_setup(NULL)))
			fprintf(stderr, "setup: %s\n", strerror(-err));
		else if ((err = bench()) || (err = bench6()) || (err = ul6_bench()))
			fprintf(stderr, "bench: %s\n", strerror(-err));
		env_teardown(NULL);
		return err ? 1 : 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--bench-lb")) {
		if ((err = env_setup(NULL)))
			fprintf(stderr, "setup: %s\n", strerror(-err));
		else if ((err = lb_bench()))
			fprintf(stderr, "bench: %s\n", strerror(-err));
		env_teardown(NULL);
		return err ? 1 : 0;
	}
	return run_groups(groups, ARRAY_SIZE(groups), argc, argv);
}
