// SPDX-License-Identifier: Apache-2.0
/*
 * Domain names of domainNames peers (user/lib/policy/fqdn.c): normalised as
 * the API writes them, flattened and hashed as bpf/lib/dns.h matches them
 * (the hash from the right: a wildcard's suffix hash is a name's hash at a
 * label boundary).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../bpf/xcni_shared.h"
#include "../../user/lib/policy/fqdn.h"

static void test_normalise(void **state)
{
	static const struct {
		const char *in, *out;
		int wild;
	} good[] = {
		{ "api.example.test", "api.example.test", 0 },
		{ "API.Example.TEST.", "api.example.test", 0 },
		{ "*.s3.Example.test", "*.s3.example.test", 1 },
		{ "*.example.test.", "*.example.test", 1 },
		{ "x-1.a9.example", "x-1.a9.example", 0 },
	};
	static const struct {
		const char *in, *why;
	} bad[] = {
		{ "", "empty name" },
		{ ".", "empty name" },
		{ "localhost", "a single label" },
		{ "*.example", "a single label" }, /* the suffix needs two */
		{ "a..example", "empty label" },
		{ ".a.example", "empty label" },
		{ "a.*.example", "'*' only" },
		{ "**.example", "'*' only" },
		{ "*", "'*' only" },
		{ "*.", "'*' only" },
		{ "a_b.example", "a character not" },
		{ "a b.example", "a character not" },
		{ "-a.example", "starts or ends" },
		{ "a-.example", "starts or ends" },
		{ "a.example..", "empty label" },
	};
	char out[256], big[400];
	const char *why;
	int wild;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(fqdn_normalise(good[i].in, out, sizeof(out), &wild, &why), 0);
		assert_string_equal(out, good[i].out);
		assert_int_equal(wild, good[i].wild);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = fqdn_normalise(bad[i].in, out, sizeof(out), &wild, &why);

		if (!bad[i].why) {
			assert_int_equal(err, 0);
			continue;
		}
		if (err != -EINVAL || !why || !strstr(why, bad[i].why))
			fail_msg("\"%s\": %d %s, want %s", bad[i].in, err, why ? why : "-", bad[i].why);
	}
	/* a label of 63 bytes, not 64; a name of 253 bytes, not 254 */
	memset(big, 'a', 63);
	strcpy(big + 63, ".example");
	assert_int_equal(fqdn_normalise(big, out, sizeof(out), &wild, &why), 0);
	memset(big, 'a', 64);
	strcpy(big + 64, ".example");
	assert_int_equal(fqdn_normalise(big, out, sizeof(out), &wild, &why), -EINVAL);
	assert_non_null(strstr(why, "63"));
	for (int l = 0; l < 4; l++) {
		memset(big + l * 64, 'a' + l, 63);
		big[l * 64 + 63] = '.';
	}
	big[3 * 64 + 61] = 0; /* 63*3 + 61 + 3 dots = 253 */
	assert_int_equal(strlen(big), 253);
	assert_int_equal(fqdn_normalise(big, out, sizeof(out), &wild, &why), 0);
	big[3 * 64 + 61] = 'd';
	big[3 * 64 + 62] = 0;
	assert_int_equal(fqdn_normalise(big, out, sizeof(out), &wild, &why), -EINVAL);
	assert_non_null(strstr(why, "253"));
}

/* The flat form is DNS's wire form without the root; a suffix's hash is the
 * whole name's hash taken up to that label, from the right. */
static void test_flat_hash(void **state)
{
	uint8_t f[256], g[256];
	int n, m;

	(void)state;
	n = fqdn_flat("api.example.test", f);
	assert_int_equal(n, 17);
	assert_memory_equal(f, "\3api\7example\4test", 17);
	m = fqdn_flat("example.test", g);
	assert_int_equal(m, 13);
	assert_memory_equal(f + 4, g, 13);
	assert_true(fqdn_hash(f + 4, 13) == fqdn_hash(g, 13));
	assert_true(fqdn_hash(f, 17) != fqdn_hash(g, 13));
	/* order matters: labels swapped hash otherwise */
	m = fqdn_flat("test.example.api", g);
	assert_int_equal(m, 17);
	assert_true(fqdn_hash(f, 17) != fqdn_hash(g, 17));
	assert_int_equal(fqdn_flat("a..b", f), -EINVAL);
	assert_int_equal(fqdn_flat("", f), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalise),
		cmocka_unit_test(test_flat_hash),
	};

	return cmocka_run_group_tests_name("fqdn", tests, NULL, NULL);
}
