# SPDX-License-Identifier: Apache-2.0
"""TAP lines for the documents' checks (check.py, security_check.py): result()
prints "ok"/"not ok" (a failure's detail as "#" lines), finish() prints
"N passed, N failed" and exits 1 on a failure."""
import sys

passed = failed = 0


def result(ok, name, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok - " + name)
    else:
        failed += 1
        print("not ok - " + name)
        for line in str(detail).splitlines():
            print("#   " + line)


def finish():
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
