// SPDX-License-Identifier: Apache-2.0
/*
 * One local endpoint's compile (pol_compile_ep, the compiler's in
 * policy_incr*.c, whole or incremental): what it reads (policy_ident.c), its
 * NetworkPolicy entries (policy_np.c) with the tiers and audit laid over them
 * (policy_cnp.c). The files call down that line only (policy_util.c beneath
 * them all).
 *
 * Everything is computed from the cluster view alone and sorted before it is
 * returned, so two nodes (or two runs) with the same objects produce the same
 * bytes, and the map writer can diff per pod.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/system/log.h"
#include "lib/system/cidr.h"
#include "lib/policy/policy.h"
#include "lib/policy/policy_int.h"

_Static_assert(POL_PREFIX_FULL == POL_KEY_BITS(pad2), "port must end where pad2 starts");
_Static_assert(offsetof(struct xcni_polcidr_key, addr) - offsetof(struct xcni_polcidr_key, ep) ==
		       XCNI_POLCIDR_PREFIX_BASE / 8,
	       "polcidr prefix base must be the bits before addr");

int pol_compile_ep(const struct pol_ctx *x, const struct k8s_pod *pod, uint32_t identity,
		   struct epbuild *eb, struct pol_ep *ep, const struct pol_ep *old)
{
	int ret = pol_compile_np(x, pod, identity, eb, ep, false);
	bool hit = false;

	if (ret || x->peers_only)
		return ret;
	if (x->cnp_memo && ((ret = cnp_memo_get(x, pod, ep, &hit)) || hit))
		return ret;
	ret = cnp_apply(x, pod, ep, old);
	return !ret && x->cnp_memo ? cnp_memo_put(x, pod, ep) : ret;
}

int pol_cmp_ep(const void *a, const void *b)
{
	return memcmp(&((const struct pol_ep *)a)->ip, &((const struct pol_ep *)b)->ip,
		      sizeof(uint32_t));
}

/* A contested address's owner: closed, no entries (pol_contest). */
void pol_ep_contest(struct pol_ep *ep)
{
	pol_ep_set(ep, NULL, 0, NULL, 0);
	ep->atoms[0] = ep->atoms[1] = 0; /* nothing for a patch to keep */
	ep->state.isolated |= XCNI_POLEP_OVERFLOW | XCNI_POLEP_CONTESTED;
	memset(ep->state.has, 0, sizeof(ep->state.has));
}

/* ---- entry point ------------------------------------------------------ */

void pol_ctx_free(struct pol_ctx *x)
{
	void *v[] = { x->labix, x->idp, x->np_id, x->nps, x->pass_ref, x->cnps,
		      x->cnp_id, x->nsaudit, x->moved, x->bykey, x->pod_id, x->pods, x->near.v };

	pol_memo_free(x);
	for (size_t i = 0; x->pass_ref && i < x->ncnps; i++)
		free(x->pass_ref[i]);
	for (size_t i = 0; i < ARRAY_SIZE(v); i++)
		free(v[i]);
	memset(x, 0, sizeof(*x));
}

void pol_result_free(struct pol_result *r)
{
	void *v[] = { r->identities, r->eps, r->ipcache, r->policies, r->podnames, r->rulenames,
		      r->contested, r->yielded };

	for (size_t i = 0; i < r->nidentities; i++) {
		free(r->identities[i].canon);
		k8s_labels_free(&r->identities[i].pod_labels);
		k8s_labels_free(&r->identities[i].ns_labels);
	}
	for (size_t i = 0; i < r->neps; i++)
		pol_ep_set(&r->eps[i], NULL, 0, NULL, 0);
	for (size_t i = 0; i < ARRAY_SIZE(v); i++)
		free(v[i]);
	memset(r, 0, sizeof(*r));
}
