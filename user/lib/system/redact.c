// SPDX-License-Identifier: Apache-2.0
/* Secrets out of text for people to share (xcnictl sysdump): see redact.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/system/redact.h"
#include "lib/system/util.h"


static bool key_secret(const char *k, size_t n)
{
	static const char *const words[] = { "token", "password", "passwd", "secret", "key-data",
					     "key-file", "keyfile", "private-key", "authorization" };
	char low[64];

	if (n >= sizeof(low))
		n = sizeof(low) - 1;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)((k[i] >= 'A' && k[i] <= 'Z') ? k[i] + 32 : k[i] == '_' ? '-' : k[i]);
	low[n] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (strstr(low, words[i]))
			return true;
	return false;
}

static void fput(FILE *f, const char *s, size_t n)
{
	fwrite(s, 1, n, f);
}

/*
 * One line: "Bearer X" -> "Bearer <redacted>"; KEY: V, KEY=V, "KEY":"V" and
 * --KEY V / --KEY=V with a secret-looking KEY -> the value <redacted>.
 */
static void redact_line(FILE *f, const char *l, size_t n)
{
	size_t i = 0, last = 0;

	while (i < n) {
		/* Bearer tokens, wherever they are. */
		if (n - i > 7 && !strncasecmp(l + i, "bearer ", 7)) {
			size_t j = i + 7;

			fput(f, l + last, j - last);
			while (j < n && l[j] != ' ' && l[j] != '"' && l[j] != '\'' && l[j] != ',')
				j++;
			fputs("<redacted>", f);
			last = i = j;
			continue;
		}
		/* A word, then a separator: is the word a secret's name? */
		if ((l[i] >= 'a' && l[i] <= 'z') || (l[i] >= 'A' && l[i] <= 'Z')) {
			size_t s = i, e, j;

			while (i < n && ((l[i] >= 'a' && l[i] <= 'z') || (l[i] >= 'A' && l[i] <= 'Z') ||
					 (l[i] >= '0' && l[i] <= '9') || l[i] == '-' || l[i] == '_'))
				i++;
			e = i;
			j = i;
			if (j < n && l[j] == '"')
				j++;
			if (!key_secret(l + s, e - s) || j >= n ||
			    (l[j] != ':' && l[j] != '=' && !(l[j] == ' ' && s >= 2 && l[s - 1] == '-' &&
							     l[s - 2] == '-')))
				continue;
			j++;
			while (j < n && (l[j] == ' ' || l[j] == '\t'))
				j++;
			if (j < n && l[j] == '"')
				j++;
			if (j >= n)
				continue;
			if (n - j > 7 && !strncasecmp(l + j, "bearer ", 7)) {
				i = j; /* the token after it goes, the word Bearer stays */
				continue;
			}
			fput(f, l + last, j - last);
			fputs("<redacted>", f);
			while (j < n && l[j] != '"' && l[j] != ',' && l[j] != ' ' && l[j] != '}')
				j++;
			last = i = j;
			continue;
		}
		i++;
	}
	fput(f, l + last, n - last);
}

int xcni_redact(const char *text, size_t len, char **out, size_t *outlen)
{
	FILE *f = open_memstream(out, outlen);
	bool in_key = false;
	size_t i = 0;

	if (!f)
		return -ENOMEM;
	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
		const char *l = text + i;

		if (!in_key && memmem(l, n, "-----BEGIN", 10) && memmem(l, n, "PRIVATE KEY-----", 16)) {
			/* The whole block goes, whatever it holds. */
			in_key = !memmem(l, n, "-----END", 8);
			fputs("<redacted private key>", f);
			if (nl)
				fputc('\n', f);
		} else if (in_key) {
			if (memmem(l, n, "-----END", 8))
				in_key = false;
		} else {
			redact_line(f, l, n);
			if (nl)
				fputc('\n', f);
		}
		i += n + (nl ? 1 : 0);
	}
	return fclose(f) ? -ENOMEM : 0;
}

