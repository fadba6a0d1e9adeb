// SPDX-License-Identifier: Apache-2.0
/*
 * xcnictl's print layer: one table, written as aligned text and as JSON; and
 * the reason table every view names reasons from.
 */
#include <errno.h>
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../bpf/xcni_shared.h"
#include "../../user/lib/system/print.h"
#include "../../user/lib/observe/reasons.h"

static const struct pt_col cols[] = {
	{ "NAME", "name", PT_STR },
	{ "PACKETS", "packets", PT_UINT },
	{ NULL, "code", PT_INT }, /* JSON only */
	{ "FLAGS", "flags", PT_HEX },
	{ "NOTE", NULL, PT_STR }, /* text only */
};

/* pt_print's two formats, beside pt_print_fmt's: both entry points stay under test. */
enum { PRINT_TEXT = -1, PRINT_JSON = -2 };

/*
 * What t prints in fmt, in a string the caller frees; err gets the result of
 * pt_print (PRINT_TEXT, PRINT_JSON) or of pt_print_fmt (a pt_format).
 */
static char *render(struct ptable *t, int fmt, int *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*err = fmt < 0 ? pt_print(t, f, fmt == PRINT_JSON) : pt_print_fmt(t, f, fmt);
	fclose(f);
	return buf;
}

/* t printed in fmt (see render) is want, without an error. */
static void prints(struct ptable *t, int fmt, const char *want)
{
	int err;
	char *out = render(t, fmt, &err);

	assert_int_equal(err, 0);
	assert_string_equal(out, want);
	free(out);
}

static struct ptable *sample(void)
{
	struct ptable *t = pt_new(cols, sizeof(cols) / sizeof(cols[0]), 0);

	assert_non_null(t);
	pt_str(t, "fwd-local");
	pt_uint(t, 7);
	pt_int(t, -100);
	pt_uint(t, 0x1f);
	pt_str(t, "short");
	pt_str(t, NULL);
	pt_uint(t, 123456);
	pt_int(t, -108);
	pt_uint(t, 0);
	pt_strf(t, "%s-%d", "longer", 2);
	return t;
}

/*
 * sample() in each format: text aligns strings to the left, numbers to the
 * right, no blanks at line ends; JSON is an array of objects; -o wide adds
 * CODE, JSON-only, titled by its key (NOTE, text-only, stays); JSONL is one
 * object a line.
 */
static void sample_in_each_format(void **state)
{
	static const struct {
		int fmt;
		const char *want;
	} rows[] = {
		{ PRINT_TEXT, "NAME       PACKETS  FLAGS  NOTE\n"
			      "fwd-local        7   0x1f  short\n"
			      "-           123456    0x0  longer-2\n" },
		{ PRINT_JSON, "[{\"name\":\"fwd-local\",\"packets\":7,\"code\":-100,\"flags\":31},"
			      "{\"name\":null,\"packets\":123456,\"code\":-108,\"flags\":0}]\n" },
		{ PT_WIDE, "NAME       PACKETS  CODE  FLAGS  NOTE\n"
			   "fwd-local        7  -100   0x1f  short\n"
			   "-           123456  -108    0x0  longer-2\n" },
		{ PT_JSONL, "{\"name\":\"fwd-local\",\"packets\":7,\"code\":-100,\"flags\":31}\n"
			    "{\"name\":null,\"packets\":123456,\"code\":-108,\"flags\":0}\n" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct ptable *t = sample();

		prints(t, rows[i].fmt, rows[i].want);
		pt_free(t);
	}
}

/*
 * Where a column shows (PT_SHOW_*): the default text keeps the narrow
 * columns, -o wide the wide ones and the JSON-only ones not marked
 * PT_SHOW_JSON (each once), a record every field but the narrow shorthands,
 * JSON every keyed one.
 */
static const struct pt_col show_cols[] = {
	{ "SRC", NULL, PT_STR | PT_SHOW_NARROW }, /* the default's shorthand of ADDR, PORT */
	{ "ADDR", "addr", PT_STR | PT_SHOW_WIDE },
	{ NULL, "port", PT_UINT | PT_SHOW_JSON }, /* in ADDR's text already */
	{ NULL, "pod", PT_STR }, /* -o wide: POD */
	{ "STATE", "state", PT_STR },
};

static struct ptable *show_sample(unsigned int flags)
{
	struct ptable *t = pt_new(show_cols, sizeof(show_cols) / sizeof(show_cols[0]), flags);

	assert_non_null(t);
	pt_str(t, "x/a:80");
	pt_str(t, "10.0.0.1:80");
	pt_uint(t, 80);
	pt_str(t, "x/a");
	pt_str(t, "new");
	return t;
}

static void show_flags_pick_the_text_columns(void **state)
{
	struct ptable *t = show_sample(0);
	char *out;
	int err;

	(void)state;
	prints(t, PT_TEXT, "SRC     STATE\nx/a:80  new\n");
	prints(t, PT_WIDE, "ADDR         POD  STATE\n10.0.0.1:80  x/a  new\n");
	out = render(t, PT_JSON, &err);
	assert_int_equal(err, 0);
	assert_non_null(strstr(out, "\"addr\":\"10.0.0.1:80\",\"port\":80,\"pod\":\"x/a\",\"state\":\"new\""));
	free(out);
	pt_free(t);
	t = show_sample(PT_RECORD);
	prints(t, PT_TEXT, "ADDR   10.0.0.1:80\nSTATE  new\n");
	pt_free(t);
}

static void yaml_reads_back_as_the_json(void **state)
{
	static const struct pt_col ycols[] = {
		{ "S", "s", PT_STR }, { "U", "u", PT_UINT },
	};
	struct ptable *t = pt_new(ycols, 2, 0);

	(void)state;
	/* Strings that would read back as something else are quoted. */
	pt_str(t, "10.0.0.1");
	pt_uint(t, 1);
	pt_str(t, "yes");
	pt_uint(t, 2);
	pt_str(t, "x/a");
	pt_uint(t, 3);
	pt_str(t, "a: b");
	pt_null(t);
	prints(t, PT_YAML, "---\n"
			       "- s: \"10.0.0.1\"\n  u: 1\n"
			       "- s: \"yes\"\n  u: 2\n"
			       "- s: x/a\n  u: 3\n"
			       "- s: 'a: b'\n  u: null\n");
	pt_free(t);
}

static void formats_by_name(void **state)
{
	static const char *const names[] = { "text", "wide", "json", "jsonl", "yaml" };
	enum pt_format fmt;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(pt_format_parse(names[i], &fmt), 0);
		assert_string_equal(pt_format_name(fmt), names[i]);
	}
	assert_int_equal(pt_format_parse("xml", &fmt), -EINVAL);
	assert_int_equal(pt_format_parse("JSON", &fmt), -EINVAL);
	assert_int_equal(pt_format_parse(NULL, &fmt), -EINVAL);
}

static void empty_table(void **state)
{
	struct ptable *t = pt_new(cols, sizeof(cols) / sizeof(cols[0]), 0);

	(void)state;
	prints(t, PRINT_TEXT, "NAME  PACKETS  FLAGS  NOTE\n");
	prints(t, PRINT_JSON, "[]\n");
	pt_free(t);
}

static void record_is_one_object(void **state)
{
	static const struct pt_col rc[] = {
		{ "ABI-VERSION", "abi_version", PT_UINT },
		{ "NODE", "node", PT_STR },
	};
	struct ptable *t = pt_new(rc, 2, PT_RECORD);

	(void)state;
	pt_uint(t, 1);
	pt_str(t, "node-a");
	prints(t, PRINT_TEXT, "ABI-VERSION  1\nNODE         node-a\n");
	prints(t, PRINT_JSON, "{\"abi_version\":1,\"node\":\"node-a\"}\n");
	pt_free(t);
}

static void big_unsigned_stays_a_number(void **state)
{
	static const struct pt_col c[] = { { "N", "n", PT_UINT } };
	struct ptable *t = pt_new(c, 1, 0);
	char *out;
	int err;

	(void)state;
	pt_uint(t, UINT64_MAX);
	out = render(t, PRINT_TEXT, &err);
	assert_string_equal(out, "                   N\n18446744073709551615\n");
	free(out);
	/* jansson's integers are signed: a double, not a string nor a wrapped -1. */
	prints(t, PRINT_JSON, "[{\"n\":1.8446744073709552e19}]\n");
	pt_free(t);
}

static void view_bugs_are_errors(void **state)
{
	struct ptable *t = pt_new(cols, sizeof(cols) / sizeof(cols[0]), 0);
	char *out;
	int err;

	(void)state;
	pt_str(t, "x");
	out = render(t, PRINT_TEXT, &err); /* a row left incomplete */
	assert_int_equal(err, -EINVAL);
	free(out);
	pt_str(t, "not a number"); /* into the PACKETS column */
	pt_uint(t, 1);
	out = render(t, PRINT_JSON, &err);
	assert_int_equal(err, -EINVAL);
	free(out);
	pt_free(t);
}

static void every_reason_has_a_unique_name(void **state)
{
	int r, s;

	(void)state;
	for (r = XCNI_REASON_MIN; r <= XCNI_REASON_MAX; r++) {
		const struct xcni_reason_info *ri = xcni_reason_info(r);

		assert_non_null(ri);
		assert_non_null(ri->desc);
		for (s = XCNI_REASON_MIN; s < r; s++)
			assert_string_not_equal(ri->name, xcni_reason_info(s)->name);
	}
	assert_string_equal(xcni_reason_info(XCNI_DROP_SPOOF_IP)->name, "drop-spoof-ip");
	assert_null(xcni_reason_info(XCNI_REASON_MAX + 1));
	assert_null(xcni_reason_info(0));
	assert_string_equal(xcni_dir_name(XCNI_DIR_FROM_POD), "from-pod");
	assert_string_equal(xcni_dir_name(XCNI_DIR_TO_POD), "to-pod");
	assert_null(xcni_dir_name(XCNI_NR_DIRS));
}

/* A stream into memory, as xcnictl's watch views write to stdout. */
struct sink {
	char *buf;
	size_t len;
	FILE *f;
};

static void sink_open(struct sink *k)
{
	k->buf = NULL;
	k->f = open_memstream(&k->buf, &k->len);
	assert_non_null(k->f);
}

static void sink_close(struct sink *k)
{
	fclose(k->f);
	free(k->buf);
}

/* pt_flush_fmt() wrote, all told, want into k. */
static void flushes(struct ptable *t, struct sink *k, bool json, const char *want)
{
	assert_int_equal(pt_flush_fmt(t, k->f, json ? PT_JSONL : PT_TEXT), 0);
	fflush(k->f);
	assert_string_equal(k->buf, want);
}

/* The streams' columns: the first two, or all three. */
static const struct pt_col sc[] = {
	{ "REASON", "reason", PT_STR },
	{ "LEN", "len", PT_UINT },
	{ "VERDICT", "verdict", PT_STR },
};

static void stream_writes_only_new_rows(void **state)
{
	struct ptable *t = pt_new(sc, 2, 0);
	struct sink k;

	(void)state;
	sink_open(&k);
	pt_str(t, "drop-spoof-ip");
	pt_uint(t, 98);
	flushes(t, &k, false, "REASON  LEN\ndrop-spoof-ip   98\n");
	pt_str(t, "drop-short");
	pt_uint(t, 1500);
	/* The header once; the new row only; widths never shrink. */
	flushes(t, &k, false, "REASON  LEN\ndrop-spoof-ip   98\ndrop-short     1500\n");
	sink_close(&k);
	pt_free(t);

	t = pt_new(sc, 2, 0);
	sink_open(&k);
	pt_str(t, "a");
	pt_uint(t, 1);
	pt_str(t, "b");
	flushes(t, &k, true, "{\"reason\":\"a\",\"len\":1}\n");
	pt_uint(t, 2); /* completes the row kept from before */
	flushes(t, &k, true, "{\"reason\":\"a\",\"len\":1}\n{\"reason\":\"b\",\"len\":2}\n");
	sink_close(&k);
	pt_free(t);
}

/* Minimum widths: a stream's first line is as wide as its widest, so later
 * lines align with it; the last column gets no trailing blanks. */
static void stream_min_width_aligns_from_the_first_line(void **state)
{
	struct ptable *t = pt_new(sc, 3, 0);
	struct sink k;

	(void)state;
	sink_open(&k);
	pt_min_width(t, 0, 13);
	pt_min_width(t, 1, 4);
	pt_min_width(t, 2, 20); /* the last column: no padding */
	pt_str(t, "fwd-local");
	pt_uint(t, 98);
	pt_str(t, "x");
	flushes(t, &k, false, "REASON          LEN  VERDICT\n"
			      "fwd-local        98  x\n");
	pt_str(t, "drop-spoof-ip");
	pt_uint(t, 1500);
	pt_null(t);
	flushes(t, &k, false, "REASON          LEN  VERDICT\n"
			      "fwd-local        98  x\n"
			      "drop-spoof-ip  1500  -\n");
	/* JSON is not padded. */
	pt_min_width(t, 0, 40);
	pt_str(t, "a");
	pt_uint(t, 1);
	pt_str(t, "b");
	sink_close(&k);
	sink_open(&k);
	flushes(t, &k, true, "{\"reason\":\"a\",\"len\":1,\"verdict\":\"b\"}\n");
	sink_close(&k);
	pt_free(t);
}

/* pt_getopt: getopt_long over one pt_opt table: long names, the rows' short
 * letters (with their values), the row's index, and ':' for a missing value
 * only when asked (colon). */
static void getopt_reads_one_table(void **state)
{
	static const struct pt_opt t[] = {
		{ "file", 'f', true, 'f', 0, "FILE", "a file" },
		{ "now", 0, false, 'n', 0, NULL, "at once" },
		{ "from", 0, true, 1, 0, NULL, NULL },
		{ "verbose", 'v', false, 'v', 0, NULL, "more" },
		{}
	};
	char *line[] = { "x", "-fA", "--now", "--from", "x/a", "-v", "-n", "--file", NULL };
	int idx = -1;

	(void)state;
	optind = 0;
	opterr = 0;
	assert_int_equal(pt_getopt(8, line, t, true, &idx), 'f');
	assert_string_equal(optarg, "A");
	assert_int_equal(pt_getopt(8, line, t, true, &idx), 'n');
	assert_int_equal(pt_getopt(8, line, t, true, &idx), 1);
	assert_string_equal(t[idx].name, "from");
	assert_string_equal(optarg, "x/a");
	assert_int_equal(pt_getopt(8, line, t, true, &idx), 'v');
	/* -n: --now has no short letter. */
	assert_int_equal(pt_getopt(8, line, t, true, &idx), '?');
	assert_int_equal(pt_getopt(8, line, t, true, &idx), ':');
	assert_int_equal(pt_getopt(8, line, t, true, &idx), -1);
	optind = 0;
	assert_int_equal(pt_getopt(2, (char *[]){ "x", "-f", NULL }, t, false, NULL), '?');
}

/* pt_usage: the synopsis, a line per row (the help at column 30, on a line of
 * its own after a wider option), and the exit code: 0 on stdout, else 2. */
static void usage_is_the_table(void **state)
{
	static const struct pt_opt t[] = {
		{ "file", 'f', true, 'f', 0, "FILE", "a file" },
		{ "now", 0, false, 'n', 0, NULL, "at once" },
		{ "a-much-longer-option-name", 0, true, 1, 0, "VALUE", "wide" },
		{}
	};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	assert_int_equal(pt_usage(f, "cmd [OPTIONS]", t), 2);
	fclose(f);
	assert_string_equal(buf, "Usage: xcnictl cmd [OPTIONS]   (xcnictl(1) says more)\n"
				 "  -f, --file FILE             a file\n"
				 "  --now                       at once\n"
				 "  --a-much-longer-option-name VALUE\n"
				 "                              wide\n");
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sample_in_each_format),
		cmocka_unit_test(show_flags_pick_the_text_columns),
		cmocka_unit_test(yaml_reads_back_as_the_json),
		cmocka_unit_test(formats_by_name),
		cmocka_unit_test(getopt_reads_one_table),
		cmocka_unit_test(usage_is_the_table),
		cmocka_unit_test(empty_table),
		cmocka_unit_test(record_is_one_object),
		cmocka_unit_test(big_unsigned_stays_a_number),
		cmocka_unit_test(view_bugs_are_errors),
		cmocka_unit_test(every_reason_has_a_unique_name),
		cmocka_unit_test(stream_writes_only_new_rows),
		cmocka_unit_test(stream_min_width_aligns_from_the_first_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
