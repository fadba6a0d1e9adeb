/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The events ring, passed on: xcnid --flows reads xcni_events (a ring has one
 * reader position, so a second reader would see only part of it) and hands
 * every record, as read, to the `xcnictl monitor`s subscribed on a
 * SOCK_SEQPACKET socket (lib/observe/flows.h, struct flows_evmsg). Never
 * blocking: a subscriber whose socket is full misses records, counted and
 * told with the next one it gets. At most EVFAN_SUBS subscribers.
 */
#ifndef XCNI_AGENT_EVFAN_H
#define XCNI_AGENT_EVFAN_H

#include <stddef.h>
#include <stdint.h>

#define EVFAN_SUBS 8

struct evfan;

/* Listens on path (0600; a socket left there by an agent before is replaced). 0 or -errno. */
int evfan_open(const char *path, struct evfan **out);
/* The listening socket: readable when a subscriber connects (then evfan_accept). */
int evfan_fd(const struct evfan *f);
void evfan_accept(struct evfan *f);
/* One record to every subscriber. */
void evfan_send(struct evfan *f, const void *rec, size_t len);
/* Subscribers now; records not delivered, over all subscribers ever. */
unsigned int evfan_subscribers(const struct evfan *f);
uint64_t evfan_lost(const struct evfan *f);
/* Closes every subscriber and the socket, removes its path. NULL: nothing. */
void evfan_free(struct evfan *f);

#endif
