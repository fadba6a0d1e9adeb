/* SPDX-License-Identifier: Apache-2.0 */
/* Where xcnid pins things, shared by xcnid, the plugin and xcnictl. */
#ifndef XCNI_BPFPIN_H
#define XCNI_BPFPIN_H

#define XCNI_PIN_PROG_FROM_POD "prog_from_pod"
#define XCNI_PIN_PROG_TO_POD "prog_to_pod"
#define XCNI_PIN_LINKS "links" /* links/<host-if>-in, links/<host-if>-out */

/* Routes libbpf's messages into the leveled logger. */
void xcni_libbpf_log_init(void);
/* Mounts bpffs at /sys/fs/bpf if nothing is mounted there; 0 or -errno. */
int xcni_bpffs_ensure(const char *pin_dir);



/* tc clsact filters (the fallback where TCX is missing) use fixed ids, so a
 * new xcnid can replace them in place. */
#define XCNI_TC_HANDLE 0x7863
#define XCNI_TC_PRIO 1
#endif
