/* SPDX-License-Identifier: Apache-2.0 */
/* Layer 8 of the lab: kube-proxy (iptables mode) for the Services, on every node. */
#ifndef XCNI_LAB_KPROXY_H
#define XCNI_LAB_KPROXY_H

#include "lab/svc.h"
#include "lab/state.h"
#include "lab/sys.h"

/* kube-proxy on every node: the NAT rules for every Service and its endpoints now. */
int lab_kube_proxy_sync(struct lab *lab);

#endif
