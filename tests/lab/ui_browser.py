#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Loads the service map in headless Chromium and reports what the page shows.

    ui_browser.py URL WORKDIR SCREENSHOT [--want EDGE_ID]... [--click EDGE_ID]

Starts Chromium (its profile in WORKDIR, removed after), drives it over the
DevTools protocol (CDP) with a small client over python3-websocket, opens URL,
waits until the map was drawn from /api/graph and holds every --want edge,
then reads the DOM: the nodes (id, kind), the namespace boxes, the edges (id,
verdict, the stroke colour as the browser computed it, the count on it). With
--click, a real mouse click (Input.dispatchMouseEvent) on the middle of that
edge's count badge, then the detail panel (its edge, its text, the policies it
names) and the address's fragment. Saves a screenshot, prints one JSON object.
Exits 1, saying why, if the map never shows what was asked.
"""
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import websocket

TIMEOUT = 30


class Cdp:
    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=TIMEOUT, suppress_origin=True)
        self.n = 0

    def call(self, method, **params):
        self.n += 1
        self.ws.send(json.dumps({"id": self.n, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == self.n:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"script failed: {r['exceptionDetails']}")
        return r["result"].get("value")


STATE = r"""JSON.stringify({
  updates: +(document.getElementById('status').dataset.updates || 0),
  status: document.getElementById('status').textContent,
  nodes: [...document.querySelectorAll('g.node')].map(g => ({id: g.dataset.id, kind: g.dataset.kind, text: g.textContent})),
  namespaces: [...document.querySelectorAll('g.ns')].map(g => ({id: g.dataset.id, text: g.textContent})),
  edges: [...document.querySelectorAll('path.edge')].map(p => ({id: p.dataset.id, verdict: p.dataset.verdict,
    stroke: getComputedStyle(p).stroke,
    count: (document.querySelector('g.count[data-id="' + CSS.escape(p.dataset.id) + '"] text') || {}).textContent})),
})"""

DETAIL = r"""JSON.stringify({
  edge: document.getElementById('detail').dataset.edge || null,
  text: document.getElementById('detail').innerText,
  policies: [...document.querySelectorAll('#detail .policy')].map(s => s.textContent),
  why: [...document.querySelectorAll('#why .why')].map(d => ({cls: d.className, text: d.innerText})),
  hash: location.hash,
})"""


class Chromium:
    """Headless Chromium with its profile in work (removed after), one page over CDP.

    with Chromium(work, (w, h)) as cdp: ... -- the page's viewport is exactly w x h.
    """

    def __init__(self, work, size=(1600, 820)):
        self.work, self.size = work, size

    def __enter__(self):
        self.prof = os.path.join(self.work, "chromium-profile")
        os.makedirs(self.prof, exist_ok=True)
        self.err = open(os.path.join(self.work, "chromium.log"), "w")
        self.proc = subprocess.Popen(
            ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--no-proxy-server",
             "--remote-debugging-port=0", "--remote-allow-origins=*", f"--user-data-dir={self.prof}",
             f"--window-size={self.size[0]},{self.size[1]}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=self.err, start_new_session=True)
        try:
            port_file = os.path.join(self.prof, "DevToolsActivePort")
            deadline = time.time() + TIMEOUT
            while not os.path.exists(port_file) or not open(port_file).read().strip():
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("Chromium did not open its DevTools port (see chromium.log)")
                time.sleep(0.1)
            port = int(open(port_file).read().split()[0])
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            targets = json.loads(opener.open(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
            page = [t for t in targets if t["type"] == "page"][0]
            self.cdp = Cdp(page["webSocketDebuggerUrl"])
            self.cdp.call("Page.enable")
            self.cdp.call("Emulation.setDeviceMetricsOverride", width=self.size[0], height=self.size[1],
                          deviceScaleFactor=1, mobile=False)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self.cdp

    def __exit__(self, *exc):
        try:
            self.cdp.call("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        # Its helpers (zygote, renderer, GPU) are in its own session's group.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.err.close()
        shutil.rmtree(self.prof, ignore_errors=True)
        return False


def screenshot(cdp, path):
    png = cdp.call("Page.captureScreenshot", format="png")
    with open(path, "wb") as f:
        f.write(base64.b64decode(png["data"]))


def report(out, steps):
    """Runs steps (which fill out); prints out as one JSON line, with "error"
    where steps raised: 0, or 1 on the error."""
    try:
        steps()
    except Exception as e:
        print(json.dumps({"error": str(e), **out}))
        return 1
    print(json.dumps(out))
    return 0


def main():
    args = sys.argv[1:]
    url, work, shot = args[0], args[1], args[2]
    want, click = [], None
    i = 3
    while i < len(args):
        if args[i] == "--want":
            want.append(args[i + 1])
        elif args[i] == "--click":
            click = args[i + 1]
        i += 2
    out = {}

    def steps():
        with Chromium(work) as cdp:
            cdp.call("Page.navigate", url=url)
            deadline = time.time() + TIMEOUT
            while True:
                try:
                    st = json.loads(cdp.js(STATE))
                except RuntimeError:
                    st = None  # the page not loaded yet
                if st and st["updates"] >= 1 and all(w in {e["id"] for e in st["edges"]} for w in want):
                    break
                if time.time() > deadline:
                    out["state"] = st  # what it showed instead, for the checks to say
                    raise RuntimeError(f"the map never showed {want}: {json.dumps(st)}")
                time.sleep(0.3)
            out["state"] = st
            if click:
                box = cdp.js('JSON.stringify((() => { const r = document.querySelector(\'g.count[data-id="\' + '
                             f'CSS.escape({json.dumps(click)}) + \'"]\').getBoundingClientRect(); '
                             'return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })())')
                box = json.loads(box)
                for t in ("mouseMoved", "mousePressed", "mouseReleased"):
                    cdp.call("Input.dispatchMouseEvent", type=t, x=box["x"], y=box["y"], button="left",
                             clickCount=1 if t != "mouseMoved" else 0)
                deadline = time.time() + 10
                while True:
                    d = json.loads(cdp.js(DETAIL))
                    if d["edge"] == click or time.time() > deadline:
                        break
                    time.sleep(0.2)
                out["detail"] = d
                out["clicked_at"] = box
            screenshot(cdp, shot)

    return report(out, steps)


if __name__ == "__main__":
    sys.exit(main())
