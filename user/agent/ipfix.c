// SPDX-License-Identifier: Apache-2.0
/*
 * IPFIX export of flow records (ipfix.h): libfixbuf's information model,
 * session and transcoder write each message into xcni's buffer
 * (fbExporterAllocBuffer, the fBuf in manual mode), and this file sends it
 * on a socket that never blocks the agent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <fixbuf/public.h>

#include "lib/system/log.h"
#include "lib/system/util.h"
#include "lib/observe/reasons.h"
#include "xcni_shared.h"
#include "agent/ipfix.h"

#define IPFIX_MSG_MAX 1400 /* one message: within any path's MTU over UDP */
#define TID_INTERNAL 256
#define TID_V4 257
#define TID_V6 258
#define TID_IETYPE 259 /* RFC 5610 information element type records */
/*
 * The element type records go in an observation domain of their own: a
 * collector that counts only flow records in the sequence numbers (nfcapd
 * 1.7) would take the options records in the flows' domain for lost ones.
 */
#define DOMAIN_FLOWS 0
#define DOMAIN_META 1
#define F_V4 1
#define F_V6 2
#define F_PAD 4

/* xcni's enterprise-specific elements (docs/ipfix.md), under XCNI_IPFIX_PEN. */
#define IE(name, num, len, flags, type, desc)                                                   \
	FB_IE_INIT_FULL(name, XCNI_IPFIX_PEN, num, len, flags, 0, 0, type, desc)
static fbInfoElement_t xcni_ies[] = {
	IE("xcniVerdict", 1, 1, FB_IE_F_ENDIAN | FB_IE_IDENTIFIER, FB_UINT_8,
	   "0 allowed, 1 denied, 2 audit (passed; a policy in audit mode would deny), "
	   "3 forwarded, 4 refused (RST to the SYN), 5 no-backend, 6 timeout (SYN unanswered)"),
	IE("xcniDropReasonCode", 2, 4, FB_IE_F_ENDIAN | FB_IE_IDENTIFIER, FB_INT_32,
	   "enum xcni_reason of a denied flow's drops; 0 none"),
	IE("xcniDropReason", 3, FB_IE_VARLEN, FB_IE_DEFAULT, FB_STRING,
	   "the drop reason's name (drop-policy-ingress, ...); empty: none"),
	IE("xcniPolicyName", 4, FB_IE_VARLEN, FB_IE_DEFAULT, FB_STRING,
	   "the policy that decided, ns/name or name [Tier priority]; empty: none"),
	IE("xcniRuleIndex", 5, 2, FB_IE_F_ENDIAN | FB_IE_IDENTIFIER, FB_UINT_16,
	   "the rule of xcniPolicyName that decided; 65535: no policy"),
	IE("xcniPolicySide", 6, 1, FB_IE_F_ENDIAN | FB_IE_IDENTIFIER, FB_UINT_8,
	   "0 egress, 1 ingress: the side that decided; 255 none"),
	IE("xcniSourceIdentity", 7, 4, FB_IE_F_ENDIAN | FB_IE_IDENTIFIER, FB_UINT_32,
	   "the source's security identity"),
	IE("xcniDestinationIdentity", 8, 4, FB_IE_F_ENDIAN | FB_IE_IDENTIFIER, FB_UINT_32,
	   "the destination's security identity"),
	IE("xcniSourcePod", 9, FB_IE_VARLEN, FB_IE_DEFAULT, FB_STRING,
	   "ns/name of the source pod; ns/ when only its namespace is known; empty: no pod"),
	IE("xcniDestinationPod", 10, FB_IE_VARLEN, FB_IE_DEFAULT, FB_STRING,
	   "ns/name of the destination pod, as xcniSourcePod"),
	IE("xcniNode", 11, FB_IE_VARLEN, FB_IE_DEFAULT, FB_STRING, "the node that saw the flow"),
	IE("xcniDropCount", 12, 8, FB_IE_F_ENDIAN | FB_IE_TOTALCOUNTER | FB_UNITS_PACKETS,
	   FB_UINT_64, "dropped packets the drop events reported"),
	IE("xcniService", 13, FB_IE_VARLEN, FB_IE_DEFAULT, FB_STRING,
	   "the Service it was translated for, ns/name:port; empty: none"),
	IE("xcniBackend", 14, FB_IE_VARLEN, FB_IE_DEFAULT, FB_STRING,
	   "the backend addr:port it was translated to; empty: none"),
	FB_IE_NULL
};
#undef IE

/* The record in memory: the internal template below, field for field. */
struct xrec {
	uint64_t start_ms, end_ms;
	uint64_t bytes, pkts, rbytes, rpkts; /* since the flow began */
	uint64_t dbytes, dpkts, rdbytes, rdpkts; /* since the flow's previous export */
	uint64_t drops;
	/* A NodePort flow SNATed here: the source is its outside client, the
	 * post-NAT source this node's address and port (RFC 8158's IEs);
	 * otherwise the post-NAT source is the source. */
	uint8_t saddr6[16], daddr6[16], nat_saddr6[16];
	uint32_t saddr4, daddr4, nat_saddr4, sid, did;
	int32_t reason;
	uint16_t sport, dport, nat_sport, rule, tcp_flags;
	uint8_t proto, verdict, side, end_reason, fwd, pad[1];
	fbVarfield_t reason_name, policy, spod, dpod, node, service, backend;
};
_Static_assert(offsetof(struct xrec, saddr4) == 136, "xrec layout");
_Static_assert(offsetof(struct xrec, reason_name) == 176, "xrec layout");
_Static_assert(sizeof(struct xrec) == 288, "xrec layout");

static fbInfoElementSpec_t spec[] = {
	{ "flowStartMilliseconds", 8, 0 },
	{ "flowEndMilliseconds", 8, 0 },
	/* Totals, then deltas: a collector that keeps one count a direction
	 * (nfdump puts both in its in/out bytes) keeps the one it read last. */
	{ "octetTotalCount", 8, 0 },
	{ "packetTotalCount", 8, 0 },
	{ "reverseOctetTotalCount", 8, 0 },
	{ "reversePacketTotalCount", 8, 0 },
	{ "octetDeltaCount", 8, 0 },
	{ "packetDeltaCount", 8, 0 },
	{ "reverseOctetDeltaCount", 8, 0 },
	{ "reversePacketDeltaCount", 8, 0 },
	{ "xcniDropCount", 8, 0 },
	{ "sourceIPv6Address", 16, F_V6 },
	{ "destinationIPv6Address", 16, F_V6 },
	{ "postNATSourceIPv6Address", 16, F_V6 },
	{ "sourceIPv4Address", 4, F_V4 },
	{ "destinationIPv4Address", 4, F_V4 },
	{ "postNATSourceIPv4Address", 4, F_V4 },
	{ "xcniSourceIdentity", 4, 0 },
	{ "xcniDestinationIdentity", 4, 0 },
	{ "xcniDropReasonCode", 4, 0 },
	{ "sourceTransportPort", 2, 0 },
	{ "destinationTransportPort", 2, 0 },
	{ "postNAPTSourceTransportPort", 2, 0 },
	{ "xcniRuleIndex", 2, 0 },
	{ "tcpControlBits", 2, 0 },
	{ "protocolIdentifier", 1, 0 },
	{ "xcniVerdict", 1, 0 },
	{ "xcniPolicySide", 1, 0 },
	{ "flowEndReason", 1, 0 },
	/* RFC 7270's reduced-size encoding: status and reason in one octet. */
	{ "forwardingStatus", 1, 0 },
	{ "paddingOctets", 1, F_PAD },
	{ "xcniDropReason", FB_IE_VARLEN, 0 },
	{ "xcniPolicyName", FB_IE_VARLEN, 0 },
	{ "xcniSourcePod", FB_IE_VARLEN, 0 },
	{ "xcniDestinationPod", FB_IE_VARLEN, 0 },
	{ "xcniNode", FB_IE_VARLEN, 0 },
	{ "xcniService", FB_IE_VARLEN, 0 },
	{ "xcniBackend", FB_IE_VARLEN, 0 },
	FB_IESPEC_NULL
};

struct ipfix {
	bool tcp;
	struct sockaddr_storage sa;
	socklen_t salen;
	int fd; /* -1: none (TCP: next try at retry_at) */
	bool connecting, connected, was_connected, need_templates;
	time_t retry_at;
	fbInfoModel_t *model;
	fbSession_t *session;
	fBuf_t *fbuf;
	fbExporter_t *exp;
	uint8_t msg[IPFIX_MSG_MAX];
	unsigned int in_msg; /* records and template sets in the message being built */
	uint8_t *q; /* TCP: bytes not yet written */
	size_t qlen, qcap;
	uint64_t errors_said;
	struct ipfix_stats st;
};

/* ---- the URL ---------------------------------------------------------------- */

/* Splits url into tcp, host and port. 0 or -EINVAL (err). */
static int split_url(const char *url, bool *tcp, char *host, size_t hlen, char *port, size_t plen,
		     char *err, size_t errlen)
{
	const char *p, *colon;
	size_t n;

	if (!strncmp(url, "udp://", 6))
		*tcp = false;
	else if (!strncmp(url, "tcp://", 6))
		*tcp = true;
	else {
		snprintf(err, errlen, "not udp://HOST:PORT or tcp://HOST:PORT");
		return -EINVAL;
	}
	p = url + 6;
	if (*p == '[') {
		const char *end = strchr(p, ']');

		if (!end || end[1] != ':') {
			snprintf(err, errlen, "an IPv6 address in [] and then :PORT");
			return -EINVAL;
		}
		n = (size_t)(end - p - 1);
		p++;
		colon = end + 1;
	} else {
		colon = strrchr(p, ':');
		if (!colon || memchr(p, ':', (size_t)(colon - p))) {
			snprintf(err, errlen, "no :PORT (an IPv6 address goes in [])");
			return -EINVAL;
		}
		n = (size_t)(colon - p);
	}
	if (!n || n >= hlen) {
		snprintf(err, errlen, "no host");
		return -EINVAL;
	}
	memcpy(host, p, n);
	host[n] = '\0';
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || v < 1 || v > 65535 || colon[1] == '-' ||
	    strlen(colon + 1) >= plen) {
		snprintf(err, errlen, "the port is not 1 to 65535");
		return -EINVAL;
	}
	snprintf(port, plen, "%lu", v);
	return 0;
}

int ipfix_check_url(const char *url, char *err, size_t errlen)
{
	char host[256], port[8];
	bool tcp;

	return split_url(url, &tcp, host, sizeof(host), port, sizeof(port), err, errlen);
}

/* ---- the socket ------------------------------------------------------------- */

static void sock_close(struct ipfix *x)
{
	xcni_close(&x->fd);
	x->connecting = x->connected = x->was_connected = false;
	if (x->qlen)
		x->st.send_errors++; /* what was queued is lost with the connection */
	x->qlen = 0;
	x->retry_at = time(NULL) + IPFIX_TCP_RETRY_S;
}

static int sock_open(struct ipfix *x)
{
	int fd = socket(x->sa.ss_family, (x->tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK |
						 SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&x->sa, x->salen)) {
		if (errno != EINPROGRESS) {
			int err = -errno;

			close(fd);
			return err;
		}
		x->connecting = true;
	} else {
		x->connected = true;
	}
	x->fd = fd;
	return 0;
}

static void tcp_progress(struct ipfix *x)
{
	if (x->fd < 0) {
		if (time(NULL) < x->retry_at)
			return;
		if (sock_open(x)) {
			sock_close(x);
			return;
		}
	}
	if (x->connecting) {
		struct pollfd p = { .fd = x->fd, .events = POLLOUT };
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		if (poll(&p, 1, 0) <= 0)
			return;
		if (getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) || soerr) {
			sock_close(x);
			return;
		}
		x->connecting = false;
		x->connected = true;
	}
	if (x->connected && !x->was_connected) {
		/* The first message of each connection has the templates. */
		x->was_connected = true;
		x->need_templates = true;
		x->st.connects++;
		pr_info("ipfix: connected to the collector\n");
	}
	while (x->connected && x->qlen) {
		ssize_t n = send(x->fd, x->q, x->qlen, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			sock_close(x);
			return;
		}
		memmove(x->q, x->q + n, x->qlen - (size_t)n);
		x->qlen -= (size_t)n;
	}
}

/* One message out of libfixbuf's buffer onto the socket. */
static void send_msg(struct ipfix *x, const uint8_t *m, size_t len)
{
	if (!len)
		return;
	if (!x->tcp) {
		ssize_t n = send(x->fd, m, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		/* An earlier datagram's port unreachable (no collector then) is
		 * reported on this send, which did not go: lost, it would be a
		 * batch's templates, and its data sets undecodable. Once more. */
		if (n < 0 && errno == ECONNREFUSED)
			n = send(x->fd, m, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n != (ssize_t)len) {
			x->st.send_errors++;
			return;
		}
	} else {
		if (!x->connected) {
			/* The connection broke under this batch: its records are lost. */
			x->st.send_errors++;
			return;
		}
		if (xcni_grow(&x->q, &x->qcap, x->qlen + len, 1)) {
			x->st.send_errors++;
			return;
		}
		memcpy(x->q + x->qlen, m, len);
		x->qlen += len;
	}
	x->st.messages++;
	x->st.bytes += len;
}

static void fail(struct ipfix *x, const char *what, GError *gerr)
{
	/* Said once a power of two: a collector away for long is not a flood. */
	x->st.send_errors++;
	if (!(x->errors_said & (x->errors_said + 1)))
		pr_warn("ipfix: %s: %s\n", what, gerr ? gerr->message : "failed");
	x->errors_said++;
	if (gerr)
		g_error_free(gerr);
}

static void emit(struct ipfix *x)
{
	GError *gerr = NULL;

	if (!x->in_msg)
		return;
	x->in_msg = 0;
	if (!fBufEmit(x->fbuf, &gerr)) {
		fail(x, "emit", gerr);
		return;
	}
	send_msg(x, x->msg, fbExporterGetMsgLen(x->exp));
	if (x->tcp)
		tcp_progress(x);
}

/*
 * A template, element type record or flow record into the message:
 * libfixbuf in manual mode keeps template and data sets in separate
 * messages, and says so with FB_ERROR_EOM (the first template after data,
 * the first data after templates; a full message too), after which the same
 * call goes through. False: said (fail), or the collector went.
 */
static bool append_retry(struct ipfix *x, bool (*fn)(struct ipfix *x, const void *arg, GError **),
			 const void *arg, const char *what)
{
	GError *gerr = NULL;

	for (int tries = 0; tries < 2; tries++) {
		if (fn(x, arg, &gerr)) {
			x->in_msg++;
			return true;
		}
		if (!g_error_matches(gerr, FB_ERROR_DOMAIN, FB_ERROR_EOM) || tries)
			break;
		g_clear_error(&gerr);
		/* A full message goes; an empty one (a set of another kind
		 * than the message's last) just starts over. */
		emit(x);
		if (!ipfix_ready(x))
			return false;
	}
	fail(x, what, gerr);
	return false;
}

static bool put_template(struct ipfix *x, const void *tid, GError **gerr)
{
	return fbSessionExportTemplate(x->session, *(const uint16_t *)tid, gerr);
}

static bool put_ietype(struct ipfix *x, const void *ie, GError **gerr)
{
	return fbInfoElementWriteOptionsRecord(x->fbuf, ie, TID_IETYPE, TID_IETYPE, gerr);
}

struct rec_out {
	struct xrec *rec;
	uint16_t tid;
};

static bool put_record(struct ipfix *x, const void *arg, GError **gerr)
{
	const struct rec_out *o = arg;

	/* Again after a full message went (its set starts over); else nothing changes. */
	fBufSetExportTemplate(x->fbuf, o->tid, NULL);
	return fBufAppend(x->fbuf, (uint8_t *)o->rec, sizeof(*o->rec), gerr);
}

/*
 * The templates, in a message of their own, then RFC 5610's information
 * element type records, one for each of xcni's elements, so that a
 * collector learns their names, types and meaning from the stream itself.
 */
static bool export_templates(struct ipfix *x)
{
	static const uint16_t tids[] = { TID_V4, TID_V6 }, meta = TID_IETYPE;
	GError *gerr = NULL;
	bool ok = true;

	emit(x);
	for (size_t i = 0; i < ARRAY_SIZE(tids); i++)
		if (!append_retry(x, put_template, &tids[i], "templates"))
			return false;
	emit(x);
	fbSessionSetDomain(x->session, DOMAIN_META);
	ok = append_retry(x, put_template, &meta, "templates");
	for (const fbInfoElement_t *ie = xcni_ies; ok && ie->ref.name; ie++) {
		const fbInfoElement_t *mie = fbInfoModelGetElementByName(x->model, ie->ref.name);

		ok = mie && append_retry(x, put_ietype, mie, "element type records");
	}
	emit(x);
	fbSessionSetDomain(x->session, DOMAIN_FLOWS);
	if (!ok)
		return false;
	if (!fBufSetInternalTemplate(x->fbuf, TID_INTERNAL, &gerr)) {
		fail(x, "the internal template", gerr);
		return false;
	}
	x->need_templates = false;
	return true;
}

/* ---- the agent's side ------------------------------------------------------- */

bool ipfix_ready(struct ipfix *x)
{
	if (!x->tcp)
		return x->fd >= 0;
	return x->connected && x->qlen < IPFIX_TCP_QUEUE_MAX;
}

static void varstr(fbVarfield_t *v, const char *s)
{
	v->buf = (uint8_t *)(s ? s : "");
	v->len = s ? strlen(s) : 0;
}

static void pod_str(char *buf, size_t len, const struct flow_peer *p)
{
	if (p->ns || p->pod)
		snprintf(buf, len, "%s/%s", p->ns ? p->ns : "", p->pod ? p->pod : "");
	else
		buf[0] = '\0';
}

static uint64_t wall_ms(uint64_t mono_ns, const struct flow_render_ctx *rc)
{
	return (uint64_t)((int64_t)mono_ns + rc->wall_off_ns) / 1000000ULL;
}

/*
 * IPFIX: one exporting point per connection, the one that knows its real
 * client. A node that only forwarded a connection into the overlay, to a pod
 * on another node (the ipcache names the pod's node), does not export it:
 * that node judges it (ingress policy) and sees what arrived, and exports
 * it. But what arrives from another node's own address (remote-node) is
 * that node's to export, denied here or not: its host's connection, or a
 * NodePort flow it SNATed, whose outside client it alone knows
 * (sourceIPv4Address; here it would be the node's address, a second record
 * of the same connection). What this node denied otherwise, and what goes
 * anywhere else (a pod here, outside), it exports. all (--ipfix-all-nodes):
 * every node exports what it saw.
 */
bool ipfix_ours(const struct flow_rec *r, bool all)
{
	if (all || r->client_family)
		return true;
	return r->src.identity != XCNI_ID_REMOTE_NODE &&
	       (flow_verdict_dropped(r->verdict) || r->src.identity == XCNI_ID_HOST || !r->dst.remote);
}

/* RFC 7270's forwardingStatus (IANA's registry): the two high bits say
 * forwarded (01), dropped (10), consumed (11); the rest the reason. */
uint8_t ipfix_fwd_status(const struct flow_rec *r)
{
	if (!flow_verdict_dropped(r->verdict))
		return IPFIX_FWD_FORWARDED;
	switch (r->reason) {
	case XCNI_DROP_POLICY_EGRESS:
	case XCNI_DROP_POLICY_INGRESS:
	case XCNI_DROP_POLICY_PENDING:
	case XCNI_DROP_POLICY_OVERFLOW:
	case XCNI_DROP_POLICY_ADMIN:
	case XCNI_DROP_POLICY_BASELINE:
	case XCNI_DROP_ADDR_CONTESTED:
	case XCNI_DROP_PREFILTER:
	case XCNI_DROP_GENEVE_INJECT:
	case XCNI_DROP_CLUSTERIP_OUTSIDE:
	case XCNI_DROP_SRC_FRONTEND:
	case XCNI_DROP_UNKNOWN_NODE:
		return IPFIX_FWD_DROP_ACL_DENY;
	case XCNI_DROP_SPOOF_IP:
	case XCNI_DROP_SPOOF_MAC:
	case XCNI_DROP_INNER_SPOOF:
	case XCNI_DROP_OUTSIDE_SPOOF:
		return IPFIX_FWD_DROP_RPF;
	case XCNI_DROP_UNKNOWN_DST:
	case XCNI_DROP_NO_ENDPOINT:
	case XCNI_DROP_NO_TUNNEL:
	case XCNI_DROP_NO_BACKEND:
	case XCNI_DROP_NO_LOCAL_BACKEND:
	case XCNI_DROP_TUNNEL_FAMILY:
		return IPFIX_FWD_DROP_UNROUTABLE;
	case XCNI_DROP_SHORT:
	case XCNI_DROP_BAD_IHL:
	case XCNI_DROP_EXTHDR:
		return IPFIX_FWD_DROP_BAD_HDR_LEN;
	case XCNI_DROP_TOO_BIG:
		return IPFIX_FWD_DROP_FRAG_DF;
	default:
		return IPFIX_FWD_DROP_UNKNOWN;
	}
}

static uint64_t delta(uint64_t now, uint64_t before)
{
	/* Totals only grow; one that did not (a record made again) starts over. */
	return now >= before ? now - before : now;
}

bool ipfix_add(struct ipfix *x, const struct flow_rec *r, const struct flow_render_ctx *rc,
	       uint8_t end_reason)
{
	const struct xcni_reason_info *ri = r->reason ? xcni_reason_info(r->reason) : NULL;
	char spod[340], dpod[340], rname[32];
	struct xrec rec;
	struct rec_out out = { &rec, r->key.family == 4 ? TID_V4 : TID_V6 };
	GError *gerr = NULL;

	if (!ipfix_ready(x))
		return false;
	if (x->need_templates && !export_templates(x))
		return false;
	memset(&rec, 0, sizeof(rec));
	rec.start_ms = wall_ms(r->first_ns, rc);
	rec.end_ms = wall_ms(r->last_ns, rc);
	rec.pkts = r->pkts[0];
	rec.bytes = r->bytes[0];
	rec.rpkts = r->pkts[1];
	rec.rbytes = r->bytes[1];
	rec.dpkts = delta(r->pkts[0], r->ipfix_pkts[0]);
	rec.dbytes = delta(r->bytes[0], r->ipfix_bytes[0]);
	rec.rdpkts = delta(r->pkts[1], r->ipfix_pkts[1]);
	rec.rdbytes = delta(r->bytes[1], r->ipfix_bytes[1]);
	rec.end_reason = end_reason;
	rec.fwd = ipfix_fwd_status(r);
	rec.drops = r->drops;
	if (r->key.family == 4) {
		uint32_t a;

		memcpy(&a, r->key.saddr, 4);
		rec.nat_saddr4 = ntohl(a);
		memcpy(&a, r->client_family ? r->client_addr : r->key.saddr, 4);
		rec.saddr4 = ntohl(a);
		memcpy(&a, r->key.daddr, 4);
		rec.daddr4 = ntohl(a);
	} else {
		memcpy(rec.nat_saddr6, r->key.saddr, 16);
		memcpy(rec.saddr6, r->client_family ? r->client_addr : r->key.saddr, 16);
		memcpy(rec.daddr6, r->key.daddr, 16);
	}
	rec.sid = r->src.identity;
	rec.did = r->dst.identity;
	rec.reason = r->reason;
	rec.nat_sport = r->key.sport;
	rec.sport = r->client_family ? r->client_port : r->key.sport;
	rec.dport = r->key.dport;
	rec.rule = r->policy ? r->rule : 0xffff;
	/* FLOW_TCP_* are the header's own bits (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10). */
	rec.tcp_flags = r->tcp_flags;
	rec.proto = r->key.proto;
	rec.verdict = r->verdict;
	rec.side = r->pol_dir <= 1 ? r->pol_dir : 0xff;
	if (ri)
		varstr(&rec.reason_name, ri->name);
	else if (r->reason) {
		snprintf(rname, sizeof(rname), "reason%d", r->reason);
		varstr(&rec.reason_name, rname);
	} else
		varstr(&rec.reason_name, NULL);
	varstr(&rec.policy, r->policy);
	pod_str(spod, sizeof(spod), &r->src);
	pod_str(dpod, sizeof(dpod), &r->dst);
	varstr(&rec.spod, spod);
	varstr(&rec.dpod, dpod);
	varstr(&rec.node, rc->node);
	varstr(&rec.service, r->service);
	varstr(&rec.backend, r->backend);
	if (!fBufSetExportTemplate(x->fbuf, out.tid, &gerr)) {
		fail(x, "template", gerr);
		return true; /* never will it go: not kept pending */
	}
	if (append_retry(x, put_record, &out, "record")) {
		x->st.records++;
		return true;
	}
	/* Said and dropped (never will it go), or the collector went with the full message. */
	return ipfix_ready(x);
}

void ipfix_flush(struct ipfix *x)
{
	emit(x);
	/* Over UDP a collector may have started (again) since: every batch
	 * begins with the templates (RFC 7011 8.4's periodic resend). */
	if (!x->tcp)
		x->need_templates = true;
}

void ipfix_tick(struct ipfix *x)
{
	if (x->tcp)
		tcp_progress(x);
}

const struct ipfix_stats *ipfix_stats(const struct ipfix *x)
{
	return &x->st;
}

static fbTemplate_t *tmpl(struct ipfix *x, uint32_t flags, GError **gerr)
{
	fbTemplate_t *t = fbTemplateAlloc(x->model);

	if (!fbTemplateAppendSpecArray(t, spec, flags, gerr)) {
		fbTemplateFreeUnused(t);
		return NULL;
	}
	return t;
}

int ipfix_open(const char *url, struct ipfix **out)
{
	struct addrinfo hints = { .ai_flags = AI_ADDRCONFIG }, *ai = NULL;
	char host[256], port[8], err[128];
	struct ipfix *x;
	fbTemplate_t *ti, *t4, *t6, *tt;
	GError *gerr = NULL;
	int rc;

	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->fd = -1;
	if (split_url(url, &x->tcp, host, sizeof(host), port, sizeof(port), err, sizeof(err))) {
		pr_err("--ipfix %s: %s\n", url, err);
		free(x);
		return -EINVAL;
	}
	hints.ai_socktype = x->tcp ? SOCK_STREAM : SOCK_DGRAM;
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc || !ai) {
		pr_err("--ipfix %s: %s\n", url, gai_strerror(rc));
		free(x);
		return -EHOSTUNREACH;
	}
	memcpy(&x->sa, ai->ai_addr, ai->ai_addrlen);
	x->salen = ai->ai_addrlen;
	freeaddrinfo(ai);

	x->model = fbInfoModelAlloc();
	fbInfoModelAddElementArray(x->model, xcni_ies);
	x->session = fbSessionAlloc(x->model);
	ti = tmpl(x, F_V4 | F_V6 | F_PAD, &gerr);
	t4 = ti ? tmpl(x, F_V4, &gerr) : NULL;
	t6 = t4 ? tmpl(x, F_V6, &gerr) : NULL;
	tt = t6 ? fbInfoElementAllocTypeTemplate(x->model, &gerr) : NULL;
	if (!tt || !fbSessionAddTemplate(x->session, TRUE, TID_INTERNAL, ti, &gerr) ||
	    !fbSessionAddTemplate(x->session, FALSE, TID_V4, t4, &gerr) ||
	    !fbSessionAddTemplate(x->session, FALSE, TID_V6, t6, &gerr) ||
	    !fbSessionAddTemplate(x->session, TRUE, TID_IETYPE, tt, &gerr) ||
	    (fbSessionSetDomain(x->session, DOMAIN_META),
	     !fbSessionAddTemplate(x->session, FALSE, TID_IETYPE, tt, &gerr))) {
		pr_err("ipfix: the templates: %s\n", gerr ? gerr->message : "?");
		g_clear_error(&gerr);
		fbSessionFree(x->session);
		fbInfoModelFree(x->model);
		free(x);
		return -EINVAL;
	}
	fbSessionSetDomain(x->session, DOMAIN_FLOWS);
	x->exp = fbExporterAllocBuffer(x->msg, sizeof(x->msg));
	x->fbuf = fBufAllocForExport(x->session, x->exp);
	fBufSetAutomaticMode(x->fbuf, FALSE);
	if (!fBufSetInternalTemplate(x->fbuf, TID_INTERNAL, &gerr)) {
		pr_err("ipfix: the internal template: %s\n", gerr->message);
		g_clear_error(&gerr);
		ipfix_free(x);
		return -EINVAL;
	}
	x->need_templates = true;
	if (x->tcp) {
		/* Connected (or not) on the ticks: the agent never waits for it. */
		tcp_progress(x);
	} else if ((rc = sock_open(x))) {
		pr_err("--ipfix %s: %s\n", url, strerror(-rc));
		ipfix_free(x);
		return rc;
	}
	pr_info("ipfix: flow records to %s (templates %u IPv4, %u IPv6; enterprise %u)\n", url,
		TID_V4, TID_V6, XCNI_IPFIX_PEN);
	*out = x;
	return 0;
}

void ipfix_free(struct ipfix *x)
{
	if (!x)
		return;
	if (x->fbuf) {
		emit(x);
		if (x->tcp && x->connected && x->qlen) {
			/* At shutdown, what is queued gets a moment, not more. */
			struct pollfd p = { .fd = x->fd, .events = POLLOUT };

			for (int i = 0; i < 10 && x->qlen && x->connected; i++) {
				if (poll(&p, 1, 100) > 0)
					tcp_progress(x);
			}
		}
		fBufFree(x->fbuf); /* the session and the exporter with it */
	} else if (x->session) {
		fbSessionFree(x->session);
	}
	if (x->model)
		fbInfoModelFree(x->model);
	xcni_close(&x->fd);
	free(x->q);
	free(x);
}
