/* ws_static: the web page's files, read into memory once at start and served from there.
 *
 * Reading at start keeps disk I/O off the network thread and makes path traversal impossible by
 * construction: a request can only name a file that the walk found under a configured root. The
 * walk is bounded (file count, file size, total size, depth), does not follow symbolic links to
 * folders (no loops, nothing outside the root through a link), and skips hidden names and files
 * whose type is not served. A changed file needs a restart. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "net/ws.h"
#include "util/log.h"

typedef struct {
    char path[WS_STATIC_PATH_MAX + 1];
    size_t path_len;
    uint8_t *body;
    size_t len;
    const char *type;
} ws_file;

struct ws_static {
    ws_file files[WS_STATIC_MAX_FILES];
    size_t n;
    size_t bytes;
};

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".json", "application/json"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
    {".map", "application/json"},
};

const char *ws_content_type(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t el = strlen(types[i].ext);
        if (len > el && strncasecmp(name + len - el, types[i].ext, el) == 0)
            return types[i].type;
    }
    return NULL;
}

ws_static *ws_static_new(void)
{
    return calloc(1, sizeof(ws_static));
}

void ws_static_free(ws_static *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++)
        free(st->files[i].body);
    free(st);
}

size_t ws_static_count(const ws_static *st)
{
    return st ? st->n : 0;
}

size_t ws_static_bytes(const ws_static *st)
{
    return st ? st->bytes : 0;
}

/* Characters a served URL path may hold: what our own file names use. */
static bool path_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '/' || c == '.' || c == '-' || c == '_';
}

static bool url_path_ok(const char *p, size_t n)
{
    if (n == 0 || p[0] != '/' || n > WS_STATIC_PATH_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!path_char_ok(p[i]))
            return false;
        /* No empty segment, and no segment starting with a dot ("..", ".git", ".env"). */
        if (p[i] == '/' && i + 1 < n && (p[i + 1] == '/' || p[i + 1] == '.'))
            return false;
    }
    return true;
}

static int load_file(ws_static *st, const char *fs, const char *url, size_t size)
{
    if (st->n >= WS_STATIC_MAX_FILES || st->bytes + size > WS_STATIC_MAX_TOTAL) {
        log_warn("web: cache full, file not served", "file", fs);
        return 0;
    }
    FILE *f = fopen(fs, "rb");
    if (!f) {
        log_warn("web: cannot read", "file", fs, "error", strerror(errno));
        return 0;
    }
    uint8_t *b = malloc(size ? size : 1);
    size_t got = b ? fread(b, 1, size, f) : 0;
    fclose(f);
    if (!b || got != size) {
        log_warn("web: cannot read", "file", fs);
        free(b);
        return b ? 0 : -1;
    }
    ws_file *e = &st->files[st->n++];
    e->path_len = strlen(url);
    memcpy(e->path, url, e->path_len + 1);
    e->body = b;
    e->len = size;
    e->type = ws_content_type(url, e->path_len);
    st->bytes += size;
    return 1;
}

static int walk(ws_static *st, const char *dir, const char *url, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int added = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char fs[1024], u[WS_STATIC_PATH_MAX + 2];
        int fl = snprintf(fs, sizeof fs, "%s/%s", dir, de->d_name);
        int ul = snprintf(u, sizeof u, "%s%s", url, de->d_name);
        if (fl < 0 || (size_t)fl >= sizeof fs || ul < 0 || (size_t)ul > WS_STATIC_PATH_MAX)
            continue;
        struct stat lst, sb;
        if (lstat(fs, &lst) != 0)
            continue;
        if (S_ISDIR(lst.st_mode)) {
            if (depth >= WS_STATIC_MAX_DEPTH || (size_t)ul + 1 > WS_STATIC_PATH_MAX)
                continue;
            u[ul] = '/';
            u[ul + 1] = 0;
            if (!url_path_ok(u, (size_t)ul + 1))
                continue;
            int r = walk(st, fs, u, depth + 1);
            if (r > 0)
                added += r;
            continue;
        }
        /* A link to a file is followed (npm may link packages); a link to a folder is not. */
        if (stat(fs, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if (!ws_content_type(u, (size_t)ul) || !url_path_ok(u, (size_t)ul))
            continue;
        if ((uint64_t)sb.st_size > WS_STATIC_MAX_FILE) {
            log_warn("web: file too large, not served", "file", fs);
            continue;
        }
        int r = load_file(st, fs, u, (size_t)sb.st_size);
        if (r < 0) {
            closedir(d);
            return added;
        }
        added += r;
    }
    closedir(d);
    return added;
}

int ws_static_add_dir(ws_static *st, const char *dir, const char *prefix)
{
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return -1;
    return walk(st, dir, prefix, 0);
}

bool ws_static_find(const ws_static *st, const char *path, size_t path_len, const uint8_t **body,
                    size_t *len, const char **type)
{
    if (!st || !url_path_ok(path, path_len))
        return false;
    char want[WS_STATIC_PATH_MAX + sizeof "index.html"];
    memcpy(want, path, path_len);
    size_t n = path_len;
    if (want[n - 1] == '/') {
        memcpy(want + n, "index.html", sizeof "index.html" - 1);
        n += sizeof "index.html" - 1;
    }
    for (size_t i = 0; i < st->n; i++) {
        const ws_file *e = &st->files[i];
        if (e->path_len == n && memcmp(e->path, want, n) == 0) {
            *body = e->body;
            *len = e->len;
            *type = e->type;
            return true;
        }
    }
    return false;
}
