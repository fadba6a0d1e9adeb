// SPDX-License-Identifier: Apache-2.0
/* xcnid's flow options (--flows, --flow-log..., --ipfix..., --flows-listen), parsed and checked. */
#include <errno.h>
#include <sys/un.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/system/log.h"
#include "agent/flows.h"
#include "lib/system/http.h"
#include "lib/system/util.h"
#include "agent/ipfix.h"

int flowd_parse_opt(int which, const char *arg, struct flowd_opts *o)
{
	if (which != FLOWD_OPT_NO_FLOWS)
		o->asked = true;
	switch (which) {
	case FLOWD_OPT_FLOWS:
		if (!arg || !strcmp(arg, "true") || !strcmp(arg, "yes") || !strcmp(arg, "on") ||
		    !strcmp(arg, "1")) {
			o->off = false;
			return 0;
		}
		if (!strcmp(arg, "false") || !strcmp(arg, "no") || !strcmp(arg, "off") ||
		    !strcmp(arg, "0")) {
			o->off = true;
			return 0;
		}
		pr_err("--flows=%s: true or false\n", arg);
		return -EINVAL;
	case FLOWD_OPT_NO_FLOWS:
		o->off = true;
		return 0;
	case FLOWD_OPT_LOG:
		if (!*arg) {
			pr_err("--flow-log: an empty path\n");
			return -EINVAL;
		}
		o->log_path = arg;
		return 0;
	case FLOWD_OPT_SOCKET: {
		struct sockaddr_un sa;

		if (!*arg || strlen(arg) >= sizeof(sa.sun_path)) {
			pr_err("--flows-socket %s: a path of 1 to %zu bytes\n", arg,
			       sizeof(sa.sun_path) - 1);
			return -EINVAL;
		}
		o->sock_path = arg;
		return 0;
	}
	case FLOWD_OPT_IPFIX: {
		char err[128];

		if (ipfix_check_url(arg, err, sizeof(err))) {
			pr_err("--ipfix %s: %s\n", arg, err);
			return -EINVAL;
		}
		o->ipfix_url = arg;
		return 0;
	}
	case FLOWD_OPT_IPFIX_ALL:
		o->ipfix_all_nodes = true;
		return 0;
	case FLOWD_OPT_LISTEN:
		if (http_check_addr(arg, true)) {
			pr_err("--flows-listen %s: HOST:PORT with an IPv4 or [IPv6] address\n", arg);
			return -EINVAL;
		}
		o->listen = arg;
		return 0;
	case FLOWD_OPT_TLS:
		if (!*arg) {
			pr_err("--flows-tls: an empty path\n");
			return -EINVAL;
		}
		o->tls_dir = arg;
		return 0;
	}
	return -EINVAL;
}

int flowd_check_opts(struct flowd_opts *o)
{
	if (o->off) {
		static const char *const need[] = { "--flows-window", "--flow-log",
						    "--flows-socket", "--ipfix", "--flows-listen",
						    "--flows-tls" };
		const void *given[] = { o->window ? &o->window : NULL, o->log_path, o->sock_path,
					o->ipfix_url, o->listen, o->tls_dir };

		for (size_t i = 0; i < ARRAY_SIZE(need); i++)
			if (given[i]) {
				pr_err("%s is the flow records': it does nothing with --flows=false "
				       "(--no-flows)\n", need[i]);
				return -EINVAL;
			}
		if (o->log_max_bytes || o->log_files || o->log_interval_s) {
			pr_err("--flow-log-* are the flow log's: they do nothing with "
			       "--flows=false (--no-flows)\n");
			return -EINVAL;
		}
		o->window = 0;
		return 0;
	}
	if (!o->log_path && (o->log_max_bytes || o->log_files)) {
		pr_err("--flow-log-max-bytes and --flow-log-files are the flow log's: give "
		       "--flow-log PATH too\n");
		return -EINVAL;
	}
	if (!o->log_path && o->log_interval_s) {
		pr_err("--flow-log-interval is the flow log's: give --flow-log PATH too (IPFIX's "
		       "records go by --ipfix-active-timeout and when flows end)\n");
		return -EINVAL;
	}
	if (!o->ipfix_url && (o->ipfix_active_s || o->ipfix_idle_s || o->ipfix_all_nodes)) {
		pr_err("--ipfix-active-timeout, --ipfix-idle-timeout and --ipfix-all-nodes are "
		       "IPFIX's: give --ipfix URL too\n");
		return -EINVAL;
	}
	/* No plaintext flows leave a node: the network listener is TLS or nothing. */
	if (o->listen && !o->tls_dir) {
		pr_err("--flows-listen %s: give --flows-tls DIR too (tls.crt, tls.key, ca.crt): flows "
		       "are served over the network only with TLS and client certificates\n",
		       o->listen);
		return -EINVAL;
	}
	if (o->tls_dir && !o->listen) {
		pr_err("--flows-tls %s is the network listener's: give --flows-listen ADDR:PORT too\n",
		       o->tls_dir);
		return -EINVAL;
	}
	if (!o->ipfix_active_s)
		o->ipfix_active_s = FLOWD_IPFIX_ACTIVE_DEFAULT;
	if (!o->ipfix_idle_s)
		o->ipfix_idle_s = FLOWD_IPFIX_IDLE_DEFAULT;
	/* On by default: a bounded window (FLOWS_WINDOW_DEFAULT records). */
	if (!o->window)
		o->window = FLOWS_WINDOW_DEFAULT;
	if (!o->log_max_bytes)
		o->log_max_bytes = FLOWD_LOG_MAX_BYTES_DEFAULT;
	if (!o->log_files)
		o->log_files = FLOWD_LOG_FILES_DEFAULT;
	if (!o->log_interval_s)
		o->log_interval_s = FLOWD_LOG_INTERVAL_DEFAULT;
	return 0;
}
