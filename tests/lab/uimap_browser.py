#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The service map of a big lab in headless Chromium at 1400x900, driven as a person would.

    uimap_browser.py URL WORKDIR OUTDIR NAMESPACE VERDICT SEARCH
    uimap_browser.py URL WORKDIR OUTDIR --sizes NAME WxH...

Opens URL in a 1400x900 viewport (tests/lab/ui_browser.py's Chromium and CDP
client), waits for the map, and reads what is drawn (STATE: the namespace
boxes, cards and count badges with their bounding boxes as the browser laid
them out, the edges, the flow table's rows, the page's scroll sizes). Then,
one at a time and back: picks NAMESPACE in the namespace picker, VERDICT in
the verdict filter (each a real selection: focus, the option chosen, the
change event), types SEARCH into the search box (Input.insertText, as typed);
after each waits until the page drew the graph /api/graph gave for it, reads
the state again and saves a screenshot. Last, a real mouse click on the
count badge of the edge with the most flows, and the side panel then. Then
NAME=VALUE in the search box (protocol=tcp, a filter /api/graph applies)
and a value it refuses (since=soon). Then a click on the denied edge
shop/cart -> pay/payments (its panel), a fresh load of URL?verdict=VERDICT
(the address lab ui --help shows), and the map again in a 1024x700 window.
STATE also holds what the page must avoid, measured as laid out: each edge's
passes over namespace boxes that are neither its source's nor its
destination's, the namespace titles' boxes (for the count badges), the
smallest text as rendered. Prints one JSON object: {"all", "namespace",
"verdict", "search", "apisearch", "badsearch", "click", "denyclick",
"query", "small"}; exits 1 saying why when the page never draws what was
asked. With --sizes: the map as first drawn in each window WxH, nothing
clicked (STATE and service-map-NAME-W.png each), as {"WxH": STATE, ...}.
"""
import json
import os
import sys
import time

from ui_browser import TIMEOUT, Chromium, report, screenshot

STATE = r"""JSON.stringify((() => {
  const box = e => { const r = e.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height}; };
  const st = document.getElementById('status'), wrap = document.getElementById('mapwrap');
  return {
    updates: +(st.dataset.updates || 0), query: st.dataset.query || '', words: st.dataset.words || '',
    status: st.textContent, error: st.className === 'error',
    viewport: {w: innerWidth, h: innerHeight},
    mapbox: box(wrap),
    panel: box(document.getElementById('detail')),
    scroll: {doc: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
             map: [wrap.scrollWidth, wrap.clientWidth]},
    namespaces: [...document.querySelectorAll('g.ns')].map(g => ({id: g.dataset.id, text: g.textContent, box: box(g.querySelector('rect'))})),
    nodes: [...document.querySelectorAll('g.node')].map(g => ({id: g.dataset.id, kind: g.dataset.kind, ns: g.dataset.ns || null,
      count: +g.dataset.count, cls: g.getAttribute('class'), text: g.textContent, box: box(g.querySelector('rect'))})),
    edges: [...document.querySelectorAll('path.edge')].map(p => ({id: p.dataset.id, verdict: p.dataset.verdict,
      cls: p.getAttribute('class'), stroke: getComputedStyle(p).stroke, opacity: getComputedStyle(p).opacity})),
    counts: [...document.querySelectorAll('g.count')].map(g => ({id: g.dataset.id, text: (g.querySelector('text') || {}).textContent,
      cls: g.getAttribute('class'), box: box(g.querySelector('rect'))})),
    rows: [...document.querySelectorAll('#flowtable tbody tr')].map(r => ({verdict: r.dataset.verdict,
      cells: [...r.cells].map(c => c.textContent)})),
    flowinfo: (document.getElementById('flowinfo') || {}).textContent || '',
    cmd: (document.getElementById('cmd') || {}).textContent || '',
    hash: location.hash,
    detail: {edge: document.getElementById('detail').dataset.edge || null, text: document.getElementById('detail').innerText,
      policies: [...document.querySelectorAll('#detail .policy')].map(s => s.textContent),
      why: [...document.querySelectorAll('#why .why')].map(d => d.innerText)},
    verdictSelect: document.getElementById('verdict').value,
    // A namespace box's title and its line under it, as drawn.
    titles: [...document.querySelectorAll('g.ns text')].map(t => ({id: t.parentNode.dataset.id, text: t.textContent, box: box(t)})),
    // Each edge sampled every 3 px of its length: the namespace boxes it passes over that are
    // neither its source's nor its destination's (1 px inside their border).
    crossings: (() => {
      const boxOf = id => { const g = document.querySelector('g.node[data-id="' + CSS.escape(id) + '"]');
        return !g ? null : g.dataset.kind === 'outside' ? 'outside' : 'ns:' + (g.dataset.ns || ''); };
      const nsb = [...document.querySelectorAll('g.ns')].map(g => ({id: g.dataset.id, r: g.querySelector('rect').getBoundingClientRect()}));
      const out = [];
      for (const p of document.querySelectorAll('path.edge')) {
        const [a, b] = p.dataset.id.split('->'), ends = [boxOf(a), boxOf(b)], m = p.getScreenCTM(), len = p.getTotalLength();
        const hit = new Set();
        for (let l = 0; l <= len; l += 3) {
          const q = new DOMPoint(p.getPointAtLength(l).x, p.getPointAtLength(l).y).matrixTransform(m);
          for (const n of nsb)
            if (!ends.includes(n.id) && q.x > n.r.x + 1 && q.x < n.r.right - 1 && q.y > n.r.y + 1 && q.y < n.r.bottom - 1) hit.add(n.id);
        }
        for (const n of hit) out.push({edge: p.dataset.id, box: n});
      }
      return out;
    })(),
    // The smallest text as rendered: the SVG's font sizes times the map's scale, and the page's own text.
    fonts: (() => {
      const svg = document.getElementById('map'), vb = svg.viewBox.baseVal;
      const k = vb && vb.width ? svg.getBoundingClientRect().width / vb.width : 1;
      const px = e => parseFloat(getComputedStyle(e).fontSize);
      const svgT = [...svg.querySelectorAll('text')].filter(t => t.textContent.trim());
      const htmlT = [...document.querySelectorAll('body *')].filter(e => !(e instanceof SVGElement) && e.offsetParent !== null &&
        [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()));
      return {scale: k, svg: Math.min(...svgT.map(t => px(t) * k)), html: Math.min(...htmlT.map(px))};
    })(),
  };
})())"""


def wait_state(cdp, ok, what):
    deadline = time.time() + TIMEOUT
    st = None
    while True:
        try:
            st = json.loads(cdp.js(STATE))
        except RuntimeError:
            st = None  # not loaded yet
        if st and st["updates"] >= 1 and ok(st):
            return st
        if time.time() > deadline:
            raise RuntimeError(f"the page never showed {what}: " + json.dumps(st)[:3000])
        time.sleep(0.2)


def choose(cdp, sel_id, value):
    """A person's choice in a <select>: focus, the value, the change event."""
    cdp.js(f"(() => {{ const s = document.getElementById({json.dumps(sel_id)}); s.focus(); "
           f"s.value = {json.dumps(value)}; if (s.value !== {json.dumps(value)}) throw new Error('no option ' + "
           f"{json.dumps(value)}); s.dispatchEvent(new Event('change', {{bubbles: true}})); }})()")


def sizes(url, work, outdir, name, sizes):
    out = {}

    def steps():
        for size in sizes:
            w, h = map(int, size.split("x"))
            with Chromium(work, (w, h)) as cdp:
                cdp.call("Page.navigate", url=url)
                wait_state(cdp, lambda s: s["nodes"] and s["rows"], f"a map and flow rows at {size}")
                time.sleep(0.3)  # fonts settled: read it once more
                out[size] = wait_state(cdp, lambda s: True, "the map")
                screenshot(cdp, os.path.join(outdir, f"service-map-{name}-{w}.png"))

    return report(out, steps)


def main():
    if sys.argv[4] == "--sizes":
        return sizes(*sys.argv[1:4], sys.argv[5], sys.argv[6:])
    url, work, outdir, ns, verdict, search = sys.argv[1:7]
    out = {}

    def steps():
        with Chromium(work, (1400, 900)) as cdp:
            cdp.call("Page.navigate", url=url)
            out["all"] = wait_state(cdp, lambda s: s["nodes"] and s["rows"], "a map and flow rows")
            time.sleep(0.3)  # fonts settled: read it once more
            out["all"] = wait_state(cdp, lambda s: True, "the map")
            screenshot(cdp, os.path.join(outdir, "service-map-50.png"))

            choose(cdp, "ns", ns)
            out["namespace"] = wait_state(cdp, lambda s: s["query"] == f"namespace={ns}", f"namespace={ns}")
            screenshot(cdp, os.path.join(outdir, f"service-map-50-ns-{ns}.png"))
            choose(cdp, "ns", "")

            choose(cdp, "verdict", verdict)
            out["verdict"] = wait_state(cdp, lambda s: s["query"] == f"verdict={verdict}", f"verdict={verdict}")
            screenshot(cdp, os.path.join(outdir, f"service-map-50-{verdict}.png"))
            choose(cdp, "verdict", "")
            wait_state(cdp, lambda s: s["query"] == "", "no filter")

            cdp.js("document.getElementById('search').focus()")
            cdp.call("Input.insertText", text=search)
            out["search"] = wait_state(cdp, lambda s: s["words"] == search.lower() and s["query"] == "",
                                       f"the search {search!r}")
            screenshot(cdp, os.path.join(outdir, "service-map-50-search.png"))
            clear = ("(() => { const s = document.getElementById('search'); s.value = ''; "
                     "s.dispatchEvent(new Event('input', {bubbles: true})); })()")
            cdp.js(clear)
            wait_state(cdp, lambda s: s["words"] == "" and s["query"] == "", "the search cleared")
            # NAME=VALUE in the search box: a filter of xcnictl flows, sent to /api/graph.
            cdp.js("document.getElementById('search').focus()")
            cdp.call("Input.insertText", text="protocol=tcp")
            out["apisearch"] = wait_state(cdp, lambda s: s["query"] == "protocol=tcp", "the search protocol=tcp")
            cdp.js(clear)
            wait_state(cdp, lambda s: s["query"] == "" and not s["error"], "the search cleared")
            # A filter /api/graph refuses: the page says what was wrong.
            cdp.js("document.getElementById('search').focus()")
            cdp.call("Input.insertText", text="since=soon")
            out["badsearch"] = wait_state(cdp, lambda s: s["error"], "the error of since=soon")
            cdp.js(clear)
            out["cleared"] = wait_state(cdp, lambda s: s["words"] == "" and s["query"] == "" and not s["error"],
                                        "the search cleared")

            big = max(out["cleared"]["counts"], key=lambda c: (int(c["text"]), c["id"]))
            x, y = big["box"]["x"] + big["box"]["w"] / 2, big["box"]["y"] + big["box"]["h"] / 2
            for t in ("mouseMoved", "mousePressed", "mouseReleased"):
                cdp.call("Input.dispatchMouseEvent", type=t, x=x, y=y, button="left",
                         clickCount=1 if t != "mouseMoved" else 0)
            out["click"] = wait_state(cdp, lambda s: s["detail"]["edge"] == big["id"], f"the panel of {big['id']}")
            out["click"]["clicked"] = big["id"]
            screenshot(cdp, os.path.join(outdir, "service-map-50-selected.png"))

            # A denied edge whose 16 flows go to 4 pods of one workload: what decided them, once.
            deny = "wl:shop/cart->wl:pay/payments"
            c = [c for c in out["click"]["counts"] if c["id"] == deny][0]["box"]
            x, y = c["x"] + c["w"] / 2, c["y"] + c["h"] / 2
            for t in ("mouseMoved", "mousePressed", "mouseReleased"):
                cdp.call("Input.dispatchMouseEvent", type=t, x=x, y=y, button="left",
                         clickCount=1 if t != "mouseMoved" else 0)
            out["denyclick"] = wait_state(cdp, lambda s: s["detail"]["edge"] == deny, f"the panel of {deny}")
            screenshot(cdp, os.path.join(outdir, "service-map-50-why.png"))

            # The address as xcnictl lab ui --help shows it: /?verdict=denied, a fresh load.
            cdp.call("Page.navigate", url=url + "?verdict=" + verdict)
            time.sleep(0.5)
            out["query"] = wait_state(cdp, lambda s: s["rows"], f"the map of ?verdict={verdict}")

            # A small window: 1024x700, the map as drawn for it (a resize redraws).
            cdp.call("Page.navigate", url=url)
            wait_state(cdp, lambda s: s["rows"] and s["query"] == "", "the map again")
            cdp.call("Emulation.setDeviceMetricsOverride", width=1024, height=700, deviceScaleFactor=1, mobile=False)
            time.sleep(1)  # the redraw after a resize waits 150 ms
            out["small"] = wait_state(cdp, lambda s: s["viewport"]["w"] == 1024, "the map at 1024x700")
            screenshot(cdp, os.path.join(outdir, "service-map-50-1024.png"))

    return report(out, steps)


if __name__ == "__main__":
    sys.exit(main())
