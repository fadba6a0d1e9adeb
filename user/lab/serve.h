/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer 1 of the lab: the listener (`xcnictl lab serve`) a pod runs on its
 * containerPorts and the outside on its ports, and starting one in a netns.
 * Below the lab's state: it knows ports and processes, not pods.
 */
#ifndef XCNI_LAB_SERVE_H
#define XCNI_LAB_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lab/sys.h"
#include "lib/system/print.h"
#include "lib/system/proto.h"

/* A port a listener serves, or a probe tries. */
struct lab_port {
	uint16_t port;
	uint8_t proto; /* IPPROTO_TCP, IPPROTO_UDP (SCTP is never served) */
};

/* "80/tcp", "81/UDP", "9/sctp": 0 or -EINVAL (says nothing). */
int lab_port_spec(const char *s, struct lab_port *out);

/* The hidden `xcnictl lab serve` command: the listener itself (argv[0] is "serve"), and its options. */
int lab_cmd_serve(int argc, char **argv);
extern const struct pt_opt lab_serve_opts[];
/*
 * Starts `lab serve` in netns (a name) for the ports in specs ("80/tcp"), named
 * name, logging to log, and waits until it listens on all of them. tell: it
 * answers with the address each peer came from.
 */
int lab_serve_spawn(const char *netns_name, const char *name, char *const *specs, size_t nspecs,
		    bool tell, const char *log, struct lab_proc *out);

#endif
