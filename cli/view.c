/* cli/view: the battle model and its text rendering; see view.h. */
#include "cli/view.h"

#include <string.h>

#define NAME_BUF 64

void cli_view_init(cli_view *v, FILE *out)
{
    memset(v, 0, sizeof *v);
    pct_init(&v->b);
    v->out = out;
}

void cli_view_forget(cli_view *v)
{
    FILE *out = v->out, *quiet = v->quiet;
    bool queued = v->queued;
    uint32_t turn_ms = v->turn_ms, resume_ms = v->resume_ms;
    cli_view_init(v, out);
    v->quiet = quiet;
    v->queued = queued;
    v->turn_ms = turn_ms;
    v->resume_ms = resume_ms;
    v->dirty = true;
}

void cli_view_adopt(cli_view *v, uint64_t bid, uint8_t seat, const uint8_t token[PROTO_TOKEN_LEN],
                    uint32_t last)
{
    cli_view_forget(v);
    v->b.bid = bid;
    v->role = CLI_ROLE_SEAT;
    v->b.seat = seat;
    memcpy(v->b.token, token, PROTO_TOKEN_LEN);
    v->b.last_seq = 0; /* ask for everything: the ships are only in the history */
    v->quiet_upto = last;
    v->phase = CLI_PH_RUNNING; /* until the server says otherwise */
}

bool cli_view_seated(const cli_view *v)
{
    return v->b.bid && v->role == CLI_ROLE_SEAT && v->phase != CLI_PH_ENDED && v->phase != CLI_PH_NONE;
}

bool cli_view_my_turn(const cli_view *v)
{
    return v->role == CLI_ROLE_SEAT && v->phase == CLI_PH_RUNNING && v->b.active == v->b.seat;
}

static bool fires(uint8_t kind)
{
    return kind == PROTO_WK_LASER || kind == PROTO_WK_MISSILE || kind == PROTO_WK_GUN;
}

int cli_view_first_gun(const cli_view *v)
{
    if (v->role != CLI_ROLE_SEAT || !v->b.have_ships)
        return -1;
    const struct proto_ship *s = &v->b.ships[v->b.seat];
    for (int w = 0; w < s->nweapons; w++)
        if (fires(s->weapons[w].kind) && s->weapons[w].ammo != 0)
            return w;
    return -1;
}

int64_t cli_view_incoming(const cli_view *v)
{
    int best = -1;
    for (int i = 0; i < v->b.nmissiles; i++) {
        const struct proto_missile *m = &v->b.missiles[i];
        if (v->role != CLI_ROLE_SEAT || m->owner == v->b.seat || m->pd_tried)
            continue;
        if (best < 0 || m->band < v->b.missiles[best].band)
            best = i;
    }
    return best < 0 ? -1 : (int64_t)v->b.missiles[best].id;
}

/* Server strings reach a terminal: control bytes (escape sequences) become '?'. UTF-8 passes. */
static void scrub(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

/* The tracker has already capped nweapons at PROTO_MAX_WEAPONS. */
static void scrub_ships(struct proto_ship ships[PROTO_SEATS])
{
    for (int i = 0; i < PROTO_SEATS; i++) {
        scrub(ships[i].type);
        scrub(ships[i].name);
        for (int w = 0; w < ships[i].nweapons; w++)
            scrub(ships[i].weapons[w].name);
    }
}

/* ---- naming: "You"/"Enemy" for a seat, "Seat 0 (Scout)" for a spectator ---- */

static bool mine(const cli_view *v, int seat)
{
    return v->role == CLI_ROLE_SEAT && seat == v->b.seat;
}

static const char *who(const cli_view *v, int seat, char buf[NAME_BUF])
{
    seat &= 1;
    if (v->role == CLI_ROLE_SEAT)
        return seat == v->b.seat ? "You" : "Enemy";
    if (v->b.have_ships)
        snprintf(buf, NAME_BUF, "Seat %d (%s)", seat, v->b.ships[seat].name);
    else
        snprintf(buf, NAME_BUF, "Seat %d", seat);
    return buf;
}

/* Third person singular for everyone but "You". */
static const char *verb(const cli_view *v, int seat, const char *you, const char *other)
{
    return mine(v, seat) ? you : other;
}

static const char *band_label(int band)
{
    static const char *const labels[] = {"Adjacent", "Close", "Short", "Medium",
                                         "Long",     "Very Long", "Distant"};
    return band >= 0 && band < PROTO_BAND_COUNT ? labels[band] : "?";
}

static const char *weapon_name(const cli_view *v, int seat, int w)
{
    if (!v->b.have_ships || w >= v->b.ships[seat & 1].nweapons)
        return "a weapon";
    return v->b.ships[seat & 1].weapons[w].name;
}

static void print_hull(const cli_view *v, int seat, uint16_t hull)
{
    char b[NAME_BUF];
    fprintf(v->out, "%s hull %u", mine(v, seat) ? "your" : who(v, seat, b), hull);
    if (v->b.have_ships)
        fprintf(v->out, "/%u", v->b.ships[seat & 1].hull_max);
}

/* ---- missiles in flight ---- */

/* Whose missile: "yours", "incoming", or for a spectator "seat 1's". */
static const char *owner_label(const cli_view *v, int owner, char buf[NAME_BUF])
{
    if (v->role == CLI_ROLE_SEAT)
        return mine(v, owner) ? "yours" : "incoming";
    snprintf(buf, NAME_BUF, "seat %d's", owner & 1);
    return buf;
}

/* ---- printing the ships ---- */

static void print_weapon(FILE *out, int i, const struct proto_weapon *w)
{
    fprintf(out, "    [%d] %-16s", i, w->name);
    switch (w->kind) {
    case PROTO_WK_RACK: fprintf(out, " missile rack, %d missiles  ('missile')", w->ammo); break;
    case PROTO_WK_SAND: fprintf(out, " sandcaster, %d canisters   ('sand')", w->ammo); break;
    default:
        fprintf(out, " %s %uD6", proto_wkind_name(w->kind) ? proto_wkind_name(w->kind) : "?", w->dice);
        if (w->ammo >= 0)
            fprintf(out, ", %d shots", w->ammo);
        fprintf(out, "  ('fire %d')", i);
    }
    fputc('\n', out);
}

static void print_sheet(const cli_view *v, int seat)
{
    char b[NAME_BUF];
    const struct proto_ship *s = &v->b.ships[seat];
    fprintf(v->out, "  %s: %s (seat %d) hull %u/%u, armour %u, pilot %d, thrust %u\n", who(v, seat, b),
            s->name, seat, s->hull, s->hull_max, s->armour, s->pilot, s->thrust);
    if (s->nweapons == 0)
        fprintf(v->out, "    (unarmed)\n");
    for (int w = 0; w < s->nweapons; w++)
        print_weapon(v->out, w, &s->weapons[w]);
}

static void status_line(const cli_view *v, int seat)
{
    char b[NAME_BUF];
    const struct proto_ship *s = &v->b.ships[seat];
    if (v->role == CLI_ROLE_SEAT)
        snprintf(b, sizeof b, "%s", seat == v->b.seat ? "You" : "Enemy");
    else
        snprintf(b, sizeof b, "Seat %d", seat);
    fprintf(v->out, "  %-6s %-12s hull %3u/%-3u armour %u", b, s->name, s->hull, s->hull_max, s->armour);
    int nammo = 0;
    for (int w = 0; w < s->nweapons; w++) {
        const struct proto_weapon *pw = &s->weapons[w];
        if (pw->ammo < 0)
            continue;
        fprintf(v->out, "%s[%d] %d", nammo++ ? ", " : "  ammo: ", w, pw->ammo);
        if (pw->kind == PROTO_WK_RACK)
            fprintf(v->out, " missiles");
        else if (pw->kind == PROTO_WK_SAND)
            fprintf(v->out, " sand");
    }
    int ncrit = 0;
    for (int l = 0; l < PROTO_LOC_COUNT; l++)
        if (s->crits[l]) {
            fprintf(v->out, "%s%s %u", ncrit++ ? ", " : "  crits: ", proto_loc_name(l), s->crits[l]);
        }
    fputc('\n', v->out);
}

void cli_view_status(const cli_view *v)
{
    char b[NAME_BUF];
    if (v->phase == CLI_PH_NONE || !v->b.bid) {
        fprintf(v->out, "No battle. %s\n", v->queued ? "You are in the queue (cancel to leave it)."
                                                      : "Type 'help' to start one.");
        return;
    }
    if (v->phase == CLI_PH_WAITING) {
        fprintf(v->out, "Battle %llu at %s range: waiting for an opponent to 'join %llu <ship>'.\n",
                (unsigned long long)v->b.bid, band_label(v->b.band), (unsigned long long)v->b.bid);
        return;
    }
    fprintf(v->out, "Battle %llu, %s range, round %u of %u", (unsigned long long)v->b.bid,
            band_label(v->b.band), v->b.round, v->b.round_limit);
    if (v->phase == CLI_PH_ENDED)
        fprintf(v->out, ", over");
    else if (v->role == CLI_ROLE_SEAT)
        fprintf(v->out, ", %s", v->b.active == v->b.seat ? "your turn" : "enemy's turn");
    else
        fprintf(v->out, ", %s to act", who(v, v->b.active, b));
    fputc('\n', v->out);
    if (v->b.have_ships)
        for (int s = 0; s < PROTO_SEATS; s++)
            status_line(v, s);
    if (v->b.nmissiles) {
        fprintf(v->out, "  In flight:");
        for (int i = 0; i < v->b.nmissiles; i++) {
            const struct proto_missile *m = &v->b.missiles[i];
            fprintf(v->out, "%s #%u (%s) at %s%s", i ? ";" : "", m->id,
                    owner_label(v, m->owner, b),
                    band_label(m->band), m->pd_tried ? ", pd tried" : "");
        }
        fputc('\n', v->out);
    }
}

/* ---- events ---- */

static void turn_hint(const cli_view *v)
{
    char b[NAME_BUF];
    if (v->phase != CLI_PH_RUNNING)
        return;
    if (v->role != CLI_ROLE_SEAT) {
        fprintf(v->out, "Round %u: %s to act.\n", v->b.round, who(v, v->b.active, b));
        return;
    }
    if (v->b.active != v->b.seat) {
        fprintf(v->out, "Round %u: enemy's turn.\n", v->b.round);
        return;
    }
    fprintf(v->out, "Round %u: your turn", v->b.round);
    if (v->turn_ms)
        fprintf(v->out, ", %u s", (unsigned)((v->turn_ms + 999) / 1000));
    fprintf(v->out, " (fire [n], missile, end");
    if (cli_view_incoming(v) >= 0)
        fprintf(v->out, "; incoming: pd %lld", (long long)cli_view_incoming(v));
    fprintf(v->out, ").\n");
}

static void on_started(cli_view *v, const proto_event *ev)
{
    const struct proto_started *st = &ev->u.started;
    uint32_t quiet_upto = v->b.bid == ev->bid ? v->quiet_upto : 0;
    cli_view_forget(v);
    v->quiet_upto = quiet_upto;
    pct_apply(&v->b, ev); /* the tracker was emptied: it takes the battle */
    v->role = CLI_ROLE_SEAT;
    v->phase = CLI_PH_RUNNING;
    scrub_ships(v->b.ships);
    v->queued = false;
    fprintf(v->out, "Battle %llu started at %s range (draw after round %u). You are seat %u.\n",
            (unsigned long long)ev->bid, band_label(st->band), st->round_limit, v->b.seat);
    print_sheet(v, v->b.seat);
    print_sheet(v, 1 - v->b.seat);
    turn_hint(v);
}

static void on_state(cli_view *v, const proto_event *ev)
{
    const struct proto_state *st = &ev->u.state;
    /* The tracker takes the battle over (a seat answered by a resume keeps its token); what it
     * does not hold starts afresh, as after cli_view_forget. */
    pct_apply(&v->b, ev);
    v->quiet_upto = 0;
    v->dirty = true;
    v->role = st->seat < PROTO_SEATS ? CLI_ROLE_SEAT : CLI_ROLE_SPECTATOR;
    v->phase = st->phase == PROTO_PHASE_WAITING ? CLI_PH_WAITING
               : st->phase == PROTO_PHASE_ENDED ? CLI_PH_ENDED : CLI_PH_RUNNING;
    scrub_ships(v->b.ships);
    if (v->role == CLI_ROLE_SPECTATOR)
        fprintf(v->out, "Watching battle %llu.\n", (unsigned long long)ev->bid);
    else
        fprintf(v->out, "Battle %llu as it stands (you are seat %u):\n", (unsigned long long)ev->bid,
                v->b.seat);
    cli_view_status(v);
    turn_hint(v);
}

static void on_attack(cli_view *v, const proto_event *ev)
{
    const struct proto_attack *a = &ev->u.attack;
    int s = a->seat & 1, t = 1 - s;
    char b[NAME_BUF];
    fprintf(v->out, "%s %s %s [%u]: rolled %u+%u, total %d: ", who(v, s, b), verb(v, s, "fire", "fires"),
            weapon_name(v, s, a->weapon), a->weapon, a->dice[0], a->dice[1], a->total);
    if (!a->hit) {
        fprintf(v->out, "miss.\n");
        return;
    }
    fprintf(v->out, "HIT (effect %d), %u damage%s -> ", a->effect, a->damage,
            a->sand ? " (the sand cloud absorbed some)" : "");
    print_hull(v, t, a->hull);
    fprintf(v->out, ".\n");
}

static void on_crit(cli_view *v, const proto_event *ev)
{
    const struct proto_crit *c = &ev->u.crit;
    int s = c->seat & 1;
    char b[NAME_BUF];
    const char *loc = proto_loc_name(c->loc);
    fprintf(v->out, "  Critical hit on %s: %s, severity %u", mine(v, s) ? "your ship" : who(v, s, b),
            loc ? loc : "?", c->sev);
    if (c->crew)
        fprintf(v->out, ", a crew member is injured");
    if (c->extra)
        fprintf(v->out, ", %u extra hull damage", c->extra);
    fprintf(v->out, " -> ");
    print_hull(v, s, c->hull);
    fprintf(v->out, ".\n");
}

static void on_mlaunch(cli_view *v, const proto_event *ev)
{
    const struct proto_mlaunch *m = &ev->u.mlaunch;
    int s = m->seat & 1;
    char b[NAME_BUF];
    fprintf(v->out, "%s %s missile #%u at %s range (%u left).", who(v, s, b),
            verb(v, s, "launch", "launches"), m->missile, band_label(m->band), m->left);
    if (v->role == CLI_ROLE_SEAT && !mine(v, s))
        fprintf(v->out, " Shoot it down with 'pd %u'.", m->missile);
    fputc('\n', v->out);
}

static void on_mmove(cli_view *v, const proto_event *ev)
{
    const struct proto_mmove *m = &ev->u.mmove;
    char b[NAME_BUF];
    fprintf(v->out, "Missile #%u (%s) closes to %s range.\n", m->missile,
            owner_label(v, m->seat, b),
            band_label(m->band));
}

static void on_mhit(cli_view *v, const proto_event *ev)
{
    const struct proto_mhit *m = &ev->u.mhit;
    int s = m->seat & 1;
    char b[NAME_BUF];
    fprintf(v->out, "Missile #%u strikes %s: rolled %u+%u+%u+%u, %u damage -> ", m->missile,
            mine(v, s) ? "you" : who(v, s, b), m->dice[0], m->dice[1], m->dice[2], m->dice[3], m->damage);
    print_hull(v, s, m->hull);
    fprintf(v->out, ".\n");
}

static void on_pd(cli_view *v, const proto_event *ev)
{
    const struct proto_pd_result *p = &ev->u.pd_result;
    int s = p->seat & 1;
    char b[NAME_BUF];
    fprintf(v->out, "%s point defense against missile #%u: rolled %u+%u, total %d: %s\n",
            mine(v, s) ? "Your" : v->role == CLI_ROLE_SEAT ? "Enemy" : who(v, s, b), p->missile,
            p->dice[0], p->dice[1], p->total, p->ok ? "destroyed it." : "missed.");
}

static void on_sand(cli_view *v, const proto_event *ev)
{
    const struct proto_sand_result *r = &ev->u.sand_result;
    int s = r->seat & 1;
    char b[NAME_BUF];
    fprintf(v->out, "%s %s sand: rolled %u+%u, total %d: ", who(v, s, b), verb(v, s, "cast", "casts"),
            r->dice[0], r->dice[1], r->total);
    if (r->ok)
        fprintf(v->out, "the cloud is up, +%u armour against the next laser hit this round", r->bonus);
    else
        fprintf(v->out, "it scatters");
    fprintf(v->out, " (%u canisters left).\n", r->left);
}

static void on_ended(cli_view *v, const proto_event *ev)
{
    const struct proto_ended *e = &ev->u.ended;
    char b[NAME_BUF];
    v->phase = CLI_PH_ENDED;
    const char *why = proto_reason_name(e->reason);
    fprintf(v->out, "=== Battle over after %u round%s: ", e->rounds, e->rounds == 1 ? "" : "s");
    if (e->winner < 0)
        fprintf(v->out, "no winner");
    else if (v->role == CLI_ROLE_SEAT)
        fprintf(v->out, "%s", e->winner == v->b.seat ? "YOU WIN" : "you lose");
    else
        fprintf(v->out, "%s wins", who(v, e->winner, b));
    fprintf(v->out, " (%s). ===\n", why ? why : "?");
    for (int s = 0; s < PROTO_SEATS; s++) {
        fprintf(v->out, "  ");
        print_hull(v, s, e->hull[s]);
        fputc('\n', v->out);
    }
}

static void on_round(cli_view *v, const proto_event *ev)
{
    const struct proto_round *r = &ev->u.round;
    fprintf(v->out, "--- Round %u ---\n", r->round);
    cli_view_status(v); /* its first line says whose turn it is */
    if (cli_view_my_turn(v))
        turn_hint(v);
}

static void on_other_battle(cli_view *v, const proto_event *ev)
{
    const char *name = proto_type_name(ev->type);
    fprintf(v->out, "[battle %llu] %s", (unsigned long long)ev->bid, name ? name : "?");
    if (ev->type == PROTO_T_ENDED) {
        const char *why = proto_reason_name(ev->u.ended.reason);
        fprintf(v->out, ": over (%s), winner %s", why ? why : "?",
                ev->u.ended.winner < 0 ? "none" : ev->u.ended.winner ? "seat 1" : "seat 0");
    }
    fputc('\n', v->out);
}

static void print_error(cli_view *v, const proto_event *ev)
{
    const char *name = proto_error_name(ev->u.error.code);
    char msg[sizeof ev->u.error.msg];
    snprintf(msg, sizeof msg, "%s", ev->u.error.msg[0] ? ev->u.error.msg : "refused");
    scrub(msg);
    fprintf(v->out, "error: %s", msg);
    fprintf(v->out, " [%s", name ? name : "unknown");
    if (ev->bid)
        fprintf(v->out, ", battle %llu", (unsigned long long)ev->bid);
    fprintf(v->out, "]\n");
}

static bool apply(cli_view *v, const proto_event *ev)
{
    char b[NAME_BUF];
    bool ours = ev->bid != 0 && ev->bid == v->b.bid;
    if (pct_numbered(ev)) {
        if (!ours) {
            on_other_battle(v, ev);
            return true;
        }
        if (pct_apply(&v->b, ev) == PCT_REPLAY)
            return false;
        v->dirty = true;
    } else if (ev->type != PROTO_T_STARTED && ev->type != PROTO_T_STATE) {
        pct_apply(&v->b, ev); /* an unnumbered event of the battle (seq 0) still counts */
    }
    switch (ev->type) {
    case PROTO_T_WELCOME: {
        char server[sizeof ev->u.welcome.server];
        snprintf(server, sizeof server, "%s", ev->u.welcome.server);
        scrub(server);
        v->turn_ms = ev->u.welcome.turn_ms;
        v->resume_ms = ev->u.welcome.resume_ms;
        fprintf(v->out, "Connected to %s (protocol %u; turns last %u s). Type 'help' for commands.\n",
                server, ev->u.welcome.version, (unsigned)(ev->u.welcome.turn_ms / 1000));
        break;
    }
    case PROTO_T_PONG:
        fprintf(v->out, "pong\n");
        break;
    case PROTO_T_QUEUED: {
        char ship[sizeof ev->u.queued.ship];
        snprintf(ship, sizeof ship, "%s", ev->u.queued.ship);
        scrub(ship);
        v->queued = true;
        fprintf(v->out, "Queued with a %s for a battle at %s range; waiting for an opponent "
                        "('cancel' to leave the queue).\n",
                ship, band_label(ev->u.queued.band));
        break;
    }
    case PROTO_T_UNQUEUED:
        v->queued = false;
        fprintf(v->out, "You left the queue.\n");
        break;
    case PROTO_T_CREATED:
        if (ev->bid != v->b.bid || v->phase != CLI_PH_WAITING)
            cli_view_forget(v);
        v->b.bid = ev->bid;
        v->role = CLI_ROLE_SEAT;
        v->b.seat = ev->u.created.seat & 1;
        memcpy(v->b.token, ev->u.created.token, PROTO_TOKEN_LEN);
        v->b.band = ev->u.created.band;
        v->phase = CLI_PH_WAITING;
        v->dirty = true;
        fprintf(v->out, "Battle %llu created at %s range. Your opponent types: join %llu <ship>\n",
                (unsigned long long)ev->bid, band_label(ev->u.created.band), (unsigned long long)ev->bid);
        break;
    case PROTO_T_STARTED:
        if (ours && v->phase != CLI_PH_WAITING && v->b.have_ships && ev->seq && ev->seq <= v->b.last_seq)
            return false; /* replayed after a resume */
        on_started(v, ev);
        v->dirty = true;
        break;
    case PROTO_T_STATE:
        on_state(v, ev);
        v->dirty = true;
        break;
    case PROTO_T_TURN:
        turn_hint(v);
        break;
    case PROTO_T_ROUND: on_round(v, ev); break;
    case PROTO_T_ATTACK: on_attack(v, ev); break;
    case PROTO_T_CRIT: on_crit(v, ev); break;
    case PROTO_T_MLAUNCH: on_mlaunch(v, ev); break;
    case PROTO_T_MMOVE: on_mmove(v, ev); break;
    case PROTO_T_MHIT: on_mhit(v, ev); break;
    case PROTO_T_PD_RESULT: on_pd(v, ev); break;
    case PROTO_T_SAND_RESULT: on_sand(v, ev); break;
    case PROTO_T_ENDED: on_ended(v, ev); break;
    case PROTO_T_TIMEOUT:
        fprintf(v->out, "%s turn timer ran out (%u in a row; three lose the battle); the server acted "
                        "for %s.\n",
                mine(v, ev->u.timeout.seat) ? "Your" : v->role == CLI_ROLE_SEAT ? "The enemy's"
                                                      : who(v, ev->u.timeout.seat, b),
                ev->u.timeout.count, mine(v, ev->u.timeout.seat) ? "you" : "them");
        break;
    case PROTO_T_AWAY:
        fprintf(v->out, "%s disconnected; the seat is kept for %u s.\n",
                mine(v, ev->u.away.seat) ? "You" : v->role == CLI_ROLE_SEAT ? "The enemy"
                                                  : who(v, ev->u.away.seat, b),
                (unsigned)(v->resume_ms / 1000));
        break;
    case PROTO_T_BACK:
        fprintf(v->out, "%s back.\n", mine(v, ev->u.back.seat) ? "You are" : v->role == CLI_ROLE_SEAT
                                                                  ? "The enemy is" : "A seat is");
        break;
    case PROTO_T_LEFT:
        if (ours) {
            fprintf(v->out, ev->has_rid ? "You left battle %llu.\n"
                                        : "Battle %llu: another connection took over this seat.\n",
                    (unsigned long long)ev->bid);
            if (v->phase != CLI_PH_ENDED)
                cli_view_forget(v);
        } else {
            fprintf(v->out, "You left battle %llu.\n", (unsigned long long)ev->bid);
        }
        break;
    case PROTO_T_ERROR:
        print_error(v, ev);
        break;
    default:
        fprintf(v->out, "(event %s)\n", proto_type_name(ev->type) ? proto_type_name(ev->type) : "?");
    }
    return true;
}

bool cli_view_event(cli_view *v, const proto_event *ev)
{
    FILE *out = v->out;
    bool replay = ev->bid && ev->bid == v->b.bid && ev->seq && ev->seq <= v->quiet_upto &&
                  (pct_numbered(ev) || ev->type == PROTO_T_STARTED);
    if (replay && v->quiet)
        v->out = v->quiet;
    bool applied = apply(v, ev);
    v->out = out;
    return applied;
}
