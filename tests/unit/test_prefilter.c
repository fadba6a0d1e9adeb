// SPDX-License-Identifier: Apache-2.0
/*
 * The marks a deny-list prefix leaves in the /16 and /24 hashes in front of
 * the trie, against real BPF hash maps (root): every source a prefix covers
 * must find its network marked (or XDP would pass it), and taking prefixes
 * back must leave the hashes as they were.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <cmocka.h>

#include "lib/prefilter.h"

static int fd16 = -1, fd24 = -1;

static int setup(void **state)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);

	(void)state;
	fd16 = bpf_map_create(BPF_MAP_TYPE_HASH, "ut_pf16", 4, 4, 65536, &o);
	fd24 = bpf_map_create(BPF_MAP_TYPE_HASH, "ut_pf24", 4, 4, 65536, &o);
	return fd16 < 0 || fd24 < 0 ? -errno : 0;
}

static int teardown(void **state)
{
	(void)state;
	close(fd16);
	close(fd24);
	return 0;
}

static struct xcni_prefilter_key pfx(const char *a, unsigned int len)
{
	struct xcni_prefilter_key k = { .prefixlen = len };

	inet_pton(AF_INET, a, &k.addr);
	return k;
}

static size_t count(int fd)
{
	__u32 k, next, *prev = NULL;
	size_t n = 0;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

/* What the XDP program does first: is src's /16 or /24 marked? */
static int marked(const char *src)
{
	struct in_addr a;
	__u32 net, v;

	inet_pton(AF_INET, src, &a);
	net = a.s_addr & htonl(XCNI_PF16_MASK);
	if (bpf_map_lookup_elem(fd16, &net, &v) == 0)
		return 1;
	net = a.s_addr & htonl(XCNI_PF24_MASK);
	return bpf_map_lookup_elem(fd24, &net, &v) == 0;
}

static void test_marks_cover_every_source(void **state)
{
	struct xcni_prefilter_key p8 = pfx("10.0.0.0", 8), p20 = pfx("172.16.16.0", 20),
				  p28 = pfx("192.0.2.64", 28), p32 = pfx("198.51.100.7", 32);

	(void)state;
	assert_int_equal(xcni_prefilter_mark(fd16, fd24, &p8, 1), 0);
	assert_int_equal(count(fd16), 256); /* a /8 is 256 /16s */
	assert_int_equal(xcni_prefilter_mark(fd16, fd24, &p20, 1), 0);
	assert_int_equal(count(fd24), 16); /* a /20 is 16 /24s */
	assert_int_equal(xcni_prefilter_mark(fd16, fd24, &p28, 1), 0);
	assert_int_equal(xcni_prefilter_mark(fd16, fd24, &p32, 1), 0);
	assert_int_equal(count(fd24), 18);
	assert_true(marked("10.0.0.1"));
	assert_true(marked("10.255.255.255"));
	assert_true(marked("172.16.16.0"));
	assert_true(marked("172.16.31.255"));
	assert_false(marked("172.16.32.0"));
	assert_true(marked("192.0.2.70"));
	assert_true(marked("198.51.100.7"));
	assert_false(marked("11.0.0.1"));
	assert_false(marked("203.0.113.9"));
	/* A second prefix in the same /24: the mark stays until both are gone. */
	struct xcni_prefilter_key p32b = pfx("198.51.100.9", 32);

	assert_int_equal(xcni_prefilter_mark(fd16, fd24, &p32b, 1), 0);
	assert_int_equal(xcni_prefilter_mark(fd16, fd24, &p32, -1), 0);
	assert_true(marked("198.51.100.9"));
	assert_int_equal(xcni_prefilter_mark(fd16, fd24, &p32b, -1), 0);
	assert_false(marked("198.51.100.9"));
	assert_int_equal(xcni_prefilter_mark(fd16, fd24, &p8, -1), 0);
	assert_int_equal(xcni_prefilter_mark(fd16, fd24, &p20, -1), 0);
	assert_int_equal(xcni_prefilter_mark(fd16, fd24, &p28, -1), 0);
	assert_int_equal(count(fd16), 0);
	assert_int_equal(count(fd24), 0);
}

static void test_bad_length_refused(void **state)
{
	struct xcni_prefilter_key p0 = pfx("0.0.0.0", 0), p33 = pfx("1.2.3.4", 33);

	(void)state;
	assert_int_equal(xcni_prefilter_mark(fd16, fd24, &p0, 1), -EINVAL);
	assert_int_equal(xcni_prefilter_mark(fd16, fd24, &p33, 1), -EINVAL);
	assert_int_equal(count(fd16) + count(fd24), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_marks_cover_every_source),
		cmocka_unit_test(test_bad_length_refused),
	};

	return cmocka_run_group_tests_name("prefilter", tests, setup, teardown);
}
