#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The cluster view (xcnictl ui --kubeconfig) in headless Chromium, as a person opens it.

    uicluster_browser.py URL WORKDIR OUTDIR

Opens URL at 1400x900 (ui_browser.py's Chromium), waits for the map and its
flow table, reads what is drawn (uimap_browser.py's STATE: cards, edges,
counts, rows, the status line and the command line); then picks "denied" in
the verdict filter and reads it again. A screenshot of each. Prints one JSON
object {"all", "denied"}; exits 1 saying why when the page never draws.
"""
import os
import sys

from ui_browser import Chromium, report, screenshot
from uimap_browser import choose, wait_state


def main():
    url, work, outdir = sys.argv[1:4]
    out = {}

    def steps():
        with Chromium(work, (1400, 900)) as cdp:
            cdp.call("Page.navigate", url=url)
            out["all"] = wait_state(cdp, lambda s: s["nodes"] and s["rows"], "a map and flow rows")
            screenshot(cdp, os.path.join(outdir, "cluster-map.png"))
            choose(cdp, "verdict", "denied")
            out["denied"] = wait_state(cdp, lambda s: s["query"] == "verdict=denied", "verdict=denied")
            screenshot(cdp, os.path.join(outdir, "cluster-map-denied.png"))

    return report(out, steps)


if __name__ == "__main__":
    sys.exit(main())
