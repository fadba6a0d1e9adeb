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

/* Process exit codes; argv[0] is the command's name. */
int lab_cmd_probe(int argc, char **argv);
int lab_cmd_matrix(int argc, char **argv);
int lab_cmd_exec(int argc, char **argv);

#endif
