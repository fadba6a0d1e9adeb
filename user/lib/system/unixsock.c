// SPDX-License-Identifier: Apache-2.0
/* A Unix stream socket: a request and its whole answer, the listening side (unixsock.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/system/unixsock.h"

/* Room read at once; the buffer doubles when less is left. */
#define ASK_CHUNK 65536

int xcni_unix_ask(const char *path, const char *req, size_t rl, int timeout_s, size_t max,
		  volatile sig_atomic_t *stop, char **out, size_t *len, const char **step)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = timeout_s };
	const char *at = "connecting to";
	int fd, err = 0;

	*out = NULL;
	*len = 0;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		err = -ENAMETOOLONG;
		goto said;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		goto said;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		goto out;
	}
	at = "sending to";
	if ((rl && write(fd, req, rl) != (ssize_t)rl) || shutdown(fd, SHUT_WR)) {
		err = -errno;
		goto out;
	}
	at = "reading from";
	err = xcni_read_all(fd, max, stop, out, len);
out:
	close(fd);
said:
	if (err && step)
		*step = at;
	return err;
}

int xcni_read_all(int fd, size_t max, volatile sig_atomic_t *stop, char **out, size_t *len)
{
	size_t n = 0, cap = 0;
	char *buf = NULL, *p;
	ssize_t r;
	int err;

	for (;;) {
		if (cap - n < ASK_CHUNK) {
			if (!(p = realloc(buf, cap ? cap * 2 : ASK_CHUNK))) {
				err = -ENOMEM;
				goto fail;
			}
			buf = p;
			cap = cap ? cap * 2 : ASK_CHUNK;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR && !(stop && *stop))
			continue;
		if (r < 0) {
			err = -errno;
			goto fail;
		}
		if (!r)
			break;
		n += (size_t)r;
		if (max && n > max) {
			err = -E2BIG;
			goto fail;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
fail:
	free(buf);
	return err;
}

int xcni_unix_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)], *slash;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	memcpy(dir, path, strlen(path) + 1);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) && errno != EEXIST)
			return -errno;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) || listen(fd, 16)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}
