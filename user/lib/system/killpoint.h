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

/*
 * Failure injection for the tests: -errno when this step is to fail, else 0.
 * A step fails when XCNI_TEST_FAIL_AT names it ("step" or "step:ERRNO",
 * EIO by default; every time), when the first line of the file
 * XCNI_TEST_FAIL_FILE names says so (the same forms; once: the file is
 * removed, as XCNI_TEST_KILL_FILE's), or when xcni_inject_hook, which a unit
 * test sets, returns -errno for it (the hook sees every step: the tests count
 * and walk them). None is set outside the tests; then this is a compare per
 * step (the variable is read once per process).
 */
int xcni_inject(const char *step);
extern int (*xcni_inject_hook)(const char *step);

#endif
