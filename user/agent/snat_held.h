/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The NodePort SNAT tuples each outside client holds, counted for
 * --snat-client-max: xcni_snat's live records by client (its IPv4 address,
 * its IPv6 /64) into xcni_snat_cl's held (snat_held.c).
 */
#ifndef XCNID_SNAT_HELD_H
#define XCNID_SNAT_HELD_H

struct snat_held;

/* The maps' fds (the caller's, open while it lives): xcni_snat, xcni_snat_cl,
 * xcni_ct, xcni_ct6. 0 or -ENOMEM. */
int snat_held_open(int snat_fd, int cl_fd, int ct_fd, int ct6_fd, struct snat_held **out);
/* One count now: each client's held written where it changed. How many, or -errno. */
long snat_held_count(struct snat_held *h);
/* Its two halves (a test opens tuples between them): the clients and their
 * held read (0 or -errno), then the records counted and held written. */
int snat_held_clients(struct snat_held *h);
long snat_held_write(struct snat_held *h);
/* A count every XCNI_SNAT_HELD_S on a thread of its own, until snat_held_free. 0 or -errno. */
int snat_held_start(struct snat_held *h);
void snat_held_free(struct snat_held *h);

#endif
