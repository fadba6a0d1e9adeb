/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Agents' flows over the network, the client side (xcnictl flows --agent
 * and --kubeconfig, xcnictl ui): where each agent is (given by hand, or
 * found through the API server: the xcni DaemonSet's pods, k8sagents.h),
 * and one HTTPS request to it with a client certificate (xcnid
 * --flows-listen serves it: FLOWS_HTTP_PATH, flows.h).
 */
#ifndef XCNI_FLOWSNET_H
#define XCNI_FLOWSNET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct flows_agent {
	/* Its node's name (found through the API server), or ADDR:PORT (given
	 * by hand) until its records name it. */
	char node[64];
	char host[72]; /* an address or a name; an IPv6 address in brackets */
	char pod[128]; /* found through the API server: its agent pod ("" none, or by hand) */
	char sock[108]; /* not "": this host's agent, on its Unix socket */
	unsigned int port;
	/* Not "": this node's agent cannot be asked, and why (no agent pod,
	 * not running, no address yet); said, never skipped. */
	char why[160];
};

/*
 * --agent ADDR: an IPv4 address or a name, [an IPv6 address], either with
 * :PORT, or a bare IPv6 address; port FLOWS_TLS_PORT unless given.
 * 0 or -EINVAL (err says what is wrong).
 */
int flows_agent_parse(const char *v, struct flows_agent *a, char *err, size_t errlen);

/*
 * Every node's agent, through the API server (k8s_api_conf_kubectl: the
 * kubeconfig FILE, KUBECONFIG, ~/.kube/config or in-cluster): the xcni
 * DaemonSet's pods (kube-system, app.kubernetes.io/name=xcni) at their
 * hostIP, port FLOWS_TLS_PORT, and the nodes with no running agent, each
 * with why. *out (the caller's to free) holds *n. 0 or -errno: err says
 * what the API server answered, or is "" when there is no API server to
 * ask (the kubeconfig, or its absence, said on stderr).
 */
int flows_agents_cluster(const char *kubeconfig, struct flows_agent **out, size_t *n, char *err,
			 size_t errlen);

/* DIR/ca.crt, tls.crt and tls.key readable. 0 or -errno (err names the file). */
int flows_tls_check(const char *tls_dir, char *err, size_t errlen);

/*
 * GET path (NULL: FLOWS_HTTP_PATH) with req's lines ("name=value\n" each) as
 * query arguments from agent a: over its Unix socket a->sock where that is
 * set (plain HTTP: the socket's mode is the check), else over HTTPS, where its
 * certificate must carry FLOWS_TLS_NAME and chain to tls_dir/ca.crt and this
 * client shows tls_dir/tls.crt and tls.key. The answer (NUL-ended, its last
 * byte a newline; a 400's {"error":...} line too) into *out, the caller's to
 * free. 0, -EACCES (403), -ENOENT or -ECONNREFUSED (no agent on the Unix
 * socket), -EIO (no answer, or another status), -ENOMEM; err says what the
 * socket, TLS or the agent refused.
 */
int flows_http_get(const char *tls_dir, const struct flows_agent *a, const char *path,
		   const char *req, long timeout_s, char **out, size_t *outlen, char *err,
		   size_t errlen);

/* flows_http_get to the agent on this host's Unix socket sock. */
int flows_local_get(const char *sock, const char *path, const char *req, long timeout_s,
		    char **out, size_t *outlen, char *err, size_t errlen);

/* ---- requests other than flows: the same channel, request=KIND first ------ */

/* The query argument naming a request that is not a flows query. */
#define FLOWS_REQ_KIND "request"
/* The agent's policy status (agent/polstatus.h's file, one JSON line). */
#define FLOWS_REQ_POLSTATUS "policy-status"
/* One side of explain, on the agent's own maps (lib/observe/explain.h). */
#define FLOWS_REQ_EXPLAIN "explain"
/* The agent's status socket's answer (agentstatus.h; xcnictl status --kubeconfig). */
#define FLOWS_REQ_STATUS "status"

/*
 * An explain argument (name src, dst, port, family or sport) as an agent
 * runs it: a pod NS/NAME, an address, PORT/PROTO, 4|6, a port; characters
 * [A-Za-z0-9._:/-] only, not starting with '-' (it becomes an argv word).
 * 0, or -EINVAL (err says which and why).
 */
int flows_explain_arg(const char *name, const char *v, char *err, size_t errlen);
/*
 * explain's request lines into buf: request=explain, src, dst, port, and
 * family and sport when not 0. 0, -EINVAL (an argument refused, said in
 * err), -E2BIG (buf too small).
 */
int flows_explain_req(const char *src, const char *dst, const char *pp, unsigned int family,
		      unsigned int sport, char *buf, size_t len, char *err, size_t errlen);

/*
 * explain's answers (each node's record, xcnictl explain -o json's object)
 * as one (a new JSON object, the caller's; NULL: none, or out of memory): the
 * source pod's node's record with the ingress columns of the destination
 * pod's node (the record whose side is not "remote"), and the verdict of
 * the path as explain_flow words it: denied if a side denies, unknown while a
 * side was decided by no answer, else allowed.
 */
void *flows_explain_merge(void *const *records, size_t n);

/*
 * req (request lines) asked of every agent of the cluster (flows_agents_cluster),
 * in turn: *agents (the caller's to free) and docs[i], each answer as JSON (the
 * caller's to free; NULL where agents[i].why says why it was not asked, did
 * not answer, answered an error or not JSON). 0 or -errno (said).
 */
int flows_ask_all(const char *kubeconfig, const char *tls_dir, const char *req, long timeout_s,
		  struct flows_agent **agents, struct json_t ***docs, size_t *n);

/* ---- several nodes' records of a connection ------------------------------- */

/* A record's connection (JSON): the 5-tuple in the direction of its first packet, as text. */
void flows_conn_key(void *json_rec, char *buf, size_t len);
/*
 * A connection's records on several nodes (a JSON object, node -> record)
 * as one (a new JSON object, the caller's, NULL when out of memory): the
 * deciding node's (a drop over an audit over an allow over a forward; a
 * policy's over none), its ends as the nodes that know them name them, the
 * Service from whichever translated it, the latest times; "decided_by", and
 * every node's verdict, points and counts in "nodes".
 */
void *flows_merge_conn(void *per_node);

#endif

/* ---- the merged view's filters -------------------------------------------- */

struct flow_filter;
struct flow_rec;

/*
 * A request (xcnictl flows' "name=value\n" lines) for several nodes whose
 * records are merged, split in two. Into node_req what each node can judge
 * of its own part of a connection, whatever it knows of the other end: the
 * 5-tuple's (protocol, ports, addresses and prefixes), times, and the
 * request's own words (time, last, first, after). Into merged_req what names
 * an end or what one node alone may know: pods, namespaces, labels and
 * identities (a node may not name a remote end: an IPv6 source from another
 * node), the Service (the sending node's), the drop reason and the verdict
 * (the deciding node's): checked on the merged record (flows_merged_match),
 * so no node drops its part of a connection the merged view matches. A
 * negated filter goes where its filter goes. 0, or -E2BIG (a cap too small).
 */
int flows_req_split(const char *req, char *node_req, size_t ncap, char *merged_req,
		    size_t mcap);

/*
 * Whether a record as JSON (a merged one: xcnictl flows' object) matches ff's
 * filters on its ends, verdict, drop reason and Service (what flows_req_split
 * leaves to the merged view; times are not read: each node judged them).
 */
bool flows_json_match(const struct flow_filter *ff, void *json_rec);
/* Whether time a is later than b, as the records give them (RFC 3339 strings sort as times). */
bool flows_json_later(json_t *a, json_t *b);
