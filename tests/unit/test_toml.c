/* TOML reader: every supported feature parses to the expected tree, and every
 * class of error is refused with the right line, column and key. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/toml.h"

static toml_doc *ok(const char *text)
{
    toml_error e;
    toml_doc *d = toml_parse(text, strlen(text), "t.toml", &e);
    if (!d)
        fail_msg("unexpected error %s:%d:%d: [%s] %s\n--- input:\n%s", e.file, e.line, e.col,
                 e.key, e.msg, text);
    return d;
}

/* Expects a parse error at line:col whose message contains want (and whose
 * key equals key when key is not NULL). */
static void bad_n(const char *text, size_t len, int line, int col, const char *key,
                  const char *want)
{
    toml_error e;
    toml_doc *d = toml_parse(text, len, "t.toml", &e);
    if (d) {
        toml_free(d);
        fail_msg("accepted invalid input:\n%s", text);
    }
    if (e.line != line || e.col != col || !strstr(e.msg, want) ||
        (key && strcmp(e.key, key) != 0))
        fail_msg("input:\n%s\nwant %d:%d [%s] '%s'\ngot  %d:%d [%s] '%s'", text, line, col,
                 key ? key : "*", want, e.line, e.col, e.key, e.msg);
    assert_string_equal(e.file, "t.toml");
}

static void bad(const char *text, int line, int col, const char *key, const char *want)
{
    bad_n(text, strlen(text), line, col, key, want);
}

static const toml_value *get(const toml_value *t, const char *k)
{
    const toml_value *v = toml_table_get(t, k);
    if (!v)
        fail_msg("missing key %s", k);
    return v;
}

static void test_scalars(void **state)
{
    toml_doc *d = ok("# comment\n"
                     "a = 1\n"
                     "b = -42 # trailing comment\n"
                     "c = +7\n"
                     "d = 1_000_000\n"
                     "e = 0xDEAD_beef\n"
                     "f = 0o755\n"
                     "g = 0b1010\n"
                     "h = 9223372036854775807\n"
                     "i = -9223372036854775808\n"
                     "j = true\n"
                     "k = false\n"
                     "l = 3.5\n"
                     "m = -1e3\n"
                     "n = 6.25E-2\n"
                     "o = inf\n"
                     "p = -inf\n"
                     "q = nan\n"
                     "r = 1_0.2_5\n"
                     "s = 0\n"
                     "t = -0.0\n");
    const toml_value *r = toml_root(d);
    assert_int_equal(toml_as_int(get(r, "a")), 1);
    assert_int_equal(toml_as_int(get(r, "b")), -42);
    assert_int_equal(toml_as_int(get(r, "c")), 7);
    assert_int_equal(toml_as_int(get(r, "d")), 1000000);
    assert_int_equal(toml_as_int(get(r, "e")), 0xDEADBEEF);
    assert_int_equal(toml_as_int(get(r, "f")), 0755);
    assert_int_equal(toml_as_int(get(r, "g")), 10);
    assert_true(toml_as_int(get(r, "h")) == INT64_MAX);
    assert_true(toml_as_int(get(r, "i")) == INT64_MIN);
    assert_int_equal(toml_type_of(get(r, "j")), TOML_BOOL);
    assert_true(toml_as_bool(get(r, "j")));
    assert_false(toml_as_bool(get(r, "k")));
    assert_int_equal(toml_type_of(get(r, "l")), TOML_FLOAT);
    assert_true(toml_as_float(get(r, "l")) == 3.5);
    assert_true(toml_as_float(get(r, "m")) == -1000.0);
    assert_true(toml_as_float(get(r, "n")) == 0.0625);
    assert_true(isinf(toml_as_float(get(r, "o"))) && toml_as_float(get(r, "o")) > 0);
    assert_true(isinf(toml_as_float(get(r, "p"))) && toml_as_float(get(r, "p")) < 0);
    assert_true(isnan(toml_as_float(get(r, "q"))));
    assert_true(toml_as_float(get(r, "r")) == 10.25);
    assert_int_equal(toml_type_of(get(r, "s")), TOML_INT);
    assert_int_equal(toml_type_of(get(r, "t")), TOML_FLOAT);
    /* Positions are where the value starts. */
    assert_int_equal(toml_line(get(r, "b")), 3);
    assert_int_equal(toml_col(get(r, "b")), 5);
    /* Document order is kept. */
    assert_int_equal(toml_table_count(r), 20);
    assert_string_equal(toml_table_key_at(r, 0), "a");
    assert_string_equal(toml_table_key_at(r, 19), "t");
    /* Wrong-type accessors return zero values. */
    assert_null(toml_as_string(get(r, "a"), NULL));
    assert_int_equal(toml_as_int(get(r, "j")), 0);
    toml_free(d);
}

static void test_strings(void **state)
{
    toml_doc *d = ok("a = \"tab\\there \\\"q\\\" back\\\\ \\u00e9 \\U0001F680 \\b\\f\\r\\n\"\n"
                     "b = 'C:\\path\\no escapes'\n"
                     "c = \"\"\"\nline1\nline2\\\n    continued\"\"\"\n"
                     "d = '''\nraw \\n\n'''\n"
                     "e = \"\"\"two quotes at end\"\"\"\"\"\n"
                     "f = \"nul\\u0000inside\"\n"
                     "g = \"\"\n"
                     "h = \"caf\xc3\xa9\"\n");
    const toml_value *r = toml_root(d);
    size_t len;
    assert_string_equal(toml_as_string(get(r, "a"), NULL),
                        "tab\there \"q\" back\\ \xc3\xa9 \xf0\x9f\x9a\x80 \b\f\r\n");
    assert_string_equal(toml_as_string(get(r, "b"), NULL), "C:\\path\\no escapes");
    assert_string_equal(toml_as_string(get(r, "c"), NULL), "line1\nline2continued");
    assert_string_equal(toml_as_string(get(r, "d"), NULL), "raw \\n\n");
    assert_string_equal(toml_as_string(get(r, "e"), NULL), "two quotes at end\"\"");
    const char *f = toml_as_string(get(r, "f"), &len);
    assert_int_equal(len, 10);
    assert_memory_equal(f, "nul\0inside", 11);
    assert_string_equal(toml_as_string(get(r, "g"), &len), "");
    assert_int_equal(len, 0);
    assert_string_equal(toml_as_string(get(r, "h"), NULL), "caf\xc3\xa9");
    toml_free(d);
}

static void test_tables(void **state)
{
    toml_doc *d = ok("top = 1\n"
                     "[server]\n"
                     "listen = \"x\"\n"
                     "[a.b.c]\n"
                     "x = 1\n"
                     "[a]\n"
                     "y = 2\n"
                     "[ \"quoted key\" . 'lit' ]\n"
                     "z = 3\n"
                     "[dot]\n"
                     "p.q.r = 4\n"
                     "p.q.s = 5\n"
                     "\"k.with.dots\" = 6\n"
                     "[dot.p.t]\n"
                     "u = 7\n");
    const toml_value *r = toml_root(d);
    assert_int_equal(toml_as_int(get(r, "top")), 1);
    assert_string_equal(toml_as_string(get(get(r, "server"), "listen"), NULL), "x");
    const toml_value *a = get(r, "a");
    assert_int_equal(toml_as_int(get(get(get(a, "b"), "c"), "x")), 1);
    assert_int_equal(toml_as_int(get(a, "y")), 2);
    assert_int_equal(toml_as_int(get(get(get(r, "quoted key"), "lit"), "z")), 3);
    const toml_value *q = get(get(get(r, "dot"), "p"), "q");
    assert_int_equal(toml_as_int(get(q, "r")), 4);
    assert_int_equal(toml_as_int(get(q, "s")), 5);
    assert_int_equal(toml_as_int(get(get(r, "dot"), "k.with.dots")), 6);
    assert_int_equal(toml_as_int(get(get(get(get(r, "dot"), "p"), "t"), "u")), 7);
    assert_null(toml_table_get(r, "missing"));
    toml_free(d);
}

static void test_arrays_and_inline(void **state)
{
    toml_doc *d = ok("a = [1, 2, 3]\n"
                     "b = [ \"x\", 1, true, [2, 3], ] # mixed, trailing comma\n"
                     "c = [\n  1, # one\n  2\n\n]\n"
                     "d = []\n"
                     "e = { x = 1, y.z = \"w\", n = { m = [1] } }\n"
                     "f = {}\n"
                     "[[ship]]\n"
                     "name = \"scout\"\n"
                     "[ship.hull]\n"
                     "points = 10\n"
                     "[[ship]]\n"
                     "name = \"cruiser\"\n");
    const toml_value *r = toml_root(d);
    const toml_value *a = get(r, "a");
    assert_int_equal(toml_type_of(a), TOML_ARRAY);
    assert_int_equal(toml_array_count(a), 3);
    assert_int_equal(toml_as_int(toml_array_at(a, 2)), 3);
    assert_null(toml_array_at(a, 3));
    const toml_value *b = get(r, "b");
    assert_int_equal(toml_array_count(b), 4);
    assert_int_equal(toml_type_of(toml_array_at(b, 0)), TOML_STRING);
    assert_int_equal(toml_array_count(toml_array_at(b, 3)), 2);
    assert_int_equal(toml_array_count(get(r, "c")), 2);
    assert_int_equal(toml_array_count(get(r, "d")), 0);
    const toml_value *e = get(r, "e");
    assert_int_equal(toml_type_of(e), TOML_TABLE);
    assert_int_equal(toml_as_int(get(e, "x")), 1);
    assert_string_equal(toml_as_string(get(get(e, "y"), "z"), NULL), "w");
    assert_int_equal(toml_array_count(get(get(e, "n"), "m")), 1);
    assert_int_equal(toml_table_count(get(r, "f")), 0);
    const toml_value *s = get(r, "ship");
    assert_int_equal(toml_array_count(s), 2);
    assert_string_equal(toml_as_string(get(toml_array_at(s, 0), "name"), NULL), "scout");
    assert_int_equal(toml_as_int(get(get(toml_array_at(s, 0), "hull"), "points")), 10);
    assert_string_equal(toml_as_string(get(toml_array_at(s, 1), "name"), NULL), "cruiser");
    assert_null(toml_table_get(toml_array_at(s, 1), "hull"));
    toml_free(d);
}

static void test_crlf_and_empty(void **state)
{
    toml_doc *d = ok("a = 1\r\nb = \"\"\"x\r\ny\"\"\"\r\n");
    assert_string_equal(toml_as_string(get(toml_root(d), "b"), NULL), "x\ny");
    toml_free(d);
    d = ok("");
    assert_int_equal(toml_table_count(toml_root(d)), 0);
    toml_free(d);
    d = ok("# only a comment");
    toml_free(d);
}

static void test_many_keys_stay_fast(void **state)
{
    /* 20000 keys in one table: the hash index keeps this linear. */
    size_t cap = 20000 * 24;
    char *buf = malloc(cap);
    size_t o = 0;
    for (int i = 0; i < 20000; i++)
        o += (size_t)snprintf(buf + o, cap - o, "k%d = %d\n", i, i);
    toml_error e;
    toml_doc *d = toml_parse(buf, o, "big", &e);
    assert_non_null(d);
    assert_int_equal(toml_as_int(toml_table_get(toml_root(d), "k12345")), 12345);
    toml_free(d);
    /* The same with a duplicate at the end is refused. */
    o += (size_t)snprintf(buf + o, cap - o, "k777 = 1\n");
    assert_null(toml_parse(buf, o, "big", &e));
    assert_int_equal(e.line, 20001);
    assert_string_equal(e.key, "k777");
    free(buf);
}

static void test_syntax_errors(void **state)
{
    bad("a = \n", 1, 5, "a", "value expected");
    bad("a = 1\nb 2\n", 2, 3, "b", "'=' expected");
    bad("a = 1 b = 2\n", 1, 7, "a", "end of line expected");
    bad("= 1\n", 1, 1, "", "key expected");
    bad("a = [1 2]\n", 1, 8, "a", "',' or ']' expected");
    bad("a = [1,\n", 2, 1, "a", "value expected");
    bad("a = {x = 1,}\n", 1, 12, "a", "trailing comma");
    bad("a = {x = 1\n}\n", 1, 11, "a", "',' or '}' expected");
    bad("[a\n", 1, 3, "a", "']' expected");
    bad("[[a]\n", 1, 4, "a", "']]' expected");
    bad("a = bogus\n", 1, 5, "a", "invalid value");
    bad("a = 1\rb = 2\n", 1, 6, "", "carriage return");
    bad("a = 1979-05-27\n", 1, 5, "a", "dates and times are not supported");
    bad("a = 07:32:00\n", 1, 5, "a", "dates and times are not supported");
}

static void test_number_errors(void **state)
{
    bad("a = 9223372036854775808\n", 1, 5, "a", "overflows");
    bad("a = -9223372036854775809\n", 1, 5, "a", "overflows");
    bad("a = 0x1_0000_0000_0000_0000\n", 1, 5, "a", "overflows");
    bad("a = 0x8000000000000000\n", 1, 5, "a", "overflows");
    bad("a = 012\n", 1, 5, "a", "leading zeros");
    bad("a = 1__0\n", 1, 5, "a", "invalid number");
    bad("a = 1_\n", 1, 5, "a", "invalid number");
    bad("a = -0x1\n", 1, 5, "a", "sign not allowed");
    bad("a = 0xG\n", 1, 5, "a", "invalid integer");
    bad("a = 1.\n", 1, 5, "a", "invalid float");
    bad("a = 1e\n", 1, 5, "a", "invalid float");
    bad("a = 1e400\n", 1, 5, "a", "out of range");
    bad("a = +\n", 1, 5, "a", "invalid number");
}

static void test_string_errors(void **state)
{
    bad("a = \"abc\n", 1, 5, "a", "unterminated string");
    bad("a = \"bad \\q escape\"\n", 1, 10, "a", "invalid escape");
    bad("a = \"\\uD800\"\n", 1, 6, "a", "not a Unicode scalar");
    bad("a = \"\\u12\"\n", 1, 6, "a", "hex digit expected");
    bad("a = \"ctl \x01 char\"\n", 1, 10, "a", "control character 0x01");
    bad("a = 'ctl \x7f char'\n", 1, 10, "a", "control character 0x7f");
    bad("# comment \x02\n", 1, 11, "", "control character 0x02 in comment");
    bad("a = \"\"\"\nnever closed\n", 1, 5, "a", "unterminated multi-line string");
    bad("a = \"\"\"x\"\"\"\"\"\"\n", 1, 9, "a", "too many quotes");
    bad("a = \"bad \xc3\x28 utf8\"\n", 1, 10, "", "invalid UTF-8");
    bad("x = 1\na = \"overlong \xc0\xaf\"\n", 2, 15, "", "invalid UTF-8");
    bad("a = \"surrogate \xed\xa0\x80\"\n", 1, 16, "", "invalid UTF-8");
    bad("a = \"cut \xe2\x82", 1, 10, "", "invalid UTF-8");
    bad_n("a = \"nul \0 x\"\n", 14, 1, 10, "a", "control character 0x00");
    bad("\"\\u0000\" = 1\n", 1, 1, "", "NUL");
    bad("\"\"\"k\"\"\" = 1\n", 1, 1, "", "multi-line string not allowed");
}

static void test_redefinition_errors(void **state)
{
    bad("a = 1\na = 2\n", 2, 1, "a", "duplicate key");
    bad("[t]\nx = 1\n[t]\n", 3, 1, "t", "table redefined");
    bad("[t]\n[t.u]\n[t]\n", 3, 1, "t", "table redefined");
    bad("a = 1\n[a]\n", 2, 1, "a", "already defined as a integer");
    bad("a.b = 1\n[a]\n", 2, 1, "a", "table redefined");
    bad("a.b = 1\na.b.c = 2\n", 2, 3, "a.b.c", "already defined as a integer");
    bad("a = {x = 1}\na.y = 2\n", 2, 1, "a.y", "defined elsewhere");
    bad("a = {x = 1}\n[a.b]\n", 2, 2, "a.b", "inline table");
    bad("a = [1]\n[[a]]\n", 2, 1, "a", "cannot redefine an array");
    bad("[a]\n[[a]]\n", 2, 1, "a", "cannot redefine a table");
    bad("[[a]]\n[a]\n", 2, 1, "a", "already defined as a array");
    bad("[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n", 4, 1, "a.b.c.t", "defined elsewhere");
    bad("[x]\ny.z = 1\n[x.y]\n", 3, 1, "x.y", "table redefined");
    bad("a = {x = 1, x = 2}\n", 1, 13, "a.x", "duplicate key");
    bad("[s]\nk = 1\nk = 2\n", 3, 1, "s.k", "duplicate key");
}

static void test_limits(void **state)
{
    char buf[512];
    /* Array nesting past TOML_MAX_DEPTH. */
    size_t o = (size_t)snprintf(buf, sizeof buf, "a = ");
    for (int i = 0; i < TOML_MAX_DEPTH + 2; i++)
        buf[o++] = '[';
    buf[o] = '\0';
    toml_error e;
    assert_null(toml_parse(buf, o, "t.toml", &e));
    assert_non_null(strstr(e.msg, "nesting deeper"));
    /* Too many dotted parts. */
    o = 0;
    for (int i = 0; i < TOML_MAX_DEPTH + 1; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "k.");
    o += (size_t)snprintf(buf + o, sizeof buf - o, "k = 1\n");
    assert_null(toml_parse(buf, o, "t.toml", &e));
    assert_non_null(strstr(e.msg, "more than"));
    /* Over-long key. */
    memset(buf, 'k', TOML_MAX_KEY + 1);
    o = TOML_MAX_KEY + 1;
    o += (size_t)snprintf(buf + o, sizeof buf - o, " = 1\n");
    assert_null(toml_parse(buf, o, "t.toml", &e));
    assert_int_equal(e.col, 1);
    assert_non_null(strstr(e.msg, "key longer than"));
    /* Document too large (checked before reading it). */
    assert_null(toml_parse(buf, (size_t)TOML_MAX_DOC + 1, "t.toml", &e));
    assert_non_null(strstr(e.msg, "larger than"));
    /* NULL error pointer is allowed. */
    assert_null(toml_parse("a =", 3, NULL, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_arrays_and_inline),
        cmocka_unit_test(test_crlf_and_empty),
        cmocka_unit_test(test_many_keys_stay_fast),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_number_errors),
        cmocka_unit_test(test_string_errors),
        cmocka_unit_test(test_redefinition_errors),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
