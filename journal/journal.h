/* journal: each shard's record of its battles, so a battle running when the
 * process died runs again when it comes back (docs/ARCHITECTURE.md,
 * "Persistence").
 *
 * A shard appends a record when a battle is created (its setup: seed, ships,
 * band, options, seat tokens), for every accepted action or timer input, and
 * when it ends. The engine replays a battle from its setup and actions, so that
 * is all recovery needs. The journal does not know core's types: the shard
 * encodes each record's payload as one msgpack object and gets the same bytes
 * back at recovery.
 *
 * On disk a record is
 *     u32 length (big-endian) | u32 CRC-32C of the body (big-endian) | body
 * and the body is one msgpack map {"t": type, "b": battle id, "s": seq,
 * "d": payload}, so any msgpack tool can read a journal.
 *
 * Writing (one journal per shard, used from the shard thread only):
 *     journal_append() x n during a loop pass   -> an in-memory buffer
 *     journal_flush() once at the end of the pass -> one write(2) for all,
 *         and for "always" an fdatasync before it returns: send the pass's
 *         events after journal_flush returns, never before.
 * Durability policy (persistence.fsync, as Redis's appendfsync):
 *     always   - no accepted action is lost: flush syncs before returning.
 *     everysec - a background thread of the journal syncs once a second, so
 *                the shard never waits for the disk; at most about a second is
 *                lost. The default.
 *     no       - the OS decides (a sync still happens at journal_close).
 *
 * Recovery (at start, before any shard runs):
 *     journal_load(dir)   -> every unfinished battle: its created record and
 *                            its actions in order, from every shard's files,
 *                            whatever the shard count was;
 *     each shard: journal_open(its battles)  -> they are written again as the
 *                            shard's first snapshot, so the files no longer
 *                            depend on the old shard count;
 *     journal_set_retire() -> the files that were read are deleted. This must
 *                            succeed before any battle changes (before serving).
 */
#ifndef BATTLED_JOURNAL_JOURNAL_H
#define BATTLED_JOURNAL_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal/store.h"

/* ---- limits ---- */
#define JOURNAL_PAYLOAD_MAX (64u * 1024)           /* bytes of one record's payload */
#define JOURNAL_RECORD_OVERHEAD 48u                /* header + map keys + ints, at most */
#define JOURNAL_RECORD_MAX (JOURNAL_PAYLOAD_MAX + JOURNAL_RECORD_OVERHEAD)
#define JOURNAL_PAYLOAD_DEPTH_MAX 32               /* msgpack nesting in a payload */
#define JOURNAL_BUF_DEFAULT (1u << 20)             /* group-commit buffer */
#define JOURNAL_BUF_MIN (2u * JOURNAL_RECORD_MAX)  /* smaller requests are raised to this */
#define JOURNAL_COMPACT_DEFAULT (64ull << 20)      /* persistence.compact_bytes */
#define JOURNAL_RETRY_MS 1000                      /* write retries while degraded, at most 1/s */
#define JOURNAL_SYNC_INTERVAL_MS 1000              /* everysec */

typedef enum {
    JOURNAL_REC_CREATED = 1, /* a battle's setup; seq = the seq its first action will follow */
    JOURNAL_REC_ACTION = 2,  /* an accepted action or timer input; seq = previous seq + 1 */
    JOURNAL_REC_ENDED = 3,   /* the battle is over and will never be recovered */
} journal_rec_type;

typedef enum {
    JOURNAL_SYNC_ALWAYS,
    JOURNAL_SYNC_EVERYSEC,
    JOURNAL_SYNC_NO,
} journal_sync_policy;

/* "always" | "everysec" | "no". */
const char *journal_sync_policy_name(journal_sync_policy p);
/* Parses a policy name; 0, or -1 (and *out untouched) if unknown. */
int journal_sync_policy_parse(const char *s, journal_sync_policy *out);

/* One record as read back. payload points into memory owned by whatever
 * returned the record (the journal_set) and is one msgpack object. */
typedef struct journal_rec {
    journal_rec_type type;
    uint64_t battle_id;
    uint64_t seq;
    const uint8_t *payload;
    size_t payload_len;
} journal_rec;

/* An unfinished battle: created record and its actions in order (action i has
 * seq created.seq + 1 + i). With journal_load_opts.keep_ended, also a battle
 * that ended: ended is true and end is its ENDED record (the caller decides
 * from its payload whether it is still worth keeping). */
typedef struct journal_battle {
    uint64_t id;
    journal_rec created;
    const journal_rec *actions;
    size_t nactions;
    bool ended;
    journal_rec end;
} journal_battle;

/* Warnings (torn tail cut, damaged battle skipped) go to this callback; the
 * shard points it at util/log. NULL: one logfmt line on stderr. file may be
 * "" and battle_id 0 when they do not apply. */
typedef void (*journal_warn_fn)(void *ctx, const char *msg, const char *file, uint64_t offset,
                                uint64_t battle_id);

/* Stable error codes of journal_error.code. */
typedef enum {
    JOURNAL_OK = 0,
    JOURNAL_E_IO = 1,      /* a file could not be read or written; sys_errno says why */
    JOURNAL_E_DAMAGED = 2, /* a bad record with good ones after it (not a torn tail) */
    JOURNAL_E_NOMEM = 3,
    JOURNAL_E_INVALID = 4, /* a bad argument (payload not one msgpack object, too big...) */
} journal_errcode;

typedef struct journal_error {
    journal_errcode code;
    int sys_errno;
    char file[128];    /* file name within the directory, or "" */
    uint64_t offset;   /* byte offset of the bad record in file */
    uint64_t battle_id;/* the battle concerned, 0 if unknown */
    char msg[256];     /* one line for people: "shard-0-3.log offset 4096: checksum mismatch" */
} journal_error;

/* ---- recovery ------------------------------------------------------------ */

typedef struct journal_set journal_set;

typedef struct journal_load_opts {
    const store_backend *backend; /* where the segments are (store.h); NULL: store_file_backend */
    bool skip_damaged;    /* persistence.skip_damaged: skip a damaged battle instead of failing */
    bool keep_ended;      /* also return the battles that ended (journal_battle.ended), whole */
    journal_warn_fn warn; /* NULL: stderr */
    void *warn_ctx;
} journal_load_opts;

typedef struct journal_load_stats {
    uint64_t files;           /* segments read */
    uint64_t records;         /* good records read */
    uint64_t bytes;           /* bytes read */
    uint64_t torn_tails;      /* segments whose tail was cut */
    uint64_t torn_bytes;      /* bytes cut */
    uint64_t damaged_regions; /* bad records followed by good ones (skip_damaged only) */
    uint64_t skipped_battles; /* battles left out as damaged (skip_damaged only) */
    uint64_t ended;           /* battles that ended (not returned) */
    uint64_t replaced;        /* created records that restarted a known battle */
} journal_load_stats;

/* Reads every shard's journal segments in dir, a location of opts->backend
 * (opts may be NULL: files) and returns the
 * unfinished battles in *out, which the caller frees with journal_set_free.
 * A torn tail of a log segment (a crash mid-write) is cut off with a warning.
 * Damage elsewhere fails with JOURNAL_E_DAMAGED naming file and offset in
 * *err, unless opts->skip_damaged, when each battle it touches is left out and
 * logged. Returns 0 or -1 (then *out is NULL and *err says why). */
int journal_load(const char *dir, const journal_load_opts *opts, journal_set **out,
                 journal_error *err);

/* The same over in-memory segments, in replay order (for tests and the
 * fuzzer). bufs[i] must outlive the set; names may be NULL. */
int journal_load_buffers(const uint8_t *const *bufs, const size_t *lens, const char *const *names,
                         const bool *is_log, size_t n, const journal_load_opts *opts,
                         journal_set **out, journal_error *err);

/* Unfinished battles in the set (and ended ones, with keep_ended), in order of creation. */
size_t journal_set_count(const journal_set *set);
/* The i-th battle (i < count); owned by the set. */
const journal_battle *journal_set_battle(const journal_set *set, size_t i);
/* The battle with this id, or NULL. */
const journal_battle *journal_set_find(const journal_set *set, uint64_t battle_id);
/* What the load met. */
journal_load_stats journal_set_stats(const journal_set *set);
/* The generation new journals of this run start at (journal_opts.first_gen). */
uint64_t journal_set_next_gen(const journal_set *set);
/* Deletes the files the set was loaded from (and stale *.tmp files), after
 * every shard's journal_open has written its battles again. Returns 0, or -1
 * with *err: the start must stop then, or a later compaction could let a
 * deleted battle come back from an old file. */
int journal_set_retire(journal_set *set, journal_error *err);
void journal_set_free(journal_set *set);

/* ---- writing ------------------------------------------------------------- */

typedef struct journal journal;

typedef struct journal_opts {
    const store_backend *backend; /* opens the store (store.h); NULL: store_file_backend */
    const char *dir;            /* the backend's location: persistence.dir (ignored when store is set) */
    unsigned shard;             /* this shard's index */
    uint64_t first_gen;         /* journal_set_next_gen(), or 0: above what dir holds */
    journal_sync_policy policy; /* persistence.fsync */
    uint64_t compact_bytes;     /* persistence.compact_bytes; 0: JOURNAL_COMPACT_DEFAULT */
    size_t buf_bytes;           /* group-commit buffer; 0: JOURNAL_BUF_DEFAULT */
    store *store;               /* an open store (tests); the journal then owns it. NULL: backend->open */
    journal_warn_fn warn;       /* NULL: stderr */
    void *warn_ctx;
} journal_opts;

typedef struct journal_stats {
    uint64_t records;            /* appended */
    uint64_t bytes;              /* written to the store */
    uint64_t writes;             /* append calls to the store (one per flush normally) */
    uint64_t buffer_full_writes; /* early writes because the buffer was full */
    uint64_t syncs;              /* fdatasync calls that succeeded */
    uint64_t write_errors;       /* failed writes (each logged) */
    uint64_t sync_errors;        /* failed syncs */
    uint64_t records_dropped;    /* lost while degraded with a full buffer */
    uint64_t compactions;        /* snapshots installed */
    uint64_t compaction_errors;
    uint64_t pending_bytes;      /* in the buffer, not yet written */
    uint64_t unacked_bytes;      /* written to an asynchronous store, not yet acknowledged */
    uint64_t log_bytes;          /* in log segments since the last snapshot */
    bool degraded;               /* see journal_degraded */
    int last_errno;
} journal_stats;

/* Opens shard opts->shard's journal. The n battles (this shard's share of a
 * journal_set; may be 0) are written first as one snapshot, durably, so they
 * survive the retiring of the files they came from. Returns 0 and *out, or -1
 * with *err. The caller closes *out with journal_close. */
int journal_open(const journal_opts *opts, const journal_battle *const *battles, size_t n,
                 journal **out, journal_error *err);

/* Queues one record. payload must be one well-formed msgpack object of at most
 * JOURNAL_PAYLOAD_MAX bytes (nil, 0xc0, when there is nothing to say); it is
 * copied. When the buffer cannot take the record it is written out first (one
 * extra write, counted in buffer_full_writes); if that write fails too the
 * journal is degraded and, with the buffer still full, the record is dropped
 * and counted. Returns 0, -EINVAL / -EMSGSIZE for a bad payload (nothing
 * queued), or -errno when the record was dropped. */
int journal_append(journal *j, journal_rec_type type, uint64_t battle_id, uint64_t seq,
                   const void *payload, size_t payload_len);

/* Writes every queued record with one write(2); under "always" also syncs
 * before returning. Call once per loop pass, then send the pass's events.
 * Also where a finished compaction is collected and a new one started (in the
 * background) once the log passes compact_bytes. Returns 0, or -errno when the
 * records are not (durably) written: the journal is then degraded. */
int journal_flush(journal *j);

/* True while the last write or sync failed. A failed write keeps its records
 * buffered and is retried at most once per JOURNAL_RETRY_MS by journal_flush;
 * success clears the state. A failed sync (the kernel may have dropped the
 * pages) or a dropped record makes it permanent for this journal: the file no
 * longer holds every record, so it stops writing and keeps what it has, a
 * consistent prefix of each battle. While degraded the caller refuses new
 * battles and reports not ready; running battles go on. *err (may be NULL)
 * gets the errno. */
bool journal_degraded(const journal *j, int *err);

/* Output after the records: a caller that holds a pass's events until its records are durable
 * notes journal_written_pos() after journal_flush, and sends the events once
 * journal_durable_pos() reaches it. Both count bytes handed to the store. For local files the two
 * are equal after every flush (under "always" the flush synced). For an asynchronous store
 * (store_ops.acked, the Redis backend) under "always", durable is what the store acknowledged,
 * which advances later, from its own thread, with the notify callback called each time: waiting
 * costs the shard no blocking call, and an acknowledged record survives the death of this
 * process (how well it survives Redis's is Redis's appendfsync). "everysec" is the same while the
 * store is healthy; while it is degraded (down, slower than its timeout) the events leave at once
 * and the records queue, so a crash during an outage loses what was queued. Under "no" the
 * events leave once the records are queued. Once the journal stopped writing for good, durable is
 * UINT64_MAX: the battles go on, not persisted; except when the store was fenced (another process
 * claimed it, -EPERM): durable then stays at what the store acknowledged, so output waiting for
 * the refused records never leaves (the battles are another node's now). Shard thread only. */
uint64_t journal_written_pos(const journal *j);
uint64_t journal_durable_pos(const journal *j);

/* Whether journal_flush is cheap and its records are durable when it returns: a local-files store
 * under "everysec" or "no" (a write(2), no fsync, no acknowledgement to wait for) that is neither
 * degraded nor stopped. Then the thread that owns the shard for the moment (the network thread
 * running a sleeping shard's messages, shards.c) may flush and send the output itself. */
bool journal_flush_is_quick(const journal *j);
/* Asks an asynchronous store to call fn(arg), from any thread, when journal_durable_pos may have
 * advanced or journal_degraded may have changed (no-op for files). fn NULL turns it off; do that
 * before whatever fn signals goes away. */
void journal_set_notify(journal *j, void (*fn)(void *arg), void *arg);

/* Counters, for metrics. */
journal_stats journal_get_stats(const journal *j);

/* Waits until no compaction is running (tests, shutdown). Returns 0 if the
 * last compaction succeeded (or none ran), else its -errno. */
int journal_compact_wait(journal *j);

/* Starts a compaction now if none is running (tests). 0 or -errno. */
int journal_compact_now(journal *j);

/* The store the journal writes to (tests use store_file_set_fault on it). */
store *journal_store(journal *j);

/* Flushes, waits for a running compaction, syncs, stops the background
 * thread and frees everything. Returns 0, or -errno of the final flush/sync. */
int journal_close(journal *j);

/* ---- record codec (exposed for tests and tools) ---------------------------- */

/* Encodes one record into buf (cap bytes). Returns its size, or 0 if it does
 * not fit. payload is copied as is (not validated). */
size_t journal_record_encode(uint8_t *buf, size_t cap, journal_rec_type type, uint64_t battle_id,
                             uint64_t seq, const void *payload, size_t payload_len);

/* Checks that buf holds exactly one msgpack object within the depth limit. */
bool journal_msgpack_valid(const uint8_t *buf, size_t len);

#endif
