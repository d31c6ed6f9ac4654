/* proto/frame: incremental reassembly of length-prefixed frames from a byte stream.
 *
 * A frame is a 4-byte big-endian length N, then N bytes (one msgpack map). The reader is fed
 * whatever chunks the socket gives; it refuses N == 0 or N > max as soon as the 4 length bytes are
 * known, before any body byte is buffered. When a whole frame lies inside the chunk being fed it is
 * returned in place (no copy); only a frame split across chunks is copied into the reader's buffer,
 * which grows to the size that frame needs (never past max). A buffer larger than FRAME_KEEP is
 * freed on the next call after its frame was handed out, so a connection idle between frames holds
 * at most FRAME_KEEP bytes (none if its frames always arrive whole). Single-threaded. */
#ifndef BATTLED_PROTO_FRAME_H
#define BATTLED_PROTO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"

#define FRAME_KEEP 512u /* buffer kept between frames; bigger ones are freed after use */

typedef struct frame_reader {
    uint32_t max;        /* largest accepted body length */
    uint32_t need;       /* body length of the frame being assembled, 0 while reading the header */
    uint8_t hdr[4];
    uint8_t hdr_have;
    uint8_t failed;      /* sticky: after an error the stream cannot be trusted */
    uint8_t *buf;        /* body bytes of a split frame */
    uint32_t have;
    uint32_t cap;
    uint64_t frames;     /* frames returned so far */
} frame_reader;

typedef enum frame_status {
    FRAME_MORE = 0,      /* all input consumed, no complete frame yet */
    FRAME_READY = 1,     /* *body / *len hold one frame; call again with the rest of the input */
    FRAME_ERROR = -1,    /* *err says why (bad_frame, frame_too_large, internal); stream unusable */
} frame_status;

/* Initialises a reader accepting bodies of 1..max bytes (max is clamped to PROTO_FRAME_HARD_MAX).
 * Allocates nothing. */
void frame_reader_init(frame_reader *r, uint32_t max);

/* Frees the reader's buffer; the reader may be re-initialised. */
void frame_reader_free(frame_reader *r);

/* Consumes bytes from data[0..len) and stops at the first complete frame. *used says how many bytes
 * were consumed (the caller passes data + *used next time). On FRAME_READY, *body points to the frame
 * body (inside data or inside the reader's buffer) and stays valid until the next call. On
 * FRAME_ERROR the reader stays failed (every later call returns the same error). */
frame_status frame_reader_feed(frame_reader *r, const uint8_t *data, size_t len, size_t *used,
                               const uint8_t **body, uint32_t *blen, proto_error *err);

/* Bytes currently held by the reader (for memory accounting). */
size_t frame_reader_footprint(const frame_reader *r);

#endif
