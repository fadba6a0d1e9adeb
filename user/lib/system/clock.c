// SPDX-License-Identifier: Apache-2.0
/* Wall-clock times as text (clock.h). */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "lib/system/clock.h"

volatile sig_atomic_t xcni_stop;

static void on_stop_signal(int sig)
{
	(void)sig;
	xcni_stop = 1;
}

void xcni_stop_signals(struct sigaction *old, bool catch)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };

	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < 2; i++)
		sigaction(i ? SIGTERM : SIGINT, catch ? &sa : &old[i], catch && old ? &old[i] : NULL);
}

int xcni_epoll_add(int epfd, int fd, uint64_t data)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = data };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int xcni_epoll_ticker(int epfd, unsigned int period_s, uint64_t data)
{
	struct itimerspec its = { { period_s, 0 }, { period_s, 0 } };
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC), err;

	err = fd < 0 || timerfd_settime(fd, 0, &its, NULL) ? -errno : xcni_epoll_add(epfd, fd, data);
	if (err && fd >= 0)
		close(fd);
	return err ?: fd;
}

int xcni_rfc3339_parse(const char *s, int64_t *wall_ns)
{
	struct tm tm = {};
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	int64_t frac = 0, off = 0;
	time_t t;

	if (!p)
		return -EINVAL;
	if (*p == '.') {
		int64_t scale = 100000000LL;

		if (!isdigit((unsigned char)*++p))
			return -EINVAL;
		for (; isdigit((unsigned char)*p); p++, scale /= 10)
			frac += scale ? (*p - '0') * scale : 0;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) &&
		   isdigit((unsigned char)p[2]) && p[3] == ':' && isdigit((unsigned char)p[4]) &&
		   isdigit((unsigned char)p[5])) {
		off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 + ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
		if (*p == '+')
			off = -off;
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	/* Nanoseconds in 64 bits hold 1677..2262: a time past them is refused,
	 * not wrapped (a fuzzed creationTimestamp of year 1012 overflowed). */
	if ((int64_t)t + off >= INT64_MAX / 1000000000LL ||
	    (int64_t)t + off <= INT64_MIN / 1000000000LL)
		return -ERANGE;
	*wall_ns = ((int64_t)t + off) * 1000000000LL + frac;
	return 0;
}

void xcni_rfc3339_fmt(int64_t wall_ns, int digits, char *buf, size_t len)
{
	static const int64_t div[] = { 1000000000LL, 100000000LL, 10000000LL, 1000000LL,
				       100000LL, 10000LL, 1000LL };
	time_t t;
	struct tm tm;
	size_t n;

	if (wall_ns < 0)
		wall_ns = 0;
	if (digits < 0 || digits > 6)
		digits = 0;
	t = (time_t)(wall_ns / 1000000000LL);
	gmtime_r(&t, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	if (digits)
		snprintf(buf + n, len - n, ".%0*lldZ", digits,
			 (long long)(wall_ns % 1000000000LL / div[digits]));
	else
		snprintf(buf + n, len - n, "Z");
}
