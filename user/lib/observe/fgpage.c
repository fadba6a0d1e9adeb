// SPDX-License-Identifier: Apache-2.0
/* web/ui.html, compiled in (the Makefile makes ui_page.h with xxd -i). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/observe/flowgraph.h"
#include "ui_page.h"

int fg_render_page(void *ctx, const struct http_args *a, char **body, size_t *len)
{
	(void)ctx;
	(void)a;
	*body = malloc(xcni_ui_page_len);
	if (!*body)
		return -ENOMEM;
	memcpy(*body, xcni_ui_page, xcni_ui_page_len);
	*len = xcni_ui_page_len;
	return 0;
}
