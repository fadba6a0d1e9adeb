/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer 11 of the lab (commands): probe, matrix and exec, which read the lab
 * and try its traffic; matrix --via-service makes Services first.
 */
#ifndef XCNI_LAB_PROBE_H
#define XCNI_LAB_PROBE_H

#include <sys/socket.h>

#include "lab/apply.h"
#include "lab/dns.h"
#include "lab/drops.h"
#include "lab/serve.h"
#include "lab/state.h"
#include "lab/svc.h"
#include "lab/sys.h"
#include "lab/underlay.h"
#include "lib/system/print.h"

/*
 * A probe's fate, one word each (lab probe, lab matrix, connectivity test):
 * connected; denied (a policy dropped it: a drop-policy-* counted during the
 * probe); refused (the destination answered RST or ICMP unreachable: nothing
 * listens); no-backend (a Service without endpoints: drop-no-backend counted,
 * or its reject); timeout (nothing came back and no drop was counted).
 */
enum lab_fate {
	LAB_FATE_TIMEOUT = 0,
	LAB_FATE_CONNECTED,
	LAB_FATE_DENIED,
	LAB_FATE_REFUSED,
	LAB_FATE_NO_BACKEND,
	LAB_NR_FATES
};
/* "connected", "denied", "refused", "no-backend", "timeout". */
const char *lab_fate_word(int fate);
/*
 * The fate of a probe that returned res (1 connected, 0 not), refused: the
 * socket heard RST or ICMP unreachable, s: the drops counted meanwhile (NULL:
 * not watched); svc: the destination was a Service (a drop-no-backend counts).
 */
int lab_fate_of(int res, bool refused, const struct lab_drops_seen *s, bool svc);

/*
 * One probe from the calling process's network namespace (the caller entered
 * the source's) to `to` as lab probe names it (NS/POD, svc/NS/NAME, a node, an
 * address) over family fam (LAB_FAM_V4 or LAB_FAM_V6), port/proto: 1
 * connected (answer: the listener's first line), 0 not (*refused, if given:
 * RST or ICMP unreachable came back, else nothing did), -ENOENT when `to`
 * is unknown or has no address of that family (said), -errno.
 */
int lab_probe_to(struct lab *lab, const char *to, unsigned int fam, const struct lab_port *port,
		 int timeout_ms, char *answer, size_t alen, bool *refused);

/*
 * The same probe to an address ("10.244.1.5", "fd00:10:244::5"), no lab
 * needed (xcnictl connectivity probe, inside a cluster's pod): 1, 0
 * (*refused, if given, as lab_probe_to's), -EINVAL when addr is not an
 * address, -errno.
 */
int lab_probe_addr(const char *addr, const struct lab_port *port, int timeout_ms, char *answer,
		   size_t alen, bool *refused);

/* A destination: an address of one family and (set by the probe) a port. */
struct lab_dest {
	struct sockaddr_storage sa;
	socklen_t len;
};
/* "10.1.2.3" or "fd00::1" into d (port 0): 0, or -EINVAL if it is neither. */
int lab_dest_parse(const char *s, struct lab_dest *d);

/* Process exit codes; argv[0] is the command's name. Their options (xcnictl
 * checks and completes them from these too). */
int lab_cmd_probe(int argc, char **argv);
int lab_cmd_matrix(int argc, char **argv);
int lab_cmd_exec(int argc, char **argv);
extern const struct pt_opt lab_probe_opts[], lab_matrix_opts[];

#endif
