/* journal_codec: the record format of shards/journal.h, shared by the writer,
 * the reader and compaction. Internal to shards/journal*.c. */
#ifndef BATTLED_SHARDS_JOURNAL_CODEC_H
#define BATTLED_SHARDS_JOURNAL_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shards/journal.h"

#define JOURNAL_HEADER_BYTES 8 /* u32 length + u32 CRC-32C */
#define JOURNAL_BODY_MIN 13    /* fixmap + four one-letter keys + four one-byte values */
#define JOURNAL_BODY_MAX (JOURNAL_RECORD_MAX - JOURNAL_HEADER_BYTES)

typedef enum {
    JR_OK,
    JR_SHORT,    /* fewer than a header's bytes left, or the body runs past the end */
    JR_BADLEN,   /* declared length out of bounds */
    JR_BADCRC,   /* checksum mismatch */
    JR_BADBODY,  /* checksum fine, body not a valid record map */
} jr_status;

/* Size of the record journal_record_encode would write. */
size_t jr_encoded_size(uint64_t battle_id, uint64_t seq, size_t payload_len);

/* Parses the record at data[off..len): fills *rec (payload points into data)
 * and *reclen (header included) on JR_OK. */
jr_status jr_parse(const uint8_t *data, size_t len, size_t off, journal_rec *rec, size_t *reclen);

/* Decodes a body without checking its checksum (to name the battle of a
 * damaged record). */
bool jr_decode_body(const uint8_t *body, size_t len, journal_rec *rec);

/* The reader, as compaction uses it on the journal's own segments. */
typedef struct jl_loader jl_loader;
jl_loader *jl_new(const journal_load_opts *opts);
/* Takes a segment (store_segment_fn's contract: data is owned by the loader
 * afterwards). Returns 0, or -ECANCELED after filling the loader's error. */
int jl_segment(void *loader, const char *name, uint8_t *data, size_t len, bool is_log);
/* Turns the loader into a set (consumed either way). NULL on error. */
journal_set *jl_finish(jl_loader *l, journal_error *err);
void jl_free(jl_loader *l);
/* Encodes every battle of the set (created, then actions) into one malloc'ed
 * buffer. 0 or -ENOMEM. */
int jl_encode_set(const journal_set *set, uint8_t **out, size_t *len);
/* Encodes the given battles the same way. */
int jl_encode_battles(const journal_battle *const *b, size_t n, uint8_t **out, size_t *len);
/* Default warning sink: one logfmt line on stderr. */
void jl_warn_stderr(void *ctx, const char *msg, const char *file, uint64_t offset,
                    uint64_t battle_id);

/* "truncated record", "bad length", ... for messages. */
const char *jr_status_text(jr_status s);

#endif
