// SPDX-License-Identifier: Apache-2.0
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/system/editdist.h"

size_t xcni_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), *rows, *p2, *p1, *cur, r;

	/* Three rows of the table: the swap looks two rows back. */
	rows = calloc(3 * (lb + 1), sizeof(*rows));
	if (!rows)
		return SIZE_MAX;
	p2 = rows;
	p1 = rows + lb + 1;
	cur = rows + 2 * (lb + 1);
	for (size_t j = 0; j <= lb; j++)
		p1[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t v = p1[j - 1] + (a[i - 1] != b[j - 1]);

			if (p1[j] + 1 < v)
				v = p1[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    p2[j - 2] + 1 < v)
				v = p2[j - 2] + 1;
			cur[j] = v;
		}
		{
			size_t *t = p2;

			p2 = p1;
			p1 = cur;
			cur = t;
		}
	}
	r = p1[lb];
	free(rows);
	return r;
}
