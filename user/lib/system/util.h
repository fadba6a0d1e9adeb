/* SPDX-License-Identifier: Apache-2.0 */
/* Small things every room of userspace uses: one definition each. */
#ifndef XCNI_UTIL_H
#define XCNI_UTIL_H

/* The number of elements of an array (not a pointer). */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
