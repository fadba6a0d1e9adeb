// SPDX-License-Identifier: Apache-2.0
/* A file descriptor read to its end (readall.h). */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/system/readall.h"
#include "lib/system/util.h"

/* Room read at once; the buffer doubles when less is left. */
#define READ_CHUNK 65536

int xcni_read_all(int fd, size_t max, char **out, size_t *len)
{
	size_t n = 0, cap = 0;
	char *buf = NULL;
	ssize_t r;
	int err;

	for (;;) {
		if (xcni_grow(&buf, &cap, n + READ_CHUNK - 1, 1)) {
			err = -ENOMEM;
			goto fail;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
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
