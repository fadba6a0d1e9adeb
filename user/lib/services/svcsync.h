/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Service map writer (kube-proxy replacement): makes xcni_svc,
 * xcni_svcslot, xcni_backend, xcni_revnat and xcni_maglev hold a list of
 * frontends with their backends, with the discipline of polsync: only what
 * changed is written; a changed frontend gets its slots (and Maglev table)
 * under the version it does not use, then its entry is flipped in one map
 * update, and the old version goes in svcsync_cleanup; backends are written
 * before any slot names them and deleted after none does. A list the maps
 * cannot hold is judged per namespace (svcsync_apply): the namespace bringing
 * the most is closed, the rest written. xcni_svcname gets a frontend's Service and
 * port under its id before the first xcni_svc entry naming the id, and loses
 * it in cleanup after the last one is gone; a frontend whose Service or port
 * name changes (a ClusterIP:port handed to another Service) is given a new
 * id, so an id never names two Services.
 */
#ifndef XCNI_SVCSYNC_H
#define XCNI_SVCSYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xcni_shared.h"

struct svc_be_spec {
	uint8_t addr[16]; /* IPv4: the first 4 bytes */
	uint16_t port; /* network order */
	uint8_t family; /* XCNI_AF_* */
	uint8_t state; /* enum xcni_backend_state */
};

/* One frontend: what a Service port (ClusterIP:port/proto, scope) becomes. */
struct svc_spec {
	const char *name; /* "ns/name:port" for messages */
	struct xcni_svcname who; /* the Service and port, as xcni_svcname holds it */
	struct xcni_svc_key key;
	uint8_t flags; /* XCNI_SVC_F_* */
	uint32_t affinity_s;
	size_t nbe;
	const struct svc_be_spec *be; /* any order; the writer puts the active ones first */
};

struct svcsync_stats {
	size_t svcs_changed; /* frontends added or rewritten */
	size_t svcs_removed;
	size_t slots_written;
	size_t slots_deleted;
	size_t backends_written;
	size_t backends_deleted;
	size_t maglev_written; /* Maglev tables built and installed */
	size_t ct_flushed; /* conntrack entries of UDP flows to backends that left their frontend */
};

struct svcsync;

/*
 * A namespace closed for room (svcsync_apply): the frontends its Services
 * ask for did not fit beside everyone else's, and it brought the most entries
 * of the map that was full (map). None of its frontends is in the maps:
 * traffic to them finds no frontend, as for any address that is not a
 * Service's; every other namespace's Services are applied.
 */
struct svcsync_closed {
	char ns[sizeof(((struct xcni_svcname *)0)->ns)];
	size_t frontends; /* its frontends not programmed */
	size_t need; /* the entries of map it would have added */
	/* "xcni_svc", "xcni_revnat", "xcni_svcslot", "xcni_backend", "xcni_maglev", or
	 * "service ids" (not a map: the u16 id space, 65535 a node) */
	const char *map;
	const char *fix; /* what an operator can do: "raise --map-max=MAP=N", or why none helps */
	bool share; /* past its namespace's share of map (svcsync_set_ns_share); else map full */
};

/*
 * Opens the pinned maps under pin_dir and reads what they hold; entries an
 * earlier writer left behind (an update cut short: a version no frontend
 * uses, backends no slot names) are deleted.
 */
int svcsync_open(const char *pin_dir, struct svcsync **out);
void svcsync_free(struct svcsync *ss);

/*
 * Makes the maps hold specs (frontends unique). Room is judged per namespace
 * (the Service maps as the policy maps are), never closing a frontend that
 * is in the maps and unchanged: a namespace whose frontends would take it
 * past its share of a map (svcsync_set_ns_share) has its new and changed ones
 * closed; when the rest does not fit, the namespace taking the most of the
 * map(s) that are over has its new and changed ones closed (not written; a
 * changed held one removed), then the next, until the rest fits; the rest is
 * applied and svcsync_closed names the closed ones (empty when everything
 * fit). -EINVAL (msg names the frontend) with nothing written.
 * A UDP frontend's backend that is no longer among its backends loses its
 * flows (both conntrack entries, in xcni_ct when pinned), after the flip.
 */
int svcsync_apply(struct svcsync *ss, const struct svc_spec *specs, size_t n,
		  struct svcsync_stats *st, char *msg, size_t msglen);
/*
 * svcsync_apply for a change: put are frontends to be as given (new,
 * changed, or the same: compared as apply does), del the keys of frontends
 * to go; every other frontend stays as it is. Same order of writes, same
 * errors, nothing written on error; costs what put and del name, not every
 * frontend held. A change that does not fit, or may take its namespace past
 * its share, is -ENOSPC (msg names the map and the numbers), nothing written: room is judged per namespace over every
 * frontend, so the caller applies the whole list (svcsync_apply) instead.
 */
int svcsync_apply_delta(struct svcsync *ss, const struct svc_spec *put, size_t nput,
			const struct xcni_svc_key *del, size_t ndel, struct svcsync_stats *st,
			char *msg, size_t msglen);
/* Percent of each Service map one namespace may take (1..100; 100 at open). */
void svcsync_set_ns_share(struct svcsync *ss, unsigned int percent);
/* The namespaces the last svcsync_apply closed for room (by name), *n of them. */
const struct svcsync_closed *svcsync_closed(const struct svcsync *ss, size_t *n);
/* Deletes what the last apply replaced (old versions, removed frontends, unused backends). */
int svcsync_cleanup(struct svcsync *ss, struct svcsync_stats *st);

#endif
