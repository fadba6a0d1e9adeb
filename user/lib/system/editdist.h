/* SPDX-License-Identifier: Apache-2.0 */
/* How far apart two words are: the suggestions of xcnictl's usage errors, the near labels of a
 * policy's selectors (lib/policy/nearmiss.h). */
#ifndef XCNI_EDITDIST_H
#define XCNI_EDITDIST_H

#include <stddef.h>

/*
 * Edits from a to b: insertions, deletions, substitutions, swaps of
 * neighbours (optimal string alignment). Any length; SIZE_MAX only when
 * memory runs out.
 */
size_t xcni_edit_distance(const char *a, const char *b);

#endif
