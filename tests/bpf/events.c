// SPDX-License-Identifier: Apache-2.0
/*
 * Events: traces of forwarded packets, the budget on every event (a share per
 * endpoint, per CPU), what a full ring loses. The rows run in order.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/pkt_cls.h>

#include "harness.h"

/* What `xcnictl config set` writes: the event settings of the node config. */
static int set_events(uint32_t trace_sample, uint32_t events_rate)
{
	struct xcni_config cfg;
	int err = cfg_get(&cfg);

	if (err)
		return err;
	cfg.trace_sample = trace_sample;
	cfg.events_rate = events_rate;
	return cfg_put(&cfg);
}

static int trace_every(void)
{
	return set_events(1, 0);
}

static int trace_off(void)
{
	return set_events(0, 0);
}

/* The event budgets and counters, summed over CPUs. */
static int evrate_sum(struct xcni_evrate *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	struct xcni_evrate v[ncpu];
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(env.from->maps.xcni_evrate), &zero, v))
		return -errno;
	*sum = (struct xcni_evrate){};
	for (int c = 0; c < ncpu; c++) {
		sum->sent += v[c].sent;
		sum->lost_rate += v[c].lost_rate;
		sum->lost_full += v[c].lost_full;
	}
	return 0;
}

/* Runs row r n times (repeat: in one test run), checking the verdict; events consumed. */
static int run_n(const struct row *r, int n, int repeat)
{
	uint8_t in[FRAME_MAX], out[FRAME_MAX];
	size_t len = build(r, in);

	for (int i = 0; i < n; i++) {
		struct bpf_test_run_opts o = {};
		int err = run(r->prog, r->dev, in, len, out, sizeof(out), repeat, &o);

		if (err)
			return err;
		if (!repeat && (int)o.retval != r->ret)
			return -EPROTO;
	}
	return ring_buffer__consume(env.rb) < 0 ? -EIO : 0;
}

static int trace_sampled(void)
{
	struct row r = { .dev = DEV_A, UDP(IP_A, 45000, IP_C, 53), .ret = TC_ACT_REDIRECT };
	int err = set_events(4, 0);

	env.nev = 0;
	err = err ?: run_n(&r, 400, 0);
	err = err ?: set_events(0, 0);
	if (err)
		return err;
	/* Binomial(400, 1/4): mean 100, sd 8.7; outside [40, 200] means no sampling. */
	if (env.nev < 40 || env.nev > 200) {
		fprintf(stderr, "%d traces of 400 packets at 1 in 4\n", env.nev);
		return -EPROTO;
	}
	return 0;
}

/* Every share of the events' budget gone (xcni_evshare): the next event of
 * each makes it again, full. */
static int evshare_clear(void)
{
	int fd = bpf_map__fd(env.from->maps.xcni_evshare);
	uint32_t key;

	while (!bpf_map_get_next_key(fd, NULL, &key))
		if (bpf_map_delete_elem(fd, &key))
			return -errno;
	return 0;
}

/* The lost count of ep_id's share, summed over CPUs (0: no share). */
static uint64_t evshare_lost(uint32_t ep_id)
{
	int ncpu = libbpf_num_possible_cpus();
	struct xcni_evshare v[ncpu];
	uint64_t n = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(env.from->maps.xcni_evshare), &ep_id, v))
		return 0;
	for (int c = 0; c < ncpu; c++)
		n += v[c].lost;
	return n;
}

/*
 * A share per endpoint, per CPU: the test stays on one CPU, where each share
 * starts full (made on its first event: a second's worth). A's drops spend
 * A's share; B's drop, after them, still has its own.
 */
static int events_rate_limited(void)
{
	struct row r = { .dev = DEV_A, .ihl = 4, UDP(IP_A, 1, IP_B, 2), .ret = TC_ACT_SHOT };
	struct row rb = { .dev = DEV_B, .ihl = 4, UDP(IP_B, 1, IP_A, 2), .ret = TC_ACT_SHOT };
	int ncpu = libbpf_num_possible_cpus(), cpu = sched_getcpu(), err;
	struct xcni_evrate zeros[ncpu], sum;
	cpu_set_t old, one;
	uint32_t zero = 0;

	memset(zeros, 0, sizeof(zeros));
	if (cpu < 0 || sched_getaffinity(0, sizeof(old), &old))
		return -errno;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		return -errno;
	err = bpf_map_update_elem(bpf_map__fd(env.from->maps.xcni_evrate), &zero, zeros, BPF_ANY)
		      ? -errno : 0;
	err = err ?: evshare_clear();
	err = err ?: set_events(0, 3);
	env.nev = 0;
	err = err ?: run_n(&r, 10, 0);
	err = err ?: evrate_sum(&sum);
	if (!err && (env.nev != 3 || sum.sent != 3 || sum.lost_rate != 7 || sum.lost_full)) {
		fprintf(stderr, "A: %d events, sent %llu, lost %llu to the rate, %llu to the ring\n",
			env.nev, (unsigned long long)sum.sent, (unsigned long long)sum.lost_rate,
			(unsigned long long)sum.lost_full);
		err = -EPROTO;
	}
	/* B's one drop right after: its own share, untouched by A's flood; the
	 * losses are A's share's. */
	if (!err) {
		env.nev = 0;
		err = run_n(&rb, 1, 0) ?: evrate_sum(&sum);
		if (!err && (env.nev != 1 || sum.sent != 4 || sum.lost_rate != 7 ||
			     evshare_lost(pods[DEV_A].ep_id) != 7 || evshare_lost(pods[DEV_B].ep_id))) {
			fprintf(stderr, "B after A's flood: %d events, sent %llu, lost %llu (A's %llu, B's %llu)\n",
				env.nev, (unsigned long long)sum.sent, (unsigned long long)sum.lost_rate,
				(unsigned long long)evshare_lost(pods[DEV_A].ep_id),
				(unsigned long long)evshare_lost(pods[DEV_B].ep_id));
			err = -EPROTO;
		}
	}
	/* 400 ms buys 1.2 events' worth of credit: one more passes, the next does not. */
	if (!err) {
		usleep(400000);
		env.nev = 0;
		err = run_n(&r, 2, 0) ?: evrate_sum(&sum);
		if (!err && (env.nev != 1 || sum.lost_rate != 8))
			err = -EPROTO;
	}
	set_events(0, 0);
	sched_setaffinity(0, sizeof(old), &old);
	return err;
}

/* 20000 events in one test run, none read meanwhile: more than the ring holds. */
static int events_ring_full(void)
{
	struct row r = { .dev = DEV_A, UDP(IP_A, 45000, IP_C, 53) };
	struct xcni_evrate before, after;
	int err = evrate_sum(&before) ?: set_events(1, 0);

	env.nev = 0;
	/* The rewrite in place makes the runs after the first spoofed-MAC drops:
	 * events all the same. */
	err = err ?: run_n(&r, 1, 20000);
	err = err ?: evrate_sum(&after);
	set_events(0, 0);
	if (err)
		return err;
	if (after.sent + after.lost_full - before.sent - before.lost_full != 20000 ||
	    after.lost_full == before.lost_full || (uint64_t)env.nev != after.sent - before.sent) {
		fprintf(stderr, "20000 events: %d read, sent %llu, lost to the ring %llu\n", env.nev,
			(unsigned long long)(after.sent - before.sent),
			(unsigned long long)(after.lost_full - before.lost_full));
		return -EPROTO;
	}
	return 0;
}

static const struct row events_rows[] = {
	/* Events: traces of forwarded packets (off so far: no row above saw one),
	 * the budget on every event (a share per endpoint), and what was lost. */
	{ "events: trace every forwarded packet (trace-sample 1)", .step = trace_every },
	{ "A->C UDP: forwarded, traced as fwd-local from-pod", .dev = DEV_A,
	  UDP(IP_A, 45000, IP_C, 53), REDIR(FWD_LOCAL), .ct = XCNI_CT_NEW, .trace = true },
	{ "C->A UDP: the reply, traced as fwd-reply", .dev = DEV_C, UDP(IP_C, 53, IP_A, 45000),
	  REDIR(FWD_REPLY), .ct = XCNI_CT_ESTABLISHED, .ct_rev = true, .trace = true },
	{ "host->A via to_pod: traced to-pod", .prog = TO_POD, .dev = DEV_A,
	  TCP(IP_GW, 45001, IP_A, 22, TH_SYN), OK(FWD_LOCAL), .ct = XCNI_CT_NEW, .ct_stack = true,
	  .trace = true },
	{ "host->R via the overlay device: traced fwd-encap to-overlay", .prog = TO_OVERLAY,
	  .dev = DEV_X, TCP(NODE_IP, 45002, IP_R, 80, TH_SYN), REDIR(FWD_ENCAP), .node = N2,
	  .trace = true },
	{ "A->B FIN of no flow: a drop event only, no trace", .dev = DEV_A,
	  TCP(IP_A, 45003, IP_B, 80, TH_FIN | TH_ACK), SHOT(DROP_CT_INVALID, EV_FULL) },
	{ "events: traces off (trace-sample 0)", .step = trace_off },
	{ "A->C UDP: forwarded, no event", .dev = DEV_A, UDP(IP_A, 45000, IP_C, 53),
	  REDIR(FWD_LOCAL), .ct = XCNI_CT_ESTABLISHED },
	{ "events: trace-sample 4 traces about one in 4 of 400 packets", .step = trace_sampled },
	{ "events: a share of 3 per CPU second: A's 10 drops, 3 events, 7 lost; B's drop reported",
	  .step = events_rate_limited },
	{ "events: a full ring loses events, counted, never packets", .step = events_ring_full },
};

const struct group events_group = { "events", ROWS(events_rows), .prep = overlay_setup };
