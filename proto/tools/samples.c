/* Example messages: see samples.h. Values follow docs/RULES.md's scout and free trader. */
#include "proto/tools/samples.h"

#include <string.h>

#define BID 0x1d2c3b4a59687786ULL

void sample_ship(int which, struct proto_ship *s)
{
    memset(s, 0, sizeof *s);
    if (which == 0) {
        strcpy(s->type, "scout");
        s->hull = s->hull_max = 40;
        s->armour = 4;
        s->pilot = 2;
        s->thrust = 2;
        s->has_rack = s->has_sand = true;
        s->missiles = 12;
        s->sand = 20;
        s->nweapons = 2;
        strcpy(s->weapons[0].key, "pulse_laser");
        s->weapons[0].dice = 2;
        s->weapons[0].ammo = -1;
        strcpy(s->weapons[1].key, "missiles");
        s->weapons[1].dice = 4;
        s->weapons[1].ammo = 6;
    } else {
        strcpy(s->type, "free_trader");
        s->hull = s->hull_max = 80;
        s->armour = 2;
        s->pilot = 1;
        s->thrust = 1;
        s->nweapons = 2;
        for (int i = 0; i < 2; i++) {
            strcpy(s->weapons[i].key, "beam_laser");
            s->weapons[i].dice = 3;
            s->weapons[i].ammo = -1;
        }
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
        strcpy(w->server, "battled/0.1.0");
        w->max_frame = PROTO_FRAME_DEFAULT_MAX;
        w->max_seats = 64;
        w->max_watch = 16;
        w->rate = 20;
        w->burst = 40;
        w->turn_ms = 30000;
        w->resume_ms = 60000;
        w->idle_ms = 300000;
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
        sample_ship(0, &e->u.started.ships[0]);
        sample_ship(1, &e->u.started.ships[1]);
        break;
    case PROTO_T_STATE: {
        struct proto_state *s = &e->u.state;
        s->seat = PROTO_SEAT_SPECTATOR;
        s->phase = PROTO_PHASE_RUNNING;
        s->band = PROTO_BAND_LONG;
        s->round = 3;
        s->active = 0;
        s->acted = 2;
        s->turn_ms = 21500;
        sample_ship(0, &s->ships[0]);
        sample_ship(1, &s->ships[1]);
        s->ships[1].hull = 61;
        s->ships[1].ncrits = 2;
        s->ships[1].crits[0] = (struct proto_crit){PROTO_LOC_HULL, 1};
        s->ships[1].crits[1] = (struct proto_crit){PROTO_LOC_M_DRIVE, 2};
        s->ships[0].missiles = 10;
        s->nmissiles = 2;
        s->missiles[0] = (struct proto_missile){1, 0, PROTO_BAND_MEDIUM};
        s->missiles[1] = (struct proto_missile){2, 0, PROTO_BAND_LONG};
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
        a->hit = true;
        a->damage = 9;
        a->hull = 61;
        a->ncrits = 1;
        a->crits[0] = (struct proto_crit){PROTO_LOC_HULL, 1};
        break;
    }
    case PROTO_T_MLAUNCH:
        e->u.mlaunch.seat = 0;
        e->u.mlaunch.missile = 2;
        e->u.mlaunch.band = PROTO_BAND_LONG;
        e->u.mlaunch.left = 10;
        break;
    case PROTO_T_MMOVE: e->u.mmove.missile = 1; e->u.mmove.band = PROTO_BAND_SHORT; break;
    case PROTO_T_MHIT: {
        struct proto_mhit *m = &e->u.mhit;
        m->missile = 1;
        m->target = 1;
        m->dice[0] = 3; m->dice[1] = 4; m->dice[2] = 6; m->dice[3] = 2;
        m->damage = 15;
        m->hull = 46;
        m->ncrits = 1;
        m->crits[0] = (struct proto_crit){PROTO_LOC_CARGO, 1};
        break;
    }
    case PROTO_T_REACT: {
        struct proto_react *x = &e->u.react;
        x->seat = 1;
        x->kind = PROTO_REACT_PD;
        x->missile = 2;
        x->dice[0] = 4;
        x->dice[1] = 5;
        x->total = 9;
        x->ok = true;
        x->left = 0;
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
