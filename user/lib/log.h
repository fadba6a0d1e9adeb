/* SPDX-License-Identifier: Apache-2.0 */
/* Leveled logger shared by xcni's binaries; libbpf's messages are routed here. */
#ifndef XCNI_LOG_H
#define XCNI_LOG_H

enum xlog_level { XLOG_ERROR, XLOG_WARN, XLOG_INFO, XLOG_DEBUG };

/* Messages at or below this level are written to stderr. */
extern enum xlog_level xlog_max;
void xlog_set_prefix(const char *prefix);
void xlog(enum xlog_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_err(...) xlog(XLOG_ERROR, __VA_ARGS__)
#define pr_warn(...) xlog(XLOG_WARN, __VA_ARGS__)
#define pr_info(...) xlog(XLOG_INFO, __VA_ARGS__)
#define pr_debug(...) xlog(XLOG_DEBUG, __VA_ARGS__)

#endif
