/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer 10 of the lab: apply / delete of manifests (what kubectl, the API
 * server and the kubelet do between them), then the sync token, kube-proxy's
 * rules and the DNS records.
 */
#ifndef XCNI_LAB_APPLY_H
#define XCNI_LAB_APPLY_H

#include "lab/cluster.h"
#include "lab/dns.h"
#include "lab/kproxy.h"
#include "lab/node.h"
#include "lab/pod.h"
#include "lab/state.h"
#include "lab/svc.h"
#include "lab/sys.h"

/* xcnictl lab apply / delete -f ...: process exit codes (argv[0] is the command). */
int lab_cmd_apply(int argc, char **argv);
int lab_cmd_delete(int argc, char **argv);
/* After Services or pods changed: kube-proxy's rules on every node, then the DNS records. */
int lab_services_sync(struct lab *lab);

#endif
