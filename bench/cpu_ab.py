#!/usr/bin/env python3
"""cpu_ab.py: server CPU per action, old battled against new battled, in one run (A/B).

For each load (idle connections, N battles at 1 s think, saturation) and each round, it starts each
battled binary in turn (the order alternates between rounds, so a drift of the machine's load hits
both alike), drives it with battle-bench, and over a steady window after the ramp reads:
  - the server's CPU time, summed over its threads (/proc/PID/task/*/schedstat, nanoseconds);
  - voluntary and involuntary context switches per thread (/proc/PID/task/*/status);
  - the actions the shards handled and the wakeup counters (admin /metrics, on 127.0.0.1 port 0);
  - with --perf, the syscalls per thread (perf stat --per-thread on syscall tracepoints);
  - with --profile, where the CPU goes: a perf record (kernel call chains) right after the window,
    on the same server under the same load, split into socket write(2), socket read(2), other
    write(2) (journal file, eventfd), epoll_wait and the rest, applied to the window's CPU per action.
It prints one markdown table: per load, the median over rounds of each binary's CPU per action (or
CPU per second when idle), the ratio new/old, and the bench's steady p99. At saturation it also runs
redis-benchmark -c 2000 ping_inline against a redis-server it starts on a loopback port and reports
redis-server's CPU per PING measured the same way.

Everything talks to 127.0.0.1 only; every wait has a deadline. Used by bench/run-all --only h.
"""
import argparse
import glob
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SYSCALLS = ["epoll_wait", "epoll_pwait", "epoll_ctl", "read", "write", "writev", "readv", "futex",
            "sendmsg", "recvfrom", "sendto", "clock_nanosleep", "sched_yield"]
METRICS = {  # short name -> metric (summed over labels)
    "actions": "battled_actions_total",
    "frames_in": "battled_frames_received_total",
    "frames_out": "battled_frames_sent_total",
    "net_wakeups_sent": "battled_net_wakeups_sent_total",
    "net_wakeups_received": "battled_net_wakeups_received_total",
    "shard_wakeups": "battled_shard_wakeups_total",
    "shard_net_wakes": "battled_shard_net_wakes_total",
    "inline_runs": "battled_shard_inline_runs_total",
    "inline_msgs": "battled_shard_inline_messages_total",
    "inline_busy": "battled_shard_inline_busy_total",
    "inline_wakes": "battled_shard_inline_wakes_total",
}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_file(path, proc, deadline_s):
    end = time.time() + deadline_s
    while time.time() < end:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            with open(path) as f:
                line = f.readline().strip()
            if line:
                return int(line)
        if proc.poll() is not None:
            raise RuntimeError("battled exited during start")
        time.sleep(0.05)
    raise RuntimeError("no port file within %d s" % deadline_s)


def tasks(pid):
    """{tid: (name, runtime_ns, voluntary, involuntary)} for every thread of pid."""
    out = {}
    for d in glob.glob("/proc/%d/task/*" % pid):
        tid = int(d.rsplit("/", 1)[1])
        try:
            with open(d + "/schedstat") as f:
                run_ns = int(f.read().split()[0])
            with open(d + "/comm") as f:
                comm = f.read().strip()
            vol = invol = 0
            with open(d + "/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches"):
                        vol = int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches"):
                        invol = int(line.split()[1])
        except OSError:
            continue
        name = "main" if tid == pid else comm
        out[tid] = (name, run_ns, vol, invol)
    return out


def metrics(port):
    """Sums of the METRICS counters from /metrics (0 for those the binary lacks)."""
    vals = {k: 0.0 for k in METRICS}
    if not port:
        return vals
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            s.sendall(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            s.settimeout(3)
            data = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
    except OSError:
        return vals
    rev = {v: k for k, v in METRICS.items()}
    for line in data.decode("utf-8", "replace").splitlines():
        if not line or line[0] == "#":
            continue
        m = re.match(r"([a-zA-Z_:]+)(\{[^}]*\})?\s+([0-9.eE+-]+)$", line)
        if m and m.group(1) in rev:
            vals[rev[m.group(1)]] += float(m.group(3))
    return vals


def thread_role(name, tid, pid):
    """main, net or shard: the network thread names itself battled-net; the baseline leaves its
    shard threads named after the process (the file name), newer builds call them battled-shardK."""
    if tid == pid:
        return "main"
    if name == "battled-net":
        return "net"
    try:
        with open("/proc/%d/comm" % pid) as f:
            proc = f.read().strip()
    except OSError:
        proc = ""
    if name.startswith("battled-shard") or name == proc:
        return "shard"
    return name


class Server:
    def __init__(self, path, root, tmp, sets, ships):
        self.pf = os.path.join(tmp, "port")
        self.apf = os.path.join(tmp, "aport")
        for f in (self.pf, self.apf):
            if os.path.exists(f):
                os.unlink(f)
        # An empty config file: each binary runs on its own built-in defaults (config.toml equals
        # them), so an older binary is not refused a setting it does not know.
        empty = os.path.join(tmp, "empty.toml")
        open(empty, "w").close()
        args = [path, "-c", empty, "--set", "game.ships_file=" + ships,
                "--set", "server.listen=127.0.0.1:0", "--set", "server.port_file=" + self.pf,
                "--set", "admin.listen=127.0.0.1:0", "--set", "admin.port_file=" + self.apf,
                "--set", "game.ai_think_ms=0", "--set", "log.level=warn",
                "--set", "server.drain_timeout_ms=1000"]
        for s in sets:
            args += ["--set", s]
        self.log = open(os.path.join(tmp, "server.log"), "ab")
        self.proc = subprocess.Popen(args, cwd=root, stdout=self.log, stderr=self.log)
        self.pid = self.proc.pid
        self.port = wait_file(self.pf, self.proc, 10)
        self.aport = wait_file(self.apf, self.proc, 10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


def snapshot(srv):
    return {"t": time.monotonic(), "tasks": tasks(srv.pid), "m": metrics(srv.aport)}


def perf_syscalls(pid, window):
    """Runs perf stat on syscall tracepoints for window seconds: {(comm, tid): {syscall: n}}."""
    evs = ",".join("syscalls:sys_enter_" + s for s in SYSCALLS) + ",sched:sched_wakeup"
    try:
        r = subprocess.run(["perf", "stat", "--per-thread", "-x", ";", "-e", evs, "-p", str(pid),
                            "--", "sleep", str(window)], capture_output=True, text=True,
                           timeout=window + 30)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    res = {}
    for line in r.stderr.splitlines():
        parts = line.split(";")
        if len(parts) < 4 or "-" not in parts[0]:
            continue
        comm, _, tid = parts[0].rpartition("-")
        try:
            n = int(float(parts[1]))
        except ValueError:
            continue
        ev = parts[3].split(":")[-1].replace("sys_enter_", "")
        res.setdefault((comm, int(tid)), {})[ev] = n
    return res


# Kernel functions whose share of the samples (with callees) splits an action's CPU. On loopback a
# socket write(2) also runs the receiving socket's TCP input (net_rx_action under the sender's
# write), so "socket write" is what sending costs this box, both ends' kernel work included.
PROFILE_S = 6  # seconds of perf record after each window (--profile)
PROFILE_PARTS = [("sock_write", "sock_write_iter"), ("sock_read", "sock_read_iter"),
                 ("all_write", "ksys_write"), ("epoll", "do_epoll_wait")]


def perf_profile(pid, window, tmp):
    """perf record -g of pid for window seconds: {part: fraction of samples}, {} when perf fails."""
    data = os.path.join(tmp, "perf.data")
    try:
        subprocess.run(["perf", "record", "-q", "-F", "999", "-g", "-p", str(pid), "-o", data, "--",
                        "sleep", str(window)], capture_output=True, timeout=window + 30)
        r = subprocess.run(["perf", "report", "-i", data, "--children", "--stdio", "-g", "none",
                            "--sort", "sym", "--percent-limit", "0"], capture_output=True, text=True,
                           timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    got = {}
    for line in r.stdout.splitlines():
        m = re.match(r"\s*([0-9.]+)%\s+([0-9.]+)%\s+\[[k.]\]\s+(\S+)", line)
        if m:
            got[m.group(3)] = max(got.get(m.group(3), 0.0), float(m.group(1)) / 100)
    if not got:
        return {}
    return {part: got.get(sym, 0.0) for part, sym in PROFILE_PARTS}


def diff(a, b, pid):
    """Per-role CPU ns and context switches, and metric deltas, between two snapshots."""
    roles = {}
    for tid, (name, run, vol, inv) in b["tasks"].items():
        n0 = a["tasks"].get(tid, (name, 0, 0, 0))
        r = roles.setdefault(thread_role(name, tid, pid), [0, 0, 0])
        r[0] += run - n0[1]
        r[1] += vol - n0[2]
        r[2] += inv - n0[3]
    m = {k: b["m"][k] - a["m"][k] for k in METRICS}
    return {"secs": b["t"] - a["t"], "roles": roles, "m": m,
            "cpu_ns": sum(r[0] for r in roles.values())}


def run_one(args, label, path, load, tmp):
    """One server, one bench run; returns a result dict."""
    kind, n = load
    sets = list(args.set) + (list(args.new_set) if label == "new" else [])
    jdir = None
    if args.persistence == "on":
        # What an operator gets by default (config.toml): a file journal, fsync once a second. A
        # fresh directory per run, so neither build recovers the other's battles.
        jdir = tempfile.mkdtemp(prefix="journal-%s-" % label, dir=tmp)
        sets += ["persistence.enabled=true", "persistence.dir=" + jdir, "persistence.fsync=everysec"]
    else:
        sets += ["persistence.enabled=false"]
    bench = [args.bench, "--quiet", "--grace", "0", "--seed", "1"]
    window = args.window
    if kind == "idle":
        settle = 3
        ramp_s = max(1, n // 1000)
        bench += ["--mode", "idle", "--battles", str(n), "--ramp", "1000"]
    elif kind == "think":
        ramp = 3000
        ramp_s = max(1, (n + ramp - 1) // ramp)
        settle = args.settle
        bench += ["--mode", "match", "--battles", str(n), "--think", "1000", "--ramp", str(ramp),
                  "--warmup", str(settle)]
        if 2 * n > 12000:
            bench += ["--sources", "2"]  # past ~14,000 connections one source stalls connect()
    else:  # saturation
        sets += ["ratelimit.actions_per_sec=0", "server.shards=1"]
        ramp_s = 0
        settle = 3
        bench += ["--mode", "match", "--battles", str(n), "--think", "0", "--ramp", "0",
                  "--warmup", str(settle)]
    prof_s = PROFILE_S if args.profile and kind != "idle" else 0
    dur = ramp_s + settle + window + 1 + prof_s
    jf = os.path.join(tmp, "bench.json")
    bench += ["--duration", str(dur), "--json", jf]
    ships = args.old_ships if label == "old" and args.old_ships else os.path.join(args.root, "data/ships.toml")
    srv = Server(path, args.root, tmp, sets, ships)
    res = {"label": label, "load": load}
    try:
        bench += ["--server", "127.0.0.1:%d" % srv.port, "--server-pid", str(srv.pid)]
        with open(os.path.join(tmp, "bench.out"), "ab") as bo:
            bp = subprocess.Popen(bench, stdout=bo, stderr=bo)
        t_start = time.monotonic()
        time.sleep(ramp_s + settle)
        a = snapshot(srv)
        if args.perf and kind != "saturation":
            res["syscalls"] = perf_syscalls(srv.pid, window)
        else:
            time.sleep(window)
        b = snapshot(srv)
        if prof_s:
            res["profile"] = perf_profile(srv.pid, prof_s, tmp)
        try:
            bp.wait(timeout=dur + 60 - (time.monotonic() - t_start))
        except subprocess.TimeoutExpired:
            bp.kill()
            bp.wait()
        d = diff(a, b, srv.pid)
        res.update(d)
        if "syscalls" in res:  # by role, as the CPU figures (the baseline's shard is named "battled")
            by_role = {}
            for (comm, tid), evs in res.pop("syscalls").items():
                role = thread_role(b["tasks"].get(tid, (comm,))[0], tid, srv.pid)
                for ev, v in evs.items():
                    by_role.setdefault(role, {})
                    by_role[role][ev] = by_role[role].get(ev, 0) + v
            res["syscalls"] = by_role
        try:
            with open(jf) as f:
                rep = json.load(f)
            g = rep["runs"][0]["figures"]
            res["steady_p99_ms"] = g["steady_p99_ms"]
            res["steady_actions_per_s"] = g["steady_actions_per_s"]
            res["success_pct"] = g["success_pct"]
        except (OSError, ValueError, KeyError, IndexError):
            pass
    finally:
        srv.stop()
        if jdir:
            shutil.rmtree(jdir, ignore_errors=True)
    acts = res["m"]["actions"]
    res["actions"] = acts
    res["actions_per_s"] = acts / res["secs"] if res["secs"] else 0
    res["cpu_us_per_action"] = res["cpu_ns"] / 1000 / acts if acts else float("nan")
    res["cpu_ms_per_s"] = res["cpu_ns"] / 1e6 / res["secs"]
    return res


def redis_cpu_per_ping(rounds, requests, tmp):
    """redis-server's CPU per PING under redis-benchmark -c 2000 ping_inline: a list, one per round."""
    if not (shutil_which("redis-server") and shutil_which("redis-benchmark")):
        return [], []
    port = free_port()
    log = open(os.path.join(tmp, "redis.log"), "ab")
    rp = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                           "--appendonly", "no", "--maxclients", "4000"], stdout=log, stderr=log)
    out, rps = [], []
    try:
        end = time.time() + 10
        while time.time() < end:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        for _ in range(rounds):
            a = tasks(rp.pid)
            t0 = time.monotonic()
            r = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-t",
                                "ping_inline", "-c", "2000", "-n", str(requests), "-q"],
                               capture_output=True, text=True, timeout=180)
            t1 = time.monotonic()
            b = tasks(rp.pid)
            ns = sum(v[1] - a.get(k, (0, 0))[1] for k, v in b.items())
            out.append(ns / 1000 / requests)
            m = re.findall(r"PING_INLINE: ([0-9.]+) requests per second", r.stdout.replace("\r", "\n"))
            rps.append(float(m[-1]) if m else requests / (t1 - t0))
    finally:
        rp.terminate()
        try:
            rp.wait(10)
        except subprocess.TimeoutExpired:
            rp.kill()
        log.close()
    return out, rps


def shutil_which(name):
    for d in os.environ.get("PATH", "").split(":"):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return None


def parse_loads(text):
    loads = []
    for part in text.split(","):
        part = part.strip()
        if part == "idle":
            loads.append(("idle", 1000))
        elif part.startswith("sat"):
            loads.append(("saturation", 1000))
        else:
            loads.append(("think", int(part)))
    return loads


def load_name(load):
    kind, n = load
    if kind == "idle":
        return "idle, %s connections" % format(n, ",")
    if kind == "think":
        return "%s battles, 1 s think" % format(n, ",")
    return "saturation, %s battles, think 0" % format(n, ",")


def med(xs):
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def per_action(res, role, idx):
    return med([r["roles"].get(role, [0, 0, 0])[idx] / r["actions"] for r in res if r["actions"]])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", required=True, help="the baseline battled binary")
    ap.add_argument("--new", required=True, help="the battled binary under test")
    ap.add_argument("--bench", required=True, help="battle-bench binary")
    ap.add_argument("--old-ships", default=None,
                    help="ship table for the old binary when it cannot read data/ships.toml")
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--loads", default="idle,200,3000,9000,sat")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--window", type=int, default=10, help="seconds measured per run")
    ap.add_argument("--settle", type=int, default=3, help="seconds after the ramp before measuring")
    ap.add_argument("--redis-requests", type=int, default=400000)
    ap.add_argument("--perf", action="store_true", help="also count syscalls per thread with perf stat")
    ap.add_argument("--profile", action="store_true",
                    help="also split CPU per action by where it goes (perf record, after the window)")
    ap.add_argument("--set", action="append", default=[], help="section.key=value for both servers")
    ap.add_argument("--persistence", choices=["on", "off"], default="on",
                    help="both servers journal to local files, fsync everysec (on: the shipped "
                         "default) or neither does (off)")
    ap.add_argument("--new-set", action="append", default=[],
                    help="section.key=value for the new server only (settings the old one lacks)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    for p in (args.old, args.new, args.bench):
        if not os.access(p, os.X_OK):
            sys.exit("cpu_ab: %s is not an executable" % p)
    tmp = args.out or tempfile.mkdtemp(prefix="cpu-ab-")
    os.makedirs(tmp, exist_ok=True)
    loads = parse_loads(args.loads)
    bins = [("old", args.old), ("new", args.new)]
    results = {}
    for rnd in range(args.rounds):
        for load in loads:
            order = bins if rnd % 2 == 0 else bins[::-1]
            for label, path in order:
                r = run_one(args, label, path, load, tmp)
                results.setdefault((load, label), []).append(r)
                print("round %d %-34s %-3s cpu/action %7.1f us  cpu %6.1f ms/s  actions/s %7.0f  "
                      "steady p99 %s ms" % (rnd + 1, load_name(load), label, r["cpu_us_per_action"],
                                            r["cpu_ms_per_s"], r["actions_per_s"],
                                            "%.3f" % r["steady_p99_ms"] if "steady_p99_ms" in r else "-"),
                      file=sys.stderr, flush=True)
    redis, redis_rps = [], []
    if any(l[0] == "saturation" for l in loads):
        redis, redis_rps = redis_cpu_per_ping(args.rounds, args.redis_requests, tmp)

    print("Both servers: persistence %s%s; new-only settings: %s.\n" % (
        args.persistence, " (file journal, fsync everysec)" if args.persistence == "on" else "",
        ", ".join(args.new_set) or "none"))
    print("| load | old CPU/action us | new CPU/action us | new/old | old CPU ms/s | new CPU ms/s | "
          "old actions/s | new actions/s | old steady p99 ms | new steady p99 ms | runs |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for load in loads:
        o, n = results.get((load, "old"), []), results.get((load, "new"), [])
        co, cn = med([r["cpu_us_per_action"] for r in o]), med([r["cpu_us_per_action"] for r in n])
        mo, mn = med([r["cpu_ms_per_s"] for r in o]), med([r["cpu_ms_per_s"] for r in n])
        idle = load[0] == "idle"
        ratio = (mn / mo) if idle else (cn / co)
        print("| %s | %s | %s | **%.2f** | %.2f | %.2f | %.0f | %.0f | %s | %s | %d+%d |" % (
            load_name(load), "-" if idle else "%.1f" % co, "-" if idle else "%.1f" % cn, ratio, mo, mn,
            med([r["actions_per_s"] for r in o]), med([r["actions_per_s"] for r in n]),
            "%.3f" % med([r.get("steady_p99_ms", float("nan")) for r in o]),
            "%.3f" % med([r.get("steady_p99_ms", float("nan")) for r in n]), len(o), len(n)))
    print()
    print("Per action (medians), by thread: CPU us / voluntary context switches (sleeps) / involuntary:")
    print()
    print("| load | build | net CPU us | net sleeps | shard CPU us | shard sleeps | net wakes sent by shards | shard wakes sent by net | messages run on the net thread |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for load in loads:
        if load[0] == "idle":
            continue
        for label in ("old", "new"):
            res = [r for r in results.get((load, label), []) if r["actions"]]
            if not res:
                continue
            def pm(key):
                return med([r["m"][key] / r["actions"] for r in res])
            hits = pm("inline_msgs")
            print("| %s | %s | %.1f | %.2f | %.1f | %.2f | %.2f | %.2f | %.2f |" % (
                load_name(load), label, per_action(res, "net", 0) / 1000, per_action(res, "net", 1),
                per_action(res, "shard", 0) / 1000, per_action(res, "shard", 1),
                pm("shard_net_wakes"), pm("net_wakeups_sent"), hits))
    if redis:
        sat = [l for l in loads if l[0] == "saturation"][0]
        cn = med([r["cpu_us_per_action"] for r in results.get((sat, "new"), [])])
        co = med([r["cpu_us_per_action"] for r in results.get((sat, "old"), [])])
        rc = med(redis)
        print()
        print("redis-server under redis-benchmark -c 2000 -n %d ping_inline: %.1f us of CPU per PING "
              "(median of %s; %.0f requests/s). At saturation battled spends %.1f us (new) / %.1f us "
              "(old) per action: %.2f / %.2f PINGs." % (
                  args.redis_requests, rc, ", ".join("%.1f" % x for x in redis), med(redis_rps), cn, co,
                  cn / rc, co / rc))
    if args.perf:
        print()
        print("Syscalls per action by thread (perf stat, one window per run, medians):")
        for load in loads:
            for label in ("old", "new"):
                res = [r for r in results.get((load, label), []) if r.get("syscalls") and r["actions"]]
                if not res:
                    continue
                agg = {}
                for r in res:
                    per = {(role, ev): v for role, evs in r["syscalls"].items() for ev, v in evs.items()}
                    for k, v in per.items():
                        agg.setdefault(k, []).append(v / r["actions"])
                line = ", ".join("%s %s %.2f" % (k[0], k[1], med(v)) for k, v in sorted(agg.items())
                                 if med(v) >= 0.01)
                print("- %s, %s: %s" % (load_name(load), label, line))
    if args.profile:
        print_profile(loads, results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"%s|%s" % (load_name(k[0]), k[1]): v for k, v in results.items()}, f, default=str)


def print_profile(loads, results):
    """Where each build's CPU per action goes, and each build's socket I/O against half the old
    build's whole cost (the goal): the part of it that no change to battled's own work can reach."""
    print()
    print("Where the CPU of an action goes (perf record with kernel call chains, %d s right after each "
          "window, same server and load; shares of the samples applied to the window's CPU per "
          "action; medians, us):" % PROFILE_S)
    print()
    print("| load | build | CPU/action | socket write(2) | socket read(2) | other write(2) | "
          "epoll_wait | the rest | socket I/O / (old CPU/action / 2) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for load in loads:
        if load[0] == "idle":
            continue
        old_all = med([r["cpu_us_per_action"] for r in results.get((load, "old"), [])])
        for label in ("old", "new"):
            res = [r for r in results.get((load, label), []) if r.get("profile") and r["actions"]]
            if not res:
                continue
            def part(name):
                return med([r["profile"][name] * r["cpu_us_per_action"] for r in res])
            tot = med([r["cpu_us_per_action"] for r in res])
            sw, sr, aw, ep = part("sock_write"), part("sock_read"), part("all_write"), part("epoll")
            rest = med([r["cpu_us_per_action"] * (1 - r["profile"]["all_write"] - r["profile"]["sock_read"]
                                                  - r["profile"]["epoll"]) for r in res])
            print("| %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f |" % (
                load_name(load), label, tot, sw, sr, max(0.0, aw - sw), ep, rest,
                (sw + sr) / (old_all / 2) if old_all > 0 else float("nan")))


if __name__ == "__main__":
    main()
