/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xcnid's flow records (on unless xcnid --flows=false): fed by a walk of conntrack every
 * second and by the events ring buffer (verdicts and drops), kept in the
 * bounded window of user/lib/observe/flows.h, served to xcnictl flows over a Unix
 * socket (one request, one answer, then close), and written to a rotating
 * JSON-lines flow log, and exported over IPFIX (agent/ipfix.h). Driven from the agent's loop through one fd; never
 * waits on a client.
 *
 * While flows are on, xcnid is the reader of the events ring: a second
 * reader (xcnictl monitor on the same node) would take events from it.
 */
#ifndef XCNID_FLOWS_H
#define XCNID_FLOWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

struct flowd_opts {
	size_t window; /* 0: flows off (after xcnid_opts.c's check_flows) */
	bool off; /* --flows=false, --no-flows: flows are on unless told */
	bool asked; /* an option asked for them: failing to open them fails the agent */
	const char *sock_path; /* NULL: flows_sock_path(pin dir) */
	const char *log_path; /* NULL: no flow log */
	uint64_t log_max_bytes; /* a file is rotated before it would grow past this */
	unsigned int log_files; /* files kept, the one written included */
	unsigned int log_interval_s; /* changed records written every this many seconds */
	const char *ipfix_url; /* NULL: no IPFIX export; udp://HOST:PORT or tcp://HOST:PORT */
	unsigned int ipfix_active_s; /* a live flow's record goes at least this often */
	unsigned int ipfix_idle_s; /* one with no conntrack entry ends after this long without packets */
	bool ipfix_all_nodes; /* export a connection from every node that saw it */
	const char *listen; /* NULL: no network listener; ADDR:PORT, HTTPS with client certificates */
	const char *tls_dir; /* its tls.crt, tls.key, ca.crt */
};

#define FLOWD_LOG_MAX_BYTES_DEFAULT (16ULL << 20)
#define FLOWD_LOG_FILES_DEFAULT 5
#define FLOWD_LOG_FILES_MAX 100
#define FLOWD_LOG_INTERVAL_DEFAULT 5
#define FLOWD_IPFIX_ACTIVE_DEFAULT 60
#define FLOWD_IPFIX_IDLE_DEFAULT 15

struct flowd;
struct pol_nm_budget;
struct http;


/* Opens the pinned maps, the ring, the socket and the log. 0 or -errno (logged). */
int flowd_open(const struct flowd_opts *o, const char *pin_dir, const char *node,
	       struct flowd **out);
/* The fd for the agent's poll(2) (POLLIN); -1 for NULL. */
int flowd_fd(const struct flowd *d);
void flowd_dispatch(struct flowd *d);
/* The window and the node's name, for the UI's graph (agent/ui.c). */
struct flows *flowd_flows(struct flowd *d);
/* Whether it writes a flow log (--flow-log). */
bool flowd_logs(const struct flowd *d);
/* Each namespace whose flow log lines were carried at a rotation (within its
 * share) or not written (the carried left no room): how many. */
void flowd_log_shares_each(const struct flowd *d,
			   void (*fn)(void *arg, const char *ns, uint64_t carried, uint64_t refused),
			   void *arg);
/* The drop records' near misses: their walks and the records the bound left without. */
const struct pol_nm_budget *flowd_nm_budget(const struct flowd *d);
/* The HTTPS server of --flows-listen, or NULL. */
struct http *flowd_http(struct flowd *d);
const char *flowd_node(const struct flowd *d);
/*
 * The cluster state the agent compiles policy from (its watch's store; NULL:
 * none, as without a cluster source; d NULL: nothing): a drop by isolation then names its
 * near misses (lib/policy/nearmiss.h) in its record.
 */
struct store;
void flowd_set_store(struct flowd *d, struct store *st);
/* Writes what the log has not had yet, removes the socket. */
void flowd_free(struct flowd *d);

#endif
