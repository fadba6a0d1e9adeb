// SPDX-License-Identifier: Apache-2.0
/*
 * xcni_redact() (user/lib/system/redact.c), what xcnictl sysdump passes every file
 * through: each row a text as a log, a kubeconfig, JSON or a command line has
 * it, and what must be left of it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/system/redact.h"

static const struct {
	const char *in, *out;
} rows[] = {
	/* kept as it is */
	{ "xcnid: ready: programs and maps pinned\n", "xcnid: ready: programs and maps pinned\n" },
	{ "{\"name\":\"secret-db\",\"ns\":\"x\"}", "{\"name\":\"secret-db\",\"ns\":\"x\"}" },
	{ "no newline at the end", "no newline at the end" },
	{ "tokens are words too", "tokens are words too" },
	{ "", "" },
	/* values of secret-looking names */
	{ "    token: abc.def\n", "    token: <redacted>\n" },
	{ "password=hunter2 user=bob\n", "password=<redacted> user=bob\n" },
	{ "client-key-data: LS0tLS1\n", "client-key-data: <redacted>\n" },
	{ "Client_Key_Data: LS0tLS1\n", "Client_Key_Data: <redacted>\n" },
	{ "{\"token\":\"abc\",\"x\":1}\n", "{\"token\":\"<redacted>\",\"x\":1}\n" },
	{ "xcnid --identity-key-file=/etc/k --node-name n1\n",
	  "xcnid --identity-key-file=<redacted> --node-name n1\n" },
	{ "xcnid --token abc --v\n", "xcnid --token <redacted> --v\n" },
	{ "tokenFile: /var/run/secrets/token\n", "tokenFile: <redacted>\n" },
	/* bearer tokens, wherever */
	{ "Authorization: Bearer abc.def.ghi\n", "Authorization: Bearer <redacted>\n" },
	{ "GET / with bearer xyz, then\n", "GET / with bearer <redacted>, then\n" },
	/* a private key block, whole */
	{ "a\n-----BEGIN PRIVATE KEY-----\nMIIE\nabcd\n-----END PRIVATE KEY-----\nb\n",
	  "a\n<redacted private key>\nb\n" },
	{ "-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n",
	  "<redacted private key>\n" },
	{ "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n",
	  "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n" },
};

static void test_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *out = NULL;
		size_t len = 0;

		assert_int_equal(xcni_redact(rows[i].in, strlen(rows[i].in), &out, &len), 0);
		if (len != strlen(rows[i].out) || memcmp(out, rows[i].out, len))
			fail_msg("row %zu: %s\n  got:  %.*s\n  want: %s", i, rows[i].in, (int)len, out,
				 rows[i].out);
		free(out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
