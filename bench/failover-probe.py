#!/usr/bin/python3
"""bench/failover-probe.py: players who resume through another node after theirs died (issue 14).

Used by bench/cluster-bench, part 2. Written from docs/PROTOCOL.md (sections 1, 4, 5, 8 "Clusters:
`moved`"); needs python3-msgpack (scripts/bootstrap).

  failover-probe.py --node PORT --survivors PORT[,PORT] --battles K --ready FILE --kill-file FILE
                    --json FILE [--timeout S]

1. Creates K private two-player battles on the node at 127.0.0.1:PORT (one connection holds every
   creator seat, another every joiner seat) and keeps each seat's token and last seq from the events
   it reads, then writes FILE --ready.
2. Reads until both connections are closed (the node was killed), then reads the kill time (Unix ms)
   that the caller writes into --kill-file.
3. Every seat (a thread each) then does what a client does (PROTOCOL.md section 8): connect to a
   survivor (round robin), hello, `resume {bid, seat, tok, last}`; on `moved`, connect to the named
   node and send it again; on `server_busy`, or a moved address that refuses (the dead node, still
   in the survivors' view until its ttl runs out), wait RETRY_S and ask a survivor again. A seat is
   resumed when a battle event of its battle answers (the missed events or a `state`).
4. Writes --json: seats, resumed, failed, and from the kill to each seat's resume: min, median,
   p90, max ms; counts of moved, server_busy and refused connects.

Bounded: every wait has a deadline (--timeout per seat after the kill, default 60 s); talks to
127.0.0.1 only.
"""
import argparse
import json
import os
import socket
import statistics
import struct
import sys
import threading
import time

import msgpack

RETRY_S = 0.1      # a client's wait before asking again after server_busy or a refused moved
IO_S = 5.0         # one request's reply
ERR_SERVER_BUSY = 81


class Closed(Exception):
    pass


class Conn:
    def __init__(self, port, timeout=IO_S):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.rid = 0
        self.req({"t": "hello", "v": 1, "name": "failover-probe"}, want="welcome")

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def send(self, obj):
        self.rid += 1
        obj = dict(obj, rid=self.rid)
        body = msgpack.packb(obj, use_bin_type=True)
        self.s.sendall(struct.pack(">I", len(body)) + body)
        return self.rid

    def recv(self, deadline):
        """The next message, None at the deadline; raises Closed at the end of the stream."""
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack(">I", self.buf[:4])[0]
                if len(self.buf) >= 4 + n:
                    body, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
                    return msgpack.unpackb(body, raw=False, strict_map_key=False)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.s.settimeout(min(left, 0.5))
            try:
                data = self.s.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                data = b""
            if not data:
                raise Closed()
            self.buf += data

    def req(self, obj, want=None):
        rid = self.send(obj)
        deadline = time.monotonic() + IO_S
        while True:
            m = self.recv(deadline)
            if m is None:
                raise TimeoutError("no reply to %s" % obj.get("t"))
            if m.get("rid") == rid:
                if want and m.get("t") != want:
                    raise RuntimeError("%s: wanted %s, got %r" % (obj.get("t"), want, m))
                return m


class Seat:
    def __init__(self, bid, seat, tok):
        self.bid, self.seat, self.tok, self.last = bid, seat, tok, 0
        self.resumed_at = None
        self.error = None


def resume_seat(s, survivors, i, end, counts, lock):
    """Resumes seat s through the survivors until a battle event answers, or end (monotonic)."""
    at = survivors[i % len(survivors)]
    while time.monotonic() < end:
        c = None
        try:
            c = Conn(at)
            rid = c.send({"t": "resume", "bid": s.bid, "seat": s.seat, "tok": s.tok, "last": s.last})
            while True:
                m = c.recv(time.monotonic() + IO_S)
                if m is None:
                    raise TimeoutError("no answer to resume")
                if m.get("rid") != rid and m.get("bid") != s.bid:
                    continue
                t = m.get("t")
                if t == "moved":
                    with lock:
                        counts["moved"] += 1
                    at = int(m["addr"].rsplit(":", 1)[1])
                    break
                if t == "error":
                    if m.get("code") == ERR_SERVER_BUSY:
                        with lock:
                            counts["server_busy"] += 1
                        time.sleep(RETRY_S)
                        break
                    s.error = "error %s" % m.get("code")
                    return
                if "seq" in m:  # missed events or a state: served again
                    s.resumed_at = time.time()
                    return
        except (OSError, Closed, TimeoutError):
            with lock:
                counts["refused"] += 1
            at = survivors[i % len(survivors)]  # the named node is gone: ask a survivor again
            time.sleep(RETRY_S)
        finally:
            if c:
                c.close()
    s.error = s.error or "timeout"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--node", type=int, required=True)
    ap.add_argument("--survivors", required=True)
    ap.add_argument("--battles", type=int, default=50)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--kill-file", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()
    survivors = [int(p) for p in a.survivors.split(",")]

    creator, joiner = Conn(a.node), Conn(a.node)
    seats = {}
    for _ in range(a.battles):
        cr = creator.req({"t": "create", "ship": "scout", "band": "short", "vs": "player"}, want="created")
        bid = cr["bid"]
        seats[(bid, 0)] = Seat(bid, 0, cr["tok"])
        jr = joiner.send({"t": "join", "bid": bid, "ship": "scout"})
        deadline = time.monotonic() + IO_S
        while True:
            m = joiner.recv(deadline)
            if m is None:
                raise TimeoutError("no started for the joiner")
            if m.get("t") == "started" and m.get("rid") == jr:
                seats[(bid, 1)] = Seat(bid, 1, m["tok"])
                seats[(bid, 1)].last = m.get("seq", 0)
                break
            if m.get("t") == "error":
                raise RuntimeError("join refused: %r" % m)
    with open(a.ready, "w") as f:
        f.write("%d\n" % len(seats))

    # Read both streams (tracking each seat's last seq) until the node dies.
    def follow(conn, seat_no, end):
        try:
            while time.monotonic() < end:
                m = conn.recv(end)
                if m and isinstance(m.get("seq"), int):
                    s = seats.get((m.get("bid"), seat_no))
                    if s and m["seq"] > s.last:
                        s.last = m["seq"]
        except Closed:
            pass
    end = time.monotonic() + 600
    ts = [threading.Thread(target=follow, args=(c, n, end)) for c, n in ((creator, 0), (joiner, 1))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    t_drop = time.time()
    t_kill = None
    for _ in range(100):
        try:
            t_kill = int(open(a.kill_file).read().strip()) / 1000.0
            break
        except (OSError, ValueError):
            time.sleep(0.05)
    t_kill = t_kill or t_drop

    counts = {"moved": 0, "server_busy": 0, "refused": 0}
    lock = threading.Lock()
    end = time.monotonic() + a.timeout
    ts = [threading.Thread(target=resume_seat, args=(s, survivors, i, end, counts, lock))
          for i, s in enumerate(seats.values())]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    done = sorted((s.resumed_at - t_kill) * 1000 for s in seats.values() if s.resumed_at)
    q = lambda p: done[min(len(done) - 1, int(p * len(done)))] if done else None
    out = {"seats": len(seats), "resumed": len(done), "failed": len(seats) - len(done),
           "errors": sorted({s.error for s in seats.values() if s.error}),
           "drop_after_kill_ms": round((t_drop - t_kill) * 1000),
           "min_ms": q(0), "median_ms": statistics.median(done) if done else None, "p90_ms": q(0.9),
           "max_ms": done[-1] if done else None, "retry_s": RETRY_S}
    out.update(counts)
    json.dump(out, open(a.json, "w"))
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
