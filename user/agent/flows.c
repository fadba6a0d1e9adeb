// SPDX-License-Identifier: Apache-2.0
/*
 * xcnid's flow records (flows.h; flows_serve.c serves them). Everything the
 * records hold the data plane already keeps: conntrack counts packets and
 * bytes each way per flow and knows its state; the events ring says which
 * policy and rule allowed a new flow of an isolated pod, and which packets
 * were dropped and why. Nothing is added to the per-packet path.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "xcni_shared.h"
#include "lib/observe/flows.h"
#include "lib/system/clock.h"
#include "lib/system/log.h"
#include "lib/system/util.h"
#include "lib/policy/polsync.h"
#include "lib/policy/fqdn_plan.h"
#include "lib/system/ctstat.h"
#include "agent/flows.h"
#include "agent/flowd.h"
#include "agent/ipfix.h"
#include "agent/pins.h"
#include "agent/evfan.h"
#include "lib/system/http.h"
#include "lib/observe/flowgraph.h"
#include "lib/cluster/store.h"

#define CT_BATCH 512
/*
 * A walk reads every live entry (and ends the records whose entry it did not
 * find) at least this often, even when the counters say nothing was deleted
 * or evicted: what bounds how late an end they cannot tell is noticed.
 */
#define CT_ALL_READ_S 30
/*
 * An entry whose last_ns is older than the previous walk's start by more
 * than this was read by that walk as it is now: its packet's program stamped
 * it (bpf_ktime_get_ns) microseconds before writing it. The margin is for
 * writers that are not programs (a tool writing entries from userspace may
 * be preempted between its stamp and its write); such an entry written more
 * than this after its stamp waits for a walk that reads all.
 */
#define CT_SINCE_SLACK_NS 1000000000ULL

/* This thread's CPU time, user and system: what the kernel's copy of a map costs it. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	return clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) ? 0 :
	       (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- names ------------------------------------------------------------------ */

static void fill_peer(struct flowd *d, struct flow_peer *p, uint8_t family, const uint8_t *addr)
{
	struct xcni_ipcache_val iv;
	struct xcni_podname pn;
	struct xcni_idlabels il;
	char buf[340];
	__u32 key4 = 0;
	bool named = false, found = false;

	p->identity = XCNI_ID_WORLD;
	p->remote = 0;
	if (family == 4) {
		struct xcni_ipcache_key k = { .prefixlen = 32 };

		memcpy(&k.addr, addr, 4);
		found = d->ipcache_fd >= 0 && !bpf_map_lookup_elem(d->ipcache_fd, &k, &iv);
		memcpy(&key4, addr, 4);
	} else {
		struct xcni_ipcache6_key k = { .prefixlen = 128 };

		memcpy(k.addr, addr, 16);
		found = d->ipcache6_fd >= 0 && !bpf_map_lookup_elem(d->ipcache6_fd, &k, &iv);
		/* A local pod's IPv6: its name is under its policy key. */
		key4 = polsync_key6(&d->k6, addr);
	}
	if (found) {
		p->identity = iv.identity;
		p->remote = (iv.flags & XCNI_IPC_POD) && (iv.tunnel_ip || (iv.flags & XCNI_IPC_TUN6));
	}
	/* Where it is: a pod behind a tunnel is another node's (the overlay). */
	if (!found || (p->identity >= XCNI_ID_CIDR_BASE) || p->identity == XCNI_ID_WORLD ||
	    p->identity == XCNI_ID_ANY)
		p->loc = FLOW_LOC_OUTSIDE;
	else if (p->identity == XCNI_ID_HOST || p->identity == XCNI_ID_REMOTE_NODE)
		p->loc = FLOW_LOC_HOST;
	else if (iv.tunnel_ip || (iv.flags & XCNI_IPC_TUN6))
		p->loc = FLOW_LOC_REMOTE;
	else
		p->loc = FLOW_LOC_LOCAL;
	if (key4 && d->podname_fd >= 0 && !bpf_map_lookup_elem(d->podname_fd, &key4, &pn) &&
	    pn.name[0]) {
		snprintf(buf, sizeof(buf), "%.*s", (int)strnlen(pn.ns, sizeof(pn.ns)), pn.ns);
		flows_set_str(d->fl, &p->ns, buf);
		snprintf(buf, sizeof(buf), "%.*s", (int)strnlen(pn.name, sizeof(pn.name)), pn.name);
		flows_set_str(d->fl, &p->pod, buf);
		named = true;
	}
	if (p->identity >= XCNI_ID_MIN_LABELS && p->identity < XCNI_ID_CIDR_BASE &&
	    d->identity_fd >= 0 && !bpf_map_lookup_elem(d->identity_fd, &p->identity, &il)) {
		il.labels[sizeof(il.labels) - 1] = '\0';
		flows_set_str(d->fl, &p->labels, il.labels);
		if (!named) {
			/* A pod on another node: its namespace is in its labels (its
			 * namespace's name label, which the API server sets). */
			static const char nskey[] = "ns:kubernetes.io/metadata.name=";
			const char *ns = strstr(il.labels, nskey);

			if (ns) {
				ns += strlen(nskey);
				snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(ns, ","), ns);
				flows_set_str(d->fl, &p->ns, buf);
			}
		}
	}
}

/* An address's peer as named this tick (fill_peer once a tick an address). */
static const struct flow_peer *peer_of(struct flowd *d, uint8_t family, const uint8_t *addr)
{
	size_t alen = family == 4 ? 4 : 16;
	uint32_t h = xcni_fnv32(XCNI_FNV32_BASIS ^ family, addr, alen);
	struct peer_slot *s;

	s = &d->peers[(h ^ h >> 16) & (PEER_CACHE - 1)];
	if (s->gen == d->peer_gen && s->family == family && !memcmp(s->addr, addr, alen))
		return &s->p;
	flows_peer_put(d->fl, &s->p);
	fill_peer(d, &s->p, family, addr);
	s->gen = d->peer_gen;
	s->family = family;
	memset(s->addr, 0, sizeof(s->addr));
	memcpy(s->addr, addr, alen);
	return &s->p;
}

/*
 * The record of a tuple, made and named if new. NULL: out of memory. A new
 * one's room is charged to its flow's namespace (flows_owner_of), or, for
 * the drop of a packet whose source was forged (spoofed), to no namespace
 * that source names: a pod forging another namespace's addresses must not
 * push that namespace's records out.
 */
static struct flow_rec *rec_of(struct flowd *d, const struct flow_key *k, bool spoofed)
{
	struct flow_rec *r = flows_find(d->fl, k);
	struct flow_peer src = {};
	const struct flow_peer *dst;
	bool created;

	if (r)
		return r;
	/* The source's own copy: naming the destination may take its cache slot. */
	flows_peer_copy(d->fl, &src, peer_of(d, k->family, k->saddr));
	dst = peer_of(d, k->family, k->daddr);
	r = flows_get_owned(d->fl, k, spoofed ? FLOWS_OWNER_SPOOFED : flows_owner_of(&src, dst),
			    &created);
	if (r && created)
		flows_set_ends(d->fl, r, &src, dst);
	flows_peer_put(d->fl, &src);
	return r;
}

/* xlated: the tuple is the translated one (its destination the backend); a
 * drop-no-backend's is the frontend's, no backend was given. */
static void set_service(struct flowd *d, struct flow_rec *r, __u16 rev_nat, bool xlated)
{
	struct xcni_svcname sn;
	__u32 id = rev_nat;
	char buf[200], ip[INET6_ADDRSTRLEN];

	if (!rev_nat || r->service)
		return;
	if (d->svcname_fd >= 0 && !bpf_map_lookup_elem(d->svcname_fd, &id, &sn) && sn.name[0])
		snprintf(buf, sizeof(buf), "%.*s/%.*s%s%.*s", (int)strnlen(sn.ns, sizeof(sn.ns)),
			 sn.ns, (int)strnlen(sn.name, sizeof(sn.name)), sn.name, sn.port[0] ? ":" : "",
			 (int)strnlen(sn.port, sizeof(sn.port)), sn.port);
	else
		snprintf(buf, sizeof(buf), "rev-nat#%u", rev_nat);
	flows_set_str(d->fl, &r->service, buf);
	if (!xlated)
		return;
	/* The flow's own entry is keyed by the translated tuple: its destination is the backend. */
	inet_ntop(r->key.family == 4 ? AF_INET : AF_INET6, r->key.daddr, ip, sizeof(ip));
	snprintf(buf, sizeof(buf), r->key.family == 4 ? "%s:%u" : "[%s]:%u", ip, r->key.dport);
	flows_set_str(d->fl, &r->backend, buf);
}

/* ---- the XDP flow cache's hits ---------------------------------------------- */

/*
 * A NodePort flow the XDP flow cache answers (xcni_npc, per CPU:
 * bpf/lib/nodeport_cache.h) has the hits added to its conntrack entry only
 * at its refresh, its next packet a second on: a flow that stops within its
 * second (a burst, a short request) kept them out of its record (1 packet
 * of 6, lab-npaccel). Each walk reads them first (npc_read) and adds them to
 * the counters of the conntrack entry they name (the translated tuple); an
 * entry stamped since the read (its refresh may have moved them into it) is
 * taken as conntrack says, the next walk adds what is left.
 */
struct npc_hits {
	union xcni_tuple t;
	uint64_t pkts, bytes;
};
static struct {
	int fd;
	struct xcni_npc *vals; /* one entry's per-CPU values */
	struct npc_hits *h;    /* sorted by t */
	size_t n, cap;
	uint64_t read_ns;
} npc = { .fd = -1 };

_Static_assert(sizeof(struct xcni_npc) % 8 == 0, "per-CPU values are 8-byte aligned");

static int npc_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(union xcni_tuple));
}

/* Every cached flow's hits not yet in conntrack, by its translated tuple. */
static void npc_read(struct flowd *d)
{
	union xcni_tuple k;
	uint64_t c0 = cpu_ns();
	size_t j = 0;

	npc.n = 0;
	if (npc.fd < 0)
		npc.fd = xcni_pin_get(d->pin_dir, "xcni_npc");
	if (!npc.vals && d->ncpus > 0)
		npc.vals = calloc((size_t)d->ncpus, sizeof(*npc.vals));
	if (npc.fd < 0 || !npc.vals)
		return;
	npc.read_ns = xcni_mono_ns();
	/* The kernel reads a key before it writes the next: one buffer for both. */
	for (void *prev = NULL; !bpf_map_get_next_key(npc.fd, prev, &k); prev = &k) {
		if (bpf_map_lookup_elem(npc.fd, &k, npc.vals))
			continue;
		for (int c = 0; c < d->ncpus; c++) {
			const struct xcni_npc *v = &npc.vals[c];

			if (v->tc || !v->pkts)
				continue;
			if (XCNI_GROW(npc.h, npc.n, npc.cap))
				break;
			npc.h[npc.n++] = (struct npc_hits){ v->xlat, v->pkts, v->bytes };
		}
	}
	/* One flow's entries on several CPUs: one sum (npc.h is NULL until a hit). */
	if (npc.n > 1)
		qsort(npc.h, npc.n, sizeof(*npc.h), npc_cmp);
	for (size_t i = 0; i < npc.n; i++) {
		if (j && !npc_cmp(&npc.h[j - 1], &npc.h[i])) {
			npc.h[j - 1].pkts += npc.h[i].pkts;
			npc.h[j - 1].bytes += npc.h[i].bytes;
		} else {
			npc.h[j++] = npc.h[i];
		}
	}
	npc.n = j;
	d->seen.copy_ns += cpu_ns() - c0; /* the walk's cost, which spaces walks */
}

/* The hits of the conntrack entry keyed ck (ksz bytes of it), or NULL. */
static const struct npc_hits *npc_of(const void *ck, size_t ksz)
{
	union xcni_tuple t = {};

	if (!npc.n)
		return NULL;
	memcpy(&t, ck, ksz);
	return bsearch(&t, npc.h, npc.n, sizeof(*npc.h), npc_cmp);
}

/* ---- conntrack -------------------------------------------------------------- */

/*
 * A NodePort flow this node SNATed: its outside client, which IPv4's entry
 * holds (nat_addr, nat_port) and IPv6's xcni_snat by the same tuple (the
 * entry has no room for 16 bytes). The backend's node sees this node only.
 */
static void set_client(struct flowd *d, struct flow_rec *r, const void *ck,
		       const struct xcni_ct_entry *e)
{
	uint8_t addr[16] = {};
	uint16_t port;
	struct xcni_snat sn;

	/* Known for this entry already: a tuple's client changes only with a new
	 * entry (its SNAT port given to another client), not at every walk. */
	if (r->client_family && r->ct_created == e->created_ns)
		return;
	if (r->key.family == 4) {
		if (!e->nat_addr)
			return;
		memcpy(addr, &e->nat_addr, 4);
		port = ntohs(e->nat_port);
	} else {
		if (d->snat6_fd < 0 || bpf_map_lookup_elem(d->snat6_fd, ck, &sn))
			return;
		memcpy(addr, sn.client, 16);
		port = ntohs(sn.cport);
	}
	if (r->client_family == r->key.family && r->client_port == port &&
	    !memcmp(r->client_addr, addr, sizeof(addr)))
		return;
	r->client_family = r->key.family;
	r->client_port = port;
	memcpy(r->client_addr, addr, sizeof(addr));
	flows_touch(d->fl, r);
}

/*
 * ck: the conntrack key as the map holds it (struct xcni_ct_key or
 * xcni_ct6_key), for the socket LB's record of the flow's Service.
 */
static void ct_entry(struct flowd *d, const struct flow_key *k, const void *ck,
		     const struct xcni_ct_entry *e)
{
	uint64_t p[2] = { e->pkts_orig, e->pkts_reply }, b[2] = { e->bytes_orig, e->bytes_reply };
	int sfd = k->family == 4 ? d->sockflow_fd : d->sockflow6_fd;
	const struct npc_hits *h;
	struct xcni_sock_flow sf;
	struct flow_rec *r;

	/* The Service's entry (keyed by the frontend): the flow's own entry counts it. */
	if (e->flags & XCNI_CT_F_SVC)
		return;
	r = rec_of(d, k, false);
	if (!r)
		return;
	set_service(d, r, e->rev_nat, true);
	if (e->flags & XCNI_CT_F_SNAT)
		set_client(d, r, ck, e);
	if (e->flags & XCNI_CT_F_NODEPORT) {
		uint8_t path = e->flags & XCNI_CT_F_XDP ? FLOW_SVC_PATH_XDP : FLOW_SVC_PATH_TC;

		if (r->svc_path != path) {
			r->svc_path = path;
			flows_touch(d->fl, r);
		}
	}
	/* Given its backend at connect (socket LB), a TCP flow's entry names no
	 * Service: the sockops program recorded it by the tuple. Asked once, when
	 * the walk first finds the flow, unless no record could be there: the
	 * sockops program records a flow at connect, before its first packet
	 * makes the entry. */
	if (!e->rev_nat && !r->service && !r->in_ct && k->proto == IPPROTO_TCP && sfd >= 0 &&
	    e->created_ns >= d->sock_none_before && !bpf_map_lookup_elem(sfd, ck, &sf))
		set_service(d, r, (__u16)sf.rev_nat, true);
	if ((e->flags & XCNI_CT_F_XDP) && e->last_ns <= npc.read_ns &&
	    (h = npc_of(ck, k->family == 4 ? sizeof(struct xcni_ct_key) :
					      sizeof(struct xcni_ct6_key)))) {
		p[0] += h->pkts;
		b[0] += h->bytes;
	}
	flows_ct_update(d->fl, r, e->created_ns, e->last_ns, p, b, e->state, e->fin_orig,
			e->fin_reply);
}

/*
 * One conntrack map, in batches; a kernel without batch lookups key by key.
 * Entries stamped before since_ns are left alone (0: none is): the walk
 * before read them as they are. Returns the entries in the map, expired ones
 * too.
 */
static uint64_t ct_walk(struct flowd *d, int fd, bool v6, uint64_t since_ns)
{
	size_t ksz = v6 ? sizeof(struct xcni_ct6_key) : sizeof(struct xcni_ct_key);
	static union {
		struct xcni_ct_key k4[CT_BATCH];
		struct xcni_ct6_key k6[CT_BATCH];
	} keys;
	static struct xcni_ct_entry vals[CT_BATCH];
	__u8 in[sizeof(struct xcni_ct6_key)], out[sizeof(struct xcni_ct6_key)];
	bool first = true, batch = true;
	uint64_t present = 0, now;
	int err;

	if (fd < 0)
		return 0;
	for (;;) {
		__u32 n = CT_BATCH;
		uint64_t c0 = cpu_ns();

		LIBBPF_OPTS(bpf_map_batch_opts, bo);
		if (batch) {
			err = bpf_map_lookup_batch(fd, first ? NULL : in, out, &keys, vals, &n, &bo);
			if (err && errno != ENOENT && first && n == 0 &&
			    (errno == EINVAL || errno == ENOTSUP || errno == EOPNOTSUPP)) {
				batch = false;
				continue;
			}
			memcpy(in, out, ksz);
		} else {
			err = bpf_map_get_next_key(fd, first ? NULL : in, out);
			if (err) {
				d->seen.copy_ns += cpu_ns() - c0;
				break;
			}
			memcpy(in, out, ksz);
			n = bpf_map_lookup_elem(fd, in, vals) ? 0 : 1;
			memcpy(v6 ? (void *)keys.k6 : (void *)keys.k4, in, ksz);
		}
		d->seen.copy_ns += cpu_ns() - c0;
		first = false;
		present += n;
		now = xcni_mono_ns();
		for (__u32 i = 0; i < n; i++) {
			const struct xcni_ct6_key *c6 = &keys.k6[i];
			const struct xcni_ct_key *c4 = &keys.k4[i];
			const void *ck = v6 ? (const void *)c6 : c4;
			struct flow_key k = { .family = v6 ? 6 : 4, .proto = v6 ? c6->proto : c4->proto,
					      .sport = ntohs(v6 ? c6->sport : c4->sport),
					      .dport = ntohs(v6 ? c6->dport : c4->dport) };

			/* An entry past its lifetime is absent to the programs too;
			 * one not stamped since the last walk has nothing new. The
			 * sweep ends the records of both by their own lifetime. */
			if ((vals[i].last_ns < since_ns && !npc_of(ck, ksz)) ||
			    (now > vals[i].last_ns &&
			     now - vals[i].last_ns > xcni_ct_lifetime(vals[i].state, k.proto)))
				continue;
			memcpy(k.saddr, v6 ? c6->saddr : (const __u8 *)&c4->saddr, v6 ? 16 : 4);
			memcpy(k.daddr, v6 ? c6->daddr : (const __u8 *)&c4->daddr, v6 ? 16 : 4);
			ct_entry(d, &k, ck, &vals[i]);
		}
		if (batch && err)
			break; /* ENOENT: that was the last batch */
	}
	return present;
}

/* The packets the programs counted (xcni_metrics, every reason, every CPU). false: unread. */
static bool packets_read(struct flowd *d, uint64_t *out)
{
	__u32 in = 0, n = XCNI_NR_METRICS;
	size_t per_key = (size_t)d->ncpus;
	int err;

	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	if (d->metrics_fd < 0 || !d->mvals)
		return false;
	/* One call for the whole array (an array's batch starts at key 0). */
	err = bpf_map_lookup_batch(d->metrics_fd, NULL, &in, d->mkeys, d->mvals, &n, &bo);
	if (err && errno != ENOENT)
		return false;
	if (n != XCNI_NR_METRICS)
		return false;
	*out = 0;
	for (size_t i = 0; i < (size_t)XCNI_NR_METRICS * per_key; i++)
		*out += d->mvals[i].packets;
	return true;
}

/* No entry in map fd (or no map); false when unsure. */
static bool map_empty(int fd)
{
	__u8 key[64];

	_Static_assert(sizeof(struct xcni_ct6_key) <= sizeof(key), "a sock_flow key fits");
	return fd < 0 || (bpf_map_get_next_key(fd, NULL, key) && errno == ENOENT);
}

/*
 * Once a second: what conntrack says of the flows. The cost follows what
 * changed, not the maps' size: a second in which no program ran (the packet
 * counters and conntrack's created and deleted have not moved) reads no
 * entry; otherwise the walk reads the maps but does the per-flow work only
 * for entries stamped since the walk before. Records whose entry expired end
 * by their own lifetime (flows_ct_sweep); one whose entry went without
 * expiring is noticed by a walk that reads every live entry: the walk right
 * after xcni_ctstat counted a delete (the same walk) or an LRU eviction (the
 * next, a second later than a full walk would), and one every CT_ALL_READ_S
 * whatever the counters say (an entry deleted behind their back: 30 s late
 * at most). With more than FLOWS_CT_WALK_RATE entries in the maps, or a
 * copy of them that took more than 5 ms of CPU, walks are spaced so they
 * read at most that many a second and copy for at most 0.5% of a CPU
 * (flows_ct_walk_due), and at most 8 s apart: a busy node's conntrack costs
 * the agent a bounded share of a CPU, its flows' counters then a few
 * seconds old. final: read
 * everything now (the agent's last walk).
 */
static void ct_walks(struct flowd *d, bool final)
{
	bool all = final;
	struct ct_seen *sn = &d->seen;
	struct xcni_ctstat st = {};
	uint64_t now = xcni_mono_ns(), packets = 0, present, evicted;
	bool counted = packets_read(d, &packets) && d->ctstat_fd >= 0 &&
		       !ctstat_read(d->ctstat_fd, &st);

	all = all || !counted || !sn->valid || sn->all_next || st.deleted != sn->st.deleted ||
	      now - sn->all_read_ns >= CT_ALL_READ_S * 1000000000ULL;
	if ((!all && packets == sn->packets && st.created == sn->st.created) ||
	    (!final && sn->valid &&
	     !flows_ct_walk_due(sn->walk_ns, now, sn->present, sn->copy_ns))) {
		/* Nothing ran: the entries are as the last walk read them. Or the
		 * maps are big and the last walk was too recent for another: what
		 * asked for this one (all) still holds at the next tick. */
		flows_ct_sweep(d->fl, false, now);
		return;
	}
	sn->walk_ns = now;
	sn->copy_ns = 0;
	/* One look at the socket LB's maps a walk, not one a new TCP flow. */
	d->sock_none_before = map_empty(d->sockflow_fd) && map_empty(d->sockflow6_fd) ? now : 0;
	npc_read(d);
	present = ct_walk(d, d->ct_fd, false, all ? 0 : sn->since_ns);
	present += ct_walk(d, d->ct6_fd, true, all ? 0 : sn->since_ns);
	sn->present = present;
	flows_ct_sweep(d->fl, all, now);
	/* Evicted entries are what the counters leave unexplained; a rise means
	 * some went while the walk skipped theirs: the next walk reads all. */
	evicted = st.created > st.deleted + present ? st.created - st.deleted - present : 0;
	sn->all_next = !all && evicted > sn->evicted;
	sn->evicted = evicted;
	sn->packets = packets;
	sn->st = st;
	sn->since_ns = now > CT_SINCE_SLACK_NS ? now - CT_SINCE_SLACK_NS : 0;
	if (all) {
		sn->valid = counted;
		sn->all_read_ns = now;
	}
}

/* ---- events ----------------------------------------------------------------- */

/* A policy's name as the views give it (policy_name), NULL for none (0). */
static const char *policy_label(struct flowd *d, uint32_t id, char *buf, size_t len)
{
	return id ? policy_name(d->polname_fd, id, buf, len) : NULL;
}

/* An Admin egress verdict by the domainNames rule an address was learned
 * through (fqdn_decided, as explain decides): the name the pod asked, else none. */
static void set_domain(struct flowd *d, struct flow_rec *r, const struct xcni_event *ev,
		       const struct flow_key *k, bool admin)
{
	struct fqdn_why w;
	bool by = admin && ev->pol_dir == XCNI_DIR_FROM_POD &&
		  fqdn_decided(d->fqdn_fd, d->fqdn_pat_fd, ev->ep_id,
			       k->family == 4 ? XCNI_AF_INET : XCNI_AF_INET6, k->daddr,
			       ev->policy_id, ev->rule, &w) == 1;

	flows_set_str(d->fl, &r->domain, by ? w.name : NULL);
}

void flowd_set_store(struct flowd *d, struct store *st)
{
	if (d)
		d->st = st;
}

/*
 * A drop by isolation: the allow rules of the isolating policies whose port
 * took the flow but whose peer did not, as explain names them (one
 * function, pol_nm_near_misses, from the store the compiler reads). The
 * pod that isolated it and the other end by name, as the record has them.
 */
static void set_near_misses(struct flowd *d, struct flow_rec *r, bool in)
{
	const struct flow_peer *self = in ? &r->dst : &r->src, *other = in ? &r->src : &r->dst;
	char key[sizeof(d->nm.key)];
	uint64_t t0 = xcni_mono_ns();
	int gate;

	if (!d->st || !self->ns || !self->pod)
		return;
	snprintf(key, sizeof(key), "%d|%s/%s|%s/%s|%u|%u|%llu", in, self->ns, self->pod,
		 other->ns ?: "", other->pod ?: "", r->key.proto, r->key.dport,
		 (unsigned long long)store_version(d->st));
	gate = pol_nm_gate(&d->nm, key, t0);
	if (gate == NM_WALK)
		gate = pol_nm_charge(&d->nm, key, t0,
				     flowd_near_misses(d, self->ns, self->pod, other->ns, other->pod,
						       in, r->key.proto, r->key.dport, d->nm.text,
						       sizeof(d->nm.text)));
	if (gate == NM_KEPT)
		flows_set_str(d->fl, &r->near_misses, d->nm.text[0] ? d->nm.text : NULL);
}

static int on_event(void *arg, void *data, size_t len)
{
	struct flowd *d = arg;
	struct xcni_event6 ev6 = {};
	const struct xcni_event *ev = &ev6.ev;
	char name[340], rn[XCNI_RULENAME_LEN];
	struct flow_key k = {};
	struct flow_rec *r;

	/* Every record, as read: this is the ring's one reader now. */
	evfan_send(d->fan, data, len);
	if (len < XCNI_EVENT_LEN_V1)
		return 0;
	memcpy(&ev6, data, len < sizeof(ev6) ? len : sizeof(ev6));
	if (ev->type != XCNI_EV_DROP && ev->type != XCNI_EV_VERDICT)
		return 0;
	if (len >= sizeof(struct xcni_event6)) {
		k.family = 6;
		memcpy(k.saddr, ev6.saddr6, 16);
		memcpy(k.daddr, ev6.daddr6, 16);
	} else {
		k.family = 4;
		memcpy(k.saddr, &ev->saddr, 4);
		memcpy(k.daddr, &ev->daddr, 4);
		/* Not a packet of a flow (ARP, non-IP, a header too short to say). */
		if (!ev->saddr && !ev->daddr)
			return 0;
	}
	k.proto = ev->proto;
	k.sport = ntohs(ev->sport);
	k.dport = ntohs(ev->dport);
	r = rec_of(d, &k, ev->type == XCNI_EV_DROP &&
				  (ev->reason == XCNI_DROP_SPOOF_IP || ev->reason == XCNI_DROP_SPOOF_MAC ||
				   ev->reason == XCNI_DROP_INNER_SPOOF ||
				   ev->reason == XCNI_DROP_OUTSIDE_SPOOF));
	if (!r)
		return 0;
	set_service(d, r, ev->rev_nat,
		    ev->type != XCNI_EV_DROP || ev->reason != XCNI_DROP_NO_BACKEND);
	if (ev->type == XCNI_EV_VERDICT) {
		/* Deny and audit flags together: it passed only because the
		 * policy that would deny it is in audit mode. */
		bool audit = (ev->pol_flags & XCNI_POLV_DENY) && (ev->pol_flags & XCNI_POLV_AUDIT);

		flows_verdict(d->fl, r, ev->ts_ns, ev->pol_dir ? 1 : 0, ev->policy_id,
			      policy_label(d, ev->policy_id, name, sizeof(name)), ev->rule, audit);
		flows_rule_name(d->fl, r,
		                polsync_rule_name(d->rulename_fd, ev->policy_id, ev->pol_dir,
		                                  ev->rule, rn, sizeof(rn)));
		set_domain(d, r, ev, &k, XCNI_POLV_TIER(ev->pol_flags) == XCNI_TIER_ADMIN);
	} else {
		/* A tier's Deny names its rule; NetworkPolicy's drops are "nothing allows". */
		bool tier = ev->reason == XCNI_DROP_POLICY_ADMIN ||
			    ev->reason == XCNI_DROP_POLICY_BASELINE;
		bool policy = tier || ev->reason == XCNI_DROP_POLICY_EGRESS ||
			      ev->reason == XCNI_DROP_POLICY_INGRESS ||
			      ev->reason == XCNI_DROP_POLICY_PENDING ||
			      ev->reason == XCNI_DROP_POLICY_OVERFLOW ||
			      ev->reason == XCNI_DROP_ADDR_CONTESTED;

		flows_drop(d->fl, r, ev->ts_ns, policy ? (ev->pol_dir ? 1 : 0) : 0xff, ev->reason,
			   ev->len);
		/* A dropped flow has no conntrack entry to tell its flags: the
		 * packets' own (a denied connection's SYN, for IPFIX's tcpControlBits). */
		if (ev->proto == IPPROTO_TCP)
			r->tcp_flags |= ev->tcp_flags & (FLOW_TCP_SYN | FLOW_TCP_ACK | FLOW_TCP_FIN |
							 FLOW_TCP_RST);
		/* Nothing allows it: the policies that isolate the pod, named once a record. */
		if (!r->isolators && (ev->reason == XCNI_DROP_POLICY_INGRESS ||
				      ev->reason == XCNI_DROP_POLICY_EGRESS)) {
			bool in = ev->reason == XCNI_DROP_POLICY_INGRESS;
			char ip[INET6_ADDRSTRLEN], iso[800];

			inet_ntop(k.family == 4 ? AF_INET : AF_INET6, in ? k.daddr : k.saddr, ip,
				  sizeof(ip));
			if (fg_isolators(d->polsel_fd, d->polname_fd, &d->k6, ip, in, iso,
					 sizeof(iso)))
				flows_isolators(d->fl, r, iso);
			set_near_misses(d, r, in);
		}
		/* Each isolation drop under the pod and the policies that isolate it
		 * (xcni_policy_isolation_drops_total): the record's, named above. */
		if (ev->reason == XCNI_DROP_POLICY_INGRESS || ev->reason == XCNI_DROP_POLICY_EGRESS) {
			const struct flow_peer *p =
				ev->reason == XCNI_DROP_POLICY_INGRESS ? &r->dst : &r->src;

			flows_isodrop(d->fl, p->ns, p->pod, ev->reason == XCNI_DROP_POLICY_INGRESS,
				      r->isolators, 1);
		}
		if (tier) {
			flows_denied_by(d->fl, r, ev->policy_id,
					policy_label(d, ev->policy_id, name, sizeof(name)), ev->rule);
			flows_rule_name(d->fl, r,
			                polsync_rule_name(d->rulename_fd, ev->policy_id,
			                                  ev->pol_dir, ev->rule, rn, sizeof(rn)));
		}
		set_domain(d, r, ev, &k, ev->reason == XCNI_DROP_POLICY_ADMIN);
	}
	return 0;
}

/* ---- the flow log ----------------------------------------------------------- */

static int log_open(struct flowd *d)
{
	struct stat st;

	d->log_fd = open(d->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (d->log_fd < 0)
		return -errno;
	d->log_bytes = fstat(d->log_fd, &st) ? 0 : (uint64_t)st.st_size;
	return 0;
}

/*
 * The log's shares. A line is charged to its record's namespace (as the
 * window's room is: flows_rec_owner). Files rotate by size, but a rotation
 * removes from the oldest file only the lines of the namespace writing and
 * of namespaces holding more than their share of the kept files (files x
 * log_max / the namespaces holding lines): the others' lines are carried
 * into the new file. So one pod's short flows push out their own lines and
 * the largest namespaces', never a line of a namespace within its share, as
 * the window's largest owner gives up its own
 * (docs/decisions/flow-log-shares.md).
 */
static struct log_owner *log_owner_get(struct flowd *d, const char *ns)
{
	struct log_owner *o = hmap_get(&d->log_owners, hstr(ns), (uintptr_t)ns);

	if (o)
		return o;
	o = calloc(1, sizeof(*o));
	if (!o || !(o->ns = strdup(ns)) ||
	    hmap_put(&d->log_owners, hstr(ns), (uintptr_t)o->ns, o)) {
		if (o)
			free(o->ns);
		free(o);
		return NULL;
	}
	return o;
}

/* A line of len bytes at off of the file written, o's. 0 or -ENOMEM. */
static int log_index_add(struct flowd *d, uint64_t off, size_t len, struct log_owner *o)
{
	struct log_index *x = &d->log_idx[0];

	if (XCNI_GROW(x->l, x->n, x->cap))
		return -ENOMEM;
	x->l[x->n++] = (struct log_line){ .off = off, .len = (uint32_t)len, .o = o };
	if (!o->total)
		d->log_holding++;
	o->total += len;
	return 0;
}

static void log_shares_free(struct flowd *d)
{
	hmap_each(&d->log_owners, sl) {
		struct log_owner *o = sl->v;

		free(o->ns);
		free(o);
	}
	hmap_free(&d->log_owners);
	for (unsigned int i = 0; i < FLOWD_LOG_FILES_MAX; i++)
		free(d->log_idx[i].l);
}

/* Whether the oldest file's line l is carried into the new file (w writing). */
static bool log_carries(const struct flowd *d, const struct log_line *l, const struct log_owner *w)
{
	uint64_t share = d->log_max * d->log_files / (d->log_holding ? d->log_holding : 1);

	return l->o != w && l->o->total <= share;
}

/*
 * The oldest file's lines to carry (log_carries), read from it: *buf (*len
 * bytes), NULL when none or unreadable (then they go: said, not carried).
 * -ENOSPC: they and need bytes more would not fit a file.
 */
static int log_carry_read(struct flowd *d, const char *path, const struct log_owner *w,
			  size_t need, char **buf, size_t *len)
{
	const struct log_index *x = &d->log_idx[d->log_files - 1];
	size_t n = 0;
	int fd;

	*buf = NULL;
	*len = 0;
	for (size_t i = 0; i < x->n; i++) {
		x->l[i].carry = log_carries(d, &x->l[i], w);
		if (x->l[i].carry)
			n += x->l[i].len;
	}
	if (!n)
		return 0;
	if (n + need > d->log_max)
		return -ENOSPC;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	*buf = fd < 0 ? NULL : malloc(n);
	for (size_t i = 0; *buf && i < x->n; i++) {
		const struct log_line *l = &x->l[i];

		if (!l->carry)
			continue;
		if (pread(fd, *buf + *len, l->len, (off_t)l->off) != (ssize_t)l->len) {
			free(*buf);
			*buf = NULL;
			break;
		}
		*len += l->len;
	}
	if (!*buf) {
		pr_warn("flow log %s: its lines to keep could not be read: %s\n", path,
			strerror(errno));
		*len = 0;
	}
	xcni_close(&fd);
	return 0;
}

/*
 * path -> path.1 -> ... -> path.(files-1), the last one's lines gone
 * (counted) but those log_carries keeps, written first into the new file.
 * w: the namespace whose line of need bytes rotates. -ENOSPC: the carried
 * and that line would not fit a file (nothing done).
 */
static int log_rotate(struct flowd *d, const struct log_owner *w, size_t need)
{
	unsigned int last = d->log_files - 1;
	struct log_index old = d->log_idx[last];
	char from[600], to[600], *carry;
	size_t clen, nc = 0;
	int err;

	if (last)
		snprintf(from, sizeof(from), "%s.%u", d->log_path, last);
	else
		snprintf(from, sizeof(from), "%s", d->log_path);
	err = log_carry_read(d, from, w, need, &carry, &clen);
	if (err)
		return err;
	xcni_close(&d->log_fd);
	/* The oldest file's lines leave their namespaces' parts; the carried
	 * come back with the new file. */
	for (size_t i = 0; i < old.n; i++) {
		struct log_owner *o = old.l[i].o;

		if (carry && old.l[i].carry)
			continue;
		if ((o->total -= old.l[i].len) == 0)
			d->log_holding--;
	}
	if (carry)
		for (size_t i = 0; i < old.n; i++)
			nc += old.l[i].carry;
	if (d->log_files > 1) {
		if (!unlink(from) || errno == ENOENT)
			d->log_rotated_out += d->log_lines[last] - nc;
		for (unsigned int i = last; i > 0; i--) {
			if (i > 1)
				snprintf(from, sizeof(from), "%s.%u", d->log_path, i - 1);
			else
				snprintf(from, sizeof(from), "%s", d->log_path);
			snprintf(to, sizeof(to), "%s.%u", d->log_path, i);
			if (rename(from, to) && errno != ENOENT)
				pr_warn("flow log: rename %s %s: %s\n", from, to, strerror(errno));
			d->log_lines[i] = d->log_lines[i - 1];
			d->log_idx[i] = d->log_idx[i - 1];
		}
	} else {
		unlink(d->log_path);
		d->log_rotated_out += d->log_lines[0] - nc;
	}
	d->log_idx[0] = (struct log_index){ 0 };
	d->log_lines[0] = 0;
	d->log_rotations++;
	err = log_open(d);
	if (carry) {
		/* Their lines again, in their order, before anything newer. */
		size_t off = 0;

		if (!err && write(d->log_fd, carry, clen) != (ssize_t)clen)
			err = -EIO;
		for (size_t i = 0; i < old.n; i++) {
			struct log_line l = old.l[i];

			if (!l.carry)
				continue;
			/* o->total still holds it: log_index_add counts it anew
			 * (not after an error: then it is gone). */
			l.o->total -= l.len;
			if (!l.o->total)
				d->log_holding--;
			if (err || (err = log_index_add(d, d->log_bytes + off, l.len, l.o)))
				continue;
			off += l.len;
			l.o->carried++;
			d->log_carried++;
			d->log_lines[0]++;
		}
		d->log_bytes += off;
	}
	free(carry);
	free(old.l);
	return err;
}

static void log_rec(struct flowd *d, const struct flow_rec *r)
{
	struct flow_render_ctx rc;
	struct log_owner *o;
	ssize_t n;

	if (d->log_fd < 0 && (!d->log_path[0] || log_open(d)))
		return;
	flowd_render_ctx(d, &rc, NULL, 0);
	d->line.len = 0;
	d->line.err = 0;
	flow_rec_json(&d->line, r, &rc);
	o = d->line.err ? NULL : log_owner_get(d, flows_rec_owner(r));
	if (!o) {
		d->log_errors++;
		return;
	}
	/* Rotated before the line would take the file past its limit; a line
	 * longer than the limit alone still goes whole into a file of its own.
	 * When the lines carried would leave it no room it is not written,
	 * counted under its namespace (the record's next change tries again). */
	if (d->log_bytes && d->log_bytes + d->line.len > d->log_max) {
		int err = log_rotate(d, o, d->line.len);

		if (err == -ENOSPC) {
			o->refused++;
			d->log_refused++;
			((struct flow_rec *)r)->logged_seq = r->seq;
			return;
		}
		if (err) {
			d->log_errors++;
			pr_warn("flow log %s: %s\n", d->log_path, strerror(-err));
			return;
		}
	}
	n = write(d->log_fd, d->line.p, d->line.len);
	if (n != (ssize_t)d->line.len) {
		/* Not counted as written: the log says what it holds. */
		d->log_errors++;
		if (n > 0)
			d->log_bytes += (uint64_t)n;
		return;
	}
	if (log_index_add(d, d->log_bytes, (size_t)n, o))
		d->log_errors++; /* written, but its namespace's part unknown */
	d->log_bytes += (uint64_t)n;
	d->log_lines[0]++;
	d->log_written++;
	((struct flow_rec *)r)->logged_seq = r->seq;
}

/*
 * Whether r goes now, and why (flowEndReason); 0: not yet. A record goes
 * when it changed since its last export and: its conntrack entry ended (end
 * of flow after a FIN or RST, idle otherwise: the entry's lifetime ran out);
 * it has no entry (denied, or not yet walked) and no packet for the idle
 * timeout; or the active timeout passed since its start or last export.
 */
static uint8_t ipfix_due(const struct flowd *d, const struct flow_rec *r, uint64_t now)
{
	uint64_t since = r->ipfix_ns ? r->ipfix_ns : r->first_ns;

	if (r->seq <= r->exported_seq)
		return 0;
	if (!r->in_ct && r->ct_created)
		return r->tcp_flags & (FLOW_TCP_FIN | FLOW_TCP_RST) ? IPFIX_END_OF_FLOW :
								      IPFIX_END_IDLE;
	if (!r->in_ct && now > r->last_ns && now - r->last_ns >= d->ipfix_idle_ns)
		return IPFIX_END_IDLE;
	return now > since && now - since >= d->ipfix_active_ns ? IPFIX_END_ACTIVE : 0;
}

/* A record goes when the collector can take it; until then it stays pending
 * (exported_seq behind), and goes on a later tick. false: not taken. */
static bool ipfix_rec(struct flowd *d, struct flow_rec *r, uint8_t why, uint64_t now)
{
	struct flow_render_ctx rc;

	if (!ipfix_ours(r, d->ipfix_all)) {
		r->exported_seq = r->seq; /* the other node's to export */
		d->ipfix_skipped++;
		return true;
	}
	flowd_render_ctx(d, &rc, NULL, 0);
	if (!ipfix_add(d->ipx, r, &rc, why))
		return false;
	r->exported_seq = r->seq;
	r->ipfix_ns = now ? now : 1;
	memcpy(r->ipfix_pkts, r->pkts, sizeof(r->pkts));
	memcpy(r->ipfix_bytes, r->bytes, sizeof(r->bytes));
	return true;
}

static void on_evict(void *arg, const struct flow_rec *r)
{
	struct flowd *d = arg;

	/* Leaving the window with changes the log has not had: it gets them now. */
	if (d->log_path[0] && r->seq > r->logged_seq)
		log_rec(d, r);
	/* The same for the collector (sent with the rest of this tick's): its
	 * record ends, flowEndReason lackOfResources. Over UDP it is always
	 * taken; one a TCP collector cannot take now (not connected, its queue
	 * full) is kept out of the window until it can (ipfix_ends), the
	 * oldest of FLOWD_IPFIX_ENDS_MAX lost (counted) for a new one. */
	if (d->ipx && r->seq > r->exported_seq &&
	    !ipfix_rec(d, (struct flow_rec *)r, IPFIX_END_LACK_OF_RESOURCES, xcni_mono_ns())) {
		if (d->nends == FLOWD_IPFIX_ENDS_MAX) {
			flows_release(d->fl, d->ends[d->ends_head]);
			d->ends_head = (d->ends_head + 1) % FLOWD_IPFIX_ENDS_MAX;
			d->nends--;
			d->ipfix_evicted_lost++;
		}
		flows_keep((struct flow_rec *)r);
		d->ends[(d->ends_head + d->nends++) % FLOWD_IPFIX_ENDS_MAX] = (struct flow_rec *)r;
	}
}

/* The kept ends (on_evict), oldest first, while the collector takes them;
 * final: the last try, what it does not take is lost (counted). */
static void ipfix_ends(struct flowd *d, bool final)
{
	uint64_t now = xcni_mono_ns();

	while (d->nends) {
		struct flow_rec *r = d->ends[d->ends_head];

		if (!ipfix_rec(d, r, IPFIX_END_LACK_OF_RESOURCES, now)) {
			if (!final)
				return;
			d->ipfix_evicted_lost++;
		}
		flows_release(d->fl, r);
		d->ends_head = (d->ends_head + 1) % FLOWD_IPFIX_ENDS_MAX;
		d->nends--;
	}
}

static void log_changed(struct flowd *d)
{
	for (struct flow_rec *r = flows_head(d->fl); r; r = r->next)
		if (r->seq > r->logged_seq)
			log_rec(d, r);
}

/* Every tick: the records due (ipfix_due); final: every changed one (xcnid
 * stops: forced end, unless it had ended). */
static void ipfix_export(struct flowd *d, bool final)
{
	uint64_t now = xcni_mono_ns();

	/* What left the window first: it ended before what is still in it. */
	ipfix_ends(d, final);
	for (struct flow_rec *r = flows_head(d->fl); r; r = r->next) {
		uint8_t why = ipfix_due(d, r, now);

		if (!why && final && r->seq > r->exported_seq)
			why = IPFIX_END_FORCED;
		if (why)
			ipfix_rec(d, r, why, now);
	}
	ipfix_flush(d->ipx);
}

/* ---- the agent's side ------------------------------------------------------- */

const struct pol_nm_budget *flowd_nm_budget(const struct flowd *d)
{
	return &d->nm;
}

bool flowd_logs(const struct flowd *d)
{
	return d->log_path[0] != '\0';
}

void flowd_log_shares_each(const struct flowd *d,
			   void (*fn)(void *arg, const char *ns, uint64_t carried, uint64_t refused),
			   void *arg)
{
	hmap_each(&d->log_owners, sl) {
		const struct log_owner *o = sl->v;

		if (o->carried || o->refused)
			fn(arg, o->ns, o->carried, o->refused);
	}
}

struct flows *flowd_flows(struct flowd *d)
{
	return d->fl;
}

struct http *flowd_http(struct flowd *d)
{
	return d->tls;
}

const char *flowd_node(const struct flowd *d)
{
	return d->node;
}

int flowd_fd(const struct flowd *d)
{
	return d ? d->epfd : -1;
}

void flowd_dispatch(struct flowd *d)
{
	struct epoll_event evs[8];
	int n;

	if (!d)
		return;
	n = epoll_wait(d->epfd, evs, 8, 0);
	/* What a change is stamped with (a record's "updated"). */
	flows_set_now(d->fl, xcni_mono_ns());
	for (int i = 0; i < n; i++) {
		uint64_t tag = evs[i].data.u64;

		if (tag == TAG_TIMER) {
			uint64_t exp;

			if (read(d->tfd, &exp, sizeof(exp)) < 0)
				continue;
			/* Names are looked up again each tick. */
			d->peer_gen++;
			/* Events first: a verdict names the flow the walk then counts. */
			ring_buffer__consume(d->rb);
			ct_walks(d, false);
			/* xcni_flows_total: after the walk that tells a record's fate. */
			flows_count_settled(d->fl, xcni_mono_ns());
			if (d->ipx)
				ipfix_tick(d->ipx);
			if (d->log_path[0] && ++d->ticks % d->log_interval == 0)
				log_changed(d);
			if (d->ipx)
				ipfix_export(d, false);
		} else if (tag == TAG_RING) {
			ring_buffer__consume(d->rb);
		} else if (tag == TAG_LOCAL) {
			http_dispatch(d->local);
		} else if (tag == TAG_EVFAN) {
			evfan_accept(d->fan);
		} else if (tag == TAG_TLS) {
			http_dispatch(d->tls);
		}
	}
}

/* The pinned maps flowd reads, each into its fd in struct flowd (-1: absent). */
#define PIN(f, name) { offsetof(struct flowd, f), name }
static const struct { size_t off; const char *name; } pinned[] = {
	PIN(ct_fd, "xcni_ct"), PIN(ct6_fd, "xcni_ct6"), PIN(podname_fd, "xcni_podname"),
	PIN(identity_fd, "xcni_identity"), PIN(ipcache_fd, "xcni_ipcache"),
	PIN(ipcache6_fd, "xcni_ipcache6"), PIN(polname_fd, "xcni_polname"),
	PIN(polsel_fd, "xcni_polsel"), PIN(rulename_fd, "xcni_rulename"),
	PIN(svcname_fd, "xcni_svcname"), PIN(k6.polkey6, "xcni_polkey6"),
	PIN(k6.endpoints6, "xcni_endpoints6"), PIN(k6.ifindex, "xcni_ifindex"),
	PIN(sockflow_fd, "xcni_sock_flow"), PIN(sockflow6_fd, "xcni_sock_flow6"),
	PIN(snat6_fd, "xcni_snat"), PIN(fqdn_fd, "xcni_fqdn"), PIN(fqdn_pat_fd, "xcni_fqdn_pat"),
	/* Whether anything ran since the last walk. Without them every walk reads all. */
	PIN(metrics_fd, "xcni_metrics"), PIN(ctstat_fd, "xcni_ctstat"),
};
#define PINNED_FD(d, i) ((int *)((char *)(d) + pinned[i].off))

void flowd_free(struct flowd *d)
{
	if (!d)
		return;
	if (d->fl && (d->log_path[0] || d->ipx)) {
		/* What the window holds and the log (the collector) has not had. */
		if (d->rb)
			ring_buffer__consume(d->rb);
		ct_walks(d, true);
		if (d->log_path[0])
			log_changed(d);
		if (d->ipx)
			ipfix_export(d, true);
	}
	http_free(d->tls);
	for (int i = 0; i < 3; i++)
		if (d->pem[i]) {
			explicit_bzero(d->pem[i], strlen(d->pem[i]));
			free(d->pem[i]);
		}
	if (d->local) {
		http_free(d->local);
		unlink(d->sock);
	}
	ring_buffer__free(d->rb);
	for (size_t i = 0; i < ARRAY_SIZE(pinned); i++)
		xcni_close(PINNED_FD(d, i));
	xcni_close(&d->tfd);
	xcni_close(&d->epfd);
	xcni_close(&npc.fd);
	free(npc.vals);
	free(npc.h);
	npc = (typeof(npc)){ .fd = -1 };
	xcni_close(&d->log_fd);
	log_shares_free(d);
	ipfix_free(d->ipx);
	evfan_free(d->fan);
	flows_fbuf_free(&d->line);
	/* Kept ends no export took (the collector never came): counted lost. */
	for (; d->nends; d->nends--, d->ends_head = (d->ends_head + 1) % FLOWD_IPFIX_ENDS_MAX) {
		flows_release(d->fl, d->ends[d->ends_head]);
		d->ipfix_evicted_lost++;
	}
	for (size_t i = 0; d->fl && i < PEER_CACHE; i++)
		flows_peer_put(d->fl, &d->peers[i].p);
	flows_free(d->fl);
	free(d->mvals);
	free(d->mkeys);
	free(d);
}

int flowd_open(const struct flowd_opts *o, const char *pin_dir, const char *node,
	       struct flowd **out)
{
	struct flowd *d;
	int err, evfd;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->tfd = d->epfd = d->log_fd = -1;
	for (size_t i = 0; i < ARRAY_SIZE(pinned); i++)
		*PINNED_FD(d, i) = -1;
	d->peer_gen = 1;
	d->nm.limit_ns = FLOWD_NM_BUDGET_NS;
	snprintf(d->pin_dir, sizeof(d->pin_dir), "%s", pin_dir);
	snprintf(d->node, sizeof(d->node), "%s", node ? node : "");
	err = flows_new(o->window, &d->fl);
	if (err)
		goto fail;
	flows_on_evict(d->fl, on_evict, d);
	if (o->sock_path)
		snprintf(d->sock, sizeof(d->sock), "%s", o->sock_path);
	else if ((err = flows_sock_path(pin_dir, d->sock, sizeof(d->sock))))
		goto fail;
	for (size_t i = 0; i < ARRAY_SIZE(pinned); i++)
		*PINNED_FD(d, i) = xcni_pin_get(d->pin_dir, pinned[i].name);
	d->ncpus = libbpf_num_possible_cpus();
	if (d->ncpus > 0) {
		d->mvals = calloc((size_t)XCNI_NR_METRICS * (size_t)d->ncpus, sizeof(*d->mvals));
		d->mkeys = calloc(XCNI_NR_METRICS, sizeof(*d->mkeys));
	}
	evfd = xcni_pin_get(d->pin_dir, "xcni_events");
	if (d->ct_fd < 0 || evfd < 0) {
		err = d->ct_fd < 0 ? d->ct_fd : evfd;
		pr_err("flows: the pinned maps under %s: %s\n", pin_dir, strerror(-err));
		xcni_close(&evfd);
		goto fail;
	}
	d->rb = ring_buffer__new(evfd, on_event, d, NULL);
	close(evfd); /* the ring holds its own reference */
	if (!d->rb) {
		err = -errno;
		pr_err("flows: the events ring: %s\n", strerror(-err));
		goto fail;
	}
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0 || (d->tfd = xcni_epoll_ticker(d->epfd, 1, TAG_TIMER)) < 0) {
		err = d->epfd < 0 ? -errno : d->tfd;
		goto fail;
	}
	/* The ring's own epoll fd, nested: readable when a record is waiting. */
	if ((err = xcni_epoll_add(d->epfd, ring_buffer__epoll_fd(d->rb), TAG_RING)))
		goto fail;
	err = flowd_listen_unix(d);
	if (err) {
		pr_err("flows: socket %s: %s\n", d->sock, strerror(-err));
		goto fail;
	}
	{
		char evpath[sizeof(d->sock) + 8];

		err = flows_events_path(d->sock, evpath, sizeof(evpath));
		if (!err)
			err = evfan_open(evpath, &d->fan);
		if (err) {
			pr_err("flows: events socket beside %s: %s\n", d->sock, strerror(-err));
			goto fail;
		}
		if ((err = xcni_epoll_add(d->epfd, evfan_fd(d->fan), TAG_EVFAN)))
			goto fail;
	}
	if (o->listen && (err = flowd_listen_tls(d, o)))
		goto fail;
	if (o->log_path) {
		const char *at = strstr(o->log_path, "{node}");

		/* Several agents on one host (the lab) each write their own. */
		if (at)
			snprintf(d->log_path, sizeof(d->log_path), "%.*s%s%s",
				 (int)(at - o->log_path), o->log_path, d->node, at + 6);
		else
			snprintf(d->log_path, sizeof(d->log_path), "%s", o->log_path);
		d->log_max = o->log_max_bytes;
		d->log_files = o->log_files;
		err = hmap_init(&d->log_owners, true, 16) ?: log_open(d);
		if (err) {
			pr_err("flows: flow log %s: %s\n", d->log_path, strerror(-err));
			goto fail;
		}
	}
	d->log_interval = o->log_interval_s ? o->log_interval_s : 1;
	d->ipfix_all = o->ipfix_all_nodes;
	d->ipfix_active_ns = (uint64_t)o->ipfix_active_s * 1000000000ULL;
	d->ipfix_idle_ns = (uint64_t)o->ipfix_idle_s * 1000000000ULL;
	if (o->ipfix_url && (err = ipfix_open(o->ipfix_url, &d->ipx)))
		goto fail;
	pr_info("flows: a window of %zu records, queries on %s%s%s%s%s\n", o->window, d->sock,
		o->listen ? " and https://" : "", o->listen ? o->listen : "",
		o->log_path ? ", log " : "", o->log_path ? o->log_path : "");
	*out = d;
	return 0;
fail:
	flowd_free(d);
	return err;
}
