/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer 12 of the lab (commands): xcnictl connectivity test. Deploys its own
 * probe namespace (pods on two nodes, a ClusterIP and a NodePort Service, a
 * NetworkPolicy that must block), runs a table of named tests through the
 * lab's probes while watching every node's drop counters, reports, and
 * removes the namespace.
 */
#ifndef XCNI_LAB_CONNTEST_H
#define XCNI_LAB_CONNTEST_H

#include "lab/apply.h"
#include "lab/dns.h"
#include "lab/probe.h"
#include "lab/state.h"
#include "lab/svc.h"
#include "lab/underlay.h"

/* The namespace the test deploys into (and removes). */
#define LAB_CONNTEST_NS "xcni-conntest"

/* argv[0] is "test": 0 every test passed, 1 one failed, 2 usage or error. */
int lab_cmd_conntest(int argc, char **argv);

#endif
