// SPDX-License-Identifier: Apache-2.0
/* The events ring passed on to monitor subscribers (evfan.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/observe/flows.h"
#include "agent/evfan.h"
#include "lib/system/http.h"

struct evfan {
	int lfd;
	char path[108];
	struct {
		int fd; /* -1: free */
		uint32_t lost; /* since the last record it got */
	} sub[EVFAN_SUBS];
	uint64_t lost_total;
};

int evfan_open(const char *path, struct evfan **out)
{
	struct evfan *f;
	int err;

	if (strlen(path) >= sizeof(f->path))
		return -ENAMETOOLONG;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	for (int i = 0; i < EVFAN_SUBS; i++)
		f->sub[i].fd = -1;
	memcpy(f->path, path, strlen(path) + 1);
	f->lfd = xcni_unix_listen(path, SOCK_SEQPACKET, EVFAN_SUBS);
	if (f->lfd < 0) {
		err = f->lfd;
		unlink(path);
		free(f);
		return err;
	}
	*out = f;
	return 0;
}

int evfan_fd(const struct evfan *f)
{
	return f ? f->lfd : -1;
}

static void sub_close(struct evfan *f, int i)
{
	close(f->sub[i].fd);
	f->sub[i].fd = -1;
	f->sub[i].lost = 0;
}

/* A subscriber that hung up is only seen when written to; look before refusing one. */
static void reap(struct evfan *f)
{
	char c;

	for (int i = 0; i < EVFAN_SUBS; i++)
		if (f->sub[i].fd >= 0 && recv(f->sub[i].fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) == 0)
			sub_close(f, i);
}

void evfan_accept(struct evfan *f)
{
	int fd, i;

	if (!f)
		return;
	fd = accept4(f->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (int pass = 0; pass < 2; pass++) {
		for (i = 0; i < EVFAN_SUBS && f->sub[i].fd >= 0; i++)
			;
		if (i < EVFAN_SUBS || pass)
			break;
		reap(f);
	}
	if (i == EVFAN_SUBS) {
		/* Full: the subscriber sees its connection closed at once. */
		close(fd);
		return;
	}
	f->sub[i].fd = fd;
	f->sub[i].lost = 0;
}

void evfan_send(struct evfan *f, const void *rec, size_t len)
{
	struct flows_evmsg h = { .len = (uint32_t)len };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)rec, len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };

	if (!f || len > FLOWS_EVMSG_MAX)
		return;
	for (int i = 0; i < EVFAN_SUBS; i++) {
		if (f->sub[i].fd < 0)
			continue;
		h.lost = f->sub[i].lost;
		if (sendmsg(f->sub[i].fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) {
			f->sub[i].lost = 0;
		} else if (errno == EAGAIN || errno == ENOBUFS) {
			f->sub[i].lost++;
			f->lost_total++;
		} else {
			sub_close(f, i);
		}
	}
}

unsigned int evfan_subscribers(const struct evfan *f)
{
	unsigned int n = 0;

	for (int i = 0; f && i < EVFAN_SUBS; i++)
		n += f->sub[i].fd >= 0;
	return n;
}

uint64_t evfan_lost(const struct evfan *f)
{
	return f ? f->lost_total : 0;
}

void evfan_free(struct evfan *f)
{
	if (!f)
		return;
	for (int i = 0; i < EVFAN_SUBS; i++)
		if (f->sub[i].fd >= 0)
			sub_close(f, i);
	close(f->lfd);
	unlink(f->path);
	free(f);
}
