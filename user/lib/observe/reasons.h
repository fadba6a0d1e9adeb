/* SPDX-License-Identifier: Apache-2.0 */
/* Names and descriptions of enum xcni_reason and enum xcni_dir, in one table. */
#ifndef XCNI_REASONS_H
#define XCNI_REASONS_H

struct xcni_reason_info {
	const char *name; /* "drop-spoof-ip": stable, for scripts */
	const char *desc; /* one line for people */
};

/* NULL for a code that is not an enum xcni_reason. */
const struct xcni_reason_info *xcni_reason_info(int reason);
/* "from-pod", "to-pod"; NULL for anything else. */
const char *xcni_dir_name(unsigned int dir);

#endif
