/* journal_codec: the record format of journal/journal.h, shared by the writer,
 * the reader and compaction. Internal to journal/. */
#ifndef BATTLED_JOURNAL_JOURNAL_CODEC_H
#define BATTLED_JOURNAL_JOURNAL_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal/journal.h"

#define JOURNAL_HEADER_BYTES 8 /* u32 length + u32 CRC-32C */
#define JOURNAL_BODY_MIN 13    /* fixmap + four one-letter keys + four one-byte values */
#define JOURNAL_BODY_MAX (JOURNAL_RECORD_MAX - JOURNAL_HEADER_BYTES)

typedef enum {
    JOURNAL_REC_OK,
    JOURNAL_REC_SHORT,    /* fewer than a header's bytes left, or the body runs past the end */
    JOURNAL_REC_BADLEN,   /* declared length out of bounds */
    JOURNAL_REC_BADCRC,   /* checksum mismatch */
    JOURNAL_REC_BADBODY,  /* checksum fine, body not a valid record map */
} journal_rec_status;

/* Size of the record journal_record_encode would write. */
size_t journal_rec_encoded_size(uint64_t battle_id, uint64_t seq, size_t payload_len);

/* Parses the record at data[off..len): fills *rec (payload points into data)
 * and *reclen (header included) on JOURNAL_REC_OK. */
journal_rec_status journal_rec_parse(const uint8_t *data, size_t len, size_t off, journal_rec *rec, size_t *reclen);

/* Decodes a body without checking its checksum (to name the battle of a
 * damaged record). */
bool journal_rec_decode_body(const uint8_t *body, size_t len, journal_rec *rec);

/* The battle id a possibly cut or damaged body names ("b" read as far as the bytes go), or 0. */
uint64_t journal_rec_peek_battle(const uint8_t *body, size_t len);

/* The reader, as compaction uses it on the journal's own segments. */
typedef struct journal_loader journal_loader;
journal_loader *journal_load_new(const journal_load_opts *opts);
/* Takes a segment (store_segment_fn's contract: data is owned by the loader
 * afterwards). Returns 0, or -ECANCELED after filling the loader's error. */
int journal_load_segment(void *loader, const char *name, uint8_t *data, size_t len, bool is_log);
/* Turns the loader into a set (consumed either way). NULL on error. */
journal_set *journal_load_finish(journal_loader *l, journal_error *err);
void journal_load_free(journal_loader *l);
/* Encodes every battle of the set (created, then actions) into one malloc'ed
 * buffer. 0 or -ENOMEM. */
int journal_set_encode(const journal_set *set, uint8_t **out, size_t *len);
/* Encodes the given battles the same way. */
int journal_battles_encode(const journal_battle *const *b, size_t n, uint8_t **out, size_t *len);
/* Default warning sink: one logfmt line on stderr. */
void journal_warn_stderr(void *ctx, const char *msg, const char *file, uint64_t offset,
                    uint64_t battle_id);

/* "truncated record", "bad length", ... for messages. */
const char *journal_rec_status_text(journal_rec_status s);

#endif
