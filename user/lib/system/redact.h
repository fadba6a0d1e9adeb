/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Secrets out of text before it is shared (xcnictl sysdump's archive): a PEM
 * private key block becomes "<redacted private key>"; "Bearer X" becomes
 * "Bearer <redacted>"; the value after a name that looks like a secret's
 * (token, password, passwd, secret, key-data, key-file, keyfile, private-key,
 * authorization; any case, '_' as '-') and ':' or '=' (YAML, logs, JSON with
 * the name quoted, --name=value), or after --name and a space, becomes
 * <redacted>. Everything else is kept byte for byte.
 */
#ifndef XCNI_REDACT_H
#define XCNI_REDACT_H

#include <stddef.h>

/* text[0..len) with its secrets replaced, malloc'd into *out (*outlen). 0 or -ENOMEM. */
int xcni_redact(const char *text, size_t len, char **out, size_t *outlen);

#endif
