/* SPDX-License-Identifier: GPL-2.0 */
#ifndef XCNI_KILLPOINT_H
#define XCNI_KILLPOINT_H

/*
 * Crash injection for the test suites: the process kills itself (SIGKILL, no
 * unwinding, no atexit) when it reaches the step named
 *   - by XCNI_TEST_KILL_AT (every time it gets there), or
 *   - by the first line of the file XCNI_TEST_KILL_FILE names, which is removed
 *     first (once: a suite arms a running process at the moment it chooses).
 * Neither variable is set outside the tests; then this is one getenv per step.
 */
void xcni_killpoint(const char *step);

#endif
