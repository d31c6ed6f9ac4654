#!/usr/bin/env python3
"""plot.py: draws battle-bench JSON reports as SVG (python3 standard library only).

  plot.py REPORT.json -o OUT.svg [--run N]   sweep charts (when the report is a sweep) and the
                                              latency / throughput timeline of run N (default: last)
  plot.py --table REPORT.json [...]          one markdown row per report: the median figures

The sweep panels put latency percentiles (log scale) and actions/s against concurrency; the timeline
panels put each second's p50 / p99 / max action latency and actions/s against time, so a spike can
be matched with what the run was doing then (ramp, stop, a noisy neighbour).
"""
import argparse
import json
import math
import sys

W, H = 760, 300          # one panel
ML, MR, MT, MB = 70, 150, 34, 44
COLORS = ["#1f77b4", "#ff7f0e", "#d62728", "#2ca02c", "#9467bd", "#8c564b"]


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def nice_ticks(lo, hi, n=5):
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 5, 10) if m * mag >= raw), default=raw)
    t = math.floor(lo / step) * step
    out = []
    while t <= hi + step * 0.001:
        out.append(t)
        t += step
    return out


def fmt(v):
    if v == 0:
        return "0"
    if abs(v) >= 1e6:
        return "%gM" % (v / 1e6)
    if abs(v) >= 1e3:
        return "%gk" % (v / 1e3)
    if abs(v) < 0.01:
        return "%.3g" % v
    return "%g" % round(v, 3)


class Panel:
    """One chart: x linear or log, y linear or log, several named series."""

    def __init__(self, title, xlabel, ylabel, xlog=False, ylog=False):
        self.title, self.xlabel, self.ylabel = title, xlabel, ylabel
        self.xlog, self.ylog = xlog, ylog
        self.series = []

    def add(self, name, pts, dashed=False):
        pts = [(x, y) for x, y in pts if y is not None and (not self.ylog or y > 0)
               and (not self.xlog or x > 0)]
        if pts:
            self.series.append((name, pts, dashed))

    def render(self, ox, oy):
        out = []
        pw, ph = W - ML - MR, H - MT - MB
        out.append('<text x="%d" y="%d" font-size="15" font-weight="bold">%s</text>'
                   % (ox + ML, oy + 20, esc(self.title)))
        if not self.series:
            out.append('<text x="%d" y="%d" font-size="13">no data</text>' % (ox + ML + 10, oy + MT + 30))
            return out
        xs = [x for _, p, _ in self.series for x, _ in p]
        ys = [y for _, p, _ in self.series for _, y in p]
        fx = (lambda v: math.log10(v)) if self.xlog else (lambda v: v)
        fy = (lambda v: math.log10(v)) if self.ylog else (lambda v: v)
        x0, x1 = fx(min(xs)), fx(max(xs))
        if x1 == x0:
            x0, x1 = x0 - 1, x1 + 1
        if self.ylog:
            y0, y1 = math.floor(fy(min(ys))), math.ceil(fy(max(ys)))
            if y1 == y0:
                y1 += 1
        else:
            y0, y1 = 0, max(ys) * 1.08 if max(ys) > 0 else 1

        def px(v):
            return ox + ML + (fx(v) - x0) / (x1 - x0) * pw

        def py(v):
            return oy + MT + ph - (fy(v) - y0) / (y1 - y0) * ph

        out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>'
                   % (ox + ML, oy + MT, pw, ph))
        # y grid
        yt = [10 ** e for e in range(int(y0), int(y1) + 1)] if self.ylog else nice_ticks(y0, y1)
        for t in yt:
            if not self.ylog and t > y1:
                continue
            y = py(t)
            out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>' % (ox + ML, ox + ML + pw, y, y))
            out.append('<text x="%d" y="%.1f" font-size="11" text-anchor="end">%s</text>'
                       % (ox + ML - 5, y + 4, fmt(t)))
        # x ticks
        if self.xlog:
            xt = sorted(set(xs))
            if len(xt) > 12:
                xt = [10 ** e for e in range(int(math.floor(x0)), int(math.ceil(x1)) + 1)]
        else:
            xt = nice_ticks(10 ** x0 if self.xlog else x0, 10 ** x1 if self.xlog else x1)
        for t in xt:
            if (fx(t) if t > 0 or not self.xlog else x0) < x0 - 1e-9 or fx(t) > x1 + 1e-9:
                continue
            x = px(t)
            out.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#eee"/>' % (x, x, oy + MT, oy + MT + ph))
            out.append('<text x="%.1f" y="%d" font-size="11" text-anchor="middle">%s</text>'
                       % (x, oy + MT + ph + 15, fmt(t)))
        out.append('<text x="%d" y="%d" font-size="12" text-anchor="middle">%s</text>'
                   % (ox + ML + pw // 2, oy + H - 8, esc(self.xlabel)))
        out.append('<text x="%d" y="%d" font-size="12" text-anchor="middle" transform="rotate(-90 %d %d)">%s</text>'
                   % (ox + 16, oy + MT + ph // 2, ox + 16, oy + MT + ph // 2, esc(self.ylabel)))
        for i, (name, pts, dashed) in enumerate(self.series):
            c = COLORS[i % len(COLORS)]
            d = " ".join("%s%.1f,%.1f" % ("M" if j == 0 else "L", px(x), py(y)) for j, (x, y) in enumerate(pts))
            out.append('<path d="%s" fill="none" stroke="%s" stroke-width="1.8"%s/>'
                       % (d, c, ' stroke-dasharray="5,3"' if dashed else ""))
            if len(pts) <= 40:
                for x, y in pts:
                    out.append('<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>' % (px(x), py(y), c))
            ly = oy + MT + 14 + i * 18
            out.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"/>'
                       % (ox + W - MR + 12, ox + W - MR + 34, ly - 4, ly - 4, c))
            out.append('<text x="%d" y="%d" font-size="12">%s</text>' % (ox + W - MR + 40, ly, esc(name)))
        return out


def sweep_panels(rep):
    rows = rep.get("summary", [])
    conc = [r["concurrency"] for r in rows]
    lat = Panel("Action latency against concurrency (median of %d run(s))" % rep.get("repeat", 1),
                "concurrent battles", "latency, ms (log)", xlog=True, ylog=True)
    for key, name in (("p50_ms", "p50"), ("p90_ms", "p90"), ("p99_ms", "p99"), ("p99.9_ms", "p99.9")):
        lat.add(name, [(c, r["median"][key]) for c, r in zip(conc, rows)])
    thr = Panel("Throughput against concurrency", "concurrent battles", "actions/s", xlog=True)
    thr.add("actions/s", [(c, r["median"]["steady_actions_per_s"]) for c, r in zip(conc, rows)])
    ok = Panel("Success rate against concurrency", "concurrent battles", "success, %", xlog=True)
    ok.add("success %", [(c, r["median"]["success_pct"]) for c, r in zip(conc, rows)])
    return [lat, thr, ok]


def timeline_panels(run):
    tl = run.get("timeline", [])
    label = run.get("label") or "%s, %d battles" % (run.get("mode", "?"), run.get("battles", 0))
    lat = Panel("Latency over time: %s" % label, "seconds since start", "action latency, ms (log)", ylog=True)
    lat.add("p50", [(s["t"], s["p50_ms"]) for s in tl])
    lat.add("p99", [(s["t"], s["p99_ms"]) for s in tl])
    lat.add("max", [(s["t"], s["max_ms"]) for s in tl], dashed=True)
    thr = Panel("Throughput and load over time", "seconds since start", "per second / count")
    thr.add("actions/s", [(s["t"], s["actions_per_s"]) for s in tl])
    thr.add("running battles", [(s["t"], s["running"]) for s in tl], dashed=True)
    return [lat, thr]


def write_svg(path, panels):
    h = H * len(panels)
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif">' % (W, h),
           '<rect width="100%" height="100%" fill="white"/>']
    for i, p in enumerate(panels):
        out.extend(p.render(0, i * H))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def table(paths):
    print("| scenario | battles | success % | p50 ms | p99 ms | p99.9 ms | max ms | steady p99 ms | "
          "steady p99.9 ms | actions/s | bench CPU % | server CPU % | server RSS MB (peak) | runs |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for p in paths:
        rep = json.load(open(p))
        for row in rep.get("summary", []):
            m = row["median"]
            run = rep["runs"][0]
            print("| %s | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.0f | %.0f | %s | %s | %d |" % (
                run.get("label") or p, row["concurrency"], m["success_pct"], m["p50_ms"], m["p99_ms"],
                m["p99.9_ms"], m["max_ms"], m.get("steady_p99_ms", 0), m.get("steady_p99.9_ms", 0),
                m["steady_actions_per_s"], m["bench_cpu_pct"],
                "%.0f" % m["server_cpu_pct"] if m["server_cpu_pct"] >= 0 else "-",
                "%.1f" % m["server_rss_peak_mb"] if m["server_rss_peak_mb"] >= 0 else "-", row["runs"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reports", nargs="+")
    ap.add_argument("-o", "--out", help="SVG file to write")
    ap.add_argument("--run", type=int, default=-1, help="run whose timeline is drawn (default: the last)")
    ap.add_argument("--table", action="store_true", help="print markdown rows instead of drawing")
    a = ap.parse_args()
    if a.table:
        table(a.reports)
        return 0
    if not a.out or len(a.reports) != 1:
        ap.error("drawing needs exactly one report and -o OUT.svg")
    rep = json.load(open(a.reports[0]))
    panels = []
    if rep.get("sweep"):
        panels += sweep_panels(rep)
    runs = rep.get("runs", [])
    if not runs:
        print("plot.py: no runs in %s" % a.reports[0], file=sys.stderr)
        return 1
    panels += timeline_panels(runs[a.run if -len(runs) <= a.run < len(runs) else -1])
    write_svg(a.out, panels)
    return 0


if __name__ == "__main__":
    sys.exit(main())
