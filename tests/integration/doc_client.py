#!/usr/bin/env python3
"""An outside client of battled, written from docs/PROTOCOL.md alone, and the scenarios that hold
the server to every promise of that document (hello/welcome, solo and private battles to the end,
matchmaking, spectators, resume/takeover/seq_gone, every error code with its rid/bid echoes, the
limits, the check order of section 2, 64-bit ids, the drain).

usage: doc_client.py BATTLED [SOURCE_DIR]

Starts its own battled processes on 127.0.0.1 port 0 (learned from server.port_file), each with a
temporary configuration given by --set, and stops them at the end. Exit status: 0 when every
promise held (checks marked expected-to-fail are reported, not counted), 1 on any broken promise,
77 (skip) when python3-msgpack is missing and CI is not "true". DOC_CLIENT_ONLY=name,name runs only
those scenarios (and their servers); the names are in MAIN_SCENARIOS and OWN_SERVER_SCENARIOS.

Checks that fail because the server is wrong against a clear promise of PROTOCOL.md are listed in
KNOWN_BUGS with the report that describes them; they are run and reported as XFAIL (and as XPASS
once fixed, which is a failure: remove the entry then).
"""
import base64
import hashlib
import os
import signal
import socket
import ssl
import shutil
import struct
import subprocess
import sys
import tempfile
import time

try:
    import msgpack
except ImportError:  # pragma: no cover - depends on the machine
    if os.environ.get("CI") == "true":
        print("FAIL: python3-msgpack is missing (apt-get install python3-msgpack; scripts/bootstrap)")
        sys.exit(1)
    print("SKIP: python3-msgpack is missing (apt-get install python3-msgpack; scripts/bootstrap)")
    sys.exit(77)

START = time.monotonic()
TEMP_DIRS = []
FAILS = []
XFAILS = []
XPASSES = []
PASSES = 0

# Checks known to fail because the server breaks a clear promise of docs/PROTOCOL.md. Key: the
# check's name; value: the report (doc-client branch report, "Code bugs" list) that describes it.
KNOWN_BUGS = {
    # Empty: both bugs the first run found (out_of_ammo sent as 57; create os "" refused) are fixed.
}


def check(cond, name, detail=""):
    """Records one promise: passed, failed, or (for KNOWN_BUGS) expected to fail."""
    global PASSES
    if name in KNOWN_BUGS:
        if cond:
            XPASSES.append(name)
            print("XPASS %s (fixed? remove it from KNOWN_BUGS)" % name)
        else:
            XFAILS.append(name)
            print("XFAIL %s: %s [%s]" % (name, detail, KNOWN_BUGS[name]))
        return cond
    if cond:
        PASSES += 1
    else:
        FAILS.append("%s: %s" % (name, detail))
        print("FAIL %s: %s" % (name, detail))
    return cond


# ---------------------------------------------------------------------------------------------
# Error codes of section 9.
ERR = {
    "bad_frame": 1, "frame_too_large": 2, "bad_msgpack": 3, "not_a_map": 4, "unknown_type": 5,
    "missing_field": 6, "bad_field": 7, "string_too_long": 8, "too_many": 9, "too_deep": 10,
    "version_mismatch": 20, "not_hello_first": 21, "already_hello": 22, "rate_limited": 23,
    "not_queued": 25, "too_many_seats": 26, "no_such_ship": 27, "not_your_turn": 40,
    "already_acted": 41, "no_such_weapon": 42, "out_of_ammo": 43, "out_of_band": 44,
    "no_such_missile": 45, "reaction_used": 46, "not_equipped": 47, "not_started": 48,
    "battle_over": 49, "no_such_battle": 50, "battle_full": 51, "not_in_battle": 52,
    "already_in_battle": 53, "bad_token": 54, "spectators_full": 55, "seq_gone": 56,
    "too_many_missiles": 57, "server_draining": 80, "server_busy": 81, "internal": 82,
}
BATTLE_EVENTS = {"started", "state", "turn", "round", "attack", "crit", "mlaunch", "mmove", "mhit",
                 "pd_result", "sand_result", "timeout", "away", "back", "ended"}
BANDS = ["adjacent", "close", "short", "medium", "long", "very_long", "distant"]
LOCS = ["sensors", "power_plant", "fuel", "weapon", "armour", "hull", "m_drive", "cargo",
        "j_drive", "crew", "computer"]
REASONS = {"destroyed", "forfeit", "timeout", "disconnect", "draw", "abandoned", "shutdown"}
SFRAME = 4096
WAIT = 5.0  # the bound of every wait for a reply on a loaded machine


class Closed(Exception):
    pass


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def frame(body):
    return struct.pack(">I", len(body)) + body


# ---------------------------------------------------------------------------------------------
class Client:
    """One connection: frames in and out, a backlog of received messages, per-battle seq checks."""

    def __init__(self, port, name="doc", hello=True, ping_every=None, sock=None):
        self.sock = sock or socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.buf = b""
        self.backlog = []
        self.closed = False
        self.rid = 0
        self.last = {}        # bid -> last seq seen on this connection
        self.ping_every = ping_every
        self.sent_at = time.monotonic()
        self.raw_bids = []    # raw encodings of bid seen (to check uint 64)
        self.welcome = None
        if hello:
            self.welcome = self.req({"t": "hello", "v": 1, "name": name}, want="welcome")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        self.closed = True

    def next_rid(self):
        self.rid += 1
        return self.rid

    def send_raw(self, data):
        self.sock.sendall(data)
        self.sent_at = time.monotonic()

    def send(self, obj, rid=True):
        if rid and "rid" not in obj:
            obj = dict(obj)
            obj["rid"] = self.next_rid()
        self.send_body(pack(obj))
        return obj.get("rid")

    def send_body(self, body):
        """One message body on the wire: here a length-prefixed frame (section 1)."""
        self.send_raw(frame(body))

    def _read_frame(self, deadline):
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack(">I", self.buf[:4])[0]
                check(0 < n <= SFRAME, "server frame within sframe", "length %d" % n)
                if len(self.buf) >= 4 + n:
                    body = self.buf[4:4 + n]
                    self.buf = self.buf[4 + n:]
                    return body
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if self.ping_every and time.monotonic() - self.sent_at > self.ping_every:
                self.send({"t": "ping"}, rid=False)
            self.buf += self._recv_some(left)

    def _recv_some(self, left):
        """Bytes read within min(left, 0.2) s (b"" when none came); raises Closed at the end of
        the stream (a reset counts as one)."""
        self.sock.settimeout(min(left, 0.2))
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            return b""
        except OSError:  # reset, broken pipe, a TLS error
            data = b""
        if not data:
            self.closed = True
            raise Closed()
        return data

    def _decode(self, body):
        msg = msgpack.unpackb(body, raw=False, strict_map_key=False)
        check(isinstance(msg, dict) and isinstance(msg.get("t"), str), "server sends maps with t",
              repr(msg)[:100])
        if "bid" in msg:
            # Section 2: the server writes every bid as uint 64 (0xcf + 8 bytes).
            i = body.find(b"\xa3bid")
            if i >= 0:
                self.raw_bids.append(body[i + 4])
        t = msg.get("t")
        if t == "crit":
            check(msg.get("loc") in LOCS and 1 <= msg.get("sev", 0) <= 6 and isinstance(msg.get("crew"), bool)
                  and isinstance(msg.get("extra"), int) and isinstance(msg.get("hull"), int)
                  and msg.get("seat") in (0, 1), "crit fields (section 6)", repr(msg))
        elif t == "attack":
            d = msg.get("dice", [])
            check(len(d) == 2 and all(1 <= x <= 6 for x in d) and msg.get("eff") == msg.get("total", 99) - 8
                  and msg.get("hit") == (msg.get("total", 0) >= 8) and isinstance(msg.get("sand"), bool)
                  and isinstance(msg.get("dmg"), int) and isinstance(msg.get("hull"), int),
                  "attack: eff = total - 8, hit = total >= 8", repr(msg))
        if t in BATTLE_EVENTS and "bid" in msg:
            bid, seq = msg["bid"], msg.get("seq")
            check(isinstance(seq, int) and seq >= 1, "battle event has seq", repr(msg)[:120])
            if t == "state":
                self.last[bid] = seq
            elif bid in self.last:
                check(seq == self.last[bid] + 1, "events of one battle in seq order without gaps",
                      "got %s seq %s after %s" % (t, seq, self.last[bid]))
                self.last[bid] = seq
            else:
                # A battle that never started has one event: its ended, seq 1.
                check(t in ("started", "ended") and seq == 1, "first event of a battle is started (or ended) seq 1",
                      repr(msg)[:120])
                self.last[bid] = seq
        return msg

    def recv(self, timeout=WAIT):
        """The next message (from the backlog first), or None at the deadline."""
        if self.backlog:
            return self.backlog.pop(0)
        body = self._read_frame(time.monotonic() + timeout)
        if body is None:
            return None
        return self._decode(body)

    def wait(self, pred, timeout=WAIT, what="a message"):
        """The first message (backlog first) matching pred; others stay in the backlog, in order."""
        for i, m in enumerate(self.backlog):
            if pred(m):
                return self.backlog.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            body = self._read_frame(deadline)
            if body is None:
                raise TimeoutError("no %s within %.1f s; backlog %r" % (what, timeout,
                                                                       [m.get("t") for m in self.backlog][-8:]))
            m = self._decode(body)
            if pred(m):
                return m
            self.backlog.append(m)

    def req(self, obj, want=None, timeout=WAIT):
        """Sends obj with a fresh rid; returns the first message carrying that rid."""
        rid = self.send(obj)
        m = self.wait(lambda m: m.get("rid") == rid, timeout, "reply to %s rid %d" % (obj.get("t"), rid))
        if want and m.get("t") != want:
            raise AssertionError("%s: wanted %s, got %r" % (obj.get("t"), want, m))
        return m

    def drain_until_closed(self, timeout=WAIT):
        """Reads until the server closes; returns the messages read, or None if it never closed."""
        got = list(self.backlog)
        self.backlog = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                body = self._read_frame(deadline)
                if body is None:
                    return None
                got.append(self._decode(body))
        except Closed:
            return got

    def events(self, bid):
        return [m for m in self.backlog if m.get("bid") == bid and m.get("t") in BATTLE_EVENTS]


def settle(c, seconds=0.1):
    """Reads whatever c receives within `seconds` into its backlog: for checks that something was
    NOT sent, the only way is to listen for a bounded while."""
    deadline = time.monotonic() + seconds
    while True:
        body = c._read_frame(deadline)
        if body is None:
            return
        c.backlog.append(c._decode(body))


def expect_error(c, obj, code, name, rid=True, bid=None, msg_has=None):
    """Sends obj (with a rid unless rid=False); checks the error, its rid and bid echoes."""
    if rid:
        r = c.send(obj)
        m = c.wait(lambda m: m.get("rid") == r, WAIT, "reply to %s" % name)
    else:
        c.send(obj, rid=False)
        m = c.wait(lambda m: m.get("t") == "error", WAIT, "error for %s" % name)
    ok = check(m.get("t") == "error" and m.get("code") == ERR[code] and m.get("err") == code,
               name, "wanted error %s, got %r" % (code, m))
    if ok and m.get("t") == "error":
        check(isinstance(m.get("msg"), str) and len(m["msg"].encode()) <= 200, name + ": msg str",
              repr(m))
        if bid is not None:
            check(m.get("bid") == bid, name + ": error echoes bid", repr(m))
        if msg_has is not None:
            check(msg_has in m.get("msg", ""), name + ": msg names %s" % msg_has, repr(m))
    return m


def expect_raw_error(c, raw, code, name, has_rid=None):
    c.send_raw(raw)
    m = c.wait(lambda m: m.get("t") == "error", WAIT, "error for %s" % name)
    check(m.get("code") == ERR[code] and m.get("err") == code, name,
          "wanted %s, got %r" % (code, m))
    if has_rid is None:
        check("rid" not in m and "bid" not in m, name + ": no rid/bid before the type is read", repr(m))
    else:
        check(m.get("rid") == has_rid, name + ": error echoes rid %d" % has_rid, repr(m))
    return m


def ping_ok(c, name):
    m = c.req({"t": "ping", "ts": 42}, timeout=WAIT)
    check(m.get("t") == "pong" and m.get("ts") == 42, name + ": connection still usable", repr(m))


# ---------------------------------------------------------------------------------------------
class Server:
    """One battled on 127.0.0.1 port 0 with settings given by --set."""

    def __init__(self, binary, src, name, sets):
        self.dir = tempfile.mkdtemp(prefix="docclient-%s-" % name)
        self.portfile = os.path.join(self.dir, "port")
        cfg = os.path.join(self.dir, "config.toml")
        with open(cfg, "w") as f:
            f.write("# empty: every setting comes from --set\n")
        base = {"server.listen": "127.0.0.1:0", "server.port_file": self.portfile,
                "server.shards": "2", "admin.listen": "", "ws.listen": "", "log.level": "warn",
                "game.ships_file": os.path.join(src, "data", "ships.toml")}
        base["ws.port_file"] = os.path.join(self.dir, "wsport")
        base.update(sets)
        args = [binary, "-c", cfg]
        for k, v in base.items():
            args += ["--set", "%s=%s" % (k, v)]
        self.log = open(os.path.join(self.dir, "stderr.log"), "w+")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, cwd=self.dir)
        self.name = name
        self.sets = base
        self.port = None

    def wait_port(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError("battled %s exited %s: %s" % (self.name, self.proc.returncode,
                                                                self.log.read()[-2000:]))
            try:
                with open(self.portfile) as f:
                    line = f.readline().strip()
                if line:
                    self.port = int(line)
                    return self.port
            except (OSError, ValueError):
                pass
            time.sleep(0.02)
        raise RuntimeError("battled %s wrote no port file in %.0f s" % (self.name, timeout))

    def stop(self, timeout=15.0):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode



# ---------------------------------------------------------------------------------------------
# Section 1a: the WebSocket transport, spoken with the standard library (RFC 6455 by hand).
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def ws_upgrade(port, path="/ws", version="13", key=True, extra=""):
    """Sends an upgrade request; returns (socket, status, headers dict, bytes after the head)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    k = base64.b64encode(os.urandom(16)).decode()
    head = "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" % (path, port)
    if key:
        head += "Sec-WebSocket-Key: %s\r\n" % k
    head += "Sec-WebSocket-Version: %s\r\n%s\r\n" % (version, extra)
    sock.sendall(head.encode())
    buf = b""
    deadline = time.monotonic() + WAIT
    while b"\r\n\r\n" not in buf and time.monotonic() < deadline:
        d = sock.recv(4096)
        if not d:
            break
        buf += d
    headb, _, rest = buf.partition(b"\r\n\r\n")
    lines = headb.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    hdrs = {}
    for line in lines[1:]:
        n, _, v = line.partition(":")
        hdrs[n.strip().lower()] = v.strip()
    if status == 101:
        want = base64.b64encode(hashlib.sha1(k.encode() + WS_GUID).digest()).decode()
        check(hdrs.get("sec-websocket-accept") == want, "ws: Sec-WebSocket-Accept is right", repr(hdrs))
    return sock, status, hdrs, rest


def ws_frame(opcode, payload, fin=True, mask=True):
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        h = bytes([b0, (0x80 if mask else 0) | n])
    elif n < 65536:
        h = bytes([b0, (0x80 if mask else 0) | 126]) + struct.pack(">H", n)
    else:
        h = bytes([b0, (0x80 if mask else 0) | 127]) + struct.pack(">Q", n)
    if not mask:
        return h + payload
    mk = os.urandom(4)
    return h + mk + bytes(c ^ mk[i % 4] for i, c in enumerate(payload))


class WSClient(Client):
    """The same client over WebSocket: one map per binary message, no length prefix."""

    def __init__(self, port, name="ws", hello=True):
        sock, status, hdrs, rest = ws_upgrade(port)
        check(status == 101, "ws: upgrade answered 101", "%r %r" % (status, hdrs))
        self.close_code = None
        self.wsbuf = rest
        self.msg = b""
        self.pongs = []
        super().__init__(port, name, hello=hello, sock=sock)

    def send_body(self, body):
        self.send_raw(ws_frame(0x2, body))

    def _ws_frame(self, deadline):
        while True:
            if len(self.wsbuf) >= 2:
                b0, b1 = self.wsbuf[0], self.wsbuf[1]
                n = b1 & 0x7f
                off = 2
                if n == 126:
                    off = 4
                    n = struct.unpack(">H", self.wsbuf[2:4])[0] if len(self.wsbuf) >= 4 else None
                elif n == 127:
                    off = 10
                    n = struct.unpack(">Q", self.wsbuf[2:10])[0] if len(self.wsbuf) >= 10 else None
                if n is not None and len(self.wsbuf) >= off + n:
                    check(not (b1 & 0x80), "ws: server frames are not masked", "")
                    payload = self.wsbuf[off:off + n]
                    self.wsbuf = self.wsbuf[off + n:]
                    return b0, payload
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.wsbuf += self._recv_some(left)

    def _read_frame(self, deadline):
        while True:
            f = self._ws_frame(deadline)
            if f is None:
                return None
            b0, payload = f
            op = b0 & 0x0f
            if op == 0x8:
                self.close_code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
                self.closed = True
                raise Closed()
            if op == 0xA:
                self.pongs.append(payload)
                continue
            check(op == 0x2 and b0 & 0x80, "ws: every server message is one unfragmented binary frame",
                  "byte0 %#x" % b0)
            check(len(payload) <= SFRAME, "ws: server message within sframe", "%d" % len(payload))
            return payload


# ---------------------------------------------------------------------------------------------
# Battle helpers.

def play_to_end(players, bid, choose, max_actions=2000, timeout=30.0, active=0):
    """Drives a battle whose seats are held by `players` ({seat: Client}) until `ended`.
    choose(seat, client) returns the turn request for the active seat. Returns the ended events
    per seat and the list of events each connection saw, in order."""
    seen = {s: [] for s in players}
    deadline = time.monotonic() + timeout
    # Events already read (in a backlog) are older than the `active` the caller gives.
    top = max(c.last.get(bid, 0) for c in players.values())
    ended = {}
    actions = 0
    pending = {}
    while len(ended) < len(players):
        if time.monotonic() > deadline or actions > max_actions:
            raise TimeoutError("battle %d did not end" % bid)
        # Act when it is a held seat's turn and nothing of ours is pending.
        if active in players and active not in pending and not ended:
            c = players[active]
            pending[active] = c.send(choose(active, c))
            actions += 1
        progressed = False
        for s, c in players.items():
            if s in ended:
                continue
            m = c.recv(timeout=0.05)
            if m is None:
                continue
            progressed = True
            if m.get("t") == "error":
                raise AssertionError("seat %d got %r after %r" % (s, m, [(x["t"], x["seq"], x.get("active"), x.get("rid")) for x in seen[s]]))
            if m.get("bid") != bid:
                c.backlog.append(m)
                continue
            seen[s].append(m)
            t = m.get("t")
            if t in ("turn", "round") and m["seq"] > top:
                # Only the newest event says who is active: one connection may lag the other.
                top = m["seq"]
                active = m["active"]
                pending.clear()  # a new turn: whoever acted before has been answered
            elif t == "ended":
                ended[s] = m
        if not progressed:
            time.sleep(0.001)
    return ended, seen


def fire0(seat, c):
    return {"t": "fire", "bid": c.cur_bid, "w": 0}


def check_ship(ship, name):
    ok = isinstance(ship, dict)
    for k, typ in (("type", str), ("name", str), ("hull", int), ("hmax", int), ("arm", int),
                   ("pilot", int), ("thr", int), ("w", list), ("crit", list)):
        ok = ok and isinstance(ship.get(k), typ)
    check(ok, name + ": ship map has every field of section 7", repr(ship)[:200])
    if not ok:
        return
    check(len(ship["crit"]) == 11, name + ": crit has 11 entries", repr(ship["crit"]))
    for w in ship["w"]:
        check(set(w) >= {"name", "kind", "d", "a"} and w["kind"] in
              ("laser", "missile", "gun", "rack", "sand") and isinstance(w.get("lr", 0), int),
              name + ": weapon map", repr(w))


def check_started(m, seat, band, name):
    check(m.get("t") == "started" and m.get("seq") == 1 and m.get("seat") == seat
          and isinstance(m.get("tok"), bytes) and len(m["tok"]) == 16 and m.get("band") == band
          and m.get("first") == 0 and isinstance(m.get("rlimit"), int) and 1 <= m["rlimit"] <= 65535
          and isinstance(m.get("ships"), list) and len(m["ships"]) == 2,
          name + ": started fields", repr(m)[:300])
    check(isinstance(m.get("bid"), int) and 1 <= m["bid"] < 2 ** 63, name + ": bid 1..2^63-1",
          repr(m.get("bid")))
    for s in m.get("ships", []):
        check_ship(s, name)


BAND_DM = {"adjacent": 2, "close": 1, "short": 0, "medium": 0, "long": -2, "very_long": -4, "distant": -6}


def check_attacks(events, ships, band, name):
    """Section 6/7: total = 2D6 + pilot + the band's DM (+ the weapon's lr at Long or farther)."""
    for m in events:
        if m.get("t") != "attack":
            continue
        sh = ships[m["seat"]]
        lr = sh["w"][m["w"]].get("lr", 0) if band in ("long", "very_long", "distant") else 0
        want = sum(m["dice"]) + sh["pilot"] + BAND_DM[band] + lr
        check(m.get("total") == want, name + ": attack total = 2D6 + pilot + band DM (+ lr)",
              "%r, want %d" % (m, want))


def check_ended(m, name, reason=None, winner="any"):
    ok = (m.get("t") == "ended" and m.get("reason") in REASONS and isinstance(m.get("hull"), list)
          and len(m["hull"]) == 2 and isinstance(m.get("rounds"), int) and "winner" in m)
    check(ok, name + ": ended fields", repr(m))
    if reason is not None:
        check(m.get("reason") == reason, name + ": ended reason %s" % reason, repr(m))
    if winner != "any":
        check(m.get("winner") == winner, name + ": winner %r" % (winner,), repr(m))
    if m.get("reason") in ("draw", "abandoned", "shutdown"):
        check(m.get("winner") is None, name + ": no winner is nil", repr(m))


def new_private(port, ship0="free_trader", ship1="scout", band="adjacent", name="p"):
    """A private battle: a creates, b joins. Returns (a, b, bid, started_a, started_b)."""
    a = Client(port, name + "a")
    b = Client(port, name + "b")
    cr = a.req({"t": "create", "ship": ship0, "band": band, "vs": "player"}, want="created")
    bid = cr["bid"]
    check(cr.get("seat") == 0 and isinstance(cr.get("tok"), bytes) and len(cr["tok"]) == 16
          and cr.get("band") == band and "seq" not in cr, name + ": created fields", repr(cr))
    jr = b.send({"t": "join", "bid": bid, "ship": ship1})
    sb = b.wait(lambda m: m.get("t") == "started", WAIT, "started for joiner")
    check(sb.get("rid") == jr, name + ": started carries join's rid", repr(sb)[:100])
    sa = a.wait(lambda m: m.get("t") == "started", WAIT, "started for creator")
    check("rid" not in sa, name + ": creator's started carries no rid (it asked nothing)", repr(sa)[:100])
    check_started(sa, 0, band, name + " seat 0")
    check_started(sb, 1, band, name + " seat 1")
    check(sa["tok"] == cr["tok"], name + ": started tok = created tok", "")
    check(sa["tok"] != sb["tok"], name + ": each seat its own token", "")
    a.cur_bid = b.cur_bid = bid
    return a, b, bid, sa, sb


# ---------------------------------------------------------------------------------------------
# Scenarios on the main server (rate limit off, AI without delay, small seat/spectator caps).
MAIN_SETS = {"ratelimit.actions_per_sec": "0", "game.ai_think_ms": "0",
             "server.max_seats_per_conn": "4", "game.max_spectators": "2",
             "game.finished_keep_ms": "60000", "server.drain_timeout_ms": "1000"}


def sc_hello(port):
    c = Client(port, hello=False)
    # Section 2 check 7: before hello, any known request gets not_hello_first whatever its fields.
    expect_error(c, {"t": "fire", "bid": 1.5, "w": 99}, "not_hello_first", "fire before hello")
    expect_error(c, {"t": "ping"}, "not_hello_first", "ping before hello")
    expect_error(c, {"t": "watch", "bid": 5}, "not_hello_first", "watch before hello (rid, bid echoed)", bid=5)
    expect_error(c, {"t": "nope", "bid": 6}, "unknown_type", "unknown type echoes a valid bid", bid=6)
    # Check 6 comes first: an unknown type before hello is unknown_type, with the rid echoed.
    m = expect_error(c, {"t": "nope"}, "unknown_type", "unknown type before hello")
    check("t" in m.get("msg", ""), "unknown_type msg names t", repr(m))
    # A hello with a bad field gets the field's error, and the connection stays open.
    expect_error(c, {"t": "hello", "v": 0, "name": "x"}, "bad_field", "hello v=0", msg_has="v")
    expect_error(c, {"t": "hello", "v": 1}, "missing_field", "hello without name", msg_has="name")
    expect_error(c, {"t": "hello", "name": "x"}, "missing_field", "hello without v", msg_has="v")
    expect_error(c, {"t": "hello", "v": 1, "name": "x" * 33}, "string_too_long", "hello name 33 bytes",
                 msg_has="name")
    expect_error(c, {"t": "hello", "v": 1, "name": b"bin"}, "bad_field", "hello name as bin",
                 msg_has="name")
    expect_error(c, {"t": "hello", "v": 1, "name": "a\x01b"}, "bad_field", "hello name control char",
                 msg_has="name")
    rid = c.send({"t": "hello", "v": 1, "name": "x" * 32, "future_key": [1, {"a": None}]})
    w = c.wait(lambda m: m.get("rid") == rid)
    check(w.get("t") == "welcome", "hello (32-byte name, unknown key) answered welcome", repr(w))
    want = {"v": 1, "frame": 4096, "seats": 4, "watch": 4, "rate": 65535, "turn_ms": 30000,
            "resume_ms": 30000, "idle_ms": 30000, "sframe": 4096}
    for k, v in want.items():
        check(w.get(k) == v, "welcome.%s announces the setting" % k, "got %r want %r" % (w.get(k), v))
    check(isinstance(w.get("srv"), str) and len(w["srv"].encode()) <= 32, "welcome.srv str", repr(w))
    check(isinstance(w.get("burst"), int) and 1 <= w["burst"] <= 65535, "welcome.burst", repr(w))
    expect_error(c, {"t": "hello", "v": 1, "name": "again"}, "already_hello", "second hello")
    # ping / pong: ts echoed, absent when 0 or absent.
    m = c.req({"t": "ping", "ts": 2 ** 63 - 1})
    check(m.get("t") == "pong" and m.get("ts") == 2 ** 63 - 1, "pong echoes ts 2^63-1", repr(m))
    m = c.req({"t": "ping", "ts": 0})
    check(m.get("t") == "pong" and "ts" not in m, "pong without ts when it was 0", repr(m))
    m = c.req({"t": "ping"})
    check(m.get("t") == "pong" and "ts" not in m, "pong without ts when absent", repr(m))
    expect_error(c, {"t": "ping", "ts": 2 ** 63}, "bad_field", "ping ts 2^63", msg_has="ts")
    expect_error(c, {"t": "ping", "ts": -1}, "bad_field", "ping ts -1", msg_has="ts")
    c.close()
    # version_mismatch closes.
    c = Client(port, hello=False)
    c.send({"t": "hello", "v": 2, "name": "future"})
    got = c.drain_until_closed()
    check(got is not None, "version_mismatch closes the connection", "still open")
    errs = [m for m in (got or []) if m.get("t") == "error"]
    check(len(errs) == 1 and errs[0].get("code") == 20 and errs[0].get("rid") == 1,
          "version_mismatch with rid before close", repr(got))
    if errs:
        check("1" in errs[0].get("msg", ""), "version_mismatch msg says which version", repr(errs[0]))


def sc_decoding(port):
    c = Client(port, "dec")
    hdr = lambda body: frame(body)
    # (2) bad msgpack: trailing bytes, reserved byte, truncated string.
    ping = pack({"t": "ping", "rid": 7})
    expect_raw_error(c, hdr(ping + b"\x00"), "bad_msgpack", "trailing bytes")
    expect_raw_error(c, hdr(b"\x81\xa1t\xc1"), "bad_msgpack", "reserved byte 0xc1")
    expect_raw_error(c, hdr(b"\x82\xa1t\xa4ping\xa3rid\xda\x00\x10ab"), "bad_msgpack", "truncated str")
    # (3) honest counts: a map claiming 2^32-1 pairs.
    expect_raw_error(c, hdr(b"\xdf\xff\xff\xff\xff"), "too_many", "map of 2^32-1 pairs")
    expect_raw_error(c, hdr(b"\x81\xa1t\xdd\x00\x01\x00\x00\x01"), "too_many", "array count over the bytes")
    # (4) depth: every object counts, the top map being level 1, so the scalar inside 7 nested
    # arrays is at level 9 (refused) and inside 6 at level 8 (accepted); an empty 8th container
    # is accepted.
    def nest(n, inner):
        for _ in range(n):
            inner = [inner]
        return inner
    m = c.req({"t": "ping", "x": nest(6, 1)})
    check(m.get("t") == "pong", "depth 8 (scalar at level 8) accepted", repr(m))
    m = c.req({"t": "ping", "x": nest(6, [])})
    check(m.get("t") == "pong", "depth 8 (empty array at level 8) accepted", repr(m))
    expect_raw_error(c, hdr(pack({"t": "ping", "rid": 9, "x": nest(7, 1)})), "too_deep",
                     "depth 9 in an ignored key")
    expect_raw_error(c, hdr(pack({"t": "ping", "rid": 9, "x": nest(7, [])})), "too_deep",
                     "depth 9 (empty array) in an ignored key")
    # (5) not a map.
    expect_raw_error(c, hdr(pack(["t", "ping"])), "not_a_map", "array body")
    expect_raw_error(c, hdr(pack(5)), "not_a_map", "int body")
    # (6) type checks, with the rid echoed from here on.
    expect_error(c, {"x": 1}, "missing_field", "no t", msg_has="t")
    expect_error(c, {"t": 5}, "bad_field", "t not str", msg_has="t")
    expect_error(c, {"t": b"ping"}, "bad_field", "t as bin", msg_has="t")
    expect_error(c, {"t": "PING"}, "unknown_type", "t is case-sensitive")
    expect_error(c, {"t": "welcome"}, "unknown_type", "server event type sent to the server")
    expect_raw_error(c, hdr(b"\x83\xa1t\xa4ping\xa3rid\x0b\xa1t\xa4ping"), "bad_field", "t twice",
                     has_rid=11)
    # Checks 2 to 4 are one pass: whichever it meets first.
    deep9 = b"\x91" * 8 + b"\x01"                       # 8 arrays: the scalar at level 10
    expect_raw_error(c, hdr(b"\x82\xa1t\xa4ping\xa1x" + deep9[:-1] + b"\xc1"), "too_deep",
                     "too deep met before the reserved byte")
    expect_raw_error(c, hdr(b"\x83\xa1t\xa4ping\xa1y\xc1\xa1x" + deep9), "bad_msgpack",
                     "reserved byte met before the depth")
    # Invalid UTF-8 in a string, raw.
    expect_raw_error(c, hdr(b"\x84\xa1t\xa5hello\xa3rid\x0c\xa1v\x01\xa4name\xa2\xff\xfe"), "bad_field",
                     "invalid UTF-8 in name", has_rid=12)
    # Frames: two in one write, one over many writes.
    c.send_raw(frame(pack({"t": "ping", "rid": 501})) + frame(pack({"t": "ping", "rid": 502})))
    m1 = c.wait(lambda m: m.get("rid") == 501)
    m2 = c.wait(lambda m: m.get("rid") == 502)
    check(m1.get("t") == m2.get("t") == "pong", "two frames in one write both answered", "")
    data = frame(pack({"t": "ping", "rid": 503, "ts": 7}))
    for i in range(len(data)):
        c.send_raw(data[i:i + 1])
        time.sleep(0.001)
    m = c.wait(lambda m: m.get("rid") == 503)
    check(m.get("t") == "pong" and m.get("ts") == 7, "a frame sent byte by byte is reassembled", repr(m))
    # Non-str keys and unknown keys are ignored.
    m = c.req({"t": "ping", 1: 2, "zz": {"a": [1.5, b"x", None]}})
    check(m.get("t") == "pong", "unknown and non-str keys ignored", repr(m))
    # (8) fields in map order, then missing ones; rid and bid echoed.
    m = expect_error(c, {"t": "fire", "w": 99, "bid": 1.5}, "bad_field", "fields in map order (w first)",
                     msg_has="w")
    m = expect_error(c, {"t": "fire", "bid": 1.5, "w": 99}, "bad_field", "fields in map order (bid first)",
                     msg_has="bid")
    m = expect_error(c, {"t": "fire", "bid": 77, "w": 99}, "bad_field", "bad w with valid bid", bid=77,
                     msg_has="w")
    m = expect_error(c, {"t": "fire", "w": 99}, "bad_field", "a bad field before a missing one",
                     msg_has="w")
    m = expect_error(c, {"t": "fire", "bid": 77}, "missing_field", "fire without w", bid=77, msg_has="w")
    m = expect_error(c, {"t": "watch", "bid": float(2 ** 62)}, "bad_field", "float bid", msg_has="bid")
    check("bid" not in m, "an invalid bid is not echoed", repr(m))
    expect_error(c, {"t": "watch", "bid": 0}, "bad_field", "bid 0", msg_has="bid")
    expect_error(c, {"t": "watch", "bid": 2 ** 63}, "bad_field", "bid 2^63", msg_has="bid")
    expect_error(c, {"t": "watch", "bid": -5}, "bad_field", "bid negative", msg_has="bid")
    # rid out of range is a bad field and is not echoed.
    c.send({"t": "ping", "rid": 2 ** 32}, rid=False)
    m = c.wait(lambda m: m.get("t") == "error")
    check(m.get("code") == 7 and "rid" not in m and "rid" in m.get("msg", ""),
          "rid 2^32 is bad_field, not echoed", repr(m))
    m = c.req({"t": "ping", "rid": 2 ** 32 - 1})
    check(m.get("t") == "pong" and m.get("rid") == 2 ** 32 - 1, "rid 2^32-1 echoed", repr(m))
    # Enums, keys, booleans.
    expect_error(c, {"t": "queue", "ship": "scout", "band": "near"}, "bad_field", "unknown band",
                 msg_has="band")
    expect_error(c, {"t": "queue", "ship": "Scout", "band": "short"}, "bad_field", "ship key upper case",
                 msg_has="ship")
    expect_error(c, {"t": "queue", "ship": "s" * 33, "band": "short"}, "string_too_long",
                 "ship key 33 bytes", msg_has="ship")
    expect_error(c, {"t": "queue", "ship": "battlestar", "band": "short"}, "no_such_ship",
                 "ship not in the table")
    expect_error(c, {"t": "create", "ship": "scout", "band": "short", "vs": "robot"}, "bad_field",
                 "create vs unknown", msg_has="vs")
    expect_error(c, {"t": "create", "ship": "scout", "band": "short", "vs": "ai", "os": "battlestar"},
                 "no_such_ship", "create os not in the table")
    expect_error(c, {"t": "resume", "bid": 5, "seat": 0, "tok": "x" * 16, "last": 0}, "bad_field",
                 "tok as str", bid=5, msg_has="tok")
    expect_error(c, {"t": "resume", "bid": 5, "seat": 0, "tok": b"x" * 15, "last": 0}, "bad_field",
                 "tok bin 15", bid=5, msg_has="tok")
    expect_error(c, {"t": "resume", "bid": 5, "seat": 2, "tok": b"x" * 16, "last": 0}, "bad_field",
                 "resume seat 2", bid=5, msg_has="seat")
    expect_error(c, {"t": "pd", "bid": 5, "mid": 0}, "bad_field", "pd mid 0", bid=5, msg_has="mid")
    expect_error(c, {"t": "fire", "bid": 5, "w": True}, "bad_field", "bool as integer", bid=5, msg_has="w")
    for req, field, name in ((({"t": "queue", "ship": "", "band": "short"}), "ship", "empty ship key"),
                             (({"t": "create", "ship": "scout", "band": "short", "vs": ""}), "vs", "empty vs"),
                             (({"t": "ping", "ts": 1.0}), "ts", "float ts"),
                             (({"t": "queue", "ship": "scout", "band": "SHORT"}), "band", "band upper case"),
                             (({"t": "fire", "bid": 5, "w": -1}), "w", "w -1"),
                             (({"t": "resume", "bid": 5, "seat": 0, "tok": b"x" * 16, "last": 2 ** 32}), "last",
                              "last 2^32")):
        expect_error(c, req, "bad_field", name, msg_has=field)
    m = c.req({"t": "watch", "bid": 2 ** 63 - 1})
    check(m.get("code") == 50 and m.get("bid") == 2 ** 63 - 1, "bid 2^63-1 is valid", repr(m))
    # A 64-bit bid in int 64 form is accepted (no such battle, but decoded).
    body = b"\x84\xa1t\xa5watch\xa3rid\xcd\x01\x00\xa3bid\xd3" + struct.pack(">q", 2 ** 62 + 5) + b"\xa1x\x00"
    c.send_raw(frame(body))
    m = c.wait(lambda m: m.get("rid") == 256)
    check(m.get("code") == 50 and m.get("bid") == 2 ** 62 + 5, "bid as int 64 decoded exactly", repr(m))
    body = b"\x83\xa1t\xa5watch\xa3rid\xcd\x01\x01\xa3bid\xcc\x07"
    c.send_raw(frame(body))
    m = c.wait(lambda m: m.get("rid") == 257)
    check(m.get("code") == 50 and m.get("bid") == 7, "bid as uint 8 accepted", repr(m))
    ping_ok(c, "after decoding errors")
    c.close()


def sc_solo(port):
    c = Client(port, "solo")
    rid = c.send({"t": "create", "ship": "free_trader", "band": "adjacent", "vs": "ai"})
    st = c.wait(lambda m: m.get("t") in ("started", "error"))
    check(st.get("t") == "started" and st.get("rid") == rid, "solo create answered started with rid",
          repr(st)[:200])
    check_started(st, 0, "adjacent", "solo")
    ships = st.get("ships", [{}, {}])
    check(ships[1].get("type") == "scout", "AI flies scout by default vs free_trader", ships[1].get("type"))
    c.cur_bid = st["bid"]
    ended, seen = play_to_end({0: c}, st["bid"], fire0)
    e = ended[0]
    check_ended(e, "solo")
    check(e.get("reason") in ("destroyed", "draw"), "solo ends destroyed or draw", repr(e))
    check_attacks(seen[0], st["ships"], "adjacent", "solo")
    own = [m for m in seen[0] if "rid" in m]
    check(all(m["t"] == "attack" and m["seat"] == 0 for m in own),
          "solo: only our attacks carry a rid", repr([m["t"] for m in own]))
    last_round = max([m["round"] for m in seen[0] if m["t"] == "round"] + [1])
    check(e.get("rounds") in (last_round,), "ended.rounds = round in progress", "%r vs %d" % (e, last_round))
    check(all(x == 0xcf for x in c.raw_bids), "server writes bid as uint 64", repr(set(c.raw_bids)))
    st = c.req({"t": "create", "ship": "free_trader", "band": "short", "vs": "ai", "os": ""})
    if check(st.get("t") == "started" and st["ships"][1]["type"] == "scout", "create os \"\" is the default",
             repr(st)[:200]):
        c.req({"t": "forfeit", "bid": st["bid"]}, want="ended")
    st = c.req({"t": "create", "ship": "free_trader", "band": "short", "vs": "ai", "os": "seeker"},
               want="started")
    check(st["ships"][1]["type"] == "seeker", "os names the AI's ship", st["ships"][1]["type"])
    c.req({"t": "forfeit", "bid": st["bid"]}, want="ended")
    # The other ship pairing: a scout gets a free_trader.
    st = c.req({"t": "create", "ship": "scout", "band": "long", "vs": "ai"}, want="started")
    check(st["ships"][1]["type"] == "free_trader", "AI flies free_trader vs scout", st["ships"][1]["type"])
    check(any(w.get("lr") == 2 for w in st["ships"][0]["w"]), "scout Missiles carry lr 2", repr(st["ships"][0]["w"]))
    m = c.req({"t": "forfeit", "bid": st["bid"]})
    check(m.get("t") == "ended" and m.get("reason") == "forfeit" and m.get("winner") == 1,
          "forfeit: ended with the forfeit's rid, other seat wins", repr(m))
    check(m.get("rounds") == 1, "forfeit in round 1 says rounds 1", repr(m))
    c.close()



def end_turn(seat, c):
    return {"t": "end", "bid": c.cur_bid}


def sc_private(port):
    a = Client(port, "pa")
    cr = a.req({"t": "create", "ship": "free_trader", "band": "adjacent", "vs": "player"}, want="created")
    bid = cr["bid"]
    x = Client(port, "px")
    expect_error(a, {"t": "fire", "bid": bid, "w": 0}, "not_started", "fire in a waiting battle", bid=bid)
    expect_error(a, {"t": "forfeit", "bid": bid}, "not_started", "forfeit of a waiting battle", bid=bid)
    expect_error(x, {"t": "watch", "bid": bid}, "not_started", "watch of a waiting battle", bid=bid)
    expect_error(a, {"t": "join", "bid": bid, "ship": "scout"}, "already_in_battle", "join own battle",
                 bid=bid)
    expect_error(x, {"t": "join", "bid": bid, "ship": "battlestar"}, "no_such_ship", "join unknown ship",
                 bid=bid)
    expect_error(x, {"t": "join", "bid": 12345, "ship": "scout"}, "no_such_battle", "join no battle",
                 bid=12345)
    b = Client(port, "pb")
    jr = b.send({"t": "join", "bid": bid, "ship": "scout"})
    sb = b.wait(lambda m: m.get("t") in ("started", "error"))
    check(sb.get("t") == "started" and sb.get("rid") == jr, "join answered started with rid", repr(sb)[:200])
    sa = a.wait(lambda m: m.get("t") == "started")
    check("rid" not in sa, "creator's started has no rid", repr(sa)[:100])
    check_started(sa, 0, "adjacent", "private seat 0")
    check_started(sb, 1, "adjacent", "private seat 1")
    check(sa.get("tok") == cr["tok"] and sb.get("tok") != cr["tok"], "tokens: creator's kept, joiner's own", "")
    a.cur_bid = b.cur_bid = bid
    expect_error(x, {"t": "join", "bid": bid, "ship": "scout"}, "battle_full", "join a full battle", bid=bid)
    # Spectators: state seat 2, then every event; cap game.max_spectators = 2.
    s1 = Client(port, "ps1")
    st = s1.req({"t": "watch", "bid": bid})
    check(st.get("t") == "state" and st.get("seat") == 2 and st.get("phase") == "running"
          and st.get("seq") == 1 and st.get("round") == 1 and st.get("active") == 0
          and st.get("band") == "adjacent" and isinstance(st.get("ships"), list) and len(st["ships"]) == 2
          and st.get("msl") == [] and st.get("acted") == 0 and st.get("away") == 0
          and st.get("sbonus") == [0, 0] and st.get("tmo") == [0, 0] and isinstance(st.get("turn_ms"), int)
          and isinstance(st.get("rlimit"), int) and st.get("sandu") == 0,
          "watch answered state with every field", repr(st)[:400])
    for sh in st.get("ships", []):
        check_ship(sh, "state")
    expect_error(s1, {"t": "watch", "bid": bid}, "already_in_battle", "watch twice", bid=bid)
    expect_error(a, {"t": "watch", "bid": bid}, "already_in_battle", "watch own battle", bid=bid)
    s2 = Client(port, "ps2")
    s2.req({"t": "watch", "bid": bid}, want="state")
    expect_error(x, {"t": "watch", "bid": bid}, "spectators_full", "third spectator", bid=bid)
    lv = s2.req({"t": "leave", "bid": bid})
    check(lv.get("t") == "left" and lv.get("bid") == bid, "spectator leave answered left with rid", repr(lv))
    m = x.req({"t": "watch", "bid": bid})
    check(m.get("t") == "state", "a freed spectator place can be taken", repr(m)[:100])
    x.req({"t": "leave", "bid": bid}, want="left")
    # Refusals in the running battle.
    y = Client(port, "py")
    expect_error(y, {"t": "fire", "bid": bid, "w": 0}, "not_in_battle", "stranger fires", bid=bid)
    expect_error(y, {"t": "leave", "bid": bid}, "not_in_battle", "stranger leaves", bid=bid)
    expect_error(s1, {"t": "forfeit", "bid": bid}, "not_in_battle", "spectator forfeits", bid=bid)
    expect_error(s1, {"t": "end", "bid": bid}, "not_in_battle", "spectator acts", bid=bid)
    expect_error(b, {"t": "fire", "bid": bid, "w": 0}, "not_your_turn", "inactive seat fires", bid=bid)
    expect_error(b, {"t": "end", "bid": bid}, "not_your_turn", "inactive seat ends", bid=bid)
    expect_error(a, {"t": "fire", "bid": bid, "w": 2}, "no_such_weapon", "fire past the weapon list",
                 bid=bid)
    expect_error(a, {"t": "fire", "bid": bid, "w": 16}, "bad_field", "fire w 16", bid=bid, msg_has="w")
    expect_error(a, {"t": "missile", "bid": bid}, "not_equipped", "missile without a rack", bid=bid)
    expect_error(a, {"t": "sand", "bid": bid}, "not_equipped", "sand without a sandcaster", bid=bid)
    expect_error(b, {"t": "fire", "bid": bid, "w": 2}, "not_your_turn", "inactive seat fires a rack",
                 bid=bid)
    expect_error(b, {"t": "pd", "bid": bid, "mid": 999}, "no_such_missile", "pd on no missile", bid=bid)
    # Reaction: the scout's sandcaster at Adjacent, once per round.
    m = b.req({"t": "sand", "bid": bid})
    check(m.get("t") == "sand_result" and m.get("seat") == 1 and m.get("left") == 19
          and isinstance(m.get("dice"), list) and len(m["dice"]) == 2 and isinstance(m.get("ok"), bool)
          and isinstance(m.get("bonus"), int) and isinstance(m.get("total"), int),
          "sand answered sand_result with rid", repr(m))
    expect_error(b, {"t": "sand", "bid": bid}, "reaction_used", "second sand in a round", bid=bid)
    # A turn action, then a second one by the same seat in the same round.
    m = a.req({"t": "fire", "bid": bid, "w": 0})
    check(m.get("t") == "attack" and m.get("seat") == 0 and m.get("w") == 0, "fire answered attack", repr(m))
    m = expect_error(a, {"t": "fire", "bid": bid, "w": 1}, "already_acted",
                     "second turn action in the same round", bid=bid)
    # Play to the end; the spectator sees every event, in the same order, without rids.
    ended, seen = play_to_end({0: a, 1: b}, bid, fire0, active=1)
    check_ended(ended[0], "private")
    for seat in (0, 1):
        own = [m for m in seen[seat] if "rid" in m]
        check(own and all(m["t"] == "attack" and m["seat"] == seat for m in own),
              "only the requester's copy carries the rid", repr(own)[:200])
    check(ended[0] == ended[1] or {k: v for k, v in ended[0].items() if k != "rid"} ==
          {k: v for k, v in ended[1].items() if k != "rid"}, "both seats get the same ended", "")
    spec = []
    deadline = time.monotonic() + WAIT
    while not spec or spec[-1].get("t") != "ended":
        m = s1.recv(timeout=max(0.01, deadline - time.monotonic()))
        if m is None:
            break
        if m.get("bid") == bid:
            spec.append(m)
    check(spec and spec[-1].get("t") == "ended", "spectator gets ended", repr(spec[-1:]))
    check(all("rid" not in m for m in spec), "spectator's events carry no rid", "")
    check([m["seq"] for m in spec] == list(range(spec[0]["seq"], spec[-1]["seq"] + 1)) if spec else False,
          "spectator gets every seq", "")
    check(spec[-1].get("seq") == ended[0].get("seq"), "spectator's ended has the players' seq", "")
    # After the end: everything gets battle_over; watch one state; join battle_full.
    for c, who in ((a, "former seat"), (s1, "former spectator"), (y, "stranger")):
        expect_error(c, {"t": "fire", "bid": bid, "w": 0}, "battle_over", "fire after end by " + who, bid=bid)
        expect_error(c, {"t": "leave", "bid": bid}, "battle_over", "leave after end by " + who, bid=bid)
        expect_error(c, {"t": "forfeit", "bid": bid}, "battle_over", "forfeit after end by " + who, bid=bid)
    for t in ("missile", "end", "sand"):
        expect_error(a, {"t": t, "bid": bid}, "battle_over", t + " after end", bid=bid)
    expect_error(a, {"t": "pd", "bid": bid, "mid": 1}, "battle_over", "pd after end", bid=bid)
    st = y.req({"t": "watch", "bid": bid})
    check(st.get("t") == "state" and st.get("phase") == "ended" and st.get("seq") == ended[0]["seq"],
          "watch of an ended battle answers one state", repr(st)[:200])
    expect_error(y, {"t": "join", "bid": bid, "ship": "scout"}, "battle_full", "join of an ended battle",
                 bid=bid)
    # resume of an ended battle: what was missed, ended included.
    r = Client(port, "pr")
    r.last[bid] = ended[0]["seq"] - 2
    rid = r.send({"t": "resume", "bid": bid, "seat": 0, "tok": cr["tok"], "last": ended[0]["seq"] - 2})
    m1 = r.wait(lambda m: m.get("bid") == bid)
    m2 = r.wait(lambda m: m.get("bid") == bid)
    check(m1.get("rid") == rid and m1.get("seq") == ended[0]["seq"] - 1 and m2.get("t") == "ended",
          "resume of an ended battle sends what was missed, ended included", "%r %r" % (m1, m2))
    expect_error(r, {"t": "fire", "bid": bid, "w": 0}, "battle_over", "resume of an ended battle gives no seat",
                 bid=bid)
    for c in (a, b, x, y, s1, s2, r):
        c.close()


def sc_leave(port):
    # Creator withdraws a waiting battle: left, battle abandoned.
    a = Client(port, "la")
    cr = a.req({"t": "create", "ship": "scout", "band": "close", "vs": "player"}, want="created")
    bid = cr["bid"]
    rid = a.send({"t": "leave", "bid": bid})
    got = []
    while True:
        m = a.wait(lambda m: m.get("bid") == bid)
        got.append(m)
        if m.get("t") == "left":
            break
    check(got[-1].get("rid") == rid, "leave of a waiting battle: left with rid", repr(got))
    ends = [m for m in got if m.get("t") == "ended"]
    if ends:
        check_ended(ends[0], "withdrawn", "abandoned", None)
        check(ends[0].get("rounds") == 0, "withdrawn battle: rounds 0", repr(ends[0]))
    b = Client(port, "lb")
    m = b.req({"t": "join", "bid": bid, "ship": "scout"})
    check(not ends, "withdrawing: the leaver gets left, not ended", repr(got))
    check(m.get("t") == "error" and m.get("code") == 50, "a withdrawn battle is gone at once (no_such_battle)",
          repr(m))
    # A player leaves a running battle: ended (forfeit, no rid), then left with the rid.
    a2, b2, bid2, sa, sb = new_private(port, "laboratory_ship", "laboratory_ship", "short", "leave")
    rid = b2.send({"t": "leave", "bid": bid2})
    e = b2.wait(lambda m: m.get("bid") == bid2)
    lf = b2.wait(lambda m: m.get("bid") == bid2)
    check(e.get("t") == "ended" and "rid" not in e and e.get("reason") == "forfeit" and e.get("winner") == 0,
          "leave of a running battle: ended forfeit without rid first", repr(e))
    check(lf.get("t") == "left" and lf.get("rid") == rid, "then left with the rid", repr(lf))
    e0 = a2.wait(lambda m: m.get("t") == "ended")
    check(e0.get("reason") == "forfeit" and e0.get("winner") == 0, "opponent gets ended forfeit", repr(e0))
    for c in (a, b, a2, b2):
        c.close()


def sc_missiles(port):
    """Scout vs laboratory ship at Distant: rack missiles, point defense, the Missiles' ammunition,
    out_of_band, the forfeit."""
    a, b, bid, sa, sb = new_private(port, "scout", "laboratory_ship", "distant", "msl")
    expect_error(b, {"t": "fire", "bid": bid, "w": 0}, "not_your_turn", "lab fires out of turn", bid=bid)
    m = a.req({"t": "missile", "bid": bid})
    check(m.get("t") == "mlaunch" and m.get("seat") == 0 and m.get("band") == "distant" and m.get("left") == 11
          and isinstance(m.get("mid"), int) and m["mid"] >= 1, "missile answered mlaunch", repr(m))
    mid = m.get("mid")
    expect_error(a, {"t": "sand", "bid": bid}, "out_of_band", "sand at Distant", bid=bid)
    expect_error(a, {"t": "pd", "bid": bid, "mid": mid}, "no_such_missile", "pd on own missile", bid=bid)
    m = b.req({"t": "pd", "bid": bid, "mid": mid})
    check(m.get("t") == "pd_result" and m.get("seat") == 1 and m.get("mid") == mid
          and isinstance(m.get("ok"), bool), "pd answered pd_result", repr(m))
    pd_ok = m.get("ok")
    if not pd_ok:
        expect_error(b, {"t": "pd", "bid": bid, "mid": mid}, "reaction_used", "second pd on one missile",
                     bid=bid)
    a.wait(lambda m: m.get("t") == "turn" and m.get("bid") == bid)
    expect_error(b, {"t": "fire", "bid": bid, "w": 0}, "no_such_weapon", "fire without weapons", bid=bid)
    expect_error(b, {"t": "missile", "bid": bid}, "not_equipped", "lab: missile without rack", bid=bid)
    rid = b.send({"t": "end", "bid": bid})
    first = b.wait(lambda m: m.get("rid") == rid)
    rnd_ev = first if first.get("t") == "round" else b.wait(lambda m: m.get("t") == "round")
    check(first.get("t") == "round" or "rid" not in rnd_ev, "only the first event carries the rid", repr(rnd_ev))
    check(first.get("rid") == rid and first.get("t") == ("round" if pd_ok else "mmove"),
          "end's rid is on the first event it caused (mmove before round)", repr(first))
    check(rnd_ev.get("round") == 2 and rnd_ev.get("active") == 1 and rnd_ev.get("hull") == [40, 160],
          "round 2: seat 1 first, hulls", repr(rnd_ev))
    # The state of a spectator shows the missile in flight.
    s = Client(port, "mspec")
    st = s.req({"t": "watch", "bid": bid}, want="state")
    if not pd_ok:
        check(len(st.get("msl", [])) == 1 and st["msl"][0].get("id") == mid and st["msl"][0].get("own") == 0
              and st["msl"][0].get("band") == "very_long" and st["msl"][0].get("pd") is False,
              "state.msl lists the missile after its mmove", repr(st.get("msl")))
        mv = a.wait(lambda m: m.get("t") == "mmove")
        check(mv.get("mid") == mid and mv.get("band") == "very_long" and "rid" not in mv,
              "mmove at the round end", repr(mv))
    # Round 2: seat 1 acts first. Then seat 0 fires the Missiles (w 1) in rounds 2..7 (6 rounds).
    shots = 0
    rnd = 2
    while shots < 6 and rnd < 20:
        if rnd % 2 == 0:
            b.req({"t": "end", "bid": bid})
            m = a.req({"t": "fire", "bid": bid, "w": 1})
        else:
            m = a.req({"t": "fire", "bid": bid, "w": 1})
            b.req({"t": "end", "bid": bid})
        if not check(m.get("t") == "attack", "Missiles fire", repr(m)):
            break
        check_attacks([m], sa["ships"], "distant", "Missiles at Distant")
        shots += 1
        rnd += 1
    # Wait for the seat-0 connection to have seen the round change.
    a.wait(lambda m: m.get("t") == "round" and m.get("round") == rnd, WAIT, "round %d" % rnd)
    act0 = (lambda: None) if rnd % 2 == 1 else (lambda: b.req({"t": "end", "bid": bid}))
    act0()
    expect_error(a, {"t": "fire", "bid": bid, "w": 1}, "out_of_ammo", "Missiles after 6 rounds", bid=bid)
    m = a.req({"t": "forfeit", "bid": bid})
    check(m.get("t") == "ended" and m.get("reason") == "forfeit" and m.get("winner") == 1
          and m.get("rounds") == rnd, "forfeit: ended with rid, rounds = round in progress", repr(m))
    for c in (a, b, s):
        c.close()



def lab_round(a, b, bid, active):
    """One round of a weaponless battle: the active seat ends, then the other. Returns the new
    active seat (from the `round` event)."""
    first, second = (a, b) if active == 0 else (b, a)
    m = first.req({"t": "end", "bid": bid})
    check(m.get("t") == "turn", "end answered turn", repr(m))
    m = second.req({"t": "end", "bid": bid})
    check(m.get("t") == "round", "end answered round", repr(m))
    return m["active"]


def sc_resume(port):
    a, b, bid, sa, sb = new_private(port, "laboratory_ship", "laboratory_ship", "medium", "res")
    tok0, tok1 = sa["tok"], sb["tok"]
    spec = Client(port, "rspec")
    spec.req({"t": "watch", "bid": bid}, want="state")
    active = lab_round(a, b, bid, 0)
    # A dropped connection: the opponent and spectators get away.
    b_last = b.last[bid]
    b.close()
    aw = a.wait(lambda m: m.get("t") == "away")
    check(aw.get("seat") == 1 and aw.get("bid") == bid and "rid" not in aw, "opponent gets away", repr(aw))
    spec.wait(lambda m: m.get("t") == "away")
    # Seat 1 is active in round 2: the opponent cannot act; let seat 0 act after the resume.
    # Resume from a new connection with the last seq: every missed event once, then back.
    b2 = Client(port, "rb2")
    b2.last[bid] = b_last
    rid = b2.send({"t": "resume", "bid": bid, "seat": 1, "tok": tok1, "last": b_last})
    first = b2.wait(lambda m: m.get("bid") == bid)
    check(first.get("rid") == rid and first.get("seq") == b_last + 1, "resume: first missed event carries rid",
          repr(first))
    bk = b2.wait(lambda m: m.get("t") == "back")
    check(bk.get("seat") == 1, "resumer gets back among the missed events", repr(bk))
    settle(b2)
    extra = [m for m in b2.backlog if m.get("bid") == bid]
    check(all(m.get("seq", 0) > bk["seq"] for m in extra), "missed events exactly once", repr(extra))
    ab = a.wait(lambda m: m.get("t") == "back")
    check(ab.get("seat") == 1 and "rid" not in ab and ab["seq"] == bk["seq"], "opponent gets back", repr(ab))
    b2.cur_bid = bid
    active = lab_round(a, b2, bid, active)
    # Resume on the connection that holds the seat, and of the other seat: already_in_battle.
    expect_error(b2, {"t": "resume", "bid": bid, "seat": 1, "tok": tok1, "last": 0}, "already_in_battle",
                 "resume on the connection that holds the seat", bid=bid)
    expect_error(b2, {"t": "resume", "bid": bid, "seat": 0, "tok": tok0, "last": 0}, "already_in_battle",
                 "resume of the other seat", bid=bid)
    x = Client(port, "rx")
    expect_error(x, {"t": "resume", "bid": bid, "seat": 1, "tok": tok0, "last": 0}, "bad_token",
                 "resume with the other seat's token", bid=bid)
    expect_error(x, {"t": "resume", "bid": bid, "seat": 1, "tok": b"\0" * 16, "last": 0}, "bad_token",
                 "resume with a wrong token", bid=bid)
    expect_error(x, {"t": "resume", "bid": 99, "seat": 1, "tok": tok1, "last": 0}, "no_such_battle",
                 "resume of no battle", bid=99)
    # seq_gone: last ahead of the battle.
    latest = max(a.last[bid], b2.last[bid])
    expect_error(x, {"t": "resume", "bid": bid, "seat": 1, "tok": tok1, "last": latest + 5}, "seq_gone",
                 "resume with last ahead", bid=bid)
    # After seq_gone, resume with last = 0 (a takeover: the old connection gets left). The history
    # still holds the whole battle (under 27 events), so the answer is every event from started
    # (with this seat and its token), not a state (PROTOCOL.md section 8 as fixed on doc-client).
    rid = x.send({"t": "resume", "bid": bid, "seat": 1, "tok": tok1, "last": 0})
    st = x.wait(lambda m: m.get("rid") == rid)
    check(st.get("t") == "started" and st.get("seq") == 1 and st.get("seat") == 1 and st.get("tok") == tok1,
          "resume last 0 within the history replays from started (this seat, its token)", repr(st)[:300])
    rest = [x.wait(lambda m: m.get("bid") == bid) for _ in range(latest - 1)]
    check([m["seq"] for m in rest] == list(range(2, latest + 1)) and all("rid" not in m for m in rest),
          "resume last 0: every event up to the latest, once", repr([m.get("seq") for m in rest]))
    lf = b2.wait(lambda m: m.get("t") == "left")
    check(lf.get("bid") == bid and "rid" not in lf, "takeover: old connection gets left", repr(lf))
    expect_error(b2, {"t": "end", "bid": bid}, "not_in_battle", "old connection after takeover", bid=bid)
    settle(a)
    a_more = [m for m in a.backlog if m.get("bid") == bid and m.get("t") in ("away", "back")]
    check(not a_more, "takeover is silent for the opponent (no away/back)", repr(a_more))
    x.cur_bid = bid
    # Resume with last = latest (nothing missed): a state.
    y = Client(port, "ry")
    rid = y.send({"t": "resume", "bid": bid, "seat": 1, "tok": tok1, "last": latest})
    st = y.wait(lambda m: m.get("rid") == rid)
    check(st.get("t") == "state" and st.get("seq") == latest, "resume with nothing missed: state", repr(st)[:200])
    x.wait(lambda m: m.get("t") == "left")
    # More than 27 missed: a state. x's view is kept at `mark` while y plays on.
    mark = latest
    for _ in range(15):
        active = lab_round(a, y, bid, active)
    latest = y.last[bid]
    check(latest - mark > 27, "played past the history", "%d" % (latest - mark))
    z = Client(port, "rz")
    rid = z.send({"t": "resume", "bid": bid, "seat": 1, "tok": tok1, "last": mark})
    st = z.wait(lambda m: m.get("rid") == rid)
    check(st.get("t") == "state" and st.get("seq") == latest and st.get("round") == 18,
          "resume past the history: one state", repr(st)[:200])
    # Within the history: exactly the missed events.
    y.wait(lambda m: m.get("t") == "left")
    w = Client(port, "rw")
    w.last[bid] = latest - 3
    rid = w.send({"t": "resume", "bid": bid, "seat": 1, "tok": tok1, "last": latest - 3})
    evs = [w.wait(lambda m: m.get("bid") == bid) for _ in range(3)]
    check([m["seq"] for m in evs] == [latest - 2, latest - 1, latest] and evs[0].get("rid") == rid
          and all("rid" not in m for m in evs[1:]), "resume within the history: the 3 missed events",
          repr(evs))
    z.wait(lambda m: m.get("t") == "left")
    # The spectator saw everything in order (checked by the client's seq tracking) and still follows.
    w.cur_bid = bid
    m = a.req({"t": "forfeit", "bid": bid})
    check(m.get("t") == "ended" and m.get("winner") == 1, "forfeit ends it", repr(m))
    e = w.wait(lambda m: m.get("t") == "ended")
    se = spec.wait(lambda m: m.get("t") == "ended")
    check(e["seq"] == m["seq"] == se["seq"], "everyone gets the same ended", "")
    # Resume of a waiting battle: created.
    c = Client(port, "rc")
    cr = c.req({"t": "create", "ship": "scout", "band": "short", "vs": "player"}, want="created")
    c2 = Client(port, "rc2")
    m = c2.req({"t": "resume", "bid": cr["bid"], "seat": 0, "tok": cr["tok"], "last": 0})
    check(m.get("t") == "created" and m.get("tok") == cr["tok"] and m.get("seat") == 0,
          "resume of a waiting battle answered created", repr(m))
    lf = c.wait(lambda m: m.get("bid") == cr["bid"])
    check(lf.get("t") == "left", "takeover of a waiting battle: old connection gets left", repr(lf))
    c2.req({"t": "leave", "bid": cr["bid"]}, want="left")
    for k in (a, b2, spec, x, y, z, w, c, c2):
        k.close()


def sc_queue(port):
    q1 = Client(port, "q1")
    q2 = Client(port, "q2")
    expect_error(q1, {"t": "cancel"}, "not_queued", "cancel with nothing queued")
    r1 = q1.send({"t": "queue", "ship": "scout", "band": "very_long"})
    m = q1.wait(lambda m: m.get("rid") == r1)
    check(m.get("t") == "queued" and m.get("ship") == "scout" and m.get("band") == "very_long",
          "queue answered queued", repr(m))
    r2 = q2.send({"t": "queue", "ship": "free_trader", "band": "very_long"})
    s2 = q2.wait(lambda m: m.get("rid") == r2)
    s1 = q1.wait(lambda m: m.get("t") == "started")
    check(s2.get("t") == "started" and s2.get("seat") == 1, "matching queue: started at once, seat 1",
          repr(s2)[:150])
    check(s1.get("rid") == r1 and s1.get("seat") == 0, "waiting entry: seat 0, started with its queue rid",
          repr(s1)[:150])
    check_started(s1, 0, "very_long", "queue seat 0")
    check_started(s2, 1, "very_long", "queue seat 1")
    check(s1["bid"] == s2["bid"] and s1["ships"][0]["type"] == "scout", "one battle, seat 0 the scout", "")
    q1.req({"t": "forfeit", "bid": s1["bid"]}, want="ended")
    # Different bands do not match; cancel removes every entry of the connection.
    r = q1.req({"t": "queue", "ship": "scout", "band": "close"}, want="queued")
    r = q1.req({"t": "queue", "ship": "scout", "band": "long"}, want="queued")
    m = q2.req({"t": "queue", "ship": "scout", "band": "medium"}, want="queued")
    m = q1.req({"t": "cancel"})
    check(m.get("t") == "unqueued", "cancel answered unqueued with rid", repr(m))
    expect_error(q1, {"t": "cancel"}, "not_queued", "second cancel")
    m = q2.req({"t": "cancel"}, want="unqueued")
    # One connection queues twice for one band: never both seats of one battle.
    m1 = q1.req({"t": "queue", "ship": "scout", "band": "adjacent"})
    m2 = q1.req({"t": "queue", "ship": "scout", "band": "adjacent"})
    check(m1.get("t") == "queued" and m2.get("t") in ("queued", "error"),
          "a second entry of one connection is kept apart", "%r %r" % (m1, m2))
    settle(q1)
    st = [m for m in q1.backlog if m.get("t") == "started"]
    check(not st, "one connection is never matched with itself", repr(st)[:200])
    q1.req({"t": "cancel"}, want="unqueued")
    q1.close()
    q2.close()


def sc_seats(port):
    """welcome.seats = 4: seats, spectator places and queue entries together."""
    c = Client(port, "seats")
    bids = []
    for i in range(3):
        bids.append(c.req({"t": "create", "ship": "scout", "band": "short", "vs": "ai"}, want="started")["bid"])
    c.req({"t": "queue", "ship": "scout", "band": "distant"}, want="queued")
    expect_error(c, {"t": "create", "ship": "scout", "band": "short", "vs": "ai"}, "too_many_seats",
                 "create past seats")
    expect_error(c, {"t": "queue", "ship": "scout", "band": "short"}, "too_many_seats", "queue past seats")
    o = Client(port, "seats-o")
    cr = o.req({"t": "create", "ship": "scout", "band": "short", "vs": "player"}, want="created")
    expect_error(c, {"t": "join", "bid": cr["bid"], "ship": "scout"}, "too_many_seats", "join past seats",
                 bid=cr["bid"])
    st = o.req({"t": "create", "ship": "scout", "band": "short", "vs": "ai"}, want="started")
    expect_error(c, {"t": "watch", "bid": st["bid"]}, "too_many_seats", "watch past seats", bid=st["bid"])
    done = o.req({"t": "create", "ship": "scout", "band": "short", "vs": "ai"}, want="started")
    o.req({"t": "forfeit", "bid": done["bid"]}, want="ended")
    expect_error(c, {"t": "watch", "bid": done["bid"]}, "too_many_seats",
                 "watch of an ended battle still needs a free place", bid=done["bid"])
    c.req({"t": "cancel"}, want="unqueued")
    m = c.req({"t": "watch", "bid": done["bid"]})
    check(m.get("t") == "state" and m.get("phase") == "ended", "watch of an ended battle: one state", repr(m)[:100])
    m = c.req({"t": "watch", "bid": st["bid"]})
    check(m.get("t") == "state", "a cancelled entry frees its place (the ended watch took none)", repr(m)[:100])
    c.req({"t": "forfeit", "bid": bids[0]}, want="ended")
    m = c.req({"t": "join", "bid": cr["bid"], "ship": "scout"})
    check(m.get("t") == "started", "an ended battle frees its seat", repr(m)[:100])
    c.close()
    o.close()




def sc_strike(port):
    """A missile launched at Adjacent strikes at the end of its round (mhit: 4D6, armour ignored);
    point defense that destroys a missile removes it; the state shows away and timer counts."""
    a, b, bid, sa, sb = new_private(port, "scout", "patrol_corvette", "adjacent", "strike")
    m = a.req({"t": "missile", "bid": bid})
    check(m.get("t") == "mlaunch" and m.get("band") == "adjacent", "mlaunch at Adjacent", repr(m))
    after = m["seq"] + 1  # the launch, then the turn it passes to seat 1
    rid = b.send({"t": "end", "bid": bid})
    evs = []
    while not evs or evs[-1].get("t") not in ("round", "ended"):
        evs.append(b.wait(lambda m: m.get("bid") == bid and m.get("seq", 0) > after
                          and m.get("t") in BATTLE_EVENTS))
    hits = [e for e in evs if e.get("t") == "mhit"]
    check(len(hits) == 1 and hits[0].get("seat") == 1 and len(hits[0].get("dice", [])) == 4
          and all(1 <= d <= 6 for d in hits[0]["dice"]) and hits[0].get("dmg") == sum(hits[0]["dice"])
          and hits[0].get("hull") == 160 - hits[0]["dmg"],
          "mhit at the end of the launch round: 4D6, armour ignored", repr(evs))
    check(evs[0].get("rid") == rid, "end's rid on the first event it caused", repr(evs[0]))
    # Round 2: the corvette (seat 1) launches at the scout; the scout tries point defense until the
    # missile is destroyed or the round ends.
    m = b.req({"t": "missile", "bid": bid})
    mid = m.get("mid")
    check(m.get("t") == "mlaunch" and m.get("seat") == 1, "corvette launches", repr(m))
    r = a.req({"t": "pd", "bid": bid, "mid": mid})
    check(r.get("t") == "pd_result" and r.get("seat") == 0 and len(r.get("dice", [])) == 2,
          "pd_result", repr(r))
    if r.get("ok"):
        expect_error(a, {"t": "pd", "bid": bid, "mid": mid}, "no_such_missile", "pd on a destroyed missile",
                     bid=bid)
    else:
        expect_error(a, {"t": "pd", "bid": bid, "mid": mid}, "reaction_used", "pd twice on one missile",
                     bid=bid)
    # A dropped seat shows in a spectator's state (away bit).
    s = Client(port, "sspec")
    b.close()
    a.wait(lambda m: m.get("t") == "away")
    st = s.req({"t": "watch", "bid": bid}, want="state")
    check(st.get("away") == 2 and st.get("acted") == 2 and st.get("active") == 0,
          "state: away bit 1, seat 1 acted, seat 0 active", repr(st)[:300])
    # Seat cap on resume: a connection with every place taken gets too_many_seats.
    f = Client(port, "full")
    for _ in range(4):
        f.req({"t": "queue", "ship": "scout", "band": "distant"})
    expect_error(f, {"t": "resume", "bid": bid, "seat": 1, "tok": sb["tok"], "last": 0}, "too_many_seats",
                 "resume past seats", bid=bid)
    f.req({"t": "cancel"}, want="unqueued")
    m = a.req({"t": "forfeit", "bid": bid})
    check(m.get("t") == "ended", "strike: forfeit", repr(m))
    for c in (a, s, f):
        c.close()


# ---------------------------------------------------------------------------------------------
# Scenarios with their own server.
LIMITS_SETS = {"server.max_frame": "256", "ratelimit.actions_per_sec": "2", "ratelimit.burst": "4",
               "ratelimit.abuse_refusals": "6", "server.hello_timeout_ms": "400",
               "server.idle_timeout_ms": "1500", "game.turn_timer_ms": "400",
               "game.resume_window_ms": "700", "game.ai_think_ms": "0", "server.drain_timeout_ms": "500",
               "server.output_cap": "4096"}


def closed_after(c, seconds, name):
    """Waits (bounded) for the server to close c; returns (elapsed, messages read)."""
    t0 = time.monotonic()
    got = c.drain_until_closed(seconds)
    check(got is not None, name + ": connection closed", "still open after %.1f s" % seconds)
    return time.monotonic() - t0, got or []


def sc_limits(srv):
    port = srv.wait_port()
    c = Client(port, "lim")
    w = c.welcome
    for k, v in {"frame": 256, "rate": 2, "burst": 4, "turn_ms": 400, "resume_ms": 700, "idle_ms": 1500,
                 "sframe": 4096}.items():
        check(w.get(k) == v, "limits: welcome.%s announces the setting" % k, "got %r want %r" % (w.get(k), v))
    # A frame of exactly max_frame is read; the server's own frames may be larger (started).
    body = pack({"t": "ping", "rid": 77, "pad": ""})
    body = pack({"t": "ping", "rid": 77, "pad": "x" * (256 - len(body) - 1)})
    if len(body) != 256:
        body = pack({"t": "ping", "rid": 77, "pad": "x" * (256 - len(body) + 255 - len(body))})
    check(len(body) == 256, "test frame is 256 bytes", "%d" % len(body))
    c.send_raw(frame(body))
    m = c.wait(lambda m: m.get("rid") == 77)
    check(m.get("t") == "pong", "a frame of exactly max_frame is accepted", repr(m))
    # A request refused by decoding takes no token: 8 bad fires, then the 4 tokens of the burst.
    k = Client(port, "tok")
    st = k.req({"t": "create", "ship": "free_trader", "band": "adjacent", "vs": "ai"}, want="started")
    for _ in range(8):
        expect_error(k, {"t": "fire", "bid": st["bid"], "w": 99}, "bad_field", "bad fire (no token)")
    codes = [k.req({"t": "end", "bid": st["bid"]}).get("code") for _ in range(5)]
    check(23 not in codes[:4] and codes[4] == 23, "decoding refusals take no token; the 5th action is "
          "rate_limited", repr(codes))
    k.close()
    # Rate limit: burst 4, then rate_limited; ping, queue and the like never use tokens.
    st = c.req({"t": "create", "ship": "free_trader", "band": "adjacent", "vs": "ai"}, want="started")
    bid = st["bid"]
    rids = [c.send({"t": "end", "bid": bid}) for _ in range(6)]
    replies = [c.wait(lambda m, r=r: m.get("rid") == r) for r in rids]
    codes = [m.get("code") if m.get("t") == "error" else m.get("t") for m in replies]
    check(codes[4:] == [23, 23] and 23 not in codes[:4], "burst 4: the 5th and 6th requests are rate_limited",
          repr(codes))
    check(all(m.get("bid") == bid for m in replies if m.get("t") == "error"), "rate_limited echoes bid",
          repr(replies[4:]))
    for i in range(6):
        m = c.req({"t": "ping"})
        check(m.get("t") == "pong", "ping never rate-limited", repr(m))
    # Refill: 2 per second, so after 0.6 s at least one token is back.
    time.sleep(0.6)
    m = c.req({"t": "end", "bid": bid})
    check(not (m.get("t") == "error" and m.get("code") == 23), "the bucket refills at rate", repr(m))
    # Abuse: abuse_refusals (6) refusals within 10 s disconnect (2 counted above).
    n = 0
    got = None
    try:
        for i in range(20):
            r = c.send({"t": "end", "bid": bid})
            m = c.wait(lambda m, r=r: m.get("rid") == r, 2.0)
            if m.get("code") == 23:
                n += 1
    except (Closed, TimeoutError, OSError):
        got = n
    check(got is not None, "abuse: repeated rate_limited refusals disconnect", "not closed after 20")
    check(got is not None and got + 2 == 6, "abuse: the abuse_refusals-th refusal is answered, then closed",
          repr(got))
    c.close()
    # Frame length 0 and over max_frame: error without rid, then close; decided on the 4 length bytes.
    for n, code, name in ((0, "bad_frame", "length 0"), (257, "frame_too_large", "length max_frame+1"),
                          (0xffffffff, "frame_too_large", "length 2^32-1")):
        k = Client(port, "fr")
        k.send_raw(struct.pack(">I", n))
        el, got = closed_after(k, WAIT, name)
        errs = [m for m in got if m.get("t") == "error"]
        check(len(errs) == 1 and errs[0].get("err") == code and "rid" not in errs[0],
              name + ": %s then close, on the length alone" % code, repr(got))
    # hello deadline: not_hello_first, then close.
    k = Client(port, "late", hello=False)
    el, got = closed_after(k, 3.0, "hello timeout")
    check([m.get("err") for m in got] == ["not_hello_first"] and el >= 0.3,
          "hello timeout: not_hello_first then close", "%r after %.2f s" % (got, el))
    # Idle timeout: closed after idle_ms without a frame; pings keep a connection open.
    k = Client(port, "idle")
    p = Client(port, "pinger", ping_every=0.4)
    t0 = time.monotonic()
    got = []
    ok = True
    while time.monotonic() - t0 < 4.0:
        try:
            m = k.recv(0.05)
            if m is not None:
                got.append(m)
        except Closed:
            break
        try:
            p.recv(0.05)  # reads pongs and sends a ping every 0.4 s
        except Closed:
            ok = False
    el = time.monotonic() - t0
    check(k.closed and 1.2 <= el <= 3.5, "idle: closed after about idle_ms", "%.2f s" % el)
    check(got == [], "idle close: no message before it", repr(got))
    try:
        m = p.req({"t": "ping", "ts": 5}, timeout=2.0)
        ok = ok and m.get("t") == "pong"
    except (Closed, TimeoutError):
        ok = False
    check(ok, "a client that pings every idle_ms/3 stays open", "")
    k = Client(port, "", hello=True)
    check(k.welcome.get("t") == "welcome", "hello with an empty name (0 bytes allowed)", repr(k.welcome))
    k.close()
    p.close()
    # Turn timer: three expiries in a row lose (reason timeout), each announced by timeout.
    t = Client(port, "timer", ping_every=0.4)
    st = t.req({"t": "create", "ship": "free_trader", "band": "adjacent", "vs": "ai"}, want="started")
    tos = []
    e = None
    evs = []
    deadline = time.monotonic() + 6.0
    while e is None and time.monotonic() < deadline:
        m = t.recv(0.2)
        if m and m.get("bid") == st["bid"]:
            evs.append(m)
        if m and m.get("t") == "timeout":
            tos.append(m)
        elif m and m.get("t") == "ended":
            e = m
    after = [evs[i + 1] for i, m in enumerate(evs[:-1]) if m.get("t") == "timeout" and m.get("n", 0) < 3]
    check(len(after) == 2 and all(m.get("t") == "attack" and m.get("seat") == 0 and m.get("w") == 0
                                  and "rid" not in m for m in after),
          "after a timeout comes the default action (fire weapon 0), without rid", repr(after))
    check([m.get("n") for m in tos] == [1, 2, 3] and all(m.get("seat") == 0 for m in tos),
          "turn timer: timeout n 1, 2, 3 for the idle seat", repr(tos))
    check(e is not None and e.get("reason") == "timeout" and e.get("winner") == 1,
          "three expiries lose (reason timeout)", repr(e))
    t.close()
    # Output cap: a client that does not read is cut off once its unsent output passes the cap.
    k = socket.socket()
    k.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    k.settimeout(0.5)
    k.connect(("127.0.0.1", port))
    k.sendall(frame(pack({"t": "hello", "v": 1, "name": "slow"})))
    chunk = frame(pack({"t": "ping", "ts": 2 ** 62})) * 4000
    t0 = time.monotonic()
    cut = False
    while time.monotonic() - t0 < 5.0 and not cut:
        try:
            k.sendall(chunk)
        except OSError:  # reset by the server (or a send that blocks because it stopped reading)
            cut = True
    if cut:
        k.settimeout(2.0)
        try:
            while k.recv(65536):
                pass
        except OSError:
            pass
    check(cut, "a client that does not read is cut off (output_cap)", "still open after 5 s")
    k.close()
    ping_ok(Client(port, "after-cap"), "output cap")
    # Resume window: a dropped seat loses (disconnect) after resume_ms.
    a, b, bid, sa, sb = new_private(port, "laboratory_ship", "laboratory_ship", "short", "win")
    a.ping_every = 0.4
    a.req({"t": "end", "bid": bid}, want="turn")
    b.close()
    aw = a.wait(lambda m: m.get("t") == "away")
    t0 = time.monotonic()
    e = a.wait(lambda m: m.get("t") == "ended", 4.0)
    el = time.monotonic() - t0
    check(e.get("reason") == "disconnect" and e.get("winner") == 0, "away past resume_ms: ended disconnect",
          repr(e))
    check(0.5 <= el <= 2.5, "disconnect after about resume_ms", "%.2f s" % el)
    a.close()



DRAIN_SETS = {"server.drain_timeout_ms": "1500", "game.ai_think_ms": "0", "ratelimit.actions_per_sec": "0"}


def sc_drain(srv):
    """SIGUSR1 (a drain; SIGTERM is a restart by default): what each kind of client is told (section 9 server_draining, section 6 ended)."""
    port = srv.wait_port()
    a, b, bid, sa, sb = new_private(port, "laboratory_ship", "laboratory_ship", "short", "drain")
    sp = Client(port, "dsp")
    sp.req({"t": "watch", "bid": bid}, want="state")
    w = Client(port, "dw")
    cr = w.req({"t": "create", "ship": "scout", "band": "short", "vs": "player"}, want="created")
    q = Client(port, "dq")
    qrid = q.send({"t": "queue", "ship": "scout", "band": "distant"})
    q.wait(lambda m: m.get("rid") == qrid)
    i = Client(port, "di")
    t0 = time.monotonic()
    srv.proc.send_signal(signal.SIGUSR1)
    for c in (a, b, sp, w, q, i):
        m = c.wait(lambda m: m.get("t") == "error" and "rid" not in m, WAIT, "the drain notice")
        check(m.get("code") == 80 and m.get("err") == "server_draining" and "bid" not in m
              and "1500" in m.get("msg", ""), "drain: every client told server_draining (no rid), msg "
              "with drain_timeout_ms", repr(m))
    m = q.wait(lambda m: m.get("rid") == qrid, WAIT, "the queue entry's answer")
    check(m.get("t") == "error" and m.get("code") == 80, "drain: a queue entry is answered server_draining "
          "with its rid", repr(m))
    for req, name in (({"t": "create", "ship": "scout", "band": "short", "vs": "ai"}, "create"),
                      ({"t": "queue", "ship": "scout", "band": "short"}, "queue"),
                      ):
        m = i.req(req)
        check(m.get("t") == "error" and m.get("code") == 80, "drain: %s refused server_draining" % name,
              repr(m)[:200])
    # The waiting battle ended at the drain's start and is gone (not kept, as when withdrawn).
    m = i.req({"t": "join", "bid": cr["bid"], "ship": "scout"})
    check(m.get("t") == "error" and m.get("code") == 50, "drain: a waiting battle is gone at once", repr(m))
    m = i.req({"t": "ping", "ts": 9})
    check(m.get("t") == "pong", "drain: ping still answered", repr(m))
    m = a.req({"t": "end", "bid": bid})
    check(m.get("t") == "turn", "drain: running battles go on", repr(m))
    # The game port no longer accepts connections; a connection already open can still resume.
    try:
        socket.create_connection(("127.0.0.1", port), timeout=WAIT).close()
        refused = False
    except OSError:
        refused = True
    check(refused, "drain: new connections are refused", "")
    rid = i.send({"t": "resume", "bid": bid, "seat": 1, "tok": sb["tok"], "last": 0})
    m = i.wait(lambda m: m.get("rid") == rid)
    check(m.get("t") == "started", "drain: resume still works", repr(m)[:200])
    b.wait(lambda m: m.get("t") == "left")
    # Running battles end as shutdown after drain_timeout_ms; the waiting one at once; then close.
    ew = w.wait(lambda m: m.get("t") == "ended")
    check(ew.get("bid") == cr["bid"] and ew.get("reason") == "shutdown" and ew.get("winner") is None
          and ew.get("rounds") == 0, "drain: a waiting battle ends shutdown, rounds 0", repr(ew))
    for c in (a, i, sp):  # i holds seat 1 now
        e = c.wait(lambda m: m.get("t") == "ended", 5.0)
        check(e.get("reason") == "shutdown" and e.get("winner") is None, "drain: running battle ends shutdown",
              repr(e))
    el = time.monotonic() - t0
    check(el >= 1.3, "drain: running battles had drain_timeout_ms", "%.2f s" % el)
    for c in (a, b, sp, w, q, i):
        got = c.drain_until_closed(8.0)
        check(got is not None, "drain: connections closed at the end", repr(got))
    rc = srv.proc.wait(10)
    check(rc == 0, "drain: battled exits 0", repr(rc))


BUSY_SETS = {"server.max_connections": "2", "game.round_limit": "2", "game.idle_battle_ms": "1000",
             "game.turn_timer_ms": "0", "game.ai_think_ms": "0"}


def sc_busy(srv):
    port = srv.wait_port()
    c1 = Client(port, "b1")
    c2 = Client(port, "b2")
    c3 = Client(port, "b3", hello=False)
    got = c3.drain_until_closed(WAIT)
    check(got is not None and [m.get("err") for m in got] == ["server_busy"] and "rid" not in got[0],
          "past max_connections: server_busy, then closed", repr(got))
    ping_ok(c1, "busy")
    check(c1.welcome.get("turn_ms") == 0, "welcome.turn_ms 0 = timer off", repr(c1.welcome))
    # Round limit 2: a draw when round 2 ends; rlimit announced in started.
    st = c1.req({"t": "create", "ship": "laboratory_ship", "band": "long", "vs": "ai"}, want="started")
    check(st.get("rlimit") == 2, "started.rlimit = game.round_limit", repr(st.get("rlimit")))
    c1.cur_bid = st["bid"]
    ended, seen = play_to_end({0: c1}, st["bid"], end_turn)
    check_ended(ended[0], "round limit", "draw", None)
    check(ended[0].get("rounds") == 2, "draw at rlimit 2 says rounds 2", repr(ended[0]))
    # No action for game.idle_battle_ms: abandoned, to the seat holder (c2 pings to stay open).
    st = c2.req({"t": "create", "ship": "scout", "band": "long", "vs": "ai"}, want="started")
    t0 = time.monotonic()
    c2.ping_every = 0.3
    e = c2.wait(lambda m: m.get("t") == "ended", 4.0)
    check_ended(e, "idle battle", "abandoned", None)
    check(time.monotonic() - t0 >= 0.8, "abandoned after about idle_battle_ms", "%.2f" % (time.monotonic() - t0))
    c1.close()
    c2.close()



def tls_sets(src):
    """Makes a development certificate with scripts/gen-dev-cert; None when openssl is missing."""
    if not shutil.which("openssl"):
        return None
    d = tempfile.mkdtemp(prefix="docclient-cert-")
    TEMP_DIRS.append(d)
    r = subprocess.run([os.path.join(src, "scripts", "gen-dev-cert"), d, "--force"], capture_output=True,
                       timeout=30)
    if r.returncode != 0:
        return None
    return {"tls.listen": "127.0.0.1:0", "tls.cert": os.path.join(d, "cert.pem"),
            "tls.key": os.path.join(d, "key.pem"), "game.ai_think_ms": "0", "server.max_connections": "1"}


def sc_tls(srv):
    """Section 1: the TLS port on the port file's second line, TLS 1.2 only, same bytes inside."""
    srv.wait_port()
    deadline = time.monotonic() + 5.0
    lines = []
    while time.monotonic() < deadline and len(lines) < 2:
        with open(srv.portfile) as f:
            lines = [l.strip() for l in f.read().splitlines() if l.strip()]
        time.sleep(0.02)
    if not check(len(lines) == 2, "tls: port file holds the clear port, then the TLS port", repr(lines)):
        return
    tport = int(lines[1])
    ca = srv.sets["tls.cert"]
    # A TLS 1.3-only client is refused in the handshake (first: server.max_connections is 1 here).
    ctx13 = ssl.create_default_context(cafile=ca)
    ctx13.minimum_version = ssl.TLSVersion.TLSv1_3
    raw = socket.create_connection(("127.0.0.1", tport), timeout=WAIT)
    try:
        ctx13.wrap_socket(raw, server_hostname="localhost").close()
        refused = False
    except (ssl.SSLError, OSError):
        refused = True
    raw.close()
    check(refused, "tls: TLS 1.3 only is refused (TLS 1.2 only)", "")
    ctx = ssl.create_default_context(cafile=ca)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    # Poll until the refused connection's place is free again (the server closes it itself).
    tsock = None
    deadline = time.monotonic() + WAIT
    while tsock is None and time.monotonic() < deadline:
        raw = socket.create_connection(("127.0.0.1", tport), timeout=WAIT)
        try:
            tsock = ctx.wrap_socket(raw, server_hostname="localhost")
        except (ssl.SSLError, OSError):
            raw.close()
            time.sleep(0.05)
    if not check(tsock is not None, "tls: a TLS 1.2 handshake succeeds", ""):
        return
    check(tsock.version() == "TLSv1.2", "tls: TLS 1.2 negotiated", tsock.version())
    c = Client(tport, "tls", sock=tsock)
    check(c.welcome.get("t") == "welcome", "tls: hello/welcome inside TLS", repr(c.welcome))
    st = c.req({"t": "create", "ship": "scout", "band": "short", "vs": "ai"}, want="started")
    m = c.req({"t": "forfeit", "bid": st["bid"]})
    check(m.get("t") == "ended", "tls: a battle inside TLS", repr(m))
    # Past server.max_connections (1): closed during the handshake, without a server_busy frame.
    raw = socket.create_connection(("127.0.0.1", tport), timeout=WAIT)
    try:
        t2 = ctx.wrap_socket(raw, server_hostname="localhost")
        t2.settimeout(WAIT)
        data = t2.recv(4096)  # a handshake that completed would still have to deliver nothing
        refused = data == b""
    except (ssl.SSLError, OSError):
        refused = True
    raw.close()
    check(refused, "tls: a connection over max_connections is closed in the handshake, no frame", "")
    c.close()



ADDR_SETS = {"server.max_conns_per_addr": "3", "server.max_handshakes_per_addr": "1"}


def sc_addr(srv):
    """Section 11: per-source-address caps on the native port: server_busy, then closed."""
    port = srv.wait_port()
    h1 = Client(port, "h1", hello=False)
    h2 = Client(port, "h2", hello=False)
    got = h2.drain_until_closed(WAIT)
    check(got is not None and [m.get("err") for m in got] == ["server_busy"],
          "a second connection before hello past max_handshakes_per_addr: server_busy, closed", repr(got))
    m = h1.req({"t": "hello", "v": 1, "name": "h1"})
    check(m.get("t") == "welcome", "the first one still says hello", repr(m))
    c2 = Client(port, "c2")
    c3 = Client(port, "c3")
    c4 = Client(port, "c4", hello=False)
    got = c4.drain_until_closed(WAIT)
    check(got is not None and [m.get("err") for m in got] == ["server_busy"],
          "a connection past max_conns_per_addr: server_busy, closed", repr(got))
    c3.close()
    # A place freed is taken again (poll: the server notices the close a little later).
    deadline = time.monotonic() + WAIT
    ok = False
    while not ok and time.monotonic() < deadline:
        try:
            k = Client(port, "c5")
            ok = k.welcome.get("t") == "welcome"
            k.close()
        except (Closed, TimeoutError, OSError):
            time.sleep(0.05)
    check(ok, "a closed connection frees its place for the address", "")
    for c in (h1, c2):
        c.close()



WS_SETS = {"ws.listen": "127.0.0.1:0", "server.max_frame": "256", "server.hello_timeout_ms": "500",
           "game.ai_think_ms": "0"}


def sc_ws(srv):
    srv.wait_port()
    with open(srv.sets["ws.port_file"]) as f:
        port = int(f.readline())
    # Offers of a subprotocol and of permessage-deflate are declined by not answering them.
    sock, status, hdrs, _ = ws_upgrade(port, extra="Sec-WebSocket-Protocol: battled\r\n"
                                       "Sec-WebSocket-Extensions: permessage-deflate\r\n")
    check(status == 101 and "sec-websocket-protocol" not in hdrs and "sec-websocket-extensions" not in hdrs,
          "ws: 101 without subprotocol or extensions", repr(hdrs))
    sock.close()
    for kw, want, name in (({"path": "/other"}, 404, "upgrade on another path"),
                           ({"version": "12"}, 426, "Sec-WebSocket-Version 12"),
                           ({"key": False}, 400, "no Sec-WebSocket-Key")):
        sock, status, hdrs, _ = ws_upgrade(port, **kw)
        check(status == want, "ws: %s answered %d" % (name, want), "%r %r" % (status, hdrs))
        if want == 426:
            check(hdrs.get("sec-websocket-version") == "13", "ws: 426 names version 13", repr(hdrs))
        sock.close()
    c = WSClient(port)
    check(c.welcome.get("frame") == 256, "ws: welcome over WebSocket", repr(c.welcome))
    st = c.req({"t": "create", "ship": "scout", "band": "short", "vs": "ai"}, want="started")
    m = c.req({"t": "forfeit", "bid": st["bid"]})
    check(m.get("t") == "ended", "ws: a battle (started over 256 bytes) over WebSocket", repr(m))
    # A fragmented message, with a ping between the fragments.
    body = pack({"t": "ping", "rid": 900, "ts": 11})
    c.send_raw(ws_frame(0x2, body[:5], fin=False) + ws_frame(0x9, b"hi") + ws_frame(0x0, body[5:]))
    m = c.wait(lambda m: m.get("rid") == 900)
    check(m.get("t") == "pong" and m.get("ts") == 11, "ws: a fragmented message is one request", repr(m))
    check(c.pongs == [b"hi"], "ws: a ping gets a pong with its payload", repr(c.pongs))
    # An empty message is a bad body: an error, the connection stays.
    c.send_raw(ws_frame(0x2, b""))
    m = c.wait(lambda m: m.get("t") == "error")
    check("rid" not in m, "ws: an empty message gets an error", repr(m))
    ping_ok(c, "ws after an empty message")
    # A message over max_frame: 1009.
    c.send_raw(ws_frame(0x2, b"\x80" + b"\x00" * 256))
    got = c.drain_until_closed(WAIT)
    check(got is not None and c.close_code == 1009, "ws: a message over max_frame closes 1009",
          "%r %r" % (c.close_code, got))
    # A text message: 1003.
    c = WSClient(port)
    c.send_raw(ws_frame(0x1, b"{}"))
    c.drain_until_closed(WAIT)
    check(c.close_code == 1003, "ws: a text message closes 1003", repr(c.close_code))
    # An unmasked frame: 1002.
    c = WSClient(port)
    c.send_raw(ws_frame(0x2, pack({"t": "ping"}), mask=False))
    c.drain_until_closed(WAIT)
    check(c.close_code == 1002, "ws: an unmasked frame closes 1002", repr(c.close_code))
    # No hello in time: not_hello_first, then 1008.
    c = WSClient(port, hello=False)
    got = c.drain_until_closed(3.0)
    check(got is not None and [m.get("err") for m in got] == ["not_hello_first"] and c.close_code == 1008,
          "ws: no hello in time: not_hello_first then close 1008", "%r %r" % (got, c.close_code))
    # The client's close is answered with the same code.
    c = WSClient(port)
    c.send_raw(ws_frame(0x8, struct.pack(">H", 1000)))
    c.drain_until_closed(WAIT)
    check(c.close_code == 1000, "ws: a client's close is answered with its code", repr(c.close_code))
    # Drain (SIGUSR1): server_draining, then close 1001.
    c = WSClient(port)
    srv.proc.send_signal(signal.SIGUSR1)
    got = c.drain_until_closed(8.0)
    check(got is not None and [m.get("err") for m in got] == ["server_draining"] and c.close_code == 1001,
          "ws: drain: server_draining then close 1001", "%r %r" % (got, c.close_code))
    check(srv.proc.wait(10) == 0, "ws: battled exits 0", "")


# ---------------------------------------------------------------------------------------------
def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    binary = os.path.abspath(argv[1])
    src = argv[2] if len(argv) > 2 else os.path.normpath(os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "..", ".."))
    only = os.environ.get("DOC_CLIENT_ONLY", "")
    servers = []
    try:
        main_srv = Server(binary, src, "main", MAIN_SETS)
        servers.append(main_srv)
        extra = [(name, sets, fn) for name, sets, fn in OWN_SERVER_SCENARIOS
                 if not only or name in only.split(",")]
        if not only or "tls" in only.split(","):
            sets = tls_sets(src)
            if sets is None:
                check(os.environ.get("CI") != "true", "tls: openssl and scripts/gen-dev-cert available", "")
                print("doc_client: TLS scenario skipped (no openssl)")
            else:
                extra.append(("tls", sets, sc_tls))
        started = []
        for name, sets, fn in extra:
            s = Server(binary, src, name, sets)
            servers.append(s)
            started.append((s, fn))
        port = main_srv.wait_port()
        for name, fn in MAIN_SCENARIOS:
            if only and name not in only.split(","):
                continue
            run_scenario(name, fn, port)
        for s, fn in started:
            run_scenario(s.name, fn, s)
    finally:
        for s in servers:
            rc = s.stop()
            if s.name not in ("drain", "ws"):
                check(rc == 0, "battled %s exits 0 after SIGTERM" % s.name, "rc %r" % rc)
            if rc != 0 or FAILS:
                s.log.seek(0)
                print("--- battled %s stderr (tail) ---\n%s" % (s.name, s.log.read()[-3000:]))
            s.log.close()
            shutil.rmtree(s.dir, ignore_errors=True)
        for d in TEMP_DIRS:
            shutil.rmtree(d, ignore_errors=True)
    print("doc_client: %d checks passed, %d failed, %d expected failures, %d unexpected passes, %.1f s"
          % (PASSES, len(FAILS), len(XFAILS), len(XPASSES), time.monotonic() - START))
    for f in FAILS:
        print("  FAILED " + f)
    for x in XFAILS:
        print("  XFAIL  %s -> %s" % (x, KNOWN_BUGS[x]))
    return 1 if FAILS or XPASSES else 0


def run_scenario(name, fn, arg):
    t0 = time.monotonic()
    try:
        fn(arg)
    except Exception as e:  # a scenario that cannot go on is one failed promise
        import traceback
        traceback.print_exc()
        check(False, "scenario %s ran to its end" % name, "%s: %s" % (type(e).__name__, e))
    print("scenario %s: %.1f s" % (name, time.monotonic() - t0))


MAIN_SCENARIOS = [("hello", sc_hello), ("decoding", sc_decoding), ("solo", sc_solo),
                  ("private", sc_private), ("leave", sc_leave), ("missiles", sc_missiles),
                  ("resume", sc_resume), ("queue", sc_queue), ("seats", sc_seats),
                  ("strike", sc_strike)]
OWN_SERVER_SCENARIOS = [("limits", LIMITS_SETS, sc_limits), ("drain", DRAIN_SETS, sc_drain),
                        ("busy", BUSY_SETS, sc_busy), ("addr", ADDR_SETS, sc_addr),
                        ("ws", WS_SETS, sc_ws)]

if __name__ == "__main__":
    sys.exit(main(sys.argv))
