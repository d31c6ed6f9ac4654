/* proto/msg: the battled wire messages as plain C structs, their type codes and the error codes.
 *
 * This header is the protocol's own vocabulary: it includes nothing from core/. Bands, ship keys,
 * critical locations, end reasons and error codes are defined here with stable numbers and stable
 * snake_case wire names; the server maps the engine's values to these. docs/PROTOCOL.md is the
 * normative description of every field (msgpack type, bounds, required/optional); the limits below
 * are the ones it quotes.
 *
 * Two unions: proto_request (client -> server, small: the net thread copies it into ring slots) and
 * proto_event (server -> client, larger: it holds two full ship descriptions for "started"/"state").
 * Strings are NUL-terminated copies in fixed arrays, so a decoded message never points into the
 * frame and outlives it. */
#ifndef BATTLED_PROTO_MSG_H
#define BATTLED_PROTO_MSG_H

#include <stdbool.h>
#include <stdint.h>

#define PROTO_VERSION 1

/* Frame limits. The default maximum frame is 4 KiB: the largest message either side sends is a full
 * battle state (two ships with their weapons and criticals, missiles in flight), 3570 bytes with every
 * field at the bounds below; requests are at most 124 bytes. A small cap keeps a hostile peer from making the server
 * buffer much per connection (hundreds of thousands of them). The setting may be raised up to
 * PROTO_FRAME_HARD_MAX. */
#define PROTO_FRAME_HEADER 4u
#define PROTO_FRAME_DEFAULT_MAX 4096u
#define PROTO_FRAME_MIN_MAX 256u       /* smallest allowed setting: every request must fit */
#define PROTO_FRAME_HARD_MAX (1u << 20) /* largest allowed setting */
/* The largest frame body the server ever sends, whatever server.max_frame says (that setting bounds
 * what clients send): announced in welcome as "sframe", enforced by proto_encode_event. */
#define PROTO_EVENT_MAX 4096u

#define PROTO_MAX_DEPTH 8        /* msgpack nesting, top map = 1; deeper is PROTO_E_TOO_DEEP */
#define PROTO_KEY_MAX 16         /* longest map key we look at; longer keys are unknown keys */
#define PROTO_NAME_MAX 32        /* hello client name, welcome server name (bytes, UTF-8) */
#define PROTO_SHIP_MAX 32        /* ship type key: [a-z0-9_]{1,32} */
#define PROTO_LABEL_MAX 32       /* display names of ships and weapons (bytes, UTF-8) */
#define PROTO_ERRMSG_MAX 200     /* error message for humans (bytes, UTF-8) */
#define PROTO_TOKEN_LEN 16       /* resume token: bin 16 */
#define PROTO_MAX_WEAPONS 16     /* weapons per ship; weapon index is 0..PROTO_MAX_WEAPONS-1 */
#define PROTO_MAX_MISSILES 32    /* missiles in flight listed in a full state */
#define PROTO_SEATS 2
#define PROTO_ADDR_MAX 64        /* moved: a node's address "host:port" (bytes) */
#define PROTO_SEAT_SPECTATOR 2   /* "seat" of a full state sent to a spectator */

/* Message types. Numbers are the C enum only; on the wire the type is the string in "t". */
typedef enum proto_type {
    PROTO_T_NONE = 0,
    /* client -> server */
    PROTO_T_HELLO = 1,   /* "hello"   */
    PROTO_T_PING,        /* "ping"    */
    PROTO_T_QUEUE,       /* "queue"   */
    PROTO_T_CANCEL,      /* "cancel"  */
    PROTO_T_CREATE,      /* "create"  */
    PROTO_T_JOIN,        /* "join"    battle-scoped from here on */
    PROTO_T_WATCH,       /* "watch"   */
    PROTO_T_RESUME,      /* "resume"  */
    PROTO_T_FIRE,        /* "fire"    */
    PROTO_T_MISSILE,     /* "missile" launch a missile */
    PROTO_T_PD,          /* "pd"      point defense */
    PROTO_T_SAND,        /* "sand"    sandcaster */
    PROTO_T_END,         /* "end"     end turn */
    PROTO_T_FORFEIT,     /* "forfeit" */
    PROTO_T_LEAVE,       /* "leave"   */
    PROTO_T_REQ_LAST = PROTO_T_LEAVE,
    /* server -> client */
    PROTO_T_WELCOME = 64, /* "welcome"  */
    PROTO_T_PONG,         /* "pong"     */
    PROTO_T_QUEUED,       /* "queued"   */
    PROTO_T_UNQUEUED,     /* "unqueued" */
    PROTO_T_CREATED,      /* "created"  battle-scoped from here on */
    PROTO_T_STARTED,      /* "started"  */
    PROTO_T_STATE,        /* "state"    */
    PROTO_T_TURN,         /* "turn"     */
    PROTO_T_ROUND,        /* "round"    */
    PROTO_T_ATTACK,       /* "attack"   */
    PROTO_T_MLAUNCH,      /* "mlaunch"  */
    PROTO_T_MMOVE,        /* "mmove"    */
    PROTO_T_MHIT,         /* "mhit"     */
    PROTO_T_PD_RESULT,    /* "pd_result"   */
    PROTO_T_SAND_RESULT,  /* "sand_result" */
    PROTO_T_ENDED,        /* "ended"    */
    PROTO_T_AWAY,         /* "away"     */
    PROTO_T_BACK,         /* "back"     */
    PROTO_T_LEFT,         /* "left"     */
    PROTO_T_ERROR,        /* "error"    (connection-scoped; carries "bid" when about a battle) */
    PROTO_T_CRIT,         /* "crit"     */
    PROTO_T_TIMEOUT,      /* "timeout"  */
    PROTO_T_RESTARTING,   /* "restarting" (connection-scoped: the server restarts, battles stay) */
    PROTO_T_MOVED,        /* "moved"    (cluster: the battle is held by another node, "bid"; or a
                           * queue was matched with a player of another node, no "bid") */
    PROTO_T_EVT_LAST = PROTO_T_MOVED,
} proto_type;

/* Stable error codes: the number ("code") and the snake_case name ("err") are both on the wire and
 * never change meaning. 1-19: frames and decoding; 20-39: session; 40-79: game; 80+: server. */
#define PROTO_ERRORS(X)                                                                            \
    X(PROTO_E_OK, 0, "ok")                                                                         \
    X(PROTO_E_BAD_FRAME, 1, "bad_frame")             /* zero length; stream closed */              \
    X(PROTO_E_FRAME_TOO_LARGE, 2, "frame_too_large") /* length > max_frame; stream closed */       \
    X(PROTO_E_BAD_MSGPACK, 3, "bad_msgpack")         /* malformed, truncated, trailing bytes */    \
    X(PROTO_E_NOT_A_MAP, 4, "not_a_map")             /* top-level object is not a map */           \
    X(PROTO_E_UNKNOWN_TYPE, 5, "unknown_type")       /* "t" names no message of this direction */  \
    X(PROTO_E_MISSING_FIELD, 6, "missing_field")     /* a required key is absent (incl. "t") */    \
    X(PROTO_E_BAD_FIELD, 7, "bad_field")             /* wrong msgpack type, out of bounds, dup */  \
    X(PROTO_E_STRING_TOO_LONG, 8, "string_too_long") /* a known string field over its bound */     \
    X(PROTO_E_TOO_MANY, 9, "too_many")               /* array/map count over its bound or bytes */ \
    X(PROTO_E_TOO_DEEP, 10, "too_deep")              /* nesting deeper than PROTO_MAX_DEPTH */      \
    X(PROTO_E_BUFFER_TOO_SMALL, 11, "buffer_too_small") /* local only: encode buffer overflow */  \
    X(PROTO_E_VERSION_MISMATCH, 20, "version_mismatch") /* hello "v" unsupported; closed */        \
    X(PROTO_E_NOT_HELLO_FIRST, 21, "not_hello_first")   /* request before hello */                 \
    X(PROTO_E_ALREADY_HELLO, 22, "already_hello")       /* second hello */                         \
    X(PROTO_E_RATE_LIMITED, 23, "rate_limited")         /* token bucket empty: request dropped */  \
    X(PROTO_E_ALREADY_QUEUED, 24, "already_queued")                                                \
    X(PROTO_E_NOT_QUEUED, 25, "not_queued")                                                        \
    X(PROTO_E_TOO_MANY_SEATS, 26, "too_many_seats")     /* seats+queue entries at server limit */  \
    X(PROTO_E_NO_SUCH_SHIP, 27, "no_such_ship")         /* well-formed key, not in ship table */   \
    X(PROTO_E_NOT_YOUR_TURN, 40, "not_your_turn")                                                  \
    X(PROTO_E_ALREADY_ACTED, 41, "already_acted")       /* turn action already taken this round */ \
    X(PROTO_E_NO_SUCH_WEAPON, 42, "no_such_weapon")     /* past the list, or a rack/sandcaster */  \
    X(PROTO_E_OUT_OF_AMMO, 43, "out_of_ammo")           /* weapon, missiles or sand exhausted */   \
    X(PROTO_E_OUT_OF_BAND, 44, "out_of_band")           /* sandcaster beyond Close */              \
    X(PROTO_E_NO_SUCH_MISSILE, 45, "no_such_missile")   /* not in flight or not aimed at you */    \
    X(PROTO_E_REACTION_USED, 46, "reaction_used")       /* that reaction already used this round */\
    X(PROTO_E_NOT_EQUIPPED, 47, "not_equipped")         /* no missile rack / no sandcaster */      \
    X(PROTO_E_NOT_STARTED, 48, "not_started")           /* action in a battle still waiting */    \
    X(PROTO_E_BATTLE_OVER, 49, "battle_over")                                                      \
    X(PROTO_E_NO_SUCH_BATTLE, 50, "no_such_battle")                                                \
    X(PROTO_E_BATTLE_FULL, 51, "battle_full")           /* join: both seats taken */               \
    X(PROTO_E_NOT_IN_BATTLE, 52, "not_in_battle")       /* no seat/spectator place here */         \
    X(PROTO_E_ALREADY_IN_BATTLE, 53, "already_in_battle")                                          \
    X(PROTO_E_BAD_TOKEN, 54, "bad_token")               /* resume: seat/token do not match */      \
    X(PROTO_E_SPECTATORS_FULL, 55, "spectators_full")                                              \
    X(PROTO_E_SEQ_GONE, 56, "seq_gone")                 /* resume: "last" ahead of the battle */   \
    X(PROTO_E_TOO_MANY_MISSILES, 57, "too_many_missiles") /* launch with the sky full */           \
    X(PROTO_E_SERVER_DRAINING, 80, "server_draining")   /* shutting down: no new battles */        \
    X(PROTO_E_SERVER_BUSY, 81, "server_busy")           /* overload: request refused, retry */     \
    X(PROTO_E_INTERNAL, 82, "internal")

typedef enum proto_error {
#define PROTO_X_ENUM(id, num, name) id = num,
    PROTO_ERRORS(PROTO_X_ENUM)
#undef PROTO_X_ENUM
} proto_error;

/* Range bands; wire strings "adjacent" .. "distant". */
typedef enum proto_band {
    PROTO_BAND_ADJACENT = 0,
    PROTO_BAND_CLOSE,
    PROTO_BAND_SHORT,
    PROTO_BAND_MEDIUM,
    PROTO_BAND_LONG,
    PROTO_BAND_VERY_LONG,
    PROTO_BAND_DISTANT,
    PROTO_BAND_COUNT
} proto_band;

/* Critical-hit locations; wire strings as named (lower case). */
typedef enum proto_loc {
    PROTO_LOC_SENSORS = 0,
    PROTO_LOC_POWER_PLANT,
    PROTO_LOC_FUEL,
    PROTO_LOC_WEAPON,
    PROTO_LOC_ARMOUR,
    PROTO_LOC_HULL,
    PROTO_LOC_M_DRIVE,
    PROTO_LOC_CARGO,
    PROTO_LOC_J_DRIVE,
    PROTO_LOC_CREW,
    PROTO_LOC_COMPUTER,
    PROTO_LOC_COUNT
} proto_loc;

/* Why a battle ended; wire strings as named. 0 is not a reason (numbers match core's by choice). */
typedef enum proto_reason {
    PROTO_END_DESTROYED = 1, /* "destroyed": a hull reached 0 */
    PROTO_END_FORFEIT,       /* "forfeit": a seat sent forfeit */
    PROTO_END_TIMEOUT,       /* "timeout": three turn timers in a row */
    PROTO_END_DISCONNECT,    /* "disconnect": away past the resume window */
    PROTO_END_DRAW,          /* "draw": round limit reached */
    PROTO_END_ABANDONED,     /* "abandoned": no action for the idle limit */
    PROTO_END_SHUTDOWN,      /* "shutdown": server drained */
    PROTO_END_COUNT
} proto_reason;

typedef enum proto_vs { PROTO_VS_AI = 0, PROTO_VS_PLAYER, PROTO_VS_COUNT } proto_vs; /* "ai"/"player" */
/* Weapon kinds; wire strings "laser", "missile" (direct fire), "gun", "rack" (launches missiles:
 * the "missile" request), "sand" (sandcaster: the "sand" reaction). */
typedef enum proto_wkind {
    PROTO_WK_LASER = 0,
    PROTO_WK_MISSILE,
    PROTO_WK_GUN,
    PROTO_WK_RACK,
    PROTO_WK_SAND,
    PROTO_WK_COUNT
} proto_wkind;
typedef enum proto_phase { PROTO_PHASE_WAITING = 0, PROTO_PHASE_RUNNING, PROTO_PHASE_ENDED, PROTO_PHASE_COUNT } proto_phase;

/* ---- client -> server bodies ---- */
struct proto_hello { uint16_t version; char name[PROTO_NAME_MAX + 1]; };
struct proto_ping { uint64_t ts; };                        /* "ts" optional, echoed; 0 if absent */
struct proto_queue { char ship[PROTO_SHIP_MAX + 1]; uint8_t band; };
struct proto_create {
    char ship[PROTO_SHIP_MAX + 1];
    uint8_t band;                          /* proto_band */
    uint8_t vs;                            /* proto_vs */
    char oship[PROTO_SHIP_MAX + 1];        /* "os", AI opponent's ship; "" = server chooses */
};
struct proto_join { char ship[PROTO_SHIP_MAX + 1]; };
struct proto_resume { uint8_t seat; uint8_t token[PROTO_TOKEN_LEN]; uint32_t last; };
struct proto_fire { uint8_t weapon; };
struct proto_pd { uint32_t missile; };

/* Whether an idempotency key (proto_request.key) is present: any byte nonzero. */
static inline bool proto_key_present(const uint8_t key[PROTO_TOKEN_LEN])
{
    uint8_t any = 0;
    for (int i = 0; i < PROTO_TOKEN_LEN; i++)
        any |= key[i];
    return any != 0;
}

typedef struct proto_request {
    uint8_t type;       /* proto_type, PROTO_T_HELLO..PROTO_T_REQ_LAST */
    bool has_rid;
    uint32_t rid;       /* "rid", optional client request id, echoed by the reply */
    uint64_t bid;       /* "bid", required (nonzero) for battle-scoped types, else 0 */
    /* "key", optional on create, join and queue: the client's idempotency key (bin 16, random);
     * a repeat with the same key gets the same battle, seat and token. All zero = none. */
    uint8_t key[PROTO_TOKEN_LEN];
    union {
        struct proto_hello hello;
        struct proto_ping ping;
        struct proto_queue queue;
        struct proto_create create;
        struct proto_join join;
        struct proto_resume resume;
        struct proto_fire fire;
        struct proto_pd pd;
    } u;                /* cancel, watch, missile, sand, end, forfeit, leave have no body */
} proto_request;

/* ---- server -> client bodies ---- */
struct proto_weapon {
    char name[PROTO_LABEL_MAX + 1]; /* "name", display name, e.g. "Pulse Laser" */
    uint8_t kind;                   /* "kind", proto_wkind */
    uint8_t dice;                   /* "d", damage dice (D6) 0..12; 0 for rack and sandcaster */
    int16_t ammo;                   /* "a", rounds/missiles/canisters left, -1 = unlimited */
    int8_t long_dm;                 /* "lr", attack DM at Long, Very Long and Distant, -6..6 */
};
struct proto_ship {
    char type[PROTO_SHIP_MAX + 1];  /* "type", e.g. "scout" */
    char name[PROTO_LABEL_MAX + 1]; /* "name", e.g. "Scout" */
    uint16_t hull, hull_max;
    uint8_t armour;
    int8_t pilot;                   /* -3..15 */
    uint8_t thrust;
    uint8_t nweapons;
    struct proto_weapon weapons[PROTO_MAX_WEAPONS];
    uint8_t crits[PROTO_LOC_COUNT]; /* criticals taken per location (full state; 0 in started) */
};
struct proto_missile { uint32_t id; uint8_t owner; uint8_t band; bool pd_tried; };

struct proto_welcome {
    uint16_t version;
    char server[PROTO_NAME_MAX + 1];
    uint32_t max_frame;      /* largest frame the server accepts */
    uint16_t max_seats;      /* seats + queue entries per connection */
    uint16_t max_watch;      /* spectated battles per connection */
    uint16_t rate;           /* requests per second refilled */
    uint16_t burst;          /* token bucket size */
    uint32_t turn_ms;        /* turn timer */
    uint32_t resume_ms;      /* resume window */
    uint32_t idle_ms;        /* connection idle timeout */
    uint32_t max_out_frame;  /* "sframe": largest frame body the server sends (0 = not announced) */
};
struct proto_pong { uint64_t ts; };
struct proto_restarting { uint32_t retry_ms; }; /* reconnect after about this long */
/* The node that holds the battle (cluster mode): the request was not executed; send it there. With
 * bid 0 (absent), the answer to a queue: queue again at that node, where the opponent waits. */
struct proto_moved {
    char addr[PROTO_ADDR_MAX + 1]; /* "addr": its game port "host:port", 1..PROTO_ADDR_MAX bytes */
    char ws[PROTO_ADDR_MAX + 1];   /* "ws": its WebSocket port "host:port", "" when it has none */
};
struct proto_queued { char ship[PROTO_SHIP_MAX + 1]; uint8_t band; };
struct proto_created { uint8_t seat; uint8_t token[PROTO_TOKEN_LEN]; uint8_t band; };
struct proto_started {
    uint8_t seat;            /* your seat, 0 or 1 */
    uint8_t token[PROTO_TOKEN_LEN];
    uint8_t band;
    uint8_t first;           /* seat that acts first in round 1 */
    uint16_t round_limit;    /* the battle is a draw when this round ends */
    struct proto_ship ships[PROTO_SEATS];
};
struct proto_state {
    uint8_t seat;            /* 0, 1 or PROTO_SEAT_SPECTATOR */
    uint8_t phase;           /* proto_phase */
    uint8_t band;
    uint16_t round;
    uint16_t round_limit;
    uint8_t active;          /* seat that may take a turn action */
    uint8_t acted;           /* bit s set: seat s took its turn action this round */
    uint8_t sand_used;       /* bit s set: seat s used its sandcaster this round */
    uint8_t away;            /* bit s set: seat s is disconnected (resume window running) */
    uint8_t sand_bonus[PROTO_SEATS]; /* armour bonus against the next laser hit this round */
    uint8_t timeouts[PROTO_SEATS];   /* consecutive turn-timer expiries */
    uint32_t turn_ms;        /* time left on the active seat's turn timer */
    struct proto_ship ships[PROTO_SEATS];
    uint8_t nmissiles;
    struct proto_missile missiles[PROTO_MAX_MISSILES];
};
struct proto_turn { uint16_t round; uint8_t active; };
struct proto_round { uint16_t round; uint8_t active; uint16_t hull[PROTO_SEATS]; };
struct proto_attack {
    uint8_t seat;            /* attacker */
    uint8_t weapon;
    uint8_t dice[2];
    int16_t total;           /* 2D6 + DMs */
    int16_t effect;          /* total - 8 */
    bool hit;
    bool sand;               /* the target's sandcaster bonus absorbed part of it */
    uint16_t damage;         /* hull damage done by the weapon (after armour) */
    uint16_t hull;           /* target hull after this attack (criticals follow as "crit") */
};
struct proto_crit {
    uint8_t seat;            /* the ship hit */
    uint8_t loc;             /* proto_loc */
    uint8_t sev;             /* severity 1..6 */
    bool crew;               /* a crew member was injured */
    uint16_t extra;          /* extra hull damage (hull criticals) */
    uint16_t hull;           /* hull after it */
};
struct proto_mlaunch { uint8_t seat; uint32_t missile; uint8_t band; uint8_t left; };
struct proto_mmove { uint8_t seat; uint32_t missile; uint8_t band; }; /* seat = launcher */
struct proto_mhit {
    uint8_t seat;            /* seat struck */
    uint32_t missile;
    uint8_t dice[4];
    uint16_t damage;
    uint16_t hull;
};
struct proto_pd_result { uint8_t seat; uint32_t missile; uint8_t dice[2]; int16_t total; bool ok; };
struct proto_sand_result {
    uint8_t seat;
    uint8_t dice[2];
    int16_t total;
    bool ok;                 /* the sand cloud is up */
    uint8_t bonus;           /* armour bonus against the next laser hit this round */
    uint8_t left;            /* canisters left */
};
struct proto_timeout { uint8_t seat; uint8_t count; }; /* consecutive expiries so far */
struct proto_ended {
    int8_t winner;           /* 0, 1, or -1 = none (draw, abandoned, shutdown): nil on the wire */
    uint8_t reason;          /* proto_reason */
    uint16_t hull[PROTO_SEATS];
    uint16_t rounds;
};
struct proto_seat_ev { uint8_t seat; };   /* away, back */
struct proto_errmsg { uint16_t code; char msg[PROTO_ERRMSG_MAX + 1]; };

typedef struct proto_event {
    uint8_t type;            /* proto_type, PROTO_T_WELCOME..PROTO_T_EVT_LAST */
    bool has_rid;
    uint32_t rid;            /* echo of the request that caused it (requester's copy only) */
    uint64_t bid;            /* battle-scoped types: nonzero; error: optional (0 = absent) */
    uint32_t seq;            /* battle events: the battle's sequence number, from 1 */
    union {
        struct proto_welcome welcome;
        struct proto_pong pong;
        struct proto_restarting restarting;
        struct proto_moved moved;
        struct proto_queued queued;
        struct proto_created created;
        struct proto_started started;
        struct proto_state state;
        struct proto_turn turn;
        struct proto_round round;
        struct proto_attack attack;
        struct proto_mlaunch mlaunch;
        struct proto_mmove mmove;
        struct proto_mhit mhit;
        struct proto_pd_result pd_result;
        struct proto_sand_result sand_result;
        struct proto_crit crit;
        struct proto_timeout timeout;
        struct proto_ended ended;
        struct proto_seat_ev away;
        struct proto_seat_ev back;
        struct proto_errmsg error;
    } u;                     /* unqueued, left have no body */
} proto_event;

/* Names: the wire string for each enum value, or NULL when out of range. */
const char *proto_type_name(int type);
const char *proto_error_name(int code);
const char *proto_band_name(int band);
const char *proto_loc_name(int loc);
const char *proto_wkind_name(int kind);
const char *proto_reason_name(int reason);

/* True for request/event types whose message must carry a nonzero "bid". */
bool proto_type_battle_scoped(int type);

#endif
