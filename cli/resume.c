/* cli/resume: resume records on disk; see resume.h. */
#include "cli/resume.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd.h"

#define MAGIC "battled-resume 1"

int cli_resume_save(const char *path, const cli_resume *r)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    char hex[2 * PROTO_TOKEN_LEN + 1];
    cli_token_hex(r->token, hex);
    char buf[CLI_RESUME_FILE_MAX];
    int n = snprintf(buf, sizeof buf, MAGIC "\nhost %s\nport %u\nbid %llu\nseat %u\ntoken %s\nlast %lu\n",
                     r->host, (unsigned)r->port, (unsigned long long)r->bid, (unsigned)r->seat, hex,
                     (unsigned long)r->last);
    if (n < 0 || n >= (int)sizeof buf) {
        errno = EOVERFLOW;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, buf, (size_t)n);
    int saved = errno;
    if (close(fd) != 0 && w == n) {
        saved = errno;
        w = -1;
    }
    if (w != n) {
        unlink(tmp);
        errno = w < 0 ? saved : EIO;
        return -1;
    }
    if (rename(tmp, path) != 0) {
        saved = errno;
        unlink(tmp);
        errno = saved;
        return -1;
    }
    return 0;
}

static int num(const char *s, unsigned long long max, unsigned long long *out)
{
    if (!*s)
        return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno || v > max)
        return -1;
    *out = v;
    return 0;
}

int cli_resume_load(const char *path, cli_resume *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char buf[CLI_RESUME_FILE_MAX + 1];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (n > CLI_RESUME_FILE_MAX) {
        snprintf(err, errlen, "%s: larger than a resume record (%d bytes at most)", path,
                 CLI_RESUME_FILE_MAX);
        return -1;
    }
    buf[n] = '\0';
    if (memchr(buf, '\0', (size_t)n)) {
        snprintf(err, errlen, "%s: not a resume record (binary data)", path);
        return -1;
    }
    enum { K_HOST = 1, K_PORT = 2, K_BID = 4, K_SEAT = 8, K_TOKEN = 16, K_LAST = 32, K_ALL = 63 };
    unsigned seen = 0;
    int lineno = 0;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r')
            line[--len] = '\0';
        if (lineno == 1) {
            if (strcmp(line, MAGIC) != 0) {
                snprintf(err, errlen, "%s: not a resume record (first line is not '" MAGIC "')", path);
                return -1;
            }
            continue;
        }
        char *sp = strchr(line, ' ');
        if (!sp) {
            snprintf(err, errlen, "%s:%d: expected 'key value'", path, lineno);
            return -1;
        }
        *sp = '\0';
        const char *key = line, *val = sp + 1;
        unsigned long long v = 0;
        unsigned bit = 0;
        int bad = 0;
        if (strcmp(key, "host") == 0) {
            bit = K_HOST;
            bad = !*val || strlen(val) > CLI_RESUME_HOST_MAX || strchr(val, ' ');
            if (!bad)
                snprintf(r->host, sizeof r->host, "%s", val);
        } else if (strcmp(key, "port") == 0) {
            bit = K_PORT;
            bad = num(val, 65535, &v) || v == 0;
            r->port = (uint16_t)v;
        } else if (strcmp(key, "bid") == 0) {
            bit = K_BID;
            bad = num(val, UINT64_MAX, &v) || v == 0;
            r->bid = v;
        } else if (strcmp(key, "seat") == 0) {
            bit = K_SEAT;
            bad = num(val, 1, &v);
            r->seat = (uint8_t)v;
        } else if (strcmp(key, "token") == 0) {
            bit = K_TOKEN;
            bad = cli_token_parse(val, r->token) != 0;
        } else if (strcmp(key, "last") == 0) {
            bit = K_LAST;
            bad = num(val, UINT32_MAX, &v);
            r->last = (uint32_t)v;
        } else {
            snprintf(err, errlen, "%s:%d: unknown key '%.32s'", path, lineno, key);
            return -1;
        }
        if (bad || (seen & bit)) {
            snprintf(err, errlen, "%s:%d: %s '%s'", path, lineno, bad ? "bad value for" : "repeated key",
                     key);
            return -1;
        }
        seen |= bit;
    }
    if (lineno == 0) {
        snprintf(err, errlen, "%s: empty file, not a resume record", path);
        return -1;
    }
    if (seen != K_ALL) {
        snprintf(err, errlen, "%s: incomplete record (needs host, port, bid, seat, token, last)", path);
        return -1;
    }
    return 0;
}

int cli_resume_remove(const char *path)
{
    if (unlink(path) != 0 && errno != ENOENT)
        return -1;
    return 0;
}
