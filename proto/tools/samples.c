/* Example messages: see samples.h. Values follow docs/RULES.md's scout and free trader. */
#include "proto/tools/samples.h"

#include <string.h>

#define BID 0x1d2c3b4a59687786ULL

static void weapon(struct proto_weapon *w, const char *name, int kind, int dice, int ammo)
{
    strcpy(w->name, name);
    w->kind = (uint8_t)kind;
    w->dice = (uint8_t)dice;
    w->ammo = (int16_t)ammo;
}

void sample_ship(int which, struct proto_ship *s)
{
    memset(s, 0, sizeof *s);
    if (which == 0) {
        strcpy(s->type, "scout");
        strcpy(s->name, "Scout");
        s->hull = s->hull_max = 40;
        s->armour = 4;
        s->pilot = 2;
        s->thrust = 2;
        s->nweapons = 4;
        weapon(&s->weapons[0], "Pulse Laser", PROTO_WK_LASER, 2, -1);
        weapon(&s->weapons[1], "Missiles", PROTO_WK_MISSILE, 4, -1);
        s->weapons[1].long_dm = 2; /* data/ships.toml's missiles: +2 at Long or farther */
        weapon(&s->weapons[2], "Missile Rack", PROTO_WK_RACK, 0, 12);
        weapon(&s->weapons[3], "Sandcaster", PROTO_WK_SAND, 0, 20);
    } else {
        strcpy(s->type, "free_trader");
        strcpy(s->name, "Free Trader");
        s->hull = s->hull_max = 80;
        s->armour = 2;
        s->pilot = 1;
        s->thrust = 1;
        s->nweapons = 2;
        weapon(&s->weapons[0], "Beam Laser", PROTO_WK_LASER, 3, -1);
        weapon(&s->weapons[1], "Beam Laser", PROTO_WK_LASER, 3, -1);
    }
}

static const uint8_t token[PROTO_TOKEN_LEN] = {0x9f, 0x1e, 0x07, 0x3c, 0x55, 0xa2, 0x10, 0xbe,
                                               0x44, 0x8d, 0x2b, 0xe9, 0x61, 0x0c, 0xd7, 0x38};

int sample_request(int type, proto_request *r)
{
    memset(r, 0, sizeof *r);
    if (type < PROTO_T_HELLO || type > PROTO_T_REQ_LAST)
        return -1;
    r->type = (uint8_t)type;
    r->has_rid = true;
    r->rid = (uint32_t)type * 10u;
    if (proto_type_battle_scoped(type))
        r->bid = BID;
    switch (type) {
    case PROTO_T_HELLO:
        r->u.hello.version = PROTO_VERSION;
        strcpy(r->u.hello.name, "example-client/1.0");
        break;
    case PROTO_T_PING: r->u.ping.ts = 1764303300123ULL; break;
    case PROTO_T_QUEUE:
        strcpy(r->u.queue.ship, "scout");
        r->u.queue.band = PROTO_BAND_SHORT;
        break;
    case PROTO_T_CREATE:
        strcpy(r->u.create.ship, "scout");
        r->u.create.band = PROTO_BAND_LONG;
        r->u.create.vs = PROTO_VS_AI;
        strcpy(r->u.create.oship, "free_trader");
        break;
    case PROTO_T_JOIN: strcpy(r->u.join.ship, "free_trader"); break;
    case PROTO_T_RESUME:
        r->u.resume.seat = 1;
        memcpy(r->u.resume.token, token, sizeof token);
        r->u.resume.last = 7;
        break;
    case PROTO_T_FIRE: r->u.fire.weapon = 1; break;
    case PROTO_T_PD: r->u.pd.missile = 3; break;
    default: break;
    }
    return 0;
}

int sample_event(int type, proto_event *e)
{
    memset(e, 0, sizeof *e);
    if (type < PROTO_T_WELCOME || type > PROTO_T_EVT_LAST)
        return -1;
    e->type = (uint8_t)type;
    if (proto_type_battle_scoped(type)) {
        e->bid = BID;
        if (type != PROTO_T_CREATED && type != PROTO_T_LEFT)
            e->seq = 5;
    }
    switch (type) {
    case PROTO_T_WELCOME: {
        struct proto_welcome *w = &e->u.welcome;
        e->has_rid = true;
        e->rid = 10;
        w->version = PROTO_VERSION;
        strcpy(w->server, "battled"); /* the server's defaults (config.toml) */
        w->max_frame = PROTO_FRAME_DEFAULT_MAX;
        w->max_seats = 64;
        w->max_watch = 64;
        w->rate = 2;
        w->burst = 4;
        w->turn_ms = 30000;
        w->resume_ms = 30000;
        w->idle_ms = 30000;
        w->max_out_frame = PROTO_EVENT_MAX;
        break;
    }
    case PROTO_T_PONG: e->has_rid = true; e->rid = 20; e->u.pong.ts = 1764303300123ULL; break;
    case PROTO_T_QUEUED:
        strcpy(e->u.queued.ship, "scout");
        e->u.queued.band = PROTO_BAND_SHORT;
        break;
    case PROTO_T_CREATED:
        e->u.created.seat = 0;
        memcpy(e->u.created.token, token, sizeof token);
        e->u.created.band = PROTO_BAND_MEDIUM;
        break;
    case PROTO_T_STARTED:
        e->seq = 1;
        e->u.started.seat = 1;
        memcpy(e->u.started.token, token, sizeof token);
        e->u.started.band = PROTO_BAND_SHORT;
        e->u.started.first = 0;
        e->u.started.round_limit = 100;
        sample_ship(0, &e->u.started.ships[0]);
        sample_ship(1, &e->u.started.ships[1]);
        break;
    case PROTO_T_STATE: {
        struct proto_state *s = &e->u.state;
        s->seat = PROTO_SEAT_SPECTATOR;
        s->phase = PROTO_PHASE_RUNNING;
        s->band = PROTO_BAND_LONG;
        s->round = 3;
        s->round_limit = 100;
        s->active = 0;
        s->acted = 2;
        s->sand_used = 2;
        s->away = 1;
        s->sand_bonus[1] = 5;
        s->timeouts[0] = 1;
        s->turn_ms = 21500;
        sample_ship(0, &s->ships[0]);
        sample_ship(1, &s->ships[1]);
        s->ships[1].hull = 61;
        s->ships[1].crits[PROTO_LOC_HULL] = 1;
        s->ships[1].crits[PROTO_LOC_M_DRIVE] = 2;
        s->ships[0].weapons[2].ammo = 10;
        s->nmissiles = 2;
        s->missiles[0] = (struct proto_missile){1, 0, PROTO_BAND_MEDIUM, true};
        s->missiles[1] = (struct proto_missile){2, 0, PROTO_BAND_LONG, false};
        break;
    }
    case PROTO_T_TURN: e->u.turn.round = 3; e->u.turn.active = 1; break;
    case PROTO_T_ROUND:
        e->u.round.round = 4;
        e->u.round.active = 1;
        e->u.round.hull[0] = 40;
        e->u.round.hull[1] = 61;
        break;
    case PROTO_T_ATTACK: {
        struct proto_attack *a = &e->u.attack;
        e->has_rid = true;
        e->rid = 90;
        a->seat = 0;
        a->weapon = 0;
        a->dice[0] = 6;
        a->dice[1] = 5;
        a->total = 13;
        a->effect = 5;
        a->hit = true;
        a->damage = 9;
        a->hull = 61;
        break;
    }
    case PROTO_T_MLAUNCH:
        e->u.mlaunch.seat = 0;
        e->u.mlaunch.missile = 2;
        e->u.mlaunch.band = PROTO_BAND_LONG;
        e->u.mlaunch.left = 10;
        break;
    case PROTO_T_MMOVE: e->u.mmove.missile = 1; e->u.mmove.band = PROTO_BAND_SHORT; break;
    case PROTO_T_CRIT:
        e->u.crit.seat = 1;
        e->u.crit.loc = PROTO_LOC_HULL;
        e->u.crit.sev = 2;
        e->u.crit.crew = true;
        e->u.crit.extra = 7;
        e->u.crit.hull = 39;
        break;
    case PROTO_T_TIMEOUT: e->u.timeout.seat = 1; e->u.timeout.count = 2; break;
    case PROTO_T_RESTARTING: e->u.restarting.retry_ms = 1000; break;
    case PROTO_T_MOVED: /* the answer to a join sent to a node that does not hold the battle */
        e->has_rid = true;
        e->rid = 7;
        e->bid = BID;
        strcpy(e->u.moved.addr, "10.0.0.2:7400");
        strcpy(e->u.moved.ws, "10.0.0.2:7480");
        break;
    case PROTO_T_MHIT: {
        struct proto_mhit *m = &e->u.mhit;
        m->missile = 1;
        m->seat = 1;
        m->dice[0] = 3; m->dice[1] = 4; m->dice[2] = 6; m->dice[3] = 2;
        m->damage = 15;
        m->hull = 46;
        break;
    }
    case PROTO_T_PD_RESULT: {
        struct proto_pd_result *x = &e->u.pd_result;
        x->seat = 1;
        x->missile = 2;
        x->dice[0] = 4;
        x->dice[1] = 5;
        x->total = 9;
        x->ok = true;
        break;
    }
    case PROTO_T_SAND_RESULT: {
        struct proto_sand_result *x = &e->u.sand_result;
        x->seat = 1;
        x->dice[0] = 6;
        x->dice[1] = 3;
        x->total = 9;
        x->ok = true;
        x->bonus = 4;
        x->left = 19;
        break;
    }
    case PROTO_T_ENDED:
        e->u.ended.winner = 0;
        e->u.ended.reason = PROTO_END_DESTROYED;
        e->u.ended.hull[0] = 31;
        e->u.ended.hull[1] = 0;
        e->u.ended.rounds = 9;
        break;
    case PROTO_T_AWAY: e->u.away.seat = 1; break;
    case PROTO_T_BACK: e->u.back.seat = 1; break;
    case PROTO_T_ERROR:
        e->has_rid = true;
        e->rid = 91;
        e->bid = BID;
        e->u.error.code = PROTO_E_NOT_YOUR_TURN;
        strcpy(e->u.error.msg, "wait for your turn");
        break;
    default: break;
    }
    return 0;
}
