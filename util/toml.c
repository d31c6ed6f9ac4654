/* toml: a strict recursive-descent TOML reader. See toml.h for the subset.
 *
 * Every read of the input is bounds-checked against P->end, so the input need
 * not be NUL-terminated. Nesting (arrays, inline tables, dotted keys, table
 * headers) is capped at TOML_MAX_DEPTH so recursion is bounded. Tables keep
 * keys in document order plus a hash index once they grow, so a hostile
 * document with many keys stays linear. Columns count bytes. */
#include "util/toml.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Table flags: how a table came to exist decides what may extend it later. */
#define F_HEADER 1u   /* opened by [header] (or is the root) */
#define F_DOTTED 2u   /* created by a dotted key (a.b = 1) */
#define F_FROZEN 4u   /* inline table or array literal: never extended */
#define F_AOT 8u      /* array created by [[header]] */
#define F_IMPLICIT 16u /* created as a parent by [a.b.c] */

#define INDEX_MIN 8 /* tables with more keys get a hash index */

struct toml_value {
    toml_type type;
    unsigned flags;
    int depth;
    int line, col;
    union {
        struct {
            char *s;
            size_t len;
        } str;
        int64_t i;
        double f;
        bool b;
        struct {
            toml_value **v;
            size_t n, cap;
        } arr;
        struct {
            char **k;
            toml_value **v;
            size_t n, cap;
            uint32_t *idx; /* slot -> entry index + 1, 0 = empty */
            size_t idx_cap;
        } tbl;
    } u;
};

struct toml_doc {
    toml_value *root;
};

typedef struct {
    const char *begin, *p, *end;
    int line;
    const char *line_start;
    int nest; /* current array / inline-table nesting */
    toml_error *err;
    bool failed;
    char key[TOML_MAX_KEY * 2]; /* dotted key being defined, for errors */
} parser;

typedef struct {
    char *s;
    size_t len;
    const char *at; /* where the part starts in the input, for errors */
} keypart;

typedef struct {
    keypart part[TOML_MAX_DEPTH];
    int n;
} dkey;

/* ---------- errors ---------- */

static int fail_at(parser *P, const char *at, const char *fmt, ...)
{
    if (P->failed)
        return -1;
    P->failed = true;
    int line = 1;
    const char *ls = P->begin;
    if (at > P->end)
        at = P->end;
    for (const char *q = P->begin; q < at; q++)
        if (*q == '\n') {
            line++;
            ls = q + 1;
        }
    P->err->line = line;
    P->err->col = (int)(at - ls) + 1;
    snprintf(P->err->key, sizeof P->err->key, "%s", P->key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(P->err->msg, sizeof P->err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

#define FAIL(...) fail_at(P, P->p, __VA_ARGS__)

/* ---------- values ---------- */

static void value_free(toml_value *v)
{
    if (!v)
        return;
    if (v->type == TOML_STRING) {
        free(v->u.str.s);
    } else if (v->type == TOML_ARRAY) {
        for (size_t i = 0; i < v->u.arr.n; i++)
            value_free(v->u.arr.v[i]);
        free(v->u.arr.v);
    } else if (v->type == TOML_TABLE) {
        for (size_t i = 0; i < v->u.tbl.n; i++) {
            free(v->u.tbl.k[i]);
            value_free(v->u.tbl.v[i]);
        }
        free(v->u.tbl.k);
        free(v->u.tbl.v);
        free(v->u.tbl.idx);
    }
    free(v);
}

static toml_value *value_new(parser *P, toml_type t, int depth, const char *at)
{
    if (depth > TOML_MAX_DEPTH) {
        fail_at(P, at, "nesting deeper than %d", TOML_MAX_DEPTH);
        return NULL;
    }
    toml_value *v = calloc(1, sizeof *v);
    if (!v) {
        fail_at(P, at, "out of memory");
        return NULL;
    }
    v->type = t;
    v->depth = depth;
    /* Position from the incrementally tracked line, which is exact here. */
    const char *ls = P->line_start;
    v->line = P->line;
    v->col = at >= ls ? (int)(at - ls) + 1 : 1;
    return v;
}

static uint32_t hash_key(const char *k, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 16777619u;
    return h;
}

static int index_rebuild(toml_value *t)
{
    size_t cap = 16;
    while (cap < t->u.tbl.n * 2 + 2)
        cap *= 2;
    uint32_t *idx = calloc(cap, sizeof *idx);
    if (!idx)
        return -1;
    for (size_t i = 0; i < t->u.tbl.n; i++) {
        const char *k = t->u.tbl.k[i];
        size_t s = hash_key(k, strlen(k)) & (cap - 1);
        while (idx[s])
            s = (s + 1) & (cap - 1);
        idx[s] = (uint32_t)i + 1;
    }
    free(t->u.tbl.idx);
    t->u.tbl.idx = idx;
    t->u.tbl.idx_cap = cap;
    return 0;
}

static toml_value *table_find(const toml_value *t, const char *k, size_t n)
{
    if (t->u.tbl.idx) {
        size_t cap = t->u.tbl.idx_cap;
        size_t s = hash_key(k, n) & (cap - 1);
        while (t->u.tbl.idx[s]) {
            size_t i = t->u.tbl.idx[s] - 1;
            const char *e = t->u.tbl.k[i];
            if (strncmp(e, k, n) == 0 && e[n] == '\0')
                return t->u.tbl.v[i];
            s = (s + 1) & (cap - 1);
        }
        return NULL;
    }
    for (size_t i = 0; i < t->u.tbl.n; i++) {
        const char *e = t->u.tbl.k[i];
        if (strncmp(e, k, n) == 0 && e[n] == '\0')
            return t->u.tbl.v[i];
    }
    return NULL;
}

/* Adds k -> v (k not present). Takes ownership of v even on failure. */
static int table_add(parser *P, toml_value *t, const keypart *k, toml_value *v)
{
    if (t->u.tbl.n == t->u.tbl.cap) {
        size_t cap = t->u.tbl.cap ? t->u.tbl.cap * 2 : 4;
        char **nk = realloc(t->u.tbl.k, cap * sizeof *nk);
        if (nk)
            t->u.tbl.k = nk;
        toml_value **nv = nk ? realloc(t->u.tbl.v, cap * sizeof *nv) : NULL;
        if (nv)
            t->u.tbl.v = nv;
        if (!nk || !nv) {
            value_free(v);
            return FAIL("out of memory");
        }
        t->u.tbl.cap = cap;
    }
    char *copy = malloc(k->len + 1);
    if (!copy) {
        value_free(v);
        return FAIL("out of memory");
    }
    memcpy(copy, k->s, k->len);
    copy[k->len] = '\0';
    t->u.tbl.k[t->u.tbl.n] = copy;
    t->u.tbl.v[t->u.tbl.n] = v;
    t->u.tbl.n++;
    if (t->u.tbl.n > INDEX_MIN && t->u.tbl.n * 2 + 2 > t->u.tbl.idx_cap) {
        if (index_rebuild(t) != 0)
            return FAIL("out of memory");
    } else if (t->u.tbl.idx) {
        size_t cap = t->u.tbl.idx_cap;
        size_t s = hash_key(copy, k->len) & (cap - 1);
        while (t->u.tbl.idx[s])
            s = (s + 1) & (cap - 1);
        t->u.tbl.idx[s] = (uint32_t)t->u.tbl.n;
    }
    return 0;
}

/* Appends v to array a. Takes ownership of v even on failure. */
static int array_add(parser *P, toml_value *a, toml_value *v)
{
    if (a->u.arr.n == a->u.arr.cap) {
        size_t cap = a->u.arr.cap ? a->u.arr.cap * 2 : 4;
        toml_value **nv = realloc(a->u.arr.v, cap * sizeof *nv);
        if (!nv) {
            value_free(v);
            return FAIL("out of memory");
        }
        a->u.arr.v = nv;
        a->u.arr.cap = cap;
    }
    a->u.arr.v[a->u.arr.n++] = v;
    return 0;
}

/* ---------- lexical helpers ---------- */

static bool at_end(const parser *P)
{
    return P->p >= P->end;
}

static int peek(const parser *P)
{
    return P->p < P->end ? (unsigned char)*P->p : -1;
}

static int peek_at(const parser *P, size_t off)
{
    return (size_t)(P->end - P->p) > off ? (unsigned char)P->p[off] : -1;
}

static void skip_ws(parser *P)
{
    while (P->p < P->end && (*P->p == ' ' || *P->p == '\t'))
        P->p++;
}

static void note_newline(parser *P)
{
    P->line++;
    P->line_start = P->p;
}

/* Consumes "\n" or "\r\n". Returns 1 if one was consumed, 0 if none, -1 on a
 * bare carriage return. */
static int eat_newline(parser *P)
{
    if (peek(P) == '\n') {
        P->p++;
        note_newline(P);
        return 1;
    }
    if (peek(P) == '\r') {
        if (peek_at(P, 1) != '\n')
            return FAIL("carriage return not followed by newline");
        P->p += 2;
        note_newline(P);
        return 1;
    }
    return 0;
}

/* Control characters other than tab are refused in comments and strings. */
static bool is_bad_control(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7F;
}

static int skip_comment(parser *P)
{
    if (peek(P) != '#')
        return 0;
    while (P->p < P->end && *P->p != '\n' && *P->p != '\r') {
        if (is_bad_control((unsigned char)*P->p))
            return FAIL("control character 0x%02x in comment", (unsigned char)*P->p);
        P->p++;
    }
    return 0;
}

/* Skips whitespace, comments and newlines (inside arrays). */
static int skip_ws_nl(parser *P)
{
    for (;;) {
        skip_ws(P);
        if (skip_comment(P) < 0)
            return -1;
        int r = eat_newline(P);
        if (r < 0)
            return -1;
        if (r == 0)
            return 0;
    }
}

/* Validates the whole input as UTF-8 (no overlongs, surrogates or values
 * past U+10FFFF) before parsing, so later code can copy bytes freely. */
static int check_utf8(parser *P)
{
    const unsigned char *s = (const unsigned char *)P->begin;
    const unsigned char *e = (const unsigned char *)P->end;
    while (s < e) {
        unsigned c = *s;
        if (c < 0x80) {
            s++;
            continue;
        }
        size_t n;
        unsigned cp, min;
        if ((c & 0xE0) == 0xC0) {
            n = 2; cp = c & 0x1F; min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 3; cp = c & 0x0F; min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 4; cp = c & 0x07; min = 0x10000;
        } else {
            return fail_at(P, (const char *)s, "invalid UTF-8");
        }
        if ((size_t)(e - s) < n)
            return fail_at(P, (const char *)s, "invalid UTF-8");
        for (size_t i = 1; i < n; i++) {
            if ((s[i] & 0xC0) != 0x80)
                return fail_at(P, (const char *)s, "invalid UTF-8");
            cp = (cp << 6) | (s[i] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return fail_at(P, (const char *)s, "invalid UTF-8");
        s += n;
    }
    return 0;
}

/* ---------- strings ---------- */

typedef struct {
    char *s;
    size_t len, cap;
} sbuf;

static int sb_put(parser *P, sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns)
            return FAIL("out of memory");
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

static int sb_utf8(parser *P, sbuf *b, uint32_t cp)
{
    char o[4];
    size_t n;
    if (cp < 0x80) {
        o[0] = (char)cp; n = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); n = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
    } else {
        o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
    }
    return sb_put(P, b, o, n);
}

/* At the backslash of an escape in a basic string. */
static int parse_escape(parser *P, sbuf *b)
{
    const char *start = P->p;
    P->p++;
    int c = peek(P);
    const char *rep = NULL;
    switch (c) {
    case 'b': rep = "\b"; break;
    case 't': rep = "\t"; break;
    case 'n': rep = "\n"; break;
    case 'f': rep = "\f"; break;
    case 'r': rep = "\r"; break;
    case '"': rep = "\""; break;
    case '\\': rep = "\\"; break;
    case 'u':
    case 'U': {
        size_t nd = c == 'u' ? 4 : 8;
        P->p++;
        if ((size_t)(P->end - P->p) < nd)
            return fail_at(P, start, "truncated \\%c escape", c);
        uint32_t cp = 0;
        for (size_t i = 0; i < nd; i++) {
            int h = (unsigned char)P->p[i];
            int d = h >= '0' && h <= '9' ? h - '0'
                  : h >= 'a' && h <= 'f' ? h - 'a' + 10
                  : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
            if (d < 0)
                return fail_at(P, start, "invalid \\%c escape: hex digit expected", c);
            cp = (cp << 4) | (uint32_t)d;
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return fail_at(P, start, "\\%c escape is not a Unicode scalar value", c);
        P->p += nd;
        return sb_utf8(P, b, cp);
    }
    default:
        return fail_at(P, start, "invalid escape sequence");
    }
    P->p++;
    return sb_put(P, b, rep, 1);
}

/* Parses any of the four string forms at P->p into b. multiline strings may
 * span lines; keys pass allow_multi = false. */
static int parse_string(parser *P, sbuf *b, bool allow_multi)
{
    const char *start = P->p;
    char q = *P->p;
    bool literal = q == '\'';
    bool multi = peek_at(P, 1) == q && peek_at(P, 2) == q;
    if (multi && !allow_multi)
        return FAIL("multi-line string not allowed here");
    if (sb_put(P, b, "", 0) < 0)
        return -1;
    if (multi) {
        P->p += 3;
        /* A newline right after the opening delimiter is trimmed. */
        if (eat_newline(P) < 0)
            return -1;
        for (;;) {
            if (at_end(P))
                return fail_at(P, start, "unterminated multi-line string");
            unsigned char c = (unsigned char)*P->p;
            if (c == (unsigned char)q && peek_at(P, 1) == q && peek_at(P, 2) == q) {
                size_t n = 3;
                while (peek_at(P, n) == q)
                    n++;
                if (n > 5)
                    return FAIL("too many quotes at end of multi-line string");
                if (sb_put(P, b, P->p, n - 3) < 0)
                    return -1;
                P->p += n;
                return 0;
            }
            if (c == '\n' || c == '\r') {
                const char *nl = P->p;
                if (eat_newline(P) < 0)
                    return -1;
                if (sb_put(P, b, "\n", 1) < 0)
                    return -1;
                (void)nl;
                continue;
            }
            if (!literal && c == '\\') {
                /* Line-ending backslash: skip whitespace and newlines. */
                const char *s = P->p + 1;
                while (s < P->end && (*s == ' ' || *s == '\t'))
                    s++;
                if (s < P->end && (*s == '\n' || *s == '\r')) {
                    P->p = s;
                    for (;;) {
                        skip_ws(P);
                        int r = eat_newline(P);
                        if (r < 0)
                            return -1;
                        if (r == 0)
                            break;
                    }
                    continue;
                }
                if (parse_escape(P, b) < 0)
                    return -1;
                continue;
            }
            if (is_bad_control(c))
                return FAIL("control character 0x%02x in string", c);
            if (sb_put(P, b, P->p, 1) < 0)
                return -1;
            P->p++;
        }
    }
    P->p++;
    for (;;) {
        if (at_end(P) || *P->p == '\n' || *P->p == '\r')
            return fail_at(P, start, "unterminated string");
        unsigned char c = (unsigned char)*P->p;
        if (c == (unsigned char)q) {
            P->p++;
            return 0;
        }
        if (!literal && c == '\\') {
            if (parse_escape(P, b) < 0)
                return -1;
            continue;
        }
        if (is_bad_control(c))
            return FAIL("control character 0x%02x in string", c);
        /* Copy a run of ordinary bytes. */
        const char *s = P->p;
        while (P->p < P->end) {
            unsigned char d = (unsigned char)*P->p;
            if (d == (unsigned char)q || (!literal && d == '\\') || is_bad_control(d))
                break;
            P->p++;
        }
        if (sb_put(P, b, s, (size_t)(P->p - s)) < 0)
            return -1;
    }
}

/* ---------- keys ---------- */

static bool is_bare(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

static void dkey_free(dkey *k)
{
    for (int i = 0; i < k->n; i++)
        free(k->part[i].s);
    k->n = 0;
}

/* Appends ".part" to P->key (for error messages), cut to fit. */
static void key_note(parser *P, const keypart *kp)
{
    size_t have = strlen(P->key);
    if (have && have + 1 < sizeof P->key)
        P->key[have++] = '.';
    size_t n = kp->len;
    if (n > sizeof P->key - 1 - have)
        n = sizeof P->key - 1 - have;
    memcpy(P->key + have, kp->s, n);
    P->key[have + n] = '\0';
}

static int parse_key(parser *P, dkey *k)
{
    k->n = 0;
    for (;;) {
        skip_ws(P);
        const char *start = P->p;
        keypart kp = {NULL, 0, start};
        int c = peek(P);
        if (c == '"' || c == '\'') {
            sbuf b = {0};
            if (parse_string(P, &b, false) < 0) {
                free(b.s);
                return -1;
            }
            if (memchr(b.s, '\0', b.len)) {
                free(b.s);
                return fail_at(P, start, "key contains a NUL character");
            }
            kp.s = b.s;
            kp.len = b.len;
        } else if (is_bare(c)) {
            while (is_bare(peek(P)))
                P->p++;
            kp.len = (size_t)(P->p - start);
            kp.s = malloc(kp.len + 1);
            if (!kp.s)
                return FAIL("out of memory");
            memcpy(kp.s, start, kp.len);
            kp.s[kp.len] = '\0';
        } else {
            return c < 0 ? FAIL("key expected, found end of input") : FAIL("key expected");
        }
        if (kp.len > TOML_MAX_KEY) {
            free(kp.s);
            return fail_at(P, start, "key longer than %d bytes", TOML_MAX_KEY);
        }
        if (k->n == TOML_MAX_DEPTH) {
            free(kp.s);
            return fail_at(P, start, "dotted key with more than %d parts", TOML_MAX_DEPTH);
        }
        k->part[k->n++] = kp;
        key_note(P, &kp);
        skip_ws(P);
        if (peek(P) != '.')
            return 0;
        P->p++;
    }
}

/* ---------- numbers ---------- */

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* Validates digits with single underscores between them, in base 2..16.
 * Copies digits (without underscores) into out. Returns false when invalid. */
static bool digits_ok(const char *s, size_t n, int base, char *out, size_t *outn)
{
    if (n == 0)
        return false;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '_') {
            if (i == 0 || i + 1 == n || s[i + 1] == '_')
                return false;
            continue;
        }
        int d = c >= '0' && c <= '9' ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 99;
        if (d >= base)
            return false;
        out[o++] = c;
    }
    out[o] = '\0';
    *outn = o;
    return true;
}

static int parse_number(parser *P, toml_value **out, int depth)
{
    const char *start = P->p;
    while (P->p < P->end &&
           (is_bare(*P->p) || *P->p == '+' || *P->p == '.' || *P->p == ':'))
        P->p++;
    size_t n = (size_t)(P->p - start);
    if (n > 128)
        return fail_at(P, start, "number too long");
    char tok[130];
    memcpy(tok, start, n);
    tok[n] = '\0';

    /* Dates and times (1979-05-27, 07:32:00) are out of the supported subset. */
    if ((n >= 5 && is_digit(tok[0]) && is_digit(tok[1]) && is_digit(tok[2]) &&
         is_digit(tok[3]) && tok[4] == '-') ||
        (n >= 3 && is_digit(tok[0]) && is_digit(tok[1]) && tok[2] == ':'))
        return fail_at(P, start, "dates and times are not supported");

    const char *s = tok;
    bool neg = false, sign = false;
    if (*s == '+' || *s == '-') {
        neg = *s == '-';
        sign = true;
        s++;
    }
    if (strcmp(s, "inf") == 0 || strcmp(s, "nan") == 0) {
        toml_value *v = value_new(P, TOML_FLOAT, depth, start);
        if (!v)
            return -1;
        v->u.f = s[0] == 'i' ? (neg ? -INFINITY : INFINITY) : (neg ? -NAN : NAN);
        *out = v;
        return 0;
    }
    char digits[130];
    size_t nd = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) {
        int base = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
        if (sign)
            return fail_at(P, start, "sign not allowed on a %s integer",
                           base == 16 ? "hex" : base == 8 ? "octal" : "binary");
        if (!digits_ok(s + 2, strlen(s + 2), base, digits, &nd))
            return fail_at(P, start, "invalid integer '%s'", tok);
        uint64_t acc = 0;
        for (size_t i = 0; i < nd; i++) {
            int d = digits[i] <= '9' ? digits[i] - '0' : (digits[i] | 0x20) - 'a' + 10;
            if (acc > (UINT64_MAX - (uint64_t)d) / (uint64_t)base || acc * (uint64_t)base + (uint64_t)d > (uint64_t)INT64_MAX)
                return fail_at(P, start, "integer '%s' overflows 64 bits", tok);
            acc = acc * (uint64_t)base + (uint64_t)d;
        }
        toml_value *v = value_new(P, TOML_INT, depth, start);
        if (!v)
            return -1;
        v->u.i = (int64_t)acc;
        *out = v;
        return 0;
    }
    /* Decimal: split into integer part, optional .fraction, optional exponent. */
    const char *ip = s;
    const char *dot = strchr(s, '.');
    const char *ex = strpbrk(s, "eE");
    if (dot && ex && ex < dot)
        return fail_at(P, start, "invalid number '%s'", tok);
    size_t il = dot ? (size_t)(dot - ip) : ex ? (size_t)(ex - ip) : strlen(ip);
    char ibuf[130];
    size_t inl;
    if (!digits_ok(ip, il, 10, ibuf, &inl))
        return fail_at(P, start, "invalid number '%s'", tok);
    if (inl > 1 && ibuf[0] == '0')
        return fail_at(P, start, "leading zeros are not allowed in '%s'", tok);
    if (!dot && !ex) {
        uint64_t acc = 0;
        uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        for (size_t i = 0; i < inl; i++) {
            uint64_t d = (uint64_t)(ibuf[i] - '0');
            if (acc > (lim - d) / 10)
                return fail_at(P, start, "integer '%s' overflows 64 bits", tok);
            acc = acc * 10 + d;
        }
        toml_value *v = value_new(P, TOML_INT, depth, start);
        if (!v)
            return -1;
        v->u.i = neg ? (int64_t)(0 - acc) : (int64_t)acc;
        *out = v;
        return 0;
    }
    /* Float: rebuild a clean string for strtod after validating each part. */
    char fbuf[400];
    size_t fl = 0;
    if (neg)
        fbuf[fl++] = '-';
    memcpy(fbuf + fl, ibuf, inl);
    fl += inl;
    if (dot) {
        const char *fs = dot + 1;
        size_t flen = ex ? (size_t)(ex - fs) : strlen(fs);
        char frac[130];
        size_t frl;
        if (!digits_ok(fs, flen, 10, frac, &frl))
            return fail_at(P, start, "invalid float '%s'", tok);
        fbuf[fl++] = '.';
        memcpy(fbuf + fl, frac, frl);
        fl += frl;
    }
    if (ex) {
        const char *es = ex + 1;
        fbuf[fl++] = 'e';
        if (*es == '+' || *es == '-')
            fbuf[fl++] = *es++;
        char eb[130];
        size_t el;
        if (!digits_ok(es, strlen(es), 10, eb, &el))
            return fail_at(P, start, "invalid float '%s'", tok);
        memcpy(fbuf + fl, eb, el);
        fl += el;
    }
    fbuf[fl] = '\0';
    errno = 0;
    char *endp;
    double d = strtod(fbuf, &endp);
    if (*endp != '\0')
        return fail_at(P, start, "invalid float '%s'", tok);
    if (errno == ERANGE && isinf(d))
        return fail_at(P, start, "float '%s' out of range", tok);
    toml_value *v = value_new(P, TOML_FLOAT, depth, start);
    if (!v)
        return -1;
    v->u.f = d;
    *out = v;
    return 0;
}

/* ---------- values ---------- */

static int parse_value(parser *P, toml_value **out, int depth);
static int set_dotted(parser *P, toml_value *tbl, dkey *k, toml_value *v, bool frozen);

static int enter(parser *P)
{
    if (++P->nest > TOML_MAX_DEPTH)
        return FAIL("nesting deeper than %d", TOML_MAX_DEPTH);
    return 0;
}

static int parse_array(parser *P, toml_value **out, int depth)
{
    toml_value *a = value_new(P, TOML_ARRAY, depth, P->p);
    if (!a)
        return -1;
    a->flags = F_FROZEN;
    P->p++;
    if (enter(P) < 0)
        goto bad;
    for (;;) {
        if (skip_ws_nl(P) < 0)
            goto bad;
        if (peek(P) == ']') {
            P->p++;
            break;
        }
        toml_value *v = NULL;
        if (parse_value(P, &v, depth + 1) < 0)
            goto bad;
        if (array_add(P, a, v) < 0)
            goto bad;
        if (skip_ws_nl(P) < 0)
            goto bad;
        if (peek(P) == ',') {
            P->p++;
            continue;
        }
        if (peek(P) == ']') {
            P->p++;
            break;
        }
        FAIL(at_end(P) ? "unterminated array" : "',' or ']' expected in array");
        goto bad;
    }
    P->nest--;
    *out = a;
    return 0;
bad:
    value_free(a);
    return -1;
}

static int parse_inline_table(parser *P, toml_value **out, int depth)
{
    toml_value *t = value_new(P, TOML_TABLE, depth, P->p);
    if (!t)
        return -1;
    t->flags = F_FROZEN;
    P->p++;
    char saved[sizeof P->key];
    memcpy(saved, P->key, sizeof saved);
    if (enter(P) < 0)
        goto bad;
    skip_ws(P);
    if (peek(P) == '}') {
        P->p++;
    } else {
        for (;;) {
            dkey k = {.n = 0};
            memcpy(P->key, saved, sizeof saved);
            if (parse_key(P, &k) < 0) {
                dkey_free(&k);
                goto bad;
            }
            skip_ws(P);
            if (peek(P) != '=') {
                dkey_free(&k);
                FAIL("'=' expected after key");
                goto bad;
            }
            P->p++;
            skip_ws(P);
            toml_value *v = NULL;
            if (parse_value(P, &v, depth + k.n) < 0) {
                dkey_free(&k);
                goto bad;
            }
            int r = set_dotted(P, t, &k, v, true);
            dkey_free(&k);
            if (r < 0)
                goto bad;
            memcpy(P->key, saved, sizeof saved);
            skip_ws(P);
            if (peek(P) == ',') {
                P->p++;
                skip_ws(P);
                if (peek(P) == '}') {
                    FAIL("trailing comma not allowed in inline table");
                    goto bad;
                }
                continue;
            }
            if (peek(P) == '}') {
                P->p++;
                break;
            }
            FAIL("',' or '}' expected in inline table");
            goto bad;
        }
    }
    memcpy(P->key, saved, sizeof saved);
    P->nest--;
    *out = t;
    return 0;
bad:
    value_free(t);
    return -1;
}

static bool word_at(const parser *P, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(P->end - P->p) < n || memcmp(P->p, w, n) != 0)
        return false;
    return (size_t)(P->end - P->p) == n || !is_bare((unsigned char)P->p[n]);
}

static int parse_value(parser *P, toml_value **out, int depth)
{
    int c = peek(P);
    if (c == '"' || c == '\'') {
        toml_value *v = value_new(P, TOML_STRING, depth, P->p);
        if (!v)
            return -1;
        sbuf b = {0};
        if (parse_string(P, &b, true) < 0) {
            free(b.s);
            value_free(v);
            return -1;
        }
        v->u.str.s = b.s;
        v->u.str.len = b.len;
        *out = v;
        return 0;
    }
    if (c == '[')
        return parse_array(P, out, depth);
    if (c == '{')
        return parse_inline_table(P, out, depth);
    if (word_at(P, "true") || word_at(P, "false")) {
        toml_value *v = value_new(P, TOML_BOOL, depth, P->p);
        if (!v)
            return -1;
        v->u.b = *P->p == 't';
        P->p += v->u.b ? 4 : 5;
        *out = v;
        return 0;
    }
    if (is_digit(c) || c == '+' || c == '-' || c == 'i' || c == 'n')
        return parse_number(P, out, depth);
    if (c < 0 || c == '\n' || c == '\r' || c == '#')
        return FAIL("value expected");
    return FAIL("invalid value");
}

/* ---------- tables ---------- */

/* Walks/creates the tables for all but the last part of k under tbl using
 * dotted-key rules, then adds the last part -> v. Takes ownership of v. */
static int set_dotted(parser *P, toml_value *tbl, dkey *k, toml_value *v, bool frozen)
{
    toml_value *t = tbl;
    for (int i = 0; i < k->n - 1; i++) {
        toml_value *c = table_find(t, k->part[i].s, k->part[i].len);
        if (!c) {
            c = value_new(P, TOML_TABLE, t->depth + 1, P->p);
            if (!c || table_add(P, t, &k->part[i], c) < 0) {
                value_free(v);
                return -1;
            }
            c->flags = F_DOTTED | (frozen ? F_FROZEN : 0);
            c->line = v->line;
            c->col = v->col;
        } else if (c->type != TOML_TABLE || !(c->flags & F_DOTTED) ||
                   ((c->flags & F_FROZEN) && !frozen)) {
            value_free(v);
            return fail_at(P, k->part[i].at, c->type == TOML_TABLE ? "cannot add keys to a table defined elsewhere"
                                              : "key is already defined as a %s",
                        toml_type_name(c->type));
        }
        t = c;
    }
    const keypart *last = &k->part[k->n - 1];
    if (table_find(t, last->s, last->len)) {
        value_free(v);
        return fail_at(P, last->at, "duplicate key");
    }
    if (v->depth < t->depth + 1)
        v->depth = t->depth + 1;
    return table_add(P, t, last, v);
}

/* Descends from the root along all but the last header part, creating
 * implicit tables and entering the last element of arrays of tables. */
static int header_parent(parser *P, toml_value *root, dkey *k, toml_value **out)
{
    toml_value *t = root;
    for (int i = 0; i < k->n - 1; i++) {
        toml_value *c = table_find(t, k->part[i].s, k->part[i].len);
        if (!c) {
            c = value_new(P, TOML_TABLE, t->depth + 1, P->p);
            if (!c || table_add(P, t, &k->part[i], c) < 0)
                return -1;
            c->flags = F_IMPLICIT;
        } else if (c->type == TOML_ARRAY && (c->flags & F_AOT)) {
            c = c->u.arr.v[c->u.arr.n - 1];
        } else if (c->type != TOML_TABLE || (c->flags & F_FROZEN)) {
            return fail_at(P, k->part[i].at, "'%.*s' is already defined as %s",
                           (int)k->part[i].len, k->part[i].s,
                        c->type == TOML_TABLE ? "an inline table" : "a value");
        }
        t = c;
    }
    *out = t;
    return 0;
}

static int parse_header(parser *P, toml_value *root, toml_value **cur)
{
    const char *start = P->p;
    bool aot = peek_at(P, 1) == '[';
    P->p += aot ? 2 : 1;
    P->key[0] = '\0';
    dkey k = {.n = 0};
    int rc = -1;
    if (parse_key(P, &k) < 0)
        goto out;
    if (aot) {
        if (peek(P) != ']' || peek_at(P, 1) != ']') {
            FAIL("']]' expected after table array name");
            goto out;
        }
        P->p += 2;
    } else {
        if (peek(P) != ']') {
            FAIL("']' expected after table name");
            goto out;
        }
        P->p++;
    }
    toml_value *parent = NULL;
    if (header_parent(P, root, &k, &parent) < 0)
        goto out;
    keypart *last = &k.part[k.n - 1];
    toml_value *t = table_find(parent, last->s, last->len);
    if (aot) {
        if (!t) {
            t = value_new(P, TOML_ARRAY, parent->depth + 1, start);
            if (!t || table_add(P, parent, last, t) < 0)
                goto out;
            t->flags = F_AOT;
        } else if (t->type != TOML_ARRAY || !(t->flags & F_AOT)) {
            fail_at(P, start, "cannot redefine %s as an array of tables",
                    t->type == TOML_ARRAY ? "an array" : "a table or value");
            goto out;
        }
        toml_value *e = value_new(P, TOML_TABLE, t->depth + 1, start);
        if (!e || array_add(P, t, e) < 0)
            goto out;
        e->flags = F_HEADER;
        *cur = e;
    } else {
        if (!t) {
            t = value_new(P, TOML_TABLE, parent->depth + 1, start);
            if (!t || table_add(P, parent, last, t) < 0)
                goto out;
        } else if (t->type != TOML_TABLE || !(t->flags & F_IMPLICIT)) {
            fail_at(P, start, t->type == TOML_TABLE ? "table redefined"
                                                    : "key is already defined as a %s",
                    toml_type_name(t->type));
            goto out;
        }
        t->flags = F_HEADER;
        t->line = P->line;
        t->col = (int)(start - P->line_start) + 1;
        *cur = t;
    }
    rc = 0;
out:
    dkey_free(&k);
    return rc;
}

/* ---------- document ---------- */

static int parse_doc(parser *P, toml_value *root)
{
    toml_value *cur = root;
    char table_key[sizeof P->key] = "";
    for (;;) {
        skip_ws(P);
        if (skip_comment(P) < 0)
            return -1;
        int r = eat_newline(P);
        if (r < 0)
            return -1;
        if (r > 0)
            continue;
        if (at_end(P))
            return 0;
        if (peek(P) == '[') {
            if (parse_header(P, root, &cur) < 0)
                return -1;
            memcpy(table_key, P->key, sizeof table_key);
        } else {
            memcpy(P->key, table_key, sizeof table_key);
            dkey k = {.n = 0};
            if (parse_key(P, &k) < 0) {
                dkey_free(&k);
                return -1;
            }
            skip_ws(P);
            if (peek(P) != '=') {
                dkey_free(&k);
                return FAIL("'=' expected after key");
            }
            P->p++;
            skip_ws(P);
            toml_value *v = NULL;
            if (parse_value(P, &v, cur->depth + k.n) < 0) {
                dkey_free(&k);
                return -1;
            }
            r = set_dotted(P, cur, &k, v, false);
            dkey_free(&k);
            if (r < 0)
                return -1;
        }
        skip_ws(P);
        if (skip_comment(P) < 0)
            return -1;
        if (!at_end(P) && peek(P) != '\n' && peek(P) != '\r')
            return FAIL("end of line expected");
        P->key[0] = '\0';
    }
}

toml_doc *toml_parse(const char *text, size_t len, const char *filename, toml_error *err)
{
    toml_error scratch;
    if (!err)
        err = &scratch;
    memset(err, 0, sizeof *err);
    snprintf(err->file, sizeof err->file, "%s", filename ? filename : "<input>");
    parser P = {.begin = text, .p = text, .end = text + len, .line = 1, .line_start = text,
                .err = err};
    if (!text && len)
        return fail_at(&P, P.p, "no input"), NULL;
    if (len > TOML_MAX_DOC) {
        fail_at(&P, P.p, "document larger than %u bytes", TOML_MAX_DOC);
        return NULL;
    }
    if (check_utf8(&P) < 0)
        return NULL;
    toml_doc *doc = calloc(1, sizeof *doc);
    toml_value *root = doc ? value_new(&P, TOML_TABLE, 0, text) : NULL;
    if (!doc || !root) {
        free(doc);
        if (!P.failed)
            fail_at(&P, P.p, "out of memory");
        return NULL;
    }
    root->flags = F_HEADER;
    root->line = 1;
    root->col = 1;
    doc->root = root;
    if (parse_doc(&P, root) < 0) {
        toml_free(doc);
        return NULL;
    }
    return doc;
}

void toml_free(toml_doc *doc)
{
    if (!doc)
        return;
    value_free(doc->root);
    free(doc);
}

/* ---------- accessors ---------- */

const toml_value *toml_root(const toml_doc *doc)
{
    return doc ? doc->root : NULL;
}

toml_type toml_type_of(const toml_value *v)
{
    return v->type;
}

const char *toml_type_name(toml_type t)
{
    switch (t) {
    case TOML_STRING: return "string";
    case TOML_INT: return "integer";
    case TOML_FLOAT: return "float";
    case TOML_BOOL: return "boolean";
    case TOML_ARRAY: return "array";
    case TOML_TABLE: return "table";
    }
    return "unknown";
}

int toml_line(const toml_value *v)
{
    return v ? v->line : 0;
}

int toml_col(const toml_value *v)
{
    return v ? v->col : 0;
}

size_t toml_table_count(const toml_value *tbl)
{
    return tbl && tbl->type == TOML_TABLE ? tbl->u.tbl.n : 0;
}

const toml_value *toml_table_get(const toml_value *tbl, const char *key)
{
    if (!tbl || tbl->type != TOML_TABLE || !key)
        return NULL;
    return table_find(tbl, key, strlen(key));
}

const char *toml_table_key_at(const toml_value *tbl, size_t i)
{
    return tbl && tbl->type == TOML_TABLE && i < tbl->u.tbl.n ? tbl->u.tbl.k[i] : NULL;
}

const toml_value *toml_table_value_at(const toml_value *tbl, size_t i)
{
    return tbl && tbl->type == TOML_TABLE && i < tbl->u.tbl.n ? tbl->u.tbl.v[i] : NULL;
}

size_t toml_array_count(const toml_value *arr)
{
    return arr && arr->type == TOML_ARRAY ? arr->u.arr.n : 0;
}

const toml_value *toml_array_at(const toml_value *arr, size_t i)
{
    return arr && arr->type == TOML_ARRAY && i < arr->u.arr.n ? arr->u.arr.v[i] : NULL;
}

const char *toml_as_string(const toml_value *v, size_t *len)
{
    if (!v || v->type != TOML_STRING) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = v->u.str.len;
    return v->u.str.s;
}

int64_t toml_as_int(const toml_value *v)
{
    return v && v->type == TOML_INT ? v->u.i : 0;
}

double toml_as_float(const toml_value *v)
{
    return v && v->type == TOML_FLOAT ? v->u.f : 0.0;
}

bool toml_as_bool(const toml_value *v)
{
    return v && v->type == TOML_BOOL ? v->u.b : false;
}
