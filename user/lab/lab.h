/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xcnictl lab: a cluster made of network namespaces on one machine.
 *
 * The lab in layers, each calling only the ones below it (tests/lab/layers.sh
 * checks the includes); one header per layer, each .c includes its own and
 * lower ones:
 *
 *   lab.h       lab.c       the command table; up, down, get          (commands)
 *   conntest.h  conntest.c  xcnictl connectivity test                 (commands)
 *   probe.h     probe.c     probe, matrix, exec                       (commands)
 *   drops.h     drops.c     every node's drop counters before and after a probe
 *   apply.h     apply.c     apply / delete of manifests
 *   dns.h       dns.c       the cluster's DNS (dnsmasq)
 *   kproxy.h    kproxy.c    kube-proxy's iptables rules on every node (--kube-proxy iptables)
 *   slice.h     slice.c     Services, EndpointSlices for xcnid (--kube-proxy none)
 *   svc.h       svc.c       Services: ClusterIPs, objects, endpoints
 *   pod.h       pod.c       pods: scheduling, netns, CNI ADD/DEL, listener
 *   node.h      node.c      nodes: netns, xcnid, Node object, the sync wait
 *   underlay.h  underlay.c  the underlay (xcl-ul) and the outside (xcl-out)
 *   cluster.h   cluster.c   the cluster state xcnid watches (manifests/)
 *   state.h     state.c     struct lab, lab.json (its only reader and writer)
 *   serve.h     serve.c     the listener (lab serve) and starting one
 *   ctflush.h   ctflush.c   conntrack entries deleted over ctnetlink (kube-proxy's UDP flush)
 *   svg.h       svg.c       a matrix as an SVG heat map (matrix --svg)
 *   sys.h       sys.c       netns, processes, running programs, files
 */
#ifndef XCNI_LAB_H
#define XCNI_LAB_H

/*
 * The lab's state for the rest of xcnictl (a node's netns and pin directory):
 * lab_open() / lab_node_find() / lab_close().
 */
#include "lab/state.h"
#include "lib/system/print.h"

/* argv[0] is "lab"; returns the process exit code (0 ok, 1 failed/blocked, 2 usage or error). */
int lab_main(int argc, char **argv);
/* A lab command's options, the table it parses with; NULL: no such command. */
const struct pt_opt *lab_cmd_opts(const char *name);
/* The i-th command --help lists, or NULL past the last. */
const char *lab_cmd_name(size_t i);

#endif
