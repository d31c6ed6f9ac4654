/* libFuzzer target for the TOML reader: any input must parse or fail cleanly,
 * and a parsed tree must be walkable end to end. Also feeds the same bytes to
 * the config loader, which sits on the reader and handles every type. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/toml.h"
#include "app/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touches every node so ASan sees any dangling or out-of-bounds pointer. */
static size_t walk(const toml_value *v)
{
    size_t n = 1;
    switch (toml_type_of(v)) {
    case TOML_TABLE:
        for (size_t i = 0; i < toml_table_count(v); i++) {
            const char *k = toml_table_key_at(v, i);
            n += strlen(k);
            if (toml_table_get(v, k) != toml_table_value_at(v, i))
                abort(); /* lookup must find what iteration shows */
            n += walk(toml_table_value_at(v, i));
        }
        break;
    case TOML_ARRAY:
        for (size_t i = 0; i < toml_array_count(v); i++)
            n += walk(toml_array_at(v, i));
        break;
    case TOML_STRING: {
        size_t len;
        const char *s = toml_as_string(v, &len);
        if (s[len] != '\0')
            abort();
        n += len;
        break;
    }
    default:
        n += (size_t)toml_as_int(v) + (size_t)toml_as_bool(v);
        break;
    }
    if (toml_line(v) < 1 || toml_col(v) < 1)
        abort();
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    toml_error err;
    toml_doc *doc = toml_parse((const char *)data, size, "fuzz", &err);
    if (doc) {
        (void)walk(toml_root(doc));
        toml_free(doc);
    } else if (err.line < 1 || err.col < 1 || err.msg[0] == '\0') {
        abort(); /* every failure must say where and why */
    }
    battled_config c;
    char msg[512];
    config_defaults(&c);
    (void)config_load_text(&c, (const char *)data, size, "fuzz", msg, sizeof msg);
    return 0;
}
