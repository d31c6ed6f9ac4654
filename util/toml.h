/* toml: a small, strict TOML reader (a subset of TOML 1.0, enough for config.toml
 * and the ship table).
 *
 * Supported: comments, [tables], [[arrays of tables]], dotted keys (a.b = 1), bare
 * and quoted keys, basic strings with escapes (\b \t \n \f \r \" \\ \uXXXX
 * \UXXXXXXXX), literal strings, multi-line basic and literal strings, integers
 * (decimal with optional _ separators, 0x 0o 0b), floats (with exponent, inf,
 * nan), booleans, arrays (mixed types allowed, trailing comma, newlines
 * inside) and inline tables. Dates and times are refused with an error.
 *
 * Pure: it parses a caller's buffer, touches no file and no global state, so
 * it is safe from any thread. The whole tree lives in one allocation set owned
 * by the returned toml_doc; every pointer obtained from it dies with
 * toml_free(). Limits: nesting depth TOML_MAX_DEPTH, key length
 * TOML_MAX_KEY, document size TOML_MAX_DOC; exceeding one is a parse error. */
/* Layer: util/ API. */
#ifndef BATTLED_CORE_TOML_H
#define BATTLED_CORE_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOML_MAX_DEPTH 32
#define TOML_MAX_KEY 128
#define TOML_MAX_DOC (4u << 20)

typedef enum {
    TOML_STRING,
    TOML_INT,
    TOML_FLOAT,
    TOML_BOOL,
    TOML_ARRAY,
    TOML_TABLE,
} toml_type;

typedef struct toml_value toml_value;
typedef struct toml_doc toml_doc;

/* Where and why a parse failed. line and col are 1-based; key is the dotted
 * key being defined when the error was found, or empty. */
typedef struct {
    char file[256];
    int line;
    int col;
    char key[TOML_MAX_KEY * 2];
    char msg[256];
} toml_error;

/* Parses len bytes of text. filename is only copied into errors. Returns the
 * document (free with toml_free), or NULL with *err filled in. */
toml_doc *toml_parse(const char *text, size_t len, const char *filename, toml_error *err);
void toml_free(toml_doc *doc);

/* The root table. Never NULL for a parsed document. */
const toml_value *toml_root(const toml_doc *doc);

toml_type toml_type_of(const toml_value *v);
/* Human name of a type ("string", "integer", ...), for error messages. */
const char *toml_type_name(toml_type t);
/* Source position where the value starts (1-based). */
int toml_line(const toml_value *v);
int toml_col(const toml_value *v);

/* Tables: number of keys, lookup by key (NULL when absent), iteration in
 * document order. */
size_t toml_table_count(const toml_value *tbl);
const toml_value *toml_table_get(const toml_value *tbl, const char *key);
const char *toml_table_key_at(const toml_value *tbl, size_t i);
const toml_value *toml_table_value_at(const toml_value *tbl, size_t i);

/* Arrays (arrays of tables included): element count and element i. */
size_t toml_array_count(const toml_value *arr);
const toml_value *toml_array_at(const toml_value *arr, size_t i);

/* Scalars. The caller checks toml_type_of first; a wrong type returns 0,
 * false or NULL. Strings are NUL-terminated, UTF-8, owned by the document;
 * *len (optional) receives the byte length, which may include NUL bytes from
 * \u0000 escapes. */
const char *toml_as_string(const toml_value *v, size_t *len);
int64_t toml_as_int(const toml_value *v);
double toml_as_float(const toml_value *v);
bool toml_as_bool(const toml_value *v);

#endif
