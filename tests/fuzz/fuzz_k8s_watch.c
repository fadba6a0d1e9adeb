// SPDX-License-Identifier: Apache-2.0
/*
 * The API server's watch stream as xcnid reads it: bytes in curl's chunks,
 * framed into lines, each a watch event (ADDED, MODIFIED, DELETED, BOOKMARK,
 * ERROR) applied to the store. Objects of any shape and size.
 */
#include "k8sapi_fuzz.h"

FUZZ_LOG_ALL()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_api f;

	if (fuzz_api_init(&f, W_WATCH, &data, &size))
		return 0;
	fuzz_api_feed(&f, data, size);
	/* What is left is an unfinished line, never a whole one. */
	FUZZ_ASSERT(!memchr(f.w->buf ? f.w->buf : "", '\n', f.w->len));
	fuzz_api_free(&f);
	return 0;
}
