/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small fixtures more than one unit test needs and no product code does: what
 * a call logged on stderr, a policy hash a tenant aimed, a map's key count.
 */
#ifndef XCNI_TEST_UNIT_H
#define XCNI_TEST_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/bpf.h>

/* fn(arg) with stderr caught into log (sz bytes, NUL-terminated); fn's result. */
static inline int stderr_of(int (*fn)(void *), void *arg, char *log, size_t sz)
{
	FILE *tmp = tmpfile();
	int saved, ret;
	size_t n;

	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fileno(tmp), 2), 2);
	ret = fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(log, 1, sz - 1, tmp);
	log[n] = '\0';
	fclose(tmp);
	return ret;
}

/*
 * A tenant's crafted collision (pol_opts.hash): app=victim and every app=e*
 * hash alike, and "k8s:app=e..." sorts before "k8s:app=victim"; the rest is
 * FNV-1a.
 */
static inline uint32_t aimed_hash(const char *s)
{
	uint32_t h = 2166136261u;

	if (strstr(s, "k8s:app=victim,") || strstr(s, "k8s:app=e"))
		return 5000;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* How many keys (ksz bytes each, 64 at most) map fd holds. */
static inline size_t map_keys(int fd, size_t ksz)
{
	unsigned char k[64], nk[64];
	size_t n = 0;

	while (!bpf_map_get_next_key(fd, n ? k : NULL, nk)) {
		memcpy(k, nk, ksz);
		n++;
	}
	return n;
}

#endif
