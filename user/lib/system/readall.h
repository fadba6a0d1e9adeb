/* SPDX-License-Identifier: Apache-2.0 */
/* A file descriptor read to its end (the CNI's stdin, a kubeconfig). */
#ifndef XCNI_READALL_H
#define XCNI_READALL_H

#include <stddef.h>

/*
 * Reads fd until its end into *out (malloc'd, NUL-ended, *len bytes): at most
 * max bytes (0: no bound; -E2BIG past it), a read cut by a signal going on.
 * 0, or -errno with *out untouched.
 */
int xcni_read_all(int fd, size_t max, char **out, size_t *len);

#endif
