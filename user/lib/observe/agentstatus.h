/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where xcnid answers `xcnictl status`: a Unix stream socket beside the flows
 * socket, named after the pin dir (so that every agent of a lab, one per pin
 * dir, has its own). A client connects; xcnid writes one JSON object (its
 * agent-only facts: version, up since, cluster connection, probed kernel
 * features, drops of the last minute, readiness) and closes. What the maps
 * and the kernel say (map fill, counts, hooks) xcnictl reads itself.
 */
#ifndef XCNI_AGENTSTATUS_H
#define XCNI_AGENTSTATUS_H

#include <stddef.h>

/* "/run/xcni/status-sys-fs-bpf-xcni.sock" for /sys/fs/bpf/xcni. 0 or -ENAMETOOLONG. */
int agent_status_sock_path(const char *pin_dir, char *buf, size_t len);
/* Where the status socket answers (HTTP, one JSON line). */
#define AGENT_STATUS_PATH "/status"
/*
 * Where xcnid writes when each policy reached its maps (agent/polstatus.h),
 * read by `xcnictl policy status`: "/run/xcni/policy-status-sys-fs-bpf-xcni.json".
 */
int agent_status_policy_path(const char *pin_dir, char *buf, size_t len);

/* The window of the drops xcnid reports: its samples, AGENT_DROP_STEP_S apart. */
#define AGENT_DROP_STEP_S 10
#define AGENT_DROP_WINDOW_S 60

#endif
