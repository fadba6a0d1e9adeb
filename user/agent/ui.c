// SPDX-License-Identifier: Apache-2.0
/*
 * xcnid --ui (ui.h): GET / is the page, GET /api/graph the service map of the
 * flow window as lib/flowgraph.c folds it. /api/graph takes xcnictl flows'
 * filters as query arguments (?verdict=denied&since=5m&from=ns:x); a bad one
 * is a 400 naming it. Rendered through the HTTP server's render budget, as
 * the metrics page is: a burst of polls costs the agent its duty cycle, no
 * more.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "lib/system/util.h"
#include "xcni_shared.h"
#include "lib/observe/flowgraph.h"
#include "lib/observe/flows.h"
#include "lib/system/clock.h"
#include "lib/system/log.h"
#include "lib/system/proto.h"
#include "lib/observe/reasons.h"
#include "lib/policy/polsync.h"
#include "agent/pins.h"
#include "agent/ui.h"

struct ui {
	struct flowd *fd;
	int polsel, polname; /* -1: absent (then no isolators named) */
	struct polkey6_maps k6;
};

static void end_of(const struct flow_peer *p, uint8_t family, const uint8_t *addr, uint16_t port,
		   char *ip, struct fg_end *e)
{
	inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, ip, INET6_ADDRSTRLEN);
	*e = (struct fg_end){ .kind = flow_peer_kind(p), .ns = p->ns, .pod = p->pod,
			      .labels = p->labels, .ip = ip, .port = port };
}

static int add_rec(struct ui *u, struct fgraph *g, const struct flow_rec *r, int64_t wall_off)
{
	const struct xcni_reason_info *ri = r->reason ? xcni_reason_info(r->reason) : NULL;
	char sip[INET6_ADDRSTRLEN], dip[INET6_ADDRSTRLEN], proto[8], iso[800];
	char client[INET6_ADDRSTRLEN + 8];
	const char *pl = proto_label(r->key.proto);
	struct fg_flow f = {
		.node = flowd_node(u->fd),
		.family = r->key.family == 4 ? "ipv4" : "ipv6",
		.proto = pl,
		.service = r->service,
		.client = flow_client_str(r, client, sizeof(client)),
		.verdict = r->verdict,
		.side = r->pol_dir <= 1 ? (r->pol_dir ? "ingress" : "egress") : NULL,
		.policy = r->policy,
		.rule = r->policy ? r->rule : -1,
		.reason = ri ? ri->name : NULL,
		.pkts = r->pkts[0], .bytes = r->bytes[0],
		.reply_pkts = r->pkts[1], .reply_bytes = r->bytes[1],
		.last_seen = (double)((int64_t)r->last_ns + wall_off) / 1e9,
		.point = flow_point_name(flow_rec_point(r)),
	};

	if (!pl) {
		snprintf(proto, sizeof(proto), "%u", r->key.proto);
		f.proto = proto;
	}
	end_of(&r->src, r->key.family, r->key.saddr, r->key.sport, sip, &f.src);
	end_of(&r->dst, r->key.family, r->key.daddr, r->key.dport, dip, &f.dst);
	/* "Nothing allows": the policies that isolate the pod, as explain names them
	 * (the record's own when the agent named them at the drop). */
	if (r->verdict == FLOW_DENIED && r->isolators)
		f.isolators = r->isolators;
	else if (r->verdict == FLOW_DENIED && !r->policy &&
	    (r->reason == XCNI_DROP_POLICY_INGRESS || r->reason == XCNI_DROP_POLICY_EGRESS) &&
	    fg_isolators(u->polsel, u->polname, &u->k6,
			 r->reason == XCNI_DROP_POLICY_INGRESS ? dip : sip,
			 r->reason == XCNI_DROP_POLICY_INGRESS, iso, sizeof(iso)))
		f.isolators = iso;
	if (r->verdict == FLOW_DENIED)
		f.near_misses = r->near_misses;
	return fg_add(g, &f);
}

static int render_graph(void *ctx, const struct http_args *a, char **body, size_t *len)
{
	struct ui *u = ctx;
	struct flows *fl = flowd_flows(u->fd);
	struct fbuf b = { .max = 64u << 20 };
	struct flow_filter ff;
	struct fgraph *g;
	char err[300], extra[200];
	uint64_t now;
	int64_t off;
	int ret = 0;

	flow_filter_init(&ff);
	for (size_t i = 0; i < a->n; i++)
		if (flow_filter_set(&ff, a->v[i].key, a->v[i].value, err, sizeof(err))) {
			*len = (size_t)asprintf(body, "%s\n", err);
			flow_filter_free(&ff);
			return *len == (size_t)-1 ? -ENOMEM : -EINVAL;
		}
	if (fg_new(&g)) {
		flow_filter_free(&ff);
		return -ENOMEM;
	}
	now = xcni_mono_ns();
	off = xcni_wall_off_ns(now);
	for (struct flow_rec *r = flows_head(fl); r && !ret; r = r->next)
		if (flow_filter_match(&ff, r, now, off))
			ret = add_rec(u, g, r, off);
	flow_filter_free(&ff);
	if (ret == -E2BIG)
		ret = 0; /* counted in "dropped" */
	if (!ret) {
		struct fbuf nb = {};

		fg_json_str(&nb, flowd_node(u->fd));
		snprintf(extra, sizeof(extra), ",\"node\":%s,\"window\":%zu,\"evicted\":%llu",
			 nb.p ? nb.p : "null", flows_window(fl),
			 (unsigned long long)flows_stats(fl)->evicted);
		flows_fbuf_free(&nb);
		ret = fg_render(g, extra, &b);
	}
	fg_free(g);
	if (ret) {
		flows_fbuf_free(&b);
		return ret;
	}
	*body = b.p;
	*len = b.len;
	return 0;
}

int ui_open(struct http *h, struct flowd *fd, const char *pin_dir, struct ui **out)
{
	struct ui *u = calloc(1, sizeof(*u));
	int err;

	if (!u)
		return -ENOMEM;
	u->fd = fd;
	u->polsel = xcni_pin_get(pin_dir, "xcni_polsel");
	u->polname = xcni_pin_get(pin_dir, "xcni_polname");
	polsync_key6_open(&u->k6, pin_dir, NULL);
	if ((err = http_route(h, "/", "text/html; charset=utf-8", fg_render_page, NULL)) ||
	    (err = http_route(h, "/api/graph", "application/json", render_graph, u))) {
		pr_err("ui: cannot add its pages: %s\n", strerror(-err));
		ui_free(u);
		return err;
	}
	*out = u;
	return 0;
}

void ui_free(struct ui *u)
{
	if (!u)
		return;
	xcni_close(&u->polsel);
	xcni_close(&u->polname);
	polsync_key6_close(&u->k6);
	free(u);
}
