/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Flow records: one per connection (the 5-tuple in the direction of its first
 * packet) as this node saw it, with what conntrack counted each way and what
 * the verdict events said about it (the policy and rule that allowed it, or
 * the reason it was dropped). A bounded window held in xcnid, shared by
 * owners (a flow's namespace, flows_owner_of): when it is full the owner
 * holding the most records gives up its own record updated longest ago, and
 * it is counted under that owner (docs/decisions/flows-window-shares.md).
 *
 * Pure: nothing here reads a map or a socket. xcnid (user/agent/flows.c)
 * feeds it conntrack walks and ring-buffer events; the filter grammar, which
 * xcnictl and xcnid both parse, and the JSON rendering live here so both ends
 * agree and the unit tests reach all of it.
 */
#ifndef XCNI_FLOWS_H
#define XCNI_FLOWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/system/cidr.h"
#include "lib/system/clock.h"

/* The window xcnid keeps without --flows-window (flows are on by default): ~6 MB. */
#define FLOWS_WINDOW_DEFAULT 16384
/* A window larger than this is refused: 1M records is ~0.5 GB. */
#define FLOWS_WINDOW_MAX (1u << 20)

struct flow_key {
	uint8_t family; /* 4 or 6 */
	uint8_t proto;
	uint16_t sport, dport; /* host order; ICMP echo: the id in both */
	uint8_t saddr[16], daddr[16]; /* IPv4: the first 4 bytes, the rest 0 */
};

/*
 * What the record's observation point did with the connection. allowed,
 * denied and audit are policy outcomes, given where the policy judged (the
 * destination pod's node for ingress, the source pod's for egress, both on
 * one node); forwarded is a node that passed the connection into the overlay
 * towards another node, which judges it: never a policy decision. refused
 * and no-backend are the connection's fate past the policy, in lab probe's
 * words: the destination answered the opening SYN with a RST (nothing
 * listens: a closed port is never allowed), or a Service without endpoints
 * refused it (drop-no-backend; Hubble's "Service backend not found"), or
 * nothing answered the opening SYN for FLOW_TIMEOUT_NS and no drop was seen
 * here (timeout: a drop on another node is that node's record, which
 * outranks it in the merged one).
 */
enum flow_verdict {
	FLOW_ALLOWED = 0,
	FLOW_DENIED = 1,
	FLOW_AUDIT = 2, /* passed, but a policy in audit mode would have denied it */
	FLOW_FORWARDED = 3, /* sent on into the overlay, not judged here */
	FLOW_REFUSED = 4, /* passed the policy; the destination answered RST */
	FLOW_NO_BACKEND = 5, /* a Service without endpoints refused it */
	FLOW_TIMEOUT = 6, /* passed the policy; nothing answered its SYN (no drop seen) */
	FLOW_DROPPED = 7, /* dropped for a named reason no policy gave (drop-no-tunnel ...) */
	FLOW_NR_VERDICTS
};
/*
 * A TCP SYN unanswered this long is a timeout: a SYN-ACK takes a round trip
 * (microseconds in a cluster); the sender's first retransmission is at 1 s,
 * lab probe gives up at 1 s by default. Read at each conntrack walk (1 s),
 * under FLOWS_SETTLE_NS so xcni_flows_total counts the flow as a timeout
 * once, not as allowed first.
 */
#define FLOW_TIMEOUT_NS 1500000000ull
/*
 * The one table of fates every view says (flows, monitor, explain, the map,
 * metrics, IPFIX, JSON): "allowed", "denied" (by a policy, and only that),
 * "audit", "forwarded", "refused", "no-backend", "timeout", "dropped" (for a
 * named reason no policy gave). tests/structure/verdict_words.py checks that
 * no view writes one of these words but through here.
 */
const char *flow_verdict_name(int v);
/* The fate of a drop for reason (enum xcni_reason): denied, no-backend or dropped. */
int flow_drop_verdict(int reason);
/* The verdict a word names (flow_verdict_name's inverse): enum flow_verdict, or -EINVAL. */
int flow_verdict_parse(const char *s);
/* Whether v is a drop here (denied, no-backend, dropped): what a policy change turns from or to. */
bool flow_verdict_dropped(int v);
/*
 * The fate a TCP conntrack entry tells: refused when the opening SYN (one
 * packet the opening way) got one packet back and the entry closed by a RST
 * (no FIN either way): the destination's RST, nothing listens. Anything
 * else (a connection reset after its handshake sent more) is not.
 */
bool flow_ct_refused(uint8_t state, bool fin_orig, bool fin_reply, uint64_t pkts_orig,
		     uint64_t pkts_reply);

/* Where an end is, from this node: what tells its observation points. */
enum flow_loc {
	FLOW_LOC_OUTSIDE = 0, /* world, or not known */
	FLOW_LOC_LOCAL = 1, /* a pod on this node */
	FLOW_LOC_REMOTE = 2, /* a pod on another node: through the overlay */
	FLOW_LOC_HOST = 3, /* this node, or another node's host */
};

/*
 * Observation points, as Hubble names them: where a record's connection came
 * into this node (from-pod, from-overlay, from-host, from-outside) and the
 * point whose outcome its verdict is (a policy drop where it was judged,
 * else where it left: to-pod, to-overlay, to-stack).
 */
enum flow_point {
	FLOW_PT_NONE,
	FLOW_PT_FROM_POD,
	FLOW_PT_FROM_OVERLAY,
	FLOW_PT_FROM_HOST,
	FLOW_PT_FROM_OUTSIDE,
	FLOW_PT_TO_POD,
	FLOW_PT_TO_OVERLAY,
	FLOW_PT_TO_STACK,
};
const char *flow_point_name(int pt);

enum flow_svc_path {
	FLOW_SVC_PATH_NONE = 0,
	FLOW_SVC_PATH_TC = 1,
	FLOW_SVC_PATH_XDP = 2,
};

/* TCP flags seen, as conntrack's states tell them (the ct entry has no flag bits). */
#define FLOW_TCP_SYN 0x02
#define FLOW_TCP_RST 0x04
#define FLOW_TCP_FIN 0x01
#define FLOW_TCP_ACK 0x10

/* One end of a flow: a pod, or what the identity says ("world", "host", "remote-node"). */
struct flow_peer {
	uint32_t identity;
	const char *ns, *pod; /* interned; NULL: not a known pod */
	const char *labels; /* interned; the identity's label set, NULL: none known */
	uint8_t loc; /* enum flow_loc */
	uint8_t remote; /* a pod on another node (the ipcache names its node's underlay address) */
};

struct flow_rec {
	struct flow_key key;
	struct flow_peer src, dst;
	uint64_t first_ns, last_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	uint64_t updated_ns; /* when the record last changed (flows_set_now's clock) */
	uint64_t pkts[2], bytes[2]; /* [0] the opening direction, [1] its replies */
	/* conntrack counts from its entry's creation: a flow whose entry was
	 * replaced (evicted, expired, picked up again) keeps what it had here. */
	uint64_t ct_created, base_pkts[2], base_bytes[2];
	uint64_t drops; /* dropped packets the events reported (within their budget) */
	uint8_t tcp_flags; /* FLOW_TCP_* */
	uint8_t verdict; /* enum flow_verdict */
	/* A policy change turned the verdict (an allowed flow cut, a denied one
	 * let through): the verdict before, + 1 (0: none), and its policy. */
	uint8_t prev_verdict;
	uint8_t pol_dir; /* 0 egress, 1 ingress: the side that decided; 0xff none */
	uint8_t in_ct; /* its conntrack entry was there at the last walk */
	uint8_t counted; /* the verdict + 1 flows_count_settled last counted it under; 0 none */
	int32_t reason; /* the drop reason (enum xcni_reason) when denied; 0 none */
	uint32_t policy_id;
	uint16_t rule;
	/* Its conntrack entry as the walk last read it (in_ct only): the state
	 * and last_ns its lifetime runs from, whether this walk has seen it. */
	uint8_t ct_state, ct_seen;
	uint32_t ct_idx; /* its slot among the in_ct records (flows_ct_sweep's) */
	uint32_t hash; /* its key's, kept for its removal from the table */
	uint64_t ct_last;
	const char *policy; /* "ns/name", interned; NULL: no policy decided (not isolated) */
	const char *rule_name; /* a ClusterNetworkPolicy rule's name, interned; NULL: none */
	const char *domain; /* the names of the domainNames rule that decided, interned; NULL: none */
	const char *service; /* "ns/name:port", interned; NULL: not translated */
	const char *backend; /* "addr:port" it was translated to, interned */
	/* A NodePort flow this node SNATed (XCNI_CT_F_SNAT): the outside client
	 * its tuple (this node's address:port -> the backend) stands for, which
	 * the backend's node never sees. client_family 0: none. */
	uint8_t client_family; /* 4 or 6 */
	uint16_t client_port; /* host order */
	uint8_t client_addr[16];
	/* A NodePort flow (from outside to an external frontend): which path
	 * translated it, FLOW_SVC_PATH_TC or _XDP (the fast path opened its
	 * conntrack entry: XCNI_CT_F_XDP); FLOW_SVC_PATH_NONE otherwise. */
	uint8_t svc_path;
	const char *prev_policy; /* the policy of prev_verdict, interned; NULL: none */
	/* Denied for isolation (nothing allows it): the policies that isolate
	 * the pod on the side that dropped it ("x/p, x/q"), interned. */
	const char *isolators;
	/* And the allow rules of those policies whose port took the flow but
	 * whose peer did not (lib/policy/nearmiss.h's sentences, "; "-joined),
	 * interned; NULL: none, or not known. */
	const char *near_misses;
	uint64_t seq; /* flows->seq when last changed: the order of --follow */
	uint64_t logged_seq; /* seq when it was last written to the flow log */
	uint64_t exported_seq; /* seq when it was last exported over IPFIX */
	/* IPFIX: when it was last exported (CLOCK_MONOTONIC, 0 never) and the
	 * totals that export carried, from which the next one's deltas count. */
	uint64_t ipfix_ns, ipfix_pkts[2], ipfix_bytes[2];
	/* The window's order (least recently changed first). */
	struct flow_rec *prev, *next;
	/* The owner its room is charged to, and its place among that owner's
	 * records (the same order); owner_fixed: given at creation
	 * (flows_get_owned), not taken from the ends. */
	struct flow_owner *owner;
	struct flow_rec *oprev, *onext;
	uint8_t owner_fixed;
	uint8_t kept; /* flows_keep: its evictor holds it past the window */
};

struct flows_stats {
	uint64_t created; /* records ever made */
	uint64_t evicted; /* pushed out of the window for lack of room */
	uint64_t events; /* verdict and drop events taken */
	/* Evictions of owners no longer listed (flows_owners_each): an owner with
	 * no record left is kept for its count while at most
	 * FLOWS_OWNERS_KEPT_MAX are; past that its count moves here. */
	uint64_t evicted_unlisted;
};

struct flows;
struct flow_owner;

/*
 * The window's owners. A record's room is charged to the namespace of the
 * end that opened its flow (its source), else of its destination (a flow
 * from outside or from a node to a pod), else to "" (neither end a pod):
 * flows_owner_of. A tenant's pods open flows only from their own namespace
 * (a forged source is dropped, and its drop event is charged apart:
 * FLOWS_OWNER_SPOOFED), so the flows one tenant makes are its own.
 * When the window is full, the owner holding the most records (the new
 * record's own on a tie) gives up its record changed longest ago: an owner
 * holding no more than window / owners never loses one to another's flows.
 */
#define FLOWS_OWNER_SPOOFED "(spoofed)" /* not a namespace name (RFC 1123 labels) */
#define FLOWS_OWNERS_KEPT_MAX 4096
const char *flows_owner_of(const struct flow_peer *src, const struct flow_peer *dst);
/* The owner r is charged to ("" none). */
const char *flows_rec_owner(const struct flow_rec *r);
/* Each owner with records or evictions: its records now, its records ever evicted. */
void flows_owners_each(const struct flows *f,
		       void (*fn)(void *arg, const char *ns, size_t records, uint64_t evicted),
		       void *arg);
/* How many owners hold records now. */
size_t flows_owners(const struct flows *f);

/*
 * Isolation drops: packets dropped because their pod is isolated on that
 * side and nothing allows them (drop-policy-ingress/egress), by the pod, the
 * side and each policy that isolates it (as explain and monitor name them:
 * a drop counts once under each). xcnid's
 * xcni_policy_isolation_drops_total. At most FLOWS_ISODROP_MAX series; what
 * finds the table full is counted apart (flows_isodrops_lost).
 */
#define FLOWS_ISODROP_MAX 4096 /* said in xcnid's metrics' help */
struct flows_isodrop {
	char *ns, *pod, *policy; /* policy "": the isolating policies could not be named */
	bool ingress;
	bool pod_total; /* the pod's own series: each drop once, whatever isolates it (policy "") */
	uint64_t packets;
};
/* isolators: "ns/a, ns/b" (as flow records name them; spaces after a comma are
 * no part of a name) or NULL (not named). Counts under each policy, and once
 * under the pod's own series. */
void flows_isodrop(struct flows *f, const char *ns, const char *pod, bool ingress,
		   const char *isolators, uint64_t packets);
/* The series, in the order they first counted; *n of them. */
const struct flows_isodrop *flows_isodrops(const struct flows *f, size_t *n);
uint64_t flows_isodrops_lost(const struct flows *f);

/*
 * Flows by verdict and direction (xcnid's xcni_flows_total): a record counts
 * once under its verdict when it has settled (FLOWS_SETTLE_NS after its first
 * packet: the walks that tell a closed port's RST from an answer have run),
 * or when it leaves the window before that; a record a policy change turns
 * (allowed, then denied) counts again under its new verdict. Its direction is
 * the side the policy judged it on; a flow no policy judged is ingress when
 * it went into a pod of this node, egress otherwise.
 */
#define FLOWS_SETTLE_NS 2000000000ULL
enum { FLOWS_EGRESS, FLOWS_INGRESS, FLOWS_NR_DIRS };
/* Counts what settled by now_ns (CLOCK_MONOTONIC, as the records' times). */
void flows_count_settled(struct flows *f, uint64_t now_ns);
/* The counts so far: [enum flow_verdict][FLOWS_EGRESS or FLOWS_INGRESS]. */
const uint64_t (*flows_verdict_counts(const struct flows *f))[FLOWS_NR_DIRS];
/* A record's direction as xcni_flows_total counts it (FLOWS_EGRESS, FLOWS_INGRESS). */
int flow_rec_direction(const struct flow_rec *r);

/* window: at most this many records (1..FLOWS_WINDOW_MAX). 0 or -errno. */
int flows_new(size_t window, struct flows **out);
void flows_free(struct flows *f);
size_t flows_count(const struct flows *f);
size_t flows_window(const struct flows *f);
const struct flows_stats *flows_stats(const struct flows *f);

/*
 * The record of key, or NULL. flows_get_owned makes one when there is none
 * (*created true; the caller fills its peers), pushing a record out when the
 * window is full (the largest owner's least recently changed): on_evict (if
 * set) sees it first, as the flow log must. The new record is charged to
 * owner, which also decides a tie for the most records; owner NULL: to the
 * owner its ends say once flows_set_ends names them ("" until then). NULL
 * only when out of memory.
 */
struct flow_rec *flows_find(struct flows *f, const struct flow_key *key);
struct flow_rec *flows_get_owned(struct flows *f, const struct flow_key *key, const char *owner,
				 bool *created);
void flows_on_evict(struct flows *f, void (*fn)(void *arg, const struct flow_rec *r),
		    void *arg);
/*
 * Called by on_evict: r leaves the window (no longer found, counted, its
 * room freed) but is not freed; the caller holds it, its strings with it,
 * until flows_release (before flows_free): a record whose IPFIX end the
 * collector cannot take yet waits for it.
 */
void flows_keep(struct flow_rec *r);
void flows_release(struct flows *f, struct flow_rec *r);
/* The window from its least recently changed record on (r->next to go on). */
struct flow_rec *flows_head(struct flows *f);
/* The record changed: it moves to the window's end and gets a new seq. */
void flows_touch(struct flows *f, struct flow_rec *r);
/* The clock (CLOCK_MONOTONIC ns) a change is stamped with from now on (updated_ns). */
void flows_set_now(struct flows *f, uint64_t now_ns);
/*
 * A new record's ends (the peers copied, as flows_peer_copy): a record whose
 * destination is a pod on another node is forwarded until this node drops it.
 * A record whose owner was not given is charged to flows_owner_of its ends.
 */
void flows_set_ends(struct flows *f, struct flow_rec *r, const struct flow_peer *src,
		    const struct flow_peer *dst);
/* Where r's connection came into this node, and its verdict's point (enum flow_point). */
int flow_rec_entry(const struct flow_rec *r);
int flow_rec_point(const struct flow_rec *r);
/* The policies that isolated the pod of a policy drop (NULL: none known). */
void flows_isolators(struct flows *f, struct flow_rec *r, const char *isolators);
/* A string for a record's field, shared among records (*slot's old one released). */
int flows_set_str(struct flows *f, const char **slot, const char *s);
/*
 * dst gets src's identity and strings (strings of f, each counted once more:
 * a peer named once serves many records). flows_peer_put releases a peer's
 * strings (one not in a record: a record's go with it).
 */
void flows_peer_copy(struct flows *f, struct flow_peer *dst, const struct flow_peer *src);
void flows_peer_put(struct flows *f, struct flow_peer *p);

/*
 * What a conntrack entry says of r's flow: counters since created_ns (a
 * different created_ns is a new entry: the old counts go into the base),
 * last_ns, its state (enum xcni_ct_state) and FIN flags. Touches r only when
 * something changed. Returns whether it did.
 */
bool flows_ct_update(struct flows *f, struct flow_rec *r, uint64_t created_ns,
		     uint64_t last_ns, const uint64_t pkts[2], const uint64_t bytes[2],
		     uint8_t state, bool fin_orig, bool fin_reply);
/*
 * After a walk of the conntrack maps (flows_ct_update for the entries it
 * read): the records in_ct whose entry has ended are no longer (and touched).
 * An entry ends when its lifetime (xcni_ct_lifetime, from the state and
 * last_ns the walk last read) has passed at now_ns, or, with all_read (the
 * walk read every live entry), when the walk did not read it: deleted or
 * evicted. Costs the records in_ct, not the window. Returns how many ended.
 */
size_t flows_ct_sweep(struct flows *f, bool all_read, uint64_t now_ns);
/*
 * Reading the conntrack maps costs the entries read (the kernel copies every
 * one, live or expired, whatever the walk then skips; an LRU map keeps the
 * entries of closed flows until it needs their room, so a busy node's map is
 * full): walks are spaced so that they read at most FLOWS_CT_WALK_RATE
 * entries a second, and so that the kernel's copying takes at most
 * 1/FLOWS_CT_WALK_SHARE (0.5%) of a CPU: the copy of the last walk,
 * copy_cpu_ns of the agent's CPU time, is followed by the next one at the
 * earliest copy_cpu_ns x FLOWS_CT_WALK_SHARE later (the machine's own cost
 * an entry: 240 ns on the 2-CPU VM the benchmarks run on). Never more than
 * FLOWS_CT_WALK_MAX_S apart: a closed TCP entry lives 10 s
 * (XCNI_CT_TCP_CLOSE_NS), and a walk skips expired entries, so walks further
 * apart (plus a tick's lateness) would miss the short connections that
 * opened, closed and expired between two of them. Is a walk of entries entries (the last walk's
 * count) due at now_ns, the last one having begun at last_ns? Within both
 * bounds, every tick (a second apart); past them, that far apart (a tenth of
 * a second early counts: the timer's jitter).
 */
#define FLOWS_CT_WALK_RATE 65536
#define FLOWS_CT_WALK_SHARE 200
#define FLOWS_CT_WALK_MAX_S 8
bool flows_ct_walk_due(uint64_t last_ns, uint64_t now_ns, uint64_t entries, uint64_t copy_cpu_ns);
/*
 * A policy verdict event: allowed by policy_id (its name, "ns/name") rule; with
 * audit, it passed only because that policy is in audit mode (it would deny).
 */
void flows_verdict(struct flows *f, struct flow_rec *r, uint64_t ts_ns, uint8_t pol_dir,
		   uint32_t policy_id, const char *policy, uint16_t rule, bool audit);
/* A drop event of len bytes: the record becomes denied with that reason. */
void flows_drop(struct flows *f, struct flow_rec *r, uint64_t ts_ns, uint8_t pol_dir,
		int32_t reason, uint32_t len);
/* The deciding rule's name (flows_verdict's, flows_denied_by's), NULL for none. */
void flows_rule_name(struct flows *f, struct flow_rec *r, const char *name);
/* The rule that denied a dropped flow, where one did (a ClusterNetworkPolicy Deny). */
void flows_denied_by(struct flows *f, struct flow_rec *r, uint32_t policy_id, const char *policy,
		     uint16_t rule);

/* ---- filters: what xcnictl flows asks for, parsed in one place ---------- */

#define FLOW_SEL_MAX 8 /* label requirements in one selector */
enum flow_match_kind { FM_NONE, FM_POD, FM_NS, FM_LABELS, FM_CIDR, FM_IDENTITY };
struct flow_match {
	uint8_t kind; /* enum flow_match_kind */
	uint32_t id; /* FM_IDENTITY */
	uint8_t prefix; /* FM_POD: the name begins so (Hubble's --from-pod/--to-pod) */
	struct xcni_prefix cidr; /* FM_CIDR */
	char ns[64], name[256]; /* FM_POD (ns, name), FM_NS (ns) */
	struct {
		char key[64], val[64];
		uint8_t op; /* '=' equals, '!' not equals, 'e' exists, 'n' does not exist */
	} sel[FLOW_SEL_MAX];
	unsigned int nsel;
};

/* Hubble's FORWARDED: what passed here, allowed or forwarded (ff->verdict). */
#define FLOW_VERDICT_PASSED 16
/* Hubble's DROPPED: any drop (denied, no-backend, dropped) (= VOCAB_DROPS). */
#define FLOW_VERDICT_DROPS 17
/* --not filters in one request at most. */
#define FLOW_NOT_MAX 8

/* The either-end filters, one slot each. */
enum { FLOW_EITHER_NS, FLOW_EITHER_LABEL, FLOW_EITHER_POD, FLOW_EITHER_IP, FLOW_EITHER_ID,
       FLOW_EITHER_NR };

struct flow_filter {
	struct flow_match from, to;
	/* Either end (the vocabulary's --namespace, --label, --pod, --ip, --identity). */
	struct flow_match either[FLOW_EITHER_NR];
	int reason; /* --reason: the drop (or forward) reason, enum xcni_reason; 0 any */
	int verdict; /* enum flow_verdict, FLOW_VERDICT_PASSED, -1 any */
	int port; /* either end's port, -1 any */
	int sport, dport; /* the source's, the destination's port, -1 any */
	int proto; /* IPPROTO_*, -1 any */
	char service[160]; /* "ns/name" (any port) or "ns/name:port"; "" any */
	uint64_t since_ns; /* changed in the last since_ns, 0 any */
	/* Seen at or after / before a wall-clock time (ns since the epoch), 0 any. */
	int64_t since_wall_ns, until_wall_ns;
	uint64_t until_ago_ns; /* last seen more than this long ago, 0 any */
	uint64_t last; /* at most the last N that match, 0 all */
	uint64_t first; /* at most the first N that match, 0 all */
	uint64_t after; /* changed after this seq (--follow's cursor), 0 all */
	bool time_mono; /* times in the answer as CLOCK_MONOTONIC seconds, not RFC 3339 */
	/* Hubble's --not: a record matching any of these is left out. Each holds
	 * the one filter that followed a --not (flow_filter_set "not.NAME"). */
	struct flow_filter *nots;
	unsigned int nnots;
};

/* --label SELECTOR (k=v,k!=v,k,!k) into m: 0, or -EINVAL with err naming --label. */
int flow_match_labels(struct flow_match *m, const char *selector, char *err, size_t errlen);
/* Whether a label set ("k8s:app=web,...", NULL: none) matches m (FM_LABELS). */
bool flow_labels_match(const struct flow_match *m, const char *labels);

void flow_filter_init(struct flow_filter *ff);
/* What flow_filter_set gave ff (its --not filters). */
void flow_filter_free(struct flow_filter *ff);
/*
 * One filter, as xcnictl flows takes it (name without "--": "from", "to",
 * "verdict", "port", "protocol", "service", "since", "last", "after"; the
 * words of the map views, either end: "pod", "ip", "namespace", "identity",
 * and "reason"; Hubble's spellings: "from-pod", "to-pod", "label",
 * "from-ip", "to-ip", "from-namespace", "to-namespace", "from-label",
 * "to-label", "from-identity", "to-identity", "from-port", "to-port",
 * "until", "first" (lib/observe/vocab.h); "time" (mono or rfc3339) says
 * how the answer gives times; "not.NAME" is NAME negated) into ff. 0, or
 * -EINVAL with a message naming the filter and what is wrong in err (errlen
 * bytes). The caller frees ff (flow_filter_free) when done.
 */
int flow_filter_set(struct flow_filter *ff, const char *name, const char *value, char *err,
		    size_t errlen);
/*
 * A request line by line, "name=value\n" each (what xcnictl sends xcnid):
 * every line through flow_filter_set. 0 or -EINVAL (err says which).
 */
int flow_filter_parse(struct flow_filter *ff, const char *req, char *err, size_t errlen);
/* wall_off_ns: CLOCK_REALTIME - CLOCK_MONOTONIC, for since/until given as times. */
bool flow_filter_match(const struct flow_filter *ff, const struct flow_rec *r, uint64_t now_ns,
		       int64_t wall_off_ns);

/* ---- rendering ---------------------------------------------------------- */

struct fbuf {
	char *p;
	size_t len, cap, max; /* max: refuse to grow past it (0: no bound) */
	int err; /* -ENOMEM or -E2BIG once it failed: the rest is not written */
};
void flows_fbuf_printf(struct fbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void flows_fbuf_free(struct fbuf *b);
/* key (NULL: none) as it is, then s as a JSON string (escaped), or null; html: <, >, &
 * and DEL as \u escapes too (safe inside a page: the service map's). */
void flows_fbuf_json_esc(struct fbuf *b, const char *key, const char *s, bool html);
static inline void flows_fbuf_json_str(struct fbuf *b, const char *s)
{
	flows_fbuf_json_esc(b, NULL, s, false);
}
/* A member: key (",\"name\":") and s as a JSON string. */
static inline void flows_fbuf_kstr(struct fbuf *b, const char *key, const char *s)
{
	flows_fbuf_json_esc(b, key, s, false);
}

/* How a rendering names times and the node. */
struct flow_render_ctx {
	uint64_t now_ns; /* CLOCK_MONOTONIC now */
	int64_t wall_off_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC */
	const char *node;
	bool mono; /* times as CLOCK_MONOTONIC seconds (a number), not RFC 3339 */
	/* More fields for the trailer, ",\"name\":value..." (the flow log's counts); NULL none. */
	const char *trailer_extra;
	/*
	 * A scoped reader's namespace (a client certificate OU=namespace:NS), or
	 * NULL: every field whole. Scoped, isolated_by, near_misses, policy,
	 * previous_policy and rule_name keep only the NetworkPolicies of the
	 * reader's namespace; another namespace's are "a policy of another
	 * namespace", a ClusterNetworkPolicy "an admin policy" (docs/security.md).
	 */
	const char *reader_ns;
};

/* What an end is: "pod", "world", "host", "remote-node" or "unmanaged". */
const char *flow_peer_kind(const struct flow_peer *p);
/* The default text's width (flows, monitor): a row of the lab's names fits it
 * (-o wide: every field). */
#define FLOWS_TEXT_COLS 120
/*
 * A flow's near misses (its record's near_misses) under its row in a
 * default view (flows, monitor, lab probe): "near miss: " and the text, wrapped at
 * spaces to cols (UTF-8 characters counted), never cut; indent spaces
 * before each line, two more on the lines it wraps to.
 */
void flow_near_miss_lines(FILE *f, const char *nm, size_t indent, size_t cols);
/* A SNATed NodePort flow's outside client, "addr:port" ("[addr]:port"), in
 * buf; NULL when the record names none. */
const char *flow_client_str(const struct flow_rec *r, char *buf, size_t len);
/* The reverse: s (NULL: none) into r's client. 0 or -EINVAL. */
int flow_client_parse(const char *s, struct flow_rec *r);
/* One record as a JSON object and a newline. */
void flow_rec_json(struct fbuf *b, const struct flow_rec *r, const struct flow_render_ctx *rc);
/*
 * The records that match ff, least recently changed first (with ff->last,
 * the last N of them), one JSON object per line, then a trailer line
 * {"cursor":SEQ,"flows":N,"window":W,"created":..,"evicted":..} that --follow
 * passes back as "after". Returns how many records it wrote, or b->err.
 */
int flows_render_json(struct flows *f, const struct flow_filter *ff,
		      const struct flow_render_ctx *rc, struct fbuf *b);

/* Where xcnid listens for flow queries for a pin dir: /run/xcni/flows<pin dir, / as ->.sock */
int flows_sock_path(const char *pin_dir, char *buf, size_t len);

/*
 * Flow queries over the network (xcnid --flows-listen, xcnictl flows --agent):
 * HTTPS with client certificates, GET FLOWS_HTTP_PATH?name=value&... (the
 * filters as the socket takes them), the same answer. Every agent's server
 * certificate carries the name FLOWS_TLS_NAME, which clients verify and dial
 * (each node's address connected to under that name); the files of a
 * kubernetes.io/tls Secret: tls.crt, tls.key, and ca.crt that signs both sides.
 */
#define FLOWS_TLS_NAME "xcni-flows"
#define FLOWS_TLS_PORT 4244
#define FLOWS_HTTP_PATH "/v1/flows"

/*
 * The ring of events (xcni_events) has one reader position: with xcnid --flows
 * reading it, `xcnictl monitor` takes the events from xcnid instead, through
 * a SOCK_SEQPACKET socket beside the query socket (its path with .events for
 * .sock). Each message is this header and one record as the ring held it;
 * lost counts the records this subscriber missed before it (its socket was
 * full: xcnid never waits on a reader).
 */
struct flows_evmsg {
	uint32_t lost;
	uint32_t len; /* of the record after the header */
};
#define FLOWS_EVMSG_MAX 512 /* a record's bytes at most (struct xcni_event6 fits) */
int flows_events_path(const char *sock_path, char *buf, size_t len);

#endif
