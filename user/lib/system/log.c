// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/system/clock.h"
#include "lib/system/log.h"

enum xlog_level xlog_max = XLOG_WARN;
static const char *xlog_prefix = "xcni";
static enum xlog_format xlog_format = XLOG_TEXT;

void xlog_set_prefix(const char *prefix)
{
	xlog_prefix = prefix;
}

void xlog_set_format(enum xlog_format fmt)
{
	xlog_format = fmt;
}

int xlog_parse_format(const char *s, enum xlog_format *fmt)
{
	if (!strcmp(s, "text"))
		*fmt = XLOG_TEXT;
	else if (!strcmp(s, "json"))
		*fmt = XLOG_JSON;
	else
		return -EINVAL;
	return 0;
}

/* A growable line, so one event goes out in one write(2) whatever its length. */
struct line {
	char *p;
	size_t len, cap;
	char stack[1024];
};

static void line_put(struct line *l, const char *s, size_t n)
{
	if (l->len + n + 1 > l->cap) {
		size_t cap = (l->len + n + 1) * 2;
		char *p = l->p == l->stack ? malloc(cap) : realloc(l->p, cap);

		if (!p)
			return; /* out of memory: the line comes out short rather than not at all */
		if (l->p == l->stack)
			memcpy(p, l->stack, l->len);
		l->p = p;
		l->cap = cap;
	}
	memcpy(l->p + l->len, s, n);
	l->len += n;
	l->p[l->len] = '\0';
}

static void line_puts(struct line *l, const char *s)
{
	line_put(l, s, strlen(s));
}

unsigned int xlog_json_esc(unsigned char c, int html, char esc[7])
{
	static const char hex[] = "0123456789abcdef", *const shorts = "\"\"\\\\\nn\rr\tt\bb\ff";

	esc[0] = '\\';
	for (const char *p = shorts; *p; p += 2)
		if ((unsigned char)p[0] == c) {
			esc[1] = p[1];
			esc[2] = '\0';
			return 2;
		}
	if (c >= 0x20 && c != 0x7f && !(html && (c == '<' || c == '>' || c == '&')))
		return 0;
	snprintf(esc + 1, 6, "u00%c%c", hex[c >> 4], hex[c & 0xf]);
	return 6;
}

static void line_put_json_str(struct line *l, const char *s, size_t n)
{
	char esc[7];

	line_put(l, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned int e = xlog_json_esc((unsigned char)s[i], 0, esc);

		line_put(l, e ? esc : &s[i], e ?: 1);
	}
	line_put(l, "\"", 1);
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* nowhere left to complain to */
		p += w;
		n -= (size_t)w;
	}
}

void xlog(enum xlog_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	struct line l = { .cap = sizeof(l.stack) };
	char *msg = NULL, tmp[512];
	size_t n;
	va_list ap;
	int r, saved = errno;

	if (lvl > xlog_max)
		return;
	l.p = l.stack;
	l.p[0] = '\0';
	va_start(ap, fmt);
	r = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (r < 0)
		goto out;
	if ((size_t)r >= sizeof(tmp)) {
		va_start(ap, fmt);
		if (vasprintf(&msg, fmt, ap) < 0)
			msg = NULL;
		va_end(ap);
	}
	if (!msg)
		msg = tmp;
	n = strlen(msg);
	/* Callers end messages with a newline (text mode's line end); JSON has its own. */
	while (n && msg[n - 1] == '\n')
		n--;

	if (xlog_format == XLOG_JSON) {
		char when[48];

		/* RFC 3339 in UTC with milliseconds: what log collectors parse without help. */
		xcni_rfc3339_fmt(xcni_wall_ns(), 3, when, sizeof(when));
		line_puts(&l, "{\"ts\":\"");
		line_puts(&l, when);
		line_puts(&l, "\",\"level\":\"");
		line_puts(&l, names[lvl]);
		line_puts(&l, "\",\"msg\":");
		line_put_json_str(&l, msg, n);
		line_puts(&l, ",\"component\":");
		line_put_json_str(&l, xlog_prefix, strlen(xlog_prefix));
		line_puts(&l, "}\n");
	} else {
		line_puts(&l, xlog_prefix);
		line_puts(&l, ": ");
		line_puts(&l, names[lvl]);
		line_puts(&l, ": ");
		line_put(&l, msg, n);
		line_puts(&l, "\n");
	}
	/* stderr is unbuffered: fprintf would split the line into several writes,
	 * interleaving with other writers of the same file. */
	fflush(stderr);
	write_all(STDERR_FILENO, l.p, l.len);
	if (l.p != l.stack)
		free(l.p);
	if (msg != tmp)
		free(msg);
out:
	errno = saved;
}
