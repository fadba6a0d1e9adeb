/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer 11 of the lab (commands): probe, matrix and exec, which read the lab
 * and try its traffic; matrix --via-service makes Services first.
 */
#ifndef XCNI_LAB_PROBE_H
#define XCNI_LAB_PROBE_H

#include "lab/apply.h"
#include "lab/dns.h"
#include "lab/serve.h"
#include "lab/state.h"
#include "lab/svc.h"
#include "lab/sys.h"
#include "lab/underlay.h"

/*
 * One probe from the calling process's network namespace (the caller entered
 * the source's) to `to` as lab probe names it (NS/POD, svc/NS/NAME, a node, an
 * address) over family fam (LAB_FAM_V4 or LAB_FAM_V6), port/proto: 1
 * connected (answer: the listener's first line), 0 blocked, -ENOENT when `to`
 * is unknown or has no address of that family (said), -errno.
 */
int lab_probe_to(struct lab *lab, const char *to, unsigned int fam, const struct lab_port *port,
		 int timeout_ms, char *answer, size_t alen);

/*
 * The same probe to an address ("10.244.1.5", "fd00:10:244::5"), no lab
 * needed (xcnictl connectivity probe, inside a cluster's pod): 1, 0, -EINVAL
 * when addr is not an address, -errno.
 */
int lab_probe_addr(const char *addr, const struct lab_port *port, int timeout_ms, char *answer,
		   size_t alen);

/* Process exit codes; argv[0] is the command's name. */
int lab_cmd_probe(int argc, char **argv);
int lab_cmd_matrix(int argc, char **argv);
int lab_cmd_exec(int argc, char **argv);

#endif
