/* config: the shipped config.toml matches the schema defaults, overrides and
 * files apply in order, and every kind of mistake is refused with a message
 * naming the place and the setting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/toml.h"
#include "app/config.h"
#include "util/log.h"

static char err[512];

static const char *src_path(const char *rel, char *buf, size_t n)
{
    const char *dir = getenv("BATTLED_SOURCE_DIR");
    snprintf(buf, n, "%s/%s", dir ? dir : ".", rel);
    return buf;
}

/* Loads text over defaults; returns the rc and leaves the message in err. */
static int load(battled_config *c, const char *text)
{
    config_defaults(c);
    err[0] = '\0';
    return config_load_text(c, text, strlen(text), "x.toml", err, sizeof err);
}

static void expect_err(const char *text, const char *want)
{
    battled_config c;
    assert_int_equal(load(&c, text), -1);
    if (!strstr(err, want))
        fail_msg("want '%s' in '%s'", want, err);
}

static void expect_set_err(const char *assign, const char *want)
{
    battled_config c;
    config_defaults(&c);
    assert_int_equal(config_set(&c, assign, err, sizeof err), -1);
    if (!strstr(err, want))
        fail_msg("want '%s' in '%s'", want, err);
}

static bool same_config(const battled_config *a, const battled_config *b, char *which, size_t n)
{
    for (size_t i = 0; i < config_schema_count(); i++) {
        const config_entry *e = config_schema_at(i);
        char va[600], vb[600];
        config_format_value(a, e, va, sizeof va);
        config_format_value(b, e, vb, sizeof vb);
        if (strcmp(va, vb) != 0) {
            snprintf(which, n, "%s.%s: %s vs %s", e->section, e->key, va, vb);
            return false;
        }
    }
    return true;
}

static void test_defaults(void **state)
{
    battled_config c;
    config_defaults(&c);
    assert_string_equal(c.server.listen, "127.0.0.1:7070");
    assert_int_equal(c.server.shards, 0);
    assert_int_equal(c.server.max_connections, 100000);
    assert_int_equal(c.server.max_frame, 4096);
    assert_int_equal(c.server.ring_slots, 16384);
    assert_int_equal(c.server.output_cap, 262144);
    assert_string_equal(c.server.port_file, "");
    assert_string_equal(c.game.ships_file, "data/ships.toml");
    assert_int_equal(c.game.round_limit, 100);
    assert_int_equal(c.game.turn_timer_ms, 30000);
    assert_int_equal(c.ratelimit.actions_per_sec, 2);
    assert_int_equal(c.ratelimit.burst, 4);
    assert_int_equal(c.ratelimit.abuse_refusals, 20);
    assert_int_equal(c.log.level, LOG_LEVEL_INFO);
    assert_string_equal(c.admin.listen, "127.0.0.1:7079");
    assert_string_equal(c.tls.listen, "");
    assert_true(c.persistence.enabled);
    assert_int_equal(c.server.on_sigterm, CONFIG_SIGTERM_RESTART);
    assert_int_equal(c.server.restart_retry_ms, 1000);
    assert_string_equal(c.log.file, "");
    assert_int_equal(c.persistence.fsync, CONFIG_FSYNC_EVERYSEC);
    assert_int_equal(c.persistence.compact_bytes, 67108864);
    /* What server.shards = 0 means is the shards' one policy, shards_count_for (test_shard_units). */
    /* Every schema entry is sane: default in range, doc present. */
    for (size_t i = 0; i < config_schema_count(); i++) {
        const config_entry *e = config_schema_at(i);
        assert_non_null(e->doc);
        assert_true(strlen(e->doc) > 0);
        if (e->type == CONFIG_T_INT || e->type == CONFIG_T_DURATION_MS ||
            e->type == CONFIG_T_SIZE_BYTES)
            assert_true(e->def_int >= e->min && e->def_int <= e->max);
        assert_ptr_equal(config_schema_find(e->section, e->key), e);
    }
    assert_null(config_schema_at(config_schema_count()));
    assert_null(config_schema_find("server", "nope"));
}

/* The shipped config.toml must load to exactly the defaults and name every
 * setting, so the file and the schema cannot drift apart. */
static void test_shipped_file_matches_schema(void **state)
{
    char path[1024];
    src_path("config.toml", path, sizeof path);
    battled_config d, c;
    config_defaults(&d);
    if (config_load(&c, path, NULL, 0, err, sizeof err) != 0)
        fail_msg("%s", err);
    char which[1400];
    if (!same_config(&c, &d, which, sizeof which))
        fail_msg("config.toml differs from the default: %s", which);

    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char text[CONFIG_FILE_MAX];
    size_t n = fread(text, 1, sizeof text, f);
    fclose(f);
    toml_error te;
    toml_doc *doc = toml_parse(text, n, path, &te);
    assert_non_null(doc);
    for (size_t i = 0; i < config_schema_count(); i++) {
        const config_entry *e = config_schema_at(i);
        const toml_value *sec = toml_table_get(toml_root(doc), e->section);
        if (!sec || !toml_table_get(sec, e->key))
            fail_msg("config.toml does not document %s.%s", e->section, e->key);
    }
    toml_free(doc);
}

static void test_file_values_and_overrides(void **state)
{
    battled_config c;
    assert_int_equal(load(&c, "[server]\nshards = 4\nlisten = \"0.0.0.0:0\"\n"
                              "[log]\nlevel = \"debug\"\n"
                              "[persistence]\nenabled = true\nfsync = \"always\"\n"),
                     0);
    assert_int_equal(c.server.shards, 4);
    assert_string_equal(c.server.listen, "0.0.0.0:0");
    assert_int_equal(c.log.level, LOG_LEVEL_DEBUG);
    assert_true(c.persistence.enabled);
    assert_int_equal(c.persistence.fsync, CONFIG_FSYNC_ALWAYS);
    assert_int_equal(c.server.max_frame, 4096); /* untouched: default */

    /* Overrides apply after the file, in order: the last one wins. */
    const char *ov[] = {"server.shards=8", "server.shards = 2", "server.listen=[::1]:7070",
                        "log.level=warn", "tls.cert=\"a b.pem\"", "persistence.skip_damaged=true",
                        "server.ring_slots=0x400"};
    assert_int_equal(config_load(&c, NULL, ov, 7, err, sizeof err), 0);
    assert_int_equal(c.server.shards, 2);
    assert_string_equal(c.server.listen, "[::1]:7070");
    assert_int_equal(c.log.level, LOG_LEVEL_WARN);
    assert_string_equal(c.tls.cert, "a b.pem");
    assert_true(c.persistence.skip_damaged);
    assert_int_equal(c.server.ring_slots, 1024);
    /* Disabling listeners with "" works both ways. */
    assert_int_equal(config_set(&c, "admin.listen=", err, sizeof err), 0);
    assert_string_equal(c.admin.listen, "");
    assert_int_equal(config_set(&c, "admin.listen=\"\"", err, sizeof err), 0);
}

static void test_range_and_type_errors(void **state)
{
    expect_err("[server]\nshards = 300\n", "x.toml:2:10: server.shards: 300 is out of range 0..256");
    expect_err("[server]\nmax_connections = 0\n", "server.max_connections: 0 is out of range");
    expect_err("[server]\nring_slots = 1000\n", "server.ring_slots: 1000 is not a power of two");
    expect_err("[server]\nring_slots = 32\n", "out of range 64..1048576");
    expect_err("[server]\nshards = \"4\"\n", "server.shards: expected an integer, got a string");
    expect_err("[server]\nhello_timeout_ms = 1.5\n", "expected an integer (milliseconds)");
    expect_err("[server]\nmax_frame = true\n", "expected an integer (bytes), got a boolean");
    expect_err("[persistence]\nenabled = 1\n", "persistence.enabled: expected a boolean");
    expect_err("[server]\nlisten = 7070\n", "server.listen: expected a string, got a integer");
    expect_err("[log]\nlevel = \"verbose\"\n",
               "log.level: 'verbose' is not one of error|warn|info|debug");
    expect_err("[persistence]\nfsync = \"sometimes\"\n", "is not one of always|everysec|no");
    expect_err("[server]\nlisten = \"7070\"\n", "server.listen: '7070' is not host:port");
    expect_err("[server]\nlisten = \"\"\n", "is not host:port");
    expect_err("[server]\nlisten = \"host:70000\"\n", "is not host:port");
    expect_err("[server]\nlisten = \"host:\"\n", "is not host:port");
    expect_err("[admin]\nlisten = \"a b:1\"\n", "or \"\" to disable");
    expect_err("[game]\nships_file = \"a\\u0000b\"\n", "game.ships_file: string contains a NUL");
    char big[400];
    int n = snprintf(big, sizeof big, "[game]\nships_file = \"");
    memset(big + n, 'x', CONFIG_STRING_MAX + 1);
    snprintf(big + n + CONFIG_STRING_MAX + 1, sizeof big - (size_t)n - CONFIG_STRING_MAX - 1,
             "\"\n");
    expect_err(big, "string is 256 bytes, longer than the limit of 255");
    /* The longest allowed string is accepted. */
    big[n + CONFIG_STRING_MAX] = '"';
    big[n + CONFIG_STRING_MAX + 1] = '\n';
    big[n + CONFIG_STRING_MAX + 2] = '\0';
    battled_config c;
    assert_int_equal(load(&c, big), 0);
    assert_int_equal(strlen(c.game.ships_file), CONFIG_STRING_MAX);
}

static void test_unknown_and_structure_errors(void **state)
{
    expect_err("[server]\nshardz = 1\n", "x.toml:2:10: server.shardz: unknown setting");
    expect_err("[sever]\nshards = 1\n", "sever: unknown section");
    expect_err("shards = 1\n", "shards: unknown section");
    expect_err("server = 1\n", "server: expected a [server] table, got a integer");
    expect_err("[server]\nshards = 1\nshards = 2\n", "x.toml:3:1: server.shards: duplicate key");
    expect_err("[server]\nshards = 1 2\n", "x.toml:2:12: server.shards: end of line expected");
    expect_err("[server.extra]\nx = 1\n", "server.extra: unknown setting");
}

static void test_cross_checks(void **state)
{
    battled_config c;
    const char *ov1[] = {"server.max_frame=65536", "server.output_cap=4096"};
    assert_int_equal(config_load(&c, NULL, ov1, 2, err, sizeof err), -1);
    assert_non_null(strstr(err, "server.output_cap (4096) must be at least server.max_frame"));
    const char *ov2[] = {"tls.listen=0.0.0.0:7443"};
    assert_int_equal(config_load(&c, NULL, ov2, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "tls.cert and tls.key are required"));
    const char *ov3[] = {"tls.listen=0.0.0.0:7443", "tls.cert=c.pem", "tls.key=k.pem"};
    assert_int_equal(config_load(&c, NULL, ov3, 3, err, sizeof err), 0);
}

static void test_set_errors(void **state)
{
    expect_set_err("server.shards", "expected section.key=value");
    expect_set_err("shards=1", "expected section.key=value");
    expect_set_err("server.nope=1", "unknown setting server.nope");
    expect_set_err("nope.shards=1", "unknown setting nope.shards");
    expect_set_err("server.shards=300", "--set server.shards=300: 300 is out of range 0..256");
    expect_set_err("server.shards=abc", "--set server.shards: invalid value");
    expect_set_err("server.shards=", "invalid value");
    expect_set_err("server.shards=1\nserver.x=2", "line break");
    expect_set_err("persistence.enabled=yes", "invalid value");
    expect_set_err("log.level=loud", "'loud' is not one of");
    expect_set_err("server.listen=\"unterminated", "invalid value");
}

static void test_missing_file(void **state)
{
    battled_config c;
    assert_int_equal(config_load(&c, "/nonexistent/battled.toml", NULL, 0, err, sizeof err), -1);
    assert_string_equal(err, "/nonexistent/battled.toml: cannot open: No such file or directory");
}

/* config_print writes TOML that loads back to the same settings. */
static void test_print_round_trips(void **state)
{
    battled_config c, back;
    const char *ov[] = {"server.listen=10.0.0.1:0", "game.ships_file=we \"ird\\path",
                        "log.level=error", "persistence.fsync=no", "server.shards=3",
                        "persistence.enabled=true"};
    assert_int_equal(config_load(&c, NULL, ov, 6, err, sizeof err), 0);
    assert_string_equal(c.game.ships_file, "we \"ird\\path");
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    config_print(&c, m);
    fclose(m);
    config_defaults(&back);
    if (config_load_text(&back, text, len, "printed", err, sizeof err) != 0)
        fail_msg("%s\n%s", err, text);
    char which[1400];
    if (!same_config(&c, &back, which, sizeof which))
        fail_msg("round trip changed %s", which);
    assert_non_null(strstr(text, "[server]\nlisten = \"10.0.0.1:0\"\n"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_shipped_file_matches_schema),
        cmocka_unit_test(test_file_values_and_overrides),
        cmocka_unit_test(test_range_and_type_errors),
        cmocka_unit_test(test_unknown_and_structure_errors),
        cmocka_unit_test(test_cross_checks),
        cmocka_unit_test(test_set_errors),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_print_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
