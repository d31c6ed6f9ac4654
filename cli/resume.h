/* cli/resume: the resume record battle-cli keeps in --resume-file, so a person can take a seat back
 * from a new process after the old one (or its connection) died.
 *
 * The file is a few "key value" lines of text (readable, editable by hand):
 *     battled-resume 1
 *     host 127.0.0.1
 *     port 7070
 *     bid 1234
 *     seat 0
 *     token 00112233445566778899aabbccddeeff
 *     last 42
 * Writes go to "<path>.tmp" then rename(2), so a crash leaves the old record or the new one, never
 * half of one. The token is a secret: the file is created with mode 0600. */
#ifndef BATTLED_CLI_RESUME_H
#define BATTLED_CLI_RESUME_H

#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"

#define CLI_RESUME_HOST_MAX 255  /* longest host name stored */
#define CLI_RESUME_FILE_MAX 1024 /* a record is under 200 bytes; a bigger file is not ours */

typedef struct cli_resume {
    char host[CLI_RESUME_HOST_MAX + 1];
    uint16_t port;
    uint64_t bid;
    uint8_t seat;
    uint8_t token[PROTO_TOKEN_LEN];
    uint32_t last;
} cli_resume;

/* Writes r to path atomically. Returns 0, or -1 with errno set. */
int cli_resume_save(const char *path, const cli_resume *r);

/* Reads the record at path. Returns 0 and fills *r; 1 when there is no file; -1 with a message in
 * err when the file exists but is not a valid record (unknown key, missing key, bad value). */
int cli_resume_load(const char *path, cli_resume *r, char *err, size_t errlen);

/* Removes the record (after the battle ended). Returns 0, also when there was none. */
int cli_resume_remove(const char *path);

#endif
