/* SPDX-License-Identifier: Apache-2.0 */
/* CLOCK_MONOTONIC in milliseconds: deadlines and durations, blind to wall-clock steps. */
#ifndef XCNI_CLOCK_H
#define XCNI_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t xcni_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The same in nanoseconds. */
static inline uint64_t xcni_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The milliseconds with their fraction, to time a step. */
static inline double xcni_mono_msf(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#endif
