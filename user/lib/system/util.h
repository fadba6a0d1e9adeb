/* SPDX-License-Identifier: Apache-2.0 */
/* Small things every room of userspace uses: one definition each. */
#ifndef XCNI_UTIL_H
#define XCNI_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The number of elements of an array (not a pointer). */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Room for element n of the array *arr (*cap elements of esz bytes), which
 * doubles from 16 until it holds it: 0, or -ENOMEM with *arr and *cap unchanged.
 * XCNI_GROW(v, n, cap) passes a typed array's address and element size.
 */
static inline int xcni_grow(void *arr, size_t *cap, size_t n, size_t esz)
{
	void **p = arr, *q;
	size_t nc;

	if (n < *cap)
		return 0;
	for (nc = *cap ? *cap * 2 : 16; nc <= n; nc *= 2)
		;
	q = realloc(*p, nc * esz);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = nc;
	return 0;
}
#define XCNI_GROW(v, n, cap) xcni_grow(&(v), &(cap), (n), sizeof(*(v)))

/* The string member k of the JSON object o; "" when o is NULL or k is absent or not
 * a string (jansson's getters take NULL). A macro: this header needs no jansson. */
#define jstr(o, k) (json_string_value(json_object_get((o), (k))) ?: "")

/* Appends to buf (size bytes, *o of them used): full, cut short, *o at most size - 1. */
static inline void xcni_bufadd(char *buf, size_t size, size_t *o, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline void xcni_bufadd(char *buf, size_t size, size_t *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*o >= size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *o, size - *o, fmt, ap);
	va_end(ap);
	*o += n > 0 ? (size_t)n : 0;
	if (*o >= size)
		*o = size - 1;
}

/* Closes *fd if it is open and marks it closed (-1), so that a second call does nothing. */
static inline void xcni_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Do the first len bits of prefix pfx and address a (network order) agree? 1 or 0. */
static inline int xcni_prefix_has(const void *pfx, unsigned int len, const void *a)
{
	const unsigned char *p = pfx, *x = a;
	unsigned int full = len / 8, rem = len % 8;

	return !__builtin_memcmp(p, x, full) && (!rem || !((p[full] ^ x[full]) & (0xff00 >> rem) & 0xff));
}

#endif
