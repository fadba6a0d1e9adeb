/* SPDX-License-Identifier: Apache-2.0 */
/* CLOCK_MONOTONIC in milliseconds: deadlines and durations, blind to wall-clock steps.
 * Signed, as deadlines less now are. The programs' bpf_ktime_get_ns() is the same clock. */
#ifndef XCNI_CLOCK_H
#define XCNI_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

static inline int64_t xcni_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The same in nanoseconds. */
static inline uint64_t xcni_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* CLOCK_REALTIME in nanoseconds: what a person reads, or a stamp another host compares. */
static inline int64_t xcni_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The wall clock less mono_ns (a CLOCK_MONOTONIC stamp taken now): added to the
 * programs' and the flow window's stamps (bpf_ktime_get_ns) to show them as wall time. */
static inline int64_t xcni_wall_off_ns(uint64_t mono_ns)
{
	return xcni_wall_ns() - (int64_t)mono_ns;
}

/* The milliseconds with their fraction, to time a step. */
static inline double xcni_mono_msf(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/*
 * An RFC 3339 time ("2026-11-26T03:04:05Z", a fraction and a "+01:00" zone
 * allowed) into nanoseconds of the wall clock: 0, or -EINVAL for anything else.
 * The one reader of times as text: the API server's, flow records', --since.
 */
int xcni_rfc3339_parse(const char *s, int64_t *wall_ns);
/* Its writer: wall_ns (before 1970: 1970) in UTC with digits (0, 3 or 6) of
 * a second's fraction, "2026-11-26T03:04:05.123Z". The one writer of times
 * as text: logs, flow records, Events, views. */
void xcni_rfc3339_fmt(int64_t wall_ns, int digits, char *buf, size_t len);

/* A wait's other end: set by SIGINT or SIGTERM while xcni_stop_signals caught them.
 * An int, the sig_atomic_t clock.c defines (signal.h is left out here: its SIGSTKSZ
 * brings unistd.h into every includer). */
extern volatile int xcni_stop;
struct sigaction;
/* SIGINT and SIGTERM caught (catch; the old actions into old[2], when not NULL), or put
 * back from old. */
void xcni_stop_signals(struct sigaction *old, bool catch);

/* A loop's waits: fd added to epoll set epfd, read when readable, its events
 * carrying data (epoll_event.data.u64). 0 or -errno. */
int xcni_epoll_add(int epfd, int fd, uint64_t data);
/* A timerfd firing every period_s seconds, added so: the fd, or -errno. */
int xcni_epoll_ticker(int epfd, unsigned int period_s, uint64_t data);

#endif
