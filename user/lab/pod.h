/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer 6 of the lab: its pods. Scheduled on a node, a netns of their own,
 * wired by the real xcni binary (CNI ADD/DEL in the node's netns), their
 * object in the cluster state, their listener.
 */
#ifndef XCNI_LAB_POD_H
#define XCNI_LAB_POD_H

#include "lab/cluster.h"
#include "lab/node.h"
#include "lab/serve.h"
#include "lab/state.h"
#include "lab/sys.h"
#include "lib/cluster/k8s.h"


/* The ports the listener serves: TCP and UDP, each once; SCTP has no sockets here. */
int lab_pod_ports(const struct k8s_object *obj, struct lab_port **out, size_t *n);
bool lab_ports_equal(const struct lab_port *a, size_t na, const struct lab_port *b, size_t nb);

/*
 * A new pod of obj in lab->pods (*out), as the kubelet and runtime start one:
 * on spec.nodeName or the least loaded registered node, its netns, CNI ADD;
 * recorded in lab.json before ADD. Its server is not started yet. On failure
 * nothing of it is left.
 */
int lab_pod_create(struct lab *lab, const struct k8s_object *obj, struct lab_pod **out);
/*
 * Process pid (0: the caller) joins the cgroup of the pod's node (socket load
 * balancing by that node's agent), if it has one. 0 or -errno (said).
 */
int lab_pod_cgroup_join(struct lab *lab, const struct lab_pod *pod, pid_t pid);
/* Starts pod's listener in its netns (if it has ports to serve) and waits until it listens. */
int lab_pod_serve(struct lab *lab, struct lab_pod *pod);
/* The pod as the kubelet reports it: on its node, with its IP, in phase ("Running", or
 * "Succeeded"/"Failed" for a finished pod, which keeps the IP it had). */
int lab_pod_object_write(struct lab *lab, const struct k8s_object *obj, const struct lab_pod *p,
			 const char *phase, enum lab_wr *res);
/* Stops its server, CNI DEL, removes its netns, object and log; goes on past failures (-EIO). */
int lab_pod_teardown(struct lab *lab, struct lab_pod *pod);
/* Takes p out of lab->pods (not saved). */
void lab_pod_remove(struct lab *lab, struct lab_pod *p);
/* Teardown, remove, save: a pod that could not be made whole. */
void lab_pod_undo(struct lab *lab, struct lab_pod *p);

#endif
