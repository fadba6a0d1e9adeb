// SPDX-License-Identifier: Apache-2.0
/*
 * The room writer's contract (user/lib/system/mapw.h, docs/decisions/room-writer.md)
 * against a real BPF hash map, with random lives: owners adding, changing and
 * removing entries against a map smaller than they want together, its room
 * changing now and then (16 to 32 of its 32). After each
 * step: the map holds exactly the records kept (nothing stale, nothing
 * missing, values current) and they fit. Closing: an owner is kept whole or
 * not at all; every closed owner wanted at least as many as every open one;
 * reopening the smallest closed would not fit (what fits is written, never
 * nothing). Sharing: an owner cut keeps no fewer than any other keeps, less
 * one, and a cut leaves no room unused. At the end, the owners shrunk,
 * nothing is dropped (recovery with nothing remembered).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <bpf/bpf.h>

#include "../../user/lib/system/mapw.h"
#include "unit.h"

#define MAX 32 /* the map's room */
#define OWNERS 6
#define SLOTS 24 /* keys an owner may want: together 144, past MAX */
#define STEPS 400

struct rec {
	uint32_t k; /* owner << 8 | slot */
	uint32_t v;
	const char *owner;
};

static const char *const names[OWNERS] = { "a", "b", "c", "d", "e", "f" };

static const char *owner_of(const void *rec)
{
	return ((const struct rec *)rec)->owner;
}

static uint32_t want_v[OWNERS][SLOTS]; /* 0: not wanted */

static size_t want_of(struct rec *w, size_t *cnt)
{
	size_t n = 0;

	for (uint32_t o = 0; o < OWNERS; o++) {
		cnt[o] = 0;
		for (uint32_t s = 0; s < SLOTS; s++)
			if (want_v[o][s]) {
				w[n++] = (struct rec){ o << 8 | s, want_v[o][s], names[o] };
				cnt[o]++;
			}
	}
	return n;
}

/* The contract, checked against the map after one write of w (n records). */
static void check(int fd, const struct mapw_room *m, const struct rec *w, size_t n,
		  const size_t *cnt)
{
	size_t kept[OWNERS] = { 0 }, open = 0, min_closed = SIZE_MAX, held = 0;
	uint32_t k, next, v;
	bool first = true;

	for (size_t i = 0; i < n; i++) {
		uint32_t o = w[i].k >> 8;

		kept[o] += m->kept[i];
		if (!m->kept[i]) {
			if (!bpf_map_lookup_elem(fd, &w[i].k, &v))
				fail_msg("key %#x of owner %u not kept but held", w[i].k, o);
			continue;
		}
		if (bpf_map_lookup_elem(fd, &w[i].k, &v))
			fail_msg("key %#x of owner %u kept but missing", w[i].k, o);
		assert_int_equal(v, w[i].v);
	}
	for (uint32_t o = 0; o < OWNERS; o++)
		open += kept[o];
	assert_true(open <= m->max);
	assert_int_equal(m->dropped, n - open);
	/* nothing stale: the map holds the kept records alone */
	while (!bpf_map_get_next_key(fd, first ? NULL : &k, &next)) {
		first = false;
		k = next;
		held++;
	}
	assert_int_equal(held, open);
	for (uint32_t o = 0; o < OWNERS; o++) {
		if (kept[o] == cnt[o])
			continue;
		for (uint32_t p = 0; p < OWNERS; p++) {
			if (m->share && kept[o] + 1 < kept[p])
				fail_msg("owner %u cut to %zu while %u keeps %zu", o, kept[o], p,
					 kept[p]);
			if (!m->share && kept[p] && cnt[p] > cnt[o])
				fail_msg("owner %u closed (%zu) while %u brings more (%zu)", o,
					 cnt[o], p, cnt[p]);
		}
		if (!m->share) {
			assert_int_equal(kept[o], 0); /* whole or not at all */
			if (cnt[o] < min_closed)
				min_closed = cnt[o];
		}
	}
	/* no more closed than needed: reopening the smallest closed would not fit */
	if (min_closed != SIZE_MAX)
		assert_true(open + min_closed > m->max);
	/* a cut owner leaves no room unused */
	if (m->share && m->dropped)
		assert_int_equal(open, m->max);
}

static int sync_step(int fd, struct mapw_room *m, size_t *cnt)
{
	struct rec w[OWNERS * SLOTS];
	size_t n = want_of(w, cnt);
	int err = mapw_room_sync(m, w, n, sizeof(*w), offsetof(struct rec, v));

	if (err) /* the contract: what fits is written, a full map is no error */
		fail_msg("mapw_room_sync: %s, %zu records wanted in a room of %zu", strerror(-err),
			 n, m->max);
	check(fd, m, w, n, cnt);
	return err;
}

static void lives(bool share)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "mapw_room", 4, 4, MAX, &o);
	bool kept[OWNERS * SLOTS];
	struct mapw_room m = { .fd = fd, .ksz = 4, .vsz = 4, .max = MAX, .step = "room",
			       .owner_of = owner_of, .share = share, .kept = kept };
	size_t cnt[OWNERS], closures = 0, partial = 0;
	uint32_t ver = 1;

	if (fd < 0)
		skip(); /* no CAP_BPF */
	memset(want_v, 0, sizeof(want_v));
	srandom(6502);
	for (int step = 0; step < STEPS; step++) {
		uint32_t o = (uint32_t)random() % OWNERS;
		int what = (int)(random() % 10), n = 1 + (int)(random() % 8);

		/* a life: an owner grows (a tenant's pods), shrinks, or renews */
		for (int i = 0; i < n; i++) {
			uint32_t s = (uint32_t)random() % SLOTS;

			want_v[o][s] = what < 5 ? ver++ : what < 8 ? 0 : want_v[o][s] ? ver++ : 0;
		}
		if (step % 50 == 49) /* an owner leaves whole (the tenant's pods go) */
			memset(want_v[o], 0, sizeof(want_v[o]));
		if (random() % 8 == 0) /* the room changes (--map-max, a restart) */
			m.max = MAX / 2 + (size_t)random() % (MAX / 2 + 1);
		assert_int_equal(sync_step(fd, &m, cnt), 0);
		closures += m.dropped > 0;
		partial += m.dropped && m.dropped < OWNERS * SLOTS && m.written + m.deleted;
	}
	/* the lives reached the room: closures happened, writes went on beside them */
	assert_true(closures > 0);
	assert_true(partial > 0);
	/* recovery: every owner shrinks to 4 (24 in all), the room whole: none closed, all held */
	m.max = MAX;
	for (uint32_t p = 0; p < OWNERS; p++)
		for (uint32_t s = 0; s < SLOTS; s++)
			want_v[p][s] = s < 4 ? ver++ : 0;
	assert_int_equal(sync_step(fd, &m, cnt), 0);
	assert_int_equal(m.dropped, 0);
	close(fd);
}

static void test_random_lives_closing(void **state)
{
	(void)state;
	lives(false);
}

static void test_random_lives_sharing(void **state)
{
	(void)state;
	lives(true);
}

/* One owner alone bigger than the map: it is closed and the others written. */
static void test_one_too_big(void **state)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "mapw_room", 4, 4, MAX, &o);
	bool kept[MAX + 2];
	struct mapw_room m = { .fd = fd, .ksz = 4, .vsz = 4, .max = MAX, .step = "room",
			       .owner_of = owner_of, .kept = kept };
	struct rec w[MAX + 2];
	size_t n = 0;

	(void)state;
	if (fd < 0)
		skip();
	for (uint32_t s = 0; s <= MAX; s++)
		w[n++] = (struct rec){ 1u << 8 | s, 1, "b" };
	w[n++] = (struct rec){ 2u << 8, 1, "c" };
	assert_int_equal(mapw_room_sync(&m, w, n, sizeof(*w), 4), 0);
	assert_false(kept[0]);
	assert_true(kept[MAX + 1]);
	assert_int_equal(m.written, 1);
	assert_int_equal(m.dropped, MAX + 1);
	assert_int_equal(map_keys(fd, 4), 1);
	close(fd);
}

/*
 * The judge alone over several rooms, as the versioned writers call it
 * (policy: 3 maps, Services: 6): owners' records each taking entries in 3
 * rooms, some of each room used whatever is judged (old versions until
 * cleanup), random lives of 400 steps, the rooms and what is used changing.
 * After each: what is kept fits beside what is used (or -ENOSPC, only when
 * what is used alone is over); whole: an owner kept whole or not at all;
 * the owner taking the largest part of the rooms over (ties: the first by
 * name) is closed; closed only while over: some closed record (owner) would
 * not fit reopened. Closures happened beside kept records.
 */
#define ROOMS 3
#define RECS 8 /* an owner's records */

struct rrec {
	const char *owner;
	size_t need[ROOMS];
	bool held; /* in the maps, unchanged: never closed (rooms_held_lives) */
};

static const char *rrec_owner(const void *rec)
{
	return ((const struct rrec *)rec)->owner;
}

static void rrec_need(const void *rec, size_t *need)
{
	memcpy(need, ((const struct rrec *)rec)->need, sizeof(((struct rrec *)0)->need));
}

/* Does what is kept, with records (or owner) o reopened, fit? o: SIZE_MAX, none. */
static bool rooms_fit(const struct rrec *w, size_t n, const bool *keep, const size_t *used,
		      const size_t *max, size_t o, bool whole)
{
	for (int k = 0; k < ROOMS; k++) {
		size_t t = used[k];

		for (size_t i = 0; i < n; i++)
			if (keep[i] || (whole ? o != SIZE_MAX && w[i].owner == w[o].owner : i == o))
				t += w[i].need[k];
		if (t > max[k])
			return false;
	}
	return true;
}

/* A step's rooms, what is used of them (under umax), an owner leaving one step in
 * 50; at the last (recovery) the owners shrunk to one entry a room each. */
static void rooms_step(size_t (*want)[RECS][ROOMS], int step, size_t *max, size_t *used,
		       size_t umax)
{
	if (step % 50 == 49) /* an owner leaves */
		memset(want[random() % OWNERS], 0, sizeof(want[0]));
	for (int k = 0; k < ROOMS; k++) {
		max[k] = 16 + (size_t)random() % 17;
		used[k] = (size_t)random() % umax;
	}
	if (step == STEPS)
		for (int o = 0; o < OWNERS; o++)
			for (int r = 0; r < RECS; r++)
				for (int k = 0; k < ROOMS; k++)
					want[o][r][k] = !r;
}

static void rooms_lives(bool by_record)
{
	static size_t want[OWNERS][RECS][ROOMS];
	struct rrec w[OWNERS * RECS];
	size_t max[ROOMS], used[ROOMS], partial = 0;
	bool keep[OWNERS * RECS];
	struct mapw_room m = { .nmaps = ROOMS, .maxv = max, .used = used, .owner_of = rrec_owner,
			       .need_of = rrec_need, .by_record = by_record };

	memset(want, 0, sizeof(want));
	srandom(6510);
	for (int step = 0; step <= STEPS; step++) {
		size_t n = 0, big = OWNERS, open = 0;
		double part[OWNERS] = { 0 };
		bool over[ROOMS], needed = false;
		int err;

		for (int r = 0; r < 1 + (int)(random() % 4); r++) /* an owner's records change */
			for (int k = 0; k < ROOMS; k++)
				want[random() % OWNERS][random() % RECS][k] = (size_t)random() % 5;
		rooms_step(want, step, max, used, 9);
		for (int o = 0; o < OWNERS; o++)
			for (int r = 0; r < RECS; r++)
				if (want[o][r][0] + want[o][r][1] + want[o][r][2])
					w[n++] = (struct rrec){ names[o], { want[o][r][0], want[o][r][1],
									    want[o][r][2] }, false };
		err = mapw_room_fit(&m, w, n, sizeof(*w), keep);
		if (err) /* what is used alone (at most 8) is never over */
			fail_msg("mapw_room_fit: %s at step %d", strerror(-err), step);
		for (int k = 0; k < ROOMS; k++) {
			size_t t = used[k];

			for (size_t i = 0; i < n; i++)
				t += w[i].need[k];
			over[k] = t > max[k];
		}
		if (!rooms_fit(w, n, keep, used, max, SIZE_MAX, false))
			fail_msg("step %d: what is kept does not fit", step);
		/* The owner taking the largest part of the rooms over, first by name: closed. */
		for (int o = 0; o < OWNERS; o++) {
			size_t tot[ROOMS] = { 0 };

			for (size_t i = 0; i < n; i++)
				for (int k = 0; k < ROOMS && w[i].owner == names[o]; k++)
					tot[k] += w[i].need[k];
			for (int k = 0; k < ROOMS; k++)
				if (over[k])
					part[o] += (double)tot[k] / (double)max[k];
			if (part[o] > 0 && (big == OWNERS || part[o] > part[big]))
				big = (size_t)o;
		}
		for (size_t i = 0; i < n; i++) {
			size_t o = (size_t)(w[i].owner[0] - 'a');

			open += keep[i];
			if (!keep[i] && !rooms_fit(w, n, keep, used, max, i, !by_record))
				needed = true;
			if (!by_record)
				for (size_t j = 0; j < n; j++)
					if (w[j].owner == w[i].owner && keep[j] != keep[i])
						fail_msg("step %d: owner %s kept in part", step,
							 w[i].owner);
			if (o == big && !keep[i])
				big = OWNERS; /* closed, as it should */
		}
		if (big != OWNERS)
			fail_msg("step %d: owner %s takes the largest part of the rooms over, open",
				 step, names[big]);
		if (m.dropped && !needed)
			fail_msg("step %d: %zu closed, every one would fit reopened", step,
				 m.dropped);
		if (step == STEPS)
			assert_int_equal(m.dropped, 0);
		partial += m.dropped && open;
	}
	assert_true(partial > 0);
}

static bool rrec_held(const void *rec)
{
	return ((const struct rrec *)rec)->held;
}

/* Owner o's entries in room k: its kept records, and (extra) records extra of it. */
static size_t owner_tot(const struct rrec *w, size_t n, const bool *keep, const char *o, int k,
			const bool *extra)
{
	size_t t = 0;

	for (size_t i = 0; i < n; i++)
		if (w[i].owner == o && (keep[i] || (extra && extra[i])))
			t += w[i].need[k];
	return t;
}

/*
 * The rule of issue 65 item 3 (docs/decisions/room-writer.md "One rule"):
 * random lives as rooms_lives, each record kept last step and unchanged is
 * held, each owner capped at 0 (none), 30, 50 or 100 percent of each room.
 * After each: no held record closed (-ENOSPC only when what is used and held
 * alone is over); what is kept fits; an owner with records kept beside its
 * held ones is within its cap; capped[] only on closed records not held, and
 * only when reopening it (whole: the owner's capped ones) takes its owner's
 * records the cap kept past its cap; whole: an owner's records not held kept all or none; closed
 * for the room only while over (reopening one would not fit); at the end
 * nothing closed.
 */
static void rooms_held_lives(bool by_record)
{
	static size_t want[OWNERS][RECS][ROOMS];
	static bool was[OWNERS][RECS];
	static const unsigned caps[] = { 0, 30, 50, 100 };
	struct rrec w[OWNERS * RECS];
	size_t max[ROOMS], used[ROOMS], capped_n = 0, held_n = 0;
	bool keep[OWNERS * RECS], capped[OWNERS * RECS];
	struct mapw_room m = { .nmaps = ROOMS, .maxv = max, .used = used, .owner_of = rrec_owner,
			       .need_of = rrec_need, .by_record = by_record, .held = rrec_held,
			       .capped = capped };

	memset(want, 0, sizeof(want));
	memset(was, 0, sizeof(was));
	srandom(6511);
	for (int step = 0; step <= STEPS; step++) {
		size_t n = 0, at[OWNERS * RECS];
		bool spc = false, uncapped[OWNERS * RECS];
		int err;

		for (int r = 0; r < 1 + (int)(random() % 4); r++) { /* a record changes */
			int o = (int)(random() % OWNERS), q = (int)(random() % RECS);

			for (int k = 0; k < ROOMS; k++)
				want[o][q][k] = (size_t)random() % 5;
			was[o][q] = false;
		}
		rooms_step(want, step, max, used, 5);
		m.cap = step == STEPS ? 0 : caps[random() % 4];
		for (int o = 0; o < OWNERS; o++)
			for (int r = 0; r < RECS; r++)
				if (want[o][r][0] + want[o][r][1] + want[o][r][2]) {
					at[n] = (size_t)(o * RECS + r);
					w[n++] = (struct rrec){ names[o], { want[o][r][0], want[o][r][1],
									    want[o][r][2] },
								step < STEPS && was[o][r] };
				}
		err = mapw_room_fit(&m, w, n, sizeof(*w), keep);
		for (size_t i = 0; i < n; i++) /* what the cap judged beside (before the room) */
			uncapped[i] = !capped[i];
		for (int k = 0; k < ROOMS; k++) {
			size_t t = used[k];

			for (size_t i = 0; i < n; i++)
				t += w[i].held ? w[i].need[k] : 0;
			spc = spc || t > max[k];
		}
		if (err && !(err == -ENOSPC && spc))
			fail_msg("mapw_room_fit: %s at step %d", strerror(-err), step);
		for (size_t i = 0; i < n; i++) {
			const char *o = w[i].owner;
			bool past = false, alone[OWNERS * RECS] = { false };

			held_n += w[i].held;
			if (w[i].held && !keep[i])
				fail_msg("step %d: owner %s's held record closed", step, o);
			if (capped[i] && (keep[i] || w[i].held))
				fail_msg("step %d: owner %s: capped but kept or held", step, o);
			if (!by_record)
				for (size_t j = 0; j < n; j++)
					if (w[j].owner == o && !w[j].held && !w[i].held &&
					    keep[j] != keep[i] && !err)
						fail_msg("step %d: owner %s kept in part", step, o);
			if (!capped[i])
				continue;
			capped_n++;
			for (size_t j = 0; j < n; j++)
				alone[j] = by_record ? j == i : w[j].owner == o && capped[j];
			for (int k = 0; k < ROOMS; k++)
				past = past || owner_tot(w, n, uncapped, o, k, alone) * 100 > max[k] * m.cap;
			if (!past)
				fail_msg("step %d: owner %s capped, within its cap reopened", step, o);
		}
		for (int o = 0; o < OWNERS && !err; o++) {
			bool beside = false, past = false;

			for (size_t i = 0; i < n; i++)
				beside = beside || (w[i].owner == names[o] && keep[i] && !w[i].held);
			for (int k = 0; k < ROOMS && m.cap && m.cap < 100; k++)
				past = past || owner_tot(w, n, keep, names[o], k, NULL) * 100 >
						       max[k] * m.cap;
			if (beside && past)
				fail_msg("step %d: owner %s past its cap of %u%%", step, names[o], m.cap);
		}
		if (!err && !rooms_fit(w, n, keep, used, max, SIZE_MAX, false))
			fail_msg("step %d: what is kept does not fit", step);
		if (step == STEPS)
			assert_int_equal(m.dropped, 0);
		for (size_t i = 0; i < n; i++)
			was[at[i] / RECS][at[i] % RECS] = keep[i];
	}
	assert_true(capped_n > 0 && held_n > 0);
}

static void test_rooms_held_cap(void **state)
{
	(void)state;
	rooms_held_lives(false);
	rooms_held_lives(true);
}

static void test_rooms_whole(void **state)
{
	(void)state;
	rooms_lives(false);
}

static void test_rooms_by_record(void **state)
{
	(void)state;
	rooms_lives(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_lives_closing),
		cmocka_unit_test(test_random_lives_sharing),
		cmocka_unit_test(test_one_too_big),
		cmocka_unit_test(test_rooms_whole),
		cmocka_unit_test(test_rooms_by_record),
		cmocka_unit_test(test_rooms_held_cap),
	};

	return cmocka_run_group_tests_name("mapw", tests, NULL, NULL);
}
