/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Whether xcni's programs run first on the hooks it owns: the pods' host
 * veths (from_pod in, to_pod out), the underlay (from_overlay in, to_underlay
 * out) and xcni0 (to_overlay out). Another agent's program put before them
 * (a second CNI's DaemonSet, a leftover of an earlier install, bpftool by
 * hand) sees, rewrites or drops a pod's packets before xcni judges them.
 *
 * xcni attaches first (BPF_F_BEFORE under TCX, priority 1 under tc) and then
 * only reports: it never moves itself back ahead of a program put there
 * later. Two agents that each insist on being first would swap places for
 * ever; the operator decides which runs first (docs/agent.md, "Hook order").
 */
#ifndef XCNID_HOOKS_H
#define XCNID_HOOKS_H

#include <stdint.h>
#include <stdio.h>

struct hooks;
struct overlay;

/* The period of the check when xcnid is not told otherwise (--hook-check). */
#define HOOKS_CHECK_S_DEFAULT 30

/* Checks the hooks of the pods under pin_dir and of ov's devices (ov->underlay NULL: none). */
int hooks_open(const char *pin_dir, const struct overlay *ov, struct hooks **out);
/*
 * Looks at every hook once: a hook where something now runs before xcni's
 * program is logged (a warning naming the device, the hook and what runs
 * first), and so is one where xcni is first again; nothing is logged while
 * nothing changes.
 */
void hooks_check(struct hooks *hk);
/*
 * The hooks looked at when their time came, every period_s seconds (0: never,
 * nor with hk NULL); *at is when the next look is due (CLOCK_MONOTONIC ms, 0
 * at first). The poll timeout until then in ms, or -1.
 */
int hooks_tick(struct hooks *hk, unsigned int period_s, uint64_t *at);
/*
 * The Prometheus lines (families xcni_hook_foreign_first,
 * xcni_hook_foreign_first_seen_total, xcni_hooks_checked) onto f. NULL hk: nothing.
 */
void hooks_render(const struct hooks *hk, FILE *f);
void hooks_free(struct hooks *hk);

#endif
