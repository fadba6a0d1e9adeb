/* SPDX-License-Identifier: Apache-2.0 */
/* A Unix stream socket (xcnid's status and flows sockets): a request and its whole
 * answer, and the listening side. */
#ifndef XCNI_UNIXSOCK_H
#define XCNI_UNIXSOCK_H

#include <signal.h>
#include <stddef.h>

/*
 * Sends req (rl bytes, none when 0) to the socket at path, closes the sending
 * side and reads the answer until the peer closes, into *out (malloc'd,
 * NUL-ended, *len bytes): each send and read waits at most timeout_s, the
 * answer is at most max bytes (0: no bound; -E2BIG past it), and a read cut by
 * a signal goes on unless *stop is set. 0, or -errno with *out NULL and *step
 * (when step is not NULL) "connecting to", "sending to" or "reading from".
 * Whether the answer is whole is the caller's (an empty one, a last line cut).
 */
int xcni_unix_ask(const char *path, const char *req, size_t rl, int timeout_s, size_t max,
		  volatile sig_atomic_t *stop, char **out, size_t *len, const char **step);

/*
 * Reads fd until its end into *out (malloc'd, NUL-ended, *len bytes): at most
 * max bytes (0: no bound; -E2BIG past it), a read cut by a signal going on
 * unless *stop is set. 0, or -errno with *out untouched.
 */
int xcni_read_all(int fd, size_t max, volatile sig_atomic_t *stop, char **out, size_t *len);

/*
 * A listening Unix stream socket at path (non-blocking, mode 0600), its
 * directory made (0700) when missing, a socket left there by an agent that
 * did not stop cleanly replaced: the caller owns the path. The fd or -errno.
 */
int xcni_unix_listen(const char *path);

#endif
