/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The filter vocabulary of xcnictl: every word that picks rows, events or
 * flow records, with the one meaning it has in every command that takes it,
 * and the parsers of their values. xcnictl's map views and monitor
 * (user/ctl/xcnictl.c) and the flow filters (flows.c here, which xcnictl
 * flows and xcnid both run) take their words' values through these, so a
 * value one command takes, every command taking that word takes, and means
 * the same. docs/xcnictl.1 (FILTERS) is this table in prose; the xcnictl
 * suite (tests/xcnictl/cli.sh) runs every word against every command of it.
 */
#ifndef XCNI_VOCAB_H
#define XCNI_VOCAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Who takes a word. */
enum vocab_cmd {
	VOCAB_FLOWS = 1 << 0, /* xcnictl flows (and xcnid's flow socket) */
	VOCAB_MONITOR = 1 << 1, /* xcnictl monitor */
	VOCAB_MAPS = 1 << 2, /* the map views: endpoint, ct, identity, ipcache, policy, ... */
};

struct vocab_word {
	const char *name; /* without "--" */
	char short_name; /* -n; 0: none */
	const char *metavar;
	unsigned int cmds; /* enum vocab_cmd */
	const char *help; /* its meaning, one line */
};

/* Every word, ended by an empty entry. */
extern const struct vocab_word vocab_words[];

/*
 * --verdict's values, one set for every command: allowed, forwarded, denied,
 * audit, refused, no-backend, timeout, dropped (flow_verdict_name's table);
 * Hubble's FORWARDED (allowed or forwarded: what passed), DROPPED (any drop:
 * denied, no-backend, dropped), AUDIT; and the old spellings allow (allowed)
 * and deny (denied). Denied is a policy's drop; dropped a named other reason.
 */
enum vocab_verdict {
	VOCAB_ALLOWED = 0, /* = FLOW_ALLOWED ... */
	VOCAB_DENIED = 1,
	VOCAB_AUDIT = 2,
	VOCAB_FORWARDED = 3,
	/* The fates of flow records (flows): a RST from the destination, a Service
	 * without endpoints. denied is a policy's drop alone. */
	VOCAB_REFUSED = 4,
	VOCAB_NO_BACKEND = 5,
	VOCAB_TIMEOUT = 6, /* nothing answered the SYN, no drop seen */
	VOCAB_DROPPED = 7, /* dropped for a named reason no policy gave */
	VOCAB_PASSED = 16, /* Hubble's FORWARDED: allowed or forwarded (= FLOW_VERDICT_PASSED) */
	VOCAB_DROPS = 17, /* Hubble's DROPPED: any drop (= FLOW_VERDICT_DROPS) */
};

/*
 * The value parsers: 0, or -EINVAL with a message naming the word, the value
 * and what is wanted in err (errlen bytes).
 */
int vocab_verdict(const char *s, int *v, char *err, size_t errlen);
/* A number, or reserved:host, reserved:world, reserved:unmanaged, reserved:remote-node. */
int vocab_identity(const char *s, uint32_t *id, char *err, size_t errlen);
/* The name of an enum xcni_reason ("drop-policy-ingress"). */
int vocab_reason(const char *s, int *reason, char *err, size_t errlen);
/* A pod: NAMESPACE/NAME (both given, one '/') or an address of either family. */
int vocab_pod(const char *s, char *err, size_t errlen);
/* A namespace's name: not empty, no '/', shorter than len. */
int vocab_namespace(const char *s, size_t len, char *err, size_t errlen);

#endif
