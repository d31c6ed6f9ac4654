/* store: where one shard's journal bytes live, behind a small interface so a
 * backend other than local files (a Redis server shared by several boxes, say)
 * can be added without touching the journal's record, buffering or recovery
 * logic (journal/journal.c, journal/journal_read.c).
 *
 * Model: a store is an append-only sequence of segments. Appends go to the
 * current log segment; rotate() starts a new one and returns a cut; everything
 * before a cut can be read back (read_cut) and replaced, atomically, by one
 * snapshot segment holding only what is still live (install_snapshot). That is
 * the whole of compaction from the backend's side; choosing what is live is
 * the journal's job.
 *
 * Threads: append, rotate and log_bytes are called from the owning shard thread
 * only. sync may run on another thread (the journal's everysec syncer) at the
 * same time as append and rotate. read_cut and install_snapshot run on the
 * journal's compaction thread, at the same time as appends to the segment
 * after the cut, never two at once.
 *
 * The local file backend (store_file.c) is the default and needs no other
 * process; its layout is described there and in docs/ARCHITECTURE.md. */
#ifndef BATTLED_JOURNAL_STORE_H
#define BATTLED_JOURNAL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store;

/* Marks the segments a compaction covers: everything of this store before
 * generation gen. Opaque to the journal. */
typedef struct store_cut {
    uint64_t base; /* first generation this store wrote */
    uint64_t gen;  /* the log segment started by rotate(); the cut is before it */
    uint64_t bytes; /* log bytes before the cut, for log_bytes() bookkeeping */
} store_cut;

/* Receives one segment to read. data is a malloc'ed buffer of len bytes whose
 * ownership passes to the callee (free it, or keep it). is_log: a log segment
 * (a torn tail there is a crash mid-write) rather than a snapshot (written
 * whole, then renamed: any damage is real damage). Returns 0 to go on, or a
 * negative value that stops the walk and is returned by the caller. */
typedef int (*store_segment_fn)(void *ctx, const char *name, uint8_t *data, size_t len,
                                bool is_log);

typedef struct store_ops {
    /* Writes len bytes at the end of the current log, all or nothing: after a
     * failure no part of them remains (the backend cuts a partial write back).
     * Returns 0 or -errno. */
    int (*append)(store *s, const void *buf, size_t len);
    /* Makes every byte appended before the call durable. Returns 0 or -errno. */
    int (*sync)(store *s);
    /* Bytes in the log segments written since the last snapshot (the journal
     * compacts when this passes persistence.compact_bytes). */
    uint64_t (*log_bytes)(store *s);
    /* Starts a new log segment for later appends; *cut covers everything
     * before it. Returns 0 or -errno (the old segment stays current). */
    int (*rotate)(store *s, store_cut *cut);
    /* Feeds every segment before cut, in replay order, to fn. Returns 0,
     * -errno, or fn's negative value. */
    int (*read_cut)(store *s, const store_cut *cut, store_segment_fn fn, void *ctx);
    /* Durably replaces everything before cut with the len bytes of buf (whole
     * records), atomically: after a crash at any point either the old segments
     * or the snapshot are found, never neither. cut NULL: the store's first
     * snapshot, before its first log segment (battles recovered at start);
     * it replaces nothing of this store. Returns 0 or -errno. */
    int (*install_snapshot)(store *s, const store_cut *cut, const void *buf, size_t len);
    /* Releases the store (does not sync: the journal does that first). */
    void (*close)(store *s);

    /* The rest is optional (NULL for local files), for backends that acknowledge appends
     * asynchronously (store_redis.h): append only queues, and sync waits for the queue. */
    /* Bytes of appends the backend has acknowledged so far (counted like append's len). */
    uint64_t (*acked)(store *s);
    /* 0 while the backend takes writes normally, else -errno (disconnected, too slow, fenced):
     * the journal reports itself degraded meanwhile. Any thread. */
    int (*status)(store *s);
    /* fn(arg) is called, from any thread, whenever acked() advances or status() changes. */
    void (*set_notify)(store *s, void (*fn)(void *arg), void *arg);
} store_ops;

struct store {
    const store_ops *ops;
};

/* ---- backends ------------------------------------------------------------
 * A backend is everything the journal needs from one kind of storage: the
 * per-store ops above, plus the operations on a whole location that recovery
 * and start-up need (lock it, list and read every segment, retire what was
 * read, open one shard's store). The journal (journal/journal.c,
 * journal/journal_read.c) and recovery (shards/recover.c) reach storage only
 * through this table, so a new backend is one new file defining a
 * store_backend plus one line in store_backend_find (journal/store.c).
 *
 * "where" is the backend's location string: a directory for "file". Names
 * (segment names, the names array) are the backend's own; the journal only
 * prints them and hands them back.
 *
 * Threads: prepare, lock, load, retire, names_free and open run at start, on the
 * thread that starts the shards, before any shard thread runs; a backend may
 * assume they never run concurrently with each other. Errors: every int op
 * returns 0 or -errno (-ENOMEM when out of memory); on failure nothing is
 * returned through the out parameters and nothing needs freeing. */

typedef struct store_lock store_lock;

typedef struct store_backend {
    const char *name; /* "file": what persistence.backend names */
    /* Makes where ready to hold journals (file: creates the directory, one
     * level, mode 0700, if missing). Returns 0 or -errno. */
    int (*prepare)(const char *where);
    /* Takes an exclusive claim on where so that two processes never write one
     * journal: a second battled on the same location gets -EWOULDBLOCK. Held
     * until unlock (or the process ends). Call once per process, before load.
     * Returns 0 and *out (the caller owns it: unlock), or -errno. */
    int (*lock)(const char *where, store_lock **out);
    /* Releases a claim from lock and frees it (NULL is fine). */
    void (*unlock)(store_lock *l);
    /* Feeds every segment of every shard that no snapshot supersedes, in
     * replay order (generation, snapshot before log, shard), to fn (which then
     * owns each buffer, as store_segment_fn says). *names_out receives a
     * NULL-terminated array, owned by the caller (names_free), naming every
     * journal segment found, superseded ones and stale partial writes
     * included, for retire; *next_gen one above the highest generation seen
     * (1 when where holds none). Returns 0, -errno, or fn's negative value;
     * err (errlen bytes) names the segment on an I/O error. */
    int (*load)(const char *where, store_segment_fn fn, void *ctx, char ***names_out,
                uint64_t *next_gen, char *err, size_t errlen);
    /* Deletes the named segments (missing ones are fine), durably. Returns 0 or
     * the first -errno. names stays the caller's. */
    int (*retire)(const char *where, char *const *names);
    /* Frees a names array from load (NULL is fine). */
    void (*names_free)(char **names);
    /* Opens shard's store in where, writing its first log segment at
     * generation gen, or, when gen is 0, at one above the highest generation
     * of any shard in where. Returns 0 and *out (the caller owns it and ends it
     * with (*out)->ops->close), or -errno (-EEXIST if that segment exists). */
    int (*open)(const char *where, unsigned shard, uint64_t gen, store **out);
} store_backend;

/* The backend called name ("file"), or NULL if there is none by that name.
 * NULL name: the default, "file". */
const store_backend *store_backend_find(const char *name);

/* ---- local files (store_file.c) --------------------------------------------
 * <dir>/shard-<k>-<gen>.log          appended records, one file per segment
 * <dir>/shard-<k>-<base>-<gen>.snap  live battles of shard k's segments with
 *                                    generation in [base, gen), which it
 *                                    supersedes (they may be deleted)
 * <dir>/shard-...tmp                 a snapshot being written; ignored
 * <dir>/LOCK                         flock'ed by lock; flock locks conflict
 *                                    between descriptors even in one process
 * Generations only grow, across restarts too: a new run starts above every
 * generation found in the directory. Files are created 0600: created records
 * hold seat tokens, which are secrets. */
extern const store_backend store_file_backend;

/* Test hook: makes the next install_snapshot stop as a crash would, leaving
 * the files as they are at that point, and return -EINTR. */
typedef enum {
    STORE_FAULT_NONE,
    STORE_FAULT_BEFORE_RENAME, /* snapshot written and synced as *.tmp, not renamed */
    STORE_FAULT_BEFORE_UNLINK, /* snapshot renamed, superseded files not deleted */
} store_fault;
/* Test hook of the file backend only: s must come from store_file_backend. */
void store_file_set_fault(store *s, store_fault f);


#endif
