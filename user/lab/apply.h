/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer 10 of the lab: apply / delete of manifests (what kubectl, the API
 * server and the kubelet do between them), then the sync token, kube-proxy's
 * part (its rules, or the Services and EndpointSlices for the agents) and the
 * DNS records.
 */
#ifndef XCNI_LAB_APPLY_H
#define XCNI_LAB_APPLY_H

#include "lab/cluster.h"
#include "lab/dns.h"
#include "lab/kproxy.h"
#include "lab/node.h"
#include "lab/pod.h"
#include "lab/slice.h"
#include "lab/state.h"
#include "lab/svc.h"
#include "lab/sys.h"
#include "lib/system/print.h"

/* xcnictl lab apply / delete -f ...: process exit codes (argv[0] is the command);
 * their options (xcnictl checks and completes them from these too). */
int lab_cmd_apply(int argc, char **argv);
int lab_cmd_delete(int argc, char **argv);
/*
 * The manifests of doc applied (or, apply false, deleted at once) as lab
 * apply -f of a file holding them would; name: theirs in messages. 0, or 1
 * (said; nothing changed on an error).
 */
int lab_apply_doc(const char *name, const char *doc, bool apply);
extern const struct pt_opt lab_apply_opts[], lab_delete_opts[];
/*
 * After a change (changed: something of the cluster state did): the sync token
 * and the agents' wait, kube-proxy's part (iptables: its rules on every node;
 * none: the Services and EndpointSlices in the cluster state, first), the DNS
 * records. 0 or -errno, said.
 */
int lab_services_sync(struct lab *lab, bool changed);

#endif
