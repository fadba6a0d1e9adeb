/* SPDX-License-Identifier: Apache-2.0 */
/* Leveled logger shared by xcni's binaries; libbpf's messages are routed here. */
#ifndef XCNI_LOG_H
#define XCNI_LOG_H

enum xlog_level { XLOG_ERROR, XLOG_WARN, XLOG_INFO, XLOG_DEBUG };

/*
 * TEXT: "xcnid: warn: message" for people. JSON: one object per line,
 * {"ts":"2026-01-02T15:04:05.123Z","level":"warn","msg":"...","component":"xcnid"},
 * for log collectors. Either way one event is one line, written with one write(2).
 */
enum xlog_format { XLOG_TEXT, XLOG_JSON };

/* Messages at or below this level are written to stderr. */
extern enum xlog_level xlog_max;
/* The component: the text prefix and the JSON "component" field. */
void xlog_set_prefix(const char *prefix);
void xlog_set_format(enum xlog_format fmt);
/* "text" or "json" -> the format; -EINVAL for anything else. */
int xlog_parse_format(const char *s, enum xlog_format *fmt);
void xlog(enum xlog_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * The one JSON string escaper (RFC 8259) of the hand-written JSON (log
 * events, the flows' answers): byte c's escape into esc ("\\n", "\\u001f"),
 * its length, or 0 when c stands as itself. Control characters and DEL are
 * escaped, so an event stays on one line; bytes >= 0x80 pass (UTF-8). html:
 * also <, > and &, for JSON inside a page's script.
 */
unsigned int xlog_json_esc(unsigned char c, int html, char esc[7]);

#define pr_err(...) xlog(XLOG_ERROR, __VA_ARGS__)
#define pr_warn(...) xlog(XLOG_WARN, __VA_ARGS__)
#define pr_info(...) xlog(XLOG_INFO, __VA_ARGS__)
#define pr_debug(...) xlog(XLOG_DEBUG, __VA_ARGS__)
/* Said, then ret: "return said(2, "lab up: --nodes %s: ...\n", arg);" (stderr, as it is). */
#define said(ret, ...) (fprintf(stderr, __VA_ARGS__), (ret))
#define pr_err_ret(ret, ...) (pr_err(__VA_ARGS__), (ret))

#endif
