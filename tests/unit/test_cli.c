/* Unit tests for battle-cli's pure parts: the command parser, the battle view and the resume
 * record. The program itself is tested against the real server in tests/integration/test_it_cli.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/cmd.h"
#include "cli/resume.h"
#include "cli/view.h"

/* ---- parser ---- */

static cli_cmd parse_ok(const char *line)
{
    cli_cmd c;
    char err[CLI_ERR_MAX] = "";
    if (cli_parse(line, &c, err, sizeof err) != 0)
        fail_msg("'%s' was refused: %s", line, err);
    return c;
}

static void parse_bad(const char *line, const char *says)
{
    cli_cmd c;
    char err[CLI_ERR_MAX] = "";
    if (cli_parse(line, &c, err, sizeof err) == 0)
        fail_msg("'%s' was accepted", line);
    if (!strstr(err, says))
        fail_msg("'%s': message '%s' lacks '%s'", line, err, says);
}

static void test_parse_commands(void **state)
{
    (void)state;
    cli_cmd c = parse_ok("queue scout medium\n");
    assert_int_equal(c.verb, CLI_QUEUE);
    assert_string_equal(c.ship, "scout");
    assert_int_equal(c.band, PROTO_BAND_MEDIUM);

    c = parse_ok("create scout long vs ai");
    assert_int_equal(c.verb, CLI_CREATE);
    assert_int_equal(c.band, PROTO_BAND_LONG);
    assert_int_equal(c.vs, PROTO_VS_AI);
    assert_string_equal(c.oship, "");
    c = parse_ok("CREATE Free-Trader very-long vs ai seeker");
    assert_string_equal(c.ship, "free_trader");
    assert_int_equal(c.band, PROTO_BAND_VERY_LONG);
    assert_string_equal(c.oship, "seeker");
    c = parse_ok("create scout close");
    assert_int_equal(c.vs, PROTO_VS_PLAYER);
    c = parse_ok("create scout close vs player");
    assert_int_equal(c.vs, PROTO_VS_PLAYER);

    c = parse_ok("join 18446744073709551615 free_trader");
    assert_int_equal(c.verb, CLI_JOIN);
    assert_true(c.bid == UINT64_MAX);
    c = parse_ok("watch 42");
    assert_int_equal(c.bid, 42);

    c = parse_ok("fire");
    assert_int_equal(c.weapon, -1);
    c = parse_ok("  fire   15  ");
    assert_int_equal(c.weapon, 15);
    c = parse_ok("pd");
    assert_int_equal(c.missile, -1);
    c = parse_ok("pd #7");
    assert_int_equal(c.missile, 7);
    c = parse_ok("pd 4294967295");
    assert_true(c.missile == UINT32_MAX);
    assert_int_equal(parse_ok("missile").verb, CLI_MISSILE);
    assert_int_equal(parse_ok("sand").verb, CLI_SAND);
    assert_int_equal(parse_ok("end").verb, CLI_END);
    assert_int_equal(parse_ok("forfeit").verb, CLI_FORFEIT);
    assert_int_equal(parse_ok("quit").verb, CLI_QUIT);
    assert_int_equal(parse_ok("").verb, CLI_NONE);
    assert_int_equal(parse_ok("   # a comment").verb, CLI_NONE);
    assert_int_equal(parse_ok("end # trailing comment").verb, CLI_END);

    c = parse_ok("wait");
    assert_int_equal(c.wait_for, CLI_WAIT_TURN);
    assert_int_equal(c.wait_s, CLI_WAIT_DEFAULT_S);
    c = parse_ok("wait end 30");
    assert_int_equal(c.wait_for, CLI_WAIT_END);
    assert_int_equal(c.wait_s, 30);
    c = parse_ok("wait 5");
    assert_int_equal(c.wait_for, CLI_WAIT_TURN);
    assert_int_equal(c.wait_s, 5);

    c = parse_ok("resume");
    assert_false(c.has_args);
    c = parse_ok("resume 9 1 00112233445566778899AABBCCDDEEFF 17");
    assert_true(c.has_args);
    assert_int_equal(c.bid, 9);
    assert_int_equal(c.seat, 1);
    assert_int_equal(c.token[0], 0x00);
    assert_int_equal(c.token[15], 0xff);
    assert_int_equal(c.last, 17);
}

static void test_parse_rejects_with_a_reason(void **state)
{
    (void)state;
    parse_bad("fly", "unknown command 'fly'");
    parse_bad("fire x", "weapon number 0..15");
    parse_bad("fire 16", "weapon number 0..15");
    parse_bad("fire +1", "weapon number");
    parse_bad("fire 1 2", "usage: fire");
    parse_bad("queue scout", "usage: queue");
    parse_bad("queue scout far", "'far' is not a range band");
    parse_bad("queue sc@ut close", "is not a ship name");
    parse_bad("queue abcdefghijabcdefghijabcdefghijabc close", "is not a ship name");
    parse_bad("create scout close vs", "vs what");
    parse_bad("create scout close vs player scout", "only an ai opponent takes a ship");
    parse_bad("create scout close against ai", "usage: create");
    parse_bad("join x scout", "not a battle id");
    parse_bad("join 0 scout", "not a battle id");
    parse_bad("join 18446744073709551616 scout", "not a battle id");
    parse_bad("pd 4294967296", "missile id");
    parse_bad("resume 1 0", "usage: resume");
    parse_bad("resume 1 0 0011", "resume token");
    parse_bad("resume 1 0 00112233445566778899aabbccddeeff -1", "sequence number");
    parse_bad("wait 0", "number of seconds");
    parse_bad("wait end 86401", "number of seconds");
    parse_bad("sand now", "takes no arguments");
    parse_bad("a b c d e f g h i", "too many words");
    parse_bad("fire\t\x7f", "unexpected byte 0x7f");
    char longline[CLI_LINE_MAX + 2];
    memset(longline, 'a', sizeof longline - 1);
    longline[sizeof longline - 1] = '\0';
    parse_bad(longline, "line too long");
    char longword[80];
    memset(longword, 'a', sizeof longword - 1);
    longword[sizeof longword - 1] = '\0';
    parse_bad(longword, "too long");
}

static void test_bands_and_tokens(void **state)
{
    (void)state;
    for (int b = 0; b < PROTO_BAND_COUNT; b++)
        assert_int_equal(cli_parse_band(proto_band_name(b)), b);
    assert_int_equal(cli_parse_band("med"), PROTO_BAND_MEDIUM);
    assert_int_equal(cli_parse_band("Very-Long"), PROTO_BAND_VERY_LONG);
    assert_int_equal(cli_parse_band("vlong"), PROTO_BAND_VERY_LONG);
    assert_int_equal(cli_parse_band("d"), PROTO_BAND_DISTANT);
    assert_int_equal(cli_parse_band(""), -1);
    assert_int_equal(cli_parse_band("medium2"), -1);

    uint8_t t[PROTO_TOKEN_LEN], u[PROTO_TOKEN_LEN];
    for (int i = 0; i < PROTO_TOKEN_LEN; i++)
        t[i] = (uint8_t)(i * 17 + 3);
    char hex[2 * PROTO_TOKEN_LEN + 1];
    cli_token_hex(t, hex);
    assert_int_equal(strlen(hex), 32);
    assert_int_equal(cli_token_parse(hex, u), 0);
    assert_memory_equal(t, u, sizeof t);
    assert_int_equal(cli_token_parse("00", u), -1);
    assert_int_equal(cli_token_parse("g0112233445566778899aabbccddeeff", u), -1);
    assert_string_equal(cli_help("nonsense"), cli_help(""));
    assert_non_null(strstr(cli_help("pd"), "point defense"));
}

/* ---- view ---- */

typedef struct {
    char *text;
    size_t len;
    FILE *f;
    cli_view v;
} viewer;

static void viewer_open(viewer *w)
{
    memset(w, 0, sizeof *w);
    w->f = open_memstream(&w->text, &w->len);
    assert_non_null(w->f);
    cli_view_init(&w->v, w->f);
}

static const char *viewer_text(viewer *w)
{
    fflush(w->f);
    return w->text;
}

static void viewer_close(viewer *w)
{
    fclose(w->f);
    free(w->text);
}

static void ship(struct proto_ship *s, const char *type, const char *name, uint16_t hull)
{
    memset(s, 0, sizeof *s);
    snprintf(s->type, sizeof s->type, "%s", type);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->hull = s->hull_max = hull;
    s->armour = 2;
    s->nweapons = 3;
    snprintf(s->weapons[0].name, sizeof s->weapons[0].name, "Pulse Laser");
    s->weapons[0].kind = PROTO_WK_LASER;
    s->weapons[0].dice = 2;
    s->weapons[0].ammo = -1;
    snprintf(s->weapons[1].name, sizeof s->weapons[1].name, "Missile Rack");
    s->weapons[1].kind = PROTO_WK_RACK;
    s->weapons[1].ammo = 12;
    snprintf(s->weapons[2].name, sizeof s->weapons[2].name, "Sandcaster");
    s->weapons[2].kind = PROTO_WK_SAND;
    s->weapons[2].ammo = 20;
}

static proto_event started(uint64_t bid, uint8_t seat)
{
    proto_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = PROTO_T_STARTED;
    ev.bid = bid;
    ev.seq = 1;
    ev.u.started.seat = seat;
    ev.u.started.band = PROTO_BAND_LONG;
    ev.u.started.first = 0;
    ev.u.started.round_limit = 100;
    memset(ev.u.started.token, 0xab, PROTO_TOKEN_LEN);
    ship(&ev.u.started.ships[0], "scout", "Scout", 40);
    ship(&ev.u.started.ships[1], "free_trader", "Free Trader", 80);
    return ev;
}

static proto_event event(int type, uint64_t bid, uint32_t seq)
{
    proto_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = (uint8_t)type;
    ev.bid = bid;
    ev.seq = seq;
    return ev;
}

static void test_view_tells_a_battle(void **state)
{
    (void)state;
    viewer w;
    viewer_open(&w);
    proto_event ev = started(7, 0);
    assert_true(cli_view_event(&w.v, &ev));
    assert_true(cli_view_my_turn(&w.v));
    assert_true(cli_view_seated(&w.v));
    assert_int_equal(cli_view_first_gun(&w.v), 0);
    assert_non_null(strstr(viewer_text(&w), "Battle 7 started at Long range"));
    assert_non_null(strstr(viewer_text(&w), "You: Scout (seat 0)"));
    assert_non_null(strstr(viewer_text(&w), "Round 1: your turn"));

    ev = event(PROTO_T_ATTACK, 7, 2);
    ev.u.attack = (struct proto_attack){.seat = 0, .weapon = 0, .dice = {5, 6}, .total = 13, .effect = 5,
                                        .hit = true, .damage = 9, .hull = 71};
    assert_true(cli_view_event(&w.v, &ev));
    assert_int_equal(w.v.b.ships[1].hull, 71);
    assert_non_null(strstr(viewer_text(&w), "You fire Pulse Laser [0]: rolled 5+6, total 13: HIT"));
    assert_non_null(strstr(viewer_text(&w), "Enemy hull 71/80"));

    /* The same event again (a replay after a resume) is dropped. */
    size_t before = w.len;
    assert_false(cli_view_event(&w.v, &ev));
    viewer_text(&w);
    assert_int_equal(w.len, before);

    ev = event(PROTO_T_TURN, 7, 3);
    ev.u.turn = (struct proto_turn){.round = 1, .active = 1};
    cli_view_event(&w.v, &ev);
    assert_false(cli_view_my_turn(&w.v));

    /* An incoming missile: tracked, offered to point defense, removed when destroyed. */
    ev = event(PROTO_T_MLAUNCH, 7, 4);
    ev.u.mlaunch = (struct proto_mlaunch){.seat = 1, .missile = 5, .band = PROTO_BAND_LONG, .left = 11};
    cli_view_event(&w.v, &ev);
    assert_int_equal(cli_view_incoming(&w.v), 5);
    assert_int_equal(w.v.b.ships[1].weapons[1].ammo, 11);
    assert_non_null(strstr(viewer_text(&w), "'pd 5'"));
    ev = event(PROTO_T_MMOVE, 7, 5);
    ev.u.mmove = (struct proto_mmove){.seat = 1, .missile = 5, .band = PROTO_BAND_MEDIUM};
    cli_view_event(&w.v, &ev);
    assert_int_equal(w.v.b.missiles[0].band, PROTO_BAND_MEDIUM);
    ev = event(PROTO_T_PD_RESULT, 7, 6);
    ev.u.pd_result = (struct proto_pd_result){.seat = 0, .missile = 5, .dice = {1, 2}, .total = 3, .ok = false};
    cli_view_event(&w.v, &ev);
    assert_int_equal(cli_view_incoming(&w.v), -1); /* tried this round */
    ev = event(PROTO_T_ROUND, 7, 7);
    ev.u.round = (struct proto_round){.round = 2, .active = 1, .hull = {40, 71}};
    cli_view_event(&w.v, &ev);
    assert_int_equal(cli_view_incoming(&w.v), 5); /* a new round, a new try */
    assert_non_null(strstr(viewer_text(&w), "--- Round 2 ---"));
    assert_non_null(strstr(viewer_text(&w), "In flight: #5 (incoming) at Medium"));
    ev = event(PROTO_T_PD_RESULT, 7, 8);
    ev.u.pd_result = (struct proto_pd_result){.seat = 0, .missile = 5, .dice = {6, 6}, .total = 12, .ok = true};
    cli_view_event(&w.v, &ev);
    assert_int_equal(w.v.b.nmissiles, 0);

    ev = event(PROTO_T_SAND_RESULT, 7, 9);
    ev.u.sand_result = (struct proto_sand_result){.seat = 0, .dice = {4, 4}, .total = 8, .ok = true, .bonus = 3, .left = 19};
    cli_view_event(&w.v, &ev);
    assert_int_equal(w.v.b.ships[0].weapons[2].ammo, 19);

    ev = event(PROTO_T_CRIT, 7, 10);
    ev.u.crit = (struct proto_crit){.seat = 1, .loc = PROTO_LOC_HULL, .sev = 2, .extra = 6, .hull = 65};
    cli_view_event(&w.v, &ev);
    assert_int_equal(w.v.b.ships[1].crits[PROTO_LOC_HULL], 1);
    assert_int_equal(w.v.b.ships[1].hull, 65);

    ev = event(PROTO_T_ENDED, 7, 11);
    ev.u.ended = (struct proto_ended){.winner = 0, .reason = PROTO_END_FORFEIT, .hull = {40, 65}, .rounds = 2};
    cli_view_event(&w.v, &ev);
    assert_int_equal(w.v.phase, CLI_PH_ENDED);
    assert_false(cli_view_seated(&w.v));
    assert_non_null(strstr(viewer_text(&w), "=== Battle over after 2 rounds: YOU WIN (forfeit). ==="));

    /* Events of another battle are one short line and change nothing here. */
    ev = event(PROTO_T_ATTACK, 99, 3);
    cli_view_event(&w.v, &ev);
    assert_non_null(strstr(viewer_text(&w), "[battle 99] attack"));
    assert_int_equal(w.v.b.last_seq, 11);
    viewer_close(&w);
}

static void test_view_spectator_and_quiet_replay(void **state)
{
    (void)state;
    viewer w;
    viewer_open(&w);
    proto_event ev = event(PROTO_T_STATE, 3, 20);
    ev.u.state.seat = PROTO_SEAT_SPECTATOR;
    ev.u.state.phase = PROTO_PHASE_RUNNING;
    ev.u.state.round = 4;
    ev.u.state.round_limit = 100;
    ev.u.state.active = 1;
    ship(&ev.u.state.ships[0], "scout", "Scout", 40);
    ship(&ev.u.state.ships[1], "seeker", "Seeker", 40);
    cli_view_event(&w.v, &ev);
    assert_int_equal(w.v.role, CLI_ROLE_SPECTATOR);
    assert_non_null(strstr(viewer_text(&w), "Watching battle 3."));
    ev = event(PROTO_T_ATTACK, 3, 21);
    ev.u.attack = (struct proto_attack){.seat = 1, .weapon = 0, .dice = {1, 1}, .total = 4};
    cli_view_event(&w.v, &ev);
    assert_non_null(strstr(viewer_text(&w), "Seat 1 (Seeker) fires Pulse Laser [0]: rolled 1+1, total 4: miss."));
    viewer_close(&w);

    /* A new process resumes having seen up to seq 2: the history is applied, only seq 3 shown. */
    viewer_open(&w);
    char *qtext = NULL;
    size_t qlen = 0;
    w.v.quiet = open_memstream(&qtext, &qlen);
    uint8_t token[PROTO_TOKEN_LEN];
    memset(token, 0xab, sizeof token);
    cli_view_adopt(&w.v, 7, 1, token, 2);
    assert_int_equal(w.v.b.last_seq, 0);
    ev = started(7, 1);
    assert_true(cli_view_event(&w.v, &ev));
    ev = event(PROTO_T_TURN, 7, 2);
    ev.u.turn = (struct proto_turn){.round = 1, .active = 1};
    cli_view_event(&w.v, &ev);
    ev = event(PROTO_T_ATTACK, 7, 3);
    ev.u.attack = (struct proto_attack){.seat = 1, .weapon = 0, .dice = {3, 3}, .total = 8, .hit = true,
                                        .damage = 4, .hull = 36};
    cli_view_event(&w.v, &ev);
    fflush(w.v.quiet);
    assert_non_null(strstr(qtext, "started"));
    assert_null(strstr(viewer_text(&w), "started"));
    assert_non_null(strstr(viewer_text(&w), "You fire Pulse Laser"));
    assert_int_equal(w.v.b.ships[0].hull, 36);
    assert_int_equal(w.v.b.last_seq, 3);
    fclose(w.v.quiet);
    free(qtext);
    viewer_close(&w);
}

/* A resume answered by a full state (history gone) keeps the seat's token for the next resume. */
static void test_view_state_keeps_the_token(void **state)
{
    (void)state;
    viewer w;
    viewer_open(&w);
    uint8_t token[PROTO_TOKEN_LEN];
    memset(token, 0x5a, sizeof token);
    cli_view_adopt(&w.v, 8, 1, token, 30);
    proto_event ev = event(PROTO_T_STATE, 8, 40);
    ev.u.state.seat = 1;
    ev.u.state.phase = PROTO_PHASE_RUNNING;
    ev.u.state.round = 9;
    ev.u.state.active = 1;
    ship(&ev.u.state.ships[0], "scout", "Scout", 40);
    ship(&ev.u.state.ships[1], "scout", "Scout", 40);
    cli_view_event(&w.v, &ev);
    assert_true(cli_view_seated(&w.v));
    assert_true(cli_view_my_turn(&w.v));
    assert_memory_equal(w.v.b.token, token, sizeof token);
    assert_int_equal(w.v.b.last_seq, 40);
    assert_non_null(strstr(viewer_text(&w), "Battle 8 as it stands (you are seat 1)"));
    viewer_close(&w);
}

/* Strings from the server never put control bytes (terminal escapes) on the screen. */
static void test_view_scrubs_server_strings(void **state)
{
    (void)state;
    viewer w;
    viewer_open(&w);
    proto_event ev = started(5, 0);
    snprintf(ev.u.started.ships[1].name, sizeof ev.u.started.ships[1].name, "Evil\x1b[2J");
    snprintf(ev.u.started.ships[1].weapons[0].name, sizeof ev.u.started.ships[1].weapons[0].name, "Gun\x07");
    cli_view_event(&w.v, &ev);
    ev = event(PROTO_T_ERROR, 5, 0);
    ev.u.error.code = 9999; /* a code this client does not know */
    snprintf(ev.u.error.msg, sizeof ev.u.error.msg, "bad\rthing\x1b]0;title\x07");
    cli_view_event(&w.v, &ev);
    const char *t = viewer_text(&w);
    assert_null(strchr(t, 0x1b));
    assert_null(strchr(t, 0x07));
    assert_null(strchr(t, '\r'));
    assert_non_null(strstr(t, "Evil?[2J"));
    assert_non_null(strstr(t, "error: bad?thing?]0;title? [unknown, battle 5]"));
    viewer_close(&w);
}

/* ---- resume record ---- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_resume_record(void **state)
{
    (void)state;
    char dir[] = "/tmp/test-cli-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/rec", dir);
    char err[300];
    cli_resume r, back;
    assert_int_equal(cli_resume_load(path, &r, err, sizeof err), 1); /* none yet */

    memset(&r, 0, sizeof r);
    snprintf(r.host, sizeof r.host, "battle.example.org");
    r.port = 7070;
    r.bid = UINT64_MAX;
    r.seat = 1;
    for (int i = 0; i < PROTO_TOKEN_LEN; i++)
        r.token[i] = (uint8_t)(255 - i);
    r.last = 4000000000u;
    assert_int_equal(cli_resume_save(path, &r), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600); /* the token is a secret */
    assert_int_equal(cli_resume_load(path, &back, err, sizeof err), 0);
    assert_memory_equal(&r, &back, sizeof r);

    static const struct {
        const char *text, *says;
    } bad[] = {
        {"", "empty"},
        {"hello\n", "not a resume record"},
        {"battled-resume 1\nhost h\nport 1\nbid 1\nseat 0\ntoken 00112233445566778899aabbccddeeff\n",
         "incomplete"},
        {"battled-resume 1\ncolour red\n", "unknown key"},
        {"battled-resume 1\nport 1\nport 2\n", "repeated key"},
        {"battled-resume 1\nport 70000\n", "bad value for 'port'"},
        {"battled-resume 1\nseat 2\n", "bad value for 'seat'"},
        {"battled-resume 1\nbid 0\n", "bad value for 'bid'"},
        {"battled-resume 1\ntoken 0011\n", "bad value for 'token'"},
        {"battled-resume 1\nlast\n", "expected 'key value'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(path, bad[i].text);
        err[0] = '\0';
        assert_int_equal(cli_resume_load(path, &back, err, sizeof err), -1);
        if (!strstr(err, bad[i].says))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].says);
    }
    char big[CLI_RESUME_FILE_MAX + 10];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    write_file(path, big);
    assert_int_equal(cli_resume_load(path, &back, err, sizeof err), -1);
    assert_non_null(strstr(err, "larger than"));

    assert_int_equal(cli_resume_remove(path), 0);
    assert_int_equal(cli_resume_remove(path), 0); /* already gone is fine */
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_commands),
        cmocka_unit_test(test_parse_rejects_with_a_reason),
        cmocka_unit_test(test_bands_and_tokens),
        cmocka_unit_test(test_view_tells_a_battle),
        cmocka_unit_test(test_view_spectator_and_quiet_replay),
        cmocka_unit_test(test_view_state_keeps_the_token),
        cmocka_unit_test(test_view_scrubs_server_strings),
        cmocka_unit_test(test_resume_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
