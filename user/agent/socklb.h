/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xcnid's socket-level load balancing (--cgroup-root): sock_lb's cgroup
 * programs (connect4, sendmsg4, recvmsg4, getpeername4) attached to a cgroup
 * v2 directory as pinned bpf_links, swapped in place by the next agent.
 */
#ifndef XCNID_SOCKLB_H
#define XCNID_SOCKLB_H

struct bpf_object;
struct map_max;
struct sock_lb;

/* 0 if cgroup is a cgroup v2 directory, else -errno (said why): before anything changes. */
int socklb_check_cgroup(const char *cgroup);
/*
 * Opens sock_lb with the agent's map sizes and the cgroup it will hook (NULL:
 * none) for its records' owners (not loaded yet: check its layout first).
 */
int socklb_open(struct sock_lb **out, const char *pin_dir, const char *cgroup,
		const struct map_max *mm, int n);
struct bpf_object *socklb_obj(struct sock_lb *s);
int socklb_load(struct sock_lb *s);
/*
 * Attaches (or swaps in) the four programs on the cgroup v2 directory cgroup;
 * a link an earlier agent pinned on another cgroup is replaced. 0 or -errno
 * (said why).
 */
int socklb_attach(struct sock_lb *s, const char *pin_dir, const char *cgroup);
/* Without --cgroup-root: removes the links an earlier agent pinned (and only those). */
int socklb_detach_pinned(const char *pin_dir);
void socklb_free(struct sock_lb *s);

/* What the pods hold of the socket LB's records (xcni_sock_own), summed. */
struct socklb_use {
	unsigned long long owners, held, over;
	unsigned long long over_most; /* the one pod past its bound most: its count */
};
/* 0, or -errno when the map is not pinned (no socket LB yet). */
int socklb_use(const char *pin_dir, struct socklb_use *u);

#endif
