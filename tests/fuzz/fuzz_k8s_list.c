// SPDX-License-Identifier: Apache-2.0
/*
 * The API server's list answers as xcnid reads them: each page (pages split
 * at NUL bytes in the input) arrives through the write callback in curl's
 * chunks, then list_page takes it: items gathered across continue tokens, the
 * complete list applied to the store (new, changed and vanished objects).
 */
#include "k8sapi_fuzz.h"

FUZZ_LOG_ALL()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_api f;

	if (fuzz_api_init(&f, W_LIST, &data, &size))
		return 0;
	while (size) {
		const uint8_t *end = memchr(data, '\0', size);
		size_t n = end ? (size_t)(end - data) : size;

		/* As start() does: a list only ever begins without a resourceVersion. */
		if (!f.w->cont)
			relist(f.w);
		f.w->state = W_LIST;
		f.w->len = 0;
		fuzz_api_feed(&f, data, n);
		f.w->state = W_IDLE;
		list_page(f.w);
		data += end ? n + 1 : n;
		size -= end ? n + 1 : n;
	}
	fuzz_api_free(&f);
	return 0;
}
