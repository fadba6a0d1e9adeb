/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the libFuzzer targets (tests/fuzz/fuzz_*.c). Each target feeds one
 * parser of outside input; a crash, a sanitizer report or a broken invariant
 * (FUZZ_ASSERT) is a finding. tests/fuzz/run.sh replays the corpora and the
 * regression inputs, then fuzzes each target for a while.
 */
#ifndef XCNI_FUZZ_H
#define XCNI_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/system/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant of the code under test: abort, so libFuzzer keeps the input. */
#define FUZZ_ASSERT(cond)                                                              \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, \
				#cond);                                                \
			abort();                                                       \
		}                                                                      \
	} while (0)

/*
 * Every log line is formatted (hostile strings go through the same printf
 * paths as in production); run.sh closes the targets' stderr so they stay quiet.
 */
#define FUZZ_LOG_ALL()                                                                 \
	int LLVMFuzzerInitialize(int *argc, char ***argv)                              \
	{                                                                              \
		(void)argc;                                                            \
		(void)argv;                                                            \
		xlog_max = XLOG_DEBUG;                                                 \
		return 0;                                                              \
	}

/* The input as a NUL-terminated string (parsers of C strings see no more). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

/*
 * Splits the input into fields at NUL bytes: the next one in *s (a copy the
 * caller frees), or NULL when the input is used up.
 */
static inline char *fuzz_field(const uint8_t **data, size_t *size)
{
	const uint8_t *end;
	size_t n;
	char *s;

	if (!*size)
		return NULL;
	end = memchr(*data, '\0', *size);
	n = end ? (size_t)(end - *data) : *size;
	s = fuzz_strndup(*data, n);
	*data += end ? n + 1 : n;
	*size -= end ? n + 1 : n;
	return s;
}

#endif
