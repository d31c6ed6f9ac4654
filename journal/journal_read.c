/* The journal reader: segments in replay order in, unfinished battles out.
 *
 * Per battle: a created record starts (or restarts: a battle written again at
 * a later start) its history, actions must follow with seq = previous + 1,
 * an ended record drops it. A bad record at some offset is a torn tail when
 * no good record follows it in a log segment (a crash mid-write, possibly
 * with zero-filled blocks after it): it is cut with a warning. Otherwise it is
 * damage: the load fails naming file and offset, or, with skip_damaged, the
 * battle the bad record belonged to (if its body still names one) and any
 * battle whose history then has a gap are skipped and logged. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal/journal_codec.h"
#include "util/mix.h"

enum { JB_LIVE, JB_ENDED, JB_DAMAGED };

typedef struct jb {
    journal_battle pub;
    journal_rec *acts;
    size_t cap;
    int state;
} jb;

struct journal_set {
    jb *battles; /* every battle met, in order of first creation */
    size_t nb, capb;
    uint32_t *index; /* open addressing: battle index + 1, 0 = empty */
    size_t icap;
    const journal_battle **live;
    size_t nlive;
    uint8_t **bufs; /* segment data the set owns (records point into it) */
    size_t nbufs, capbufs;
    char **names; /* segments read, for retire (journal_load only) */
    char *dir;
    const store_backend *be; /* where names came from (journal_load only) */
    uint64_t next_gen;
    journal_load_stats stats;
};

struct journal_loader {
    journal_set *set;
    journal_load_opts opts;
    journal_error err;
};

void journal_warn_stderr(void *ctx, const char *msg, const char *file, uint64_t offset,
                    uint64_t battle_id)
{
    (void)ctx;
    fprintf(stderr, "level=warn msg=\"%s\" file=\"%s\" offset=%" PRIu64 " battle=%" PRIu64 "\n",
            msg, file ? file : "", offset, battle_id);
}

static void warn(journal_loader *l, const char *msg, const char *file, uint64_t off, uint64_t id)
{
    l->opts.warn(l->opts.warn_ctx, msg, file, off, id);
}

static void set_err(journal_error *e, journal_errcode code, int sys, const char *file,
                    uint64_t off, uint64_t id, const char *what)
{
    memset(e, 0, sizeof *e);
    e->code = code;
    e->sys_errno = sys;
    snprintf(e->file, sizeof e->file, "%s", file ? file : "");
    e->offset = off;
    e->battle_id = id;
    if (file && *file && id)
        snprintf(e->msg, sizeof e->msg, "%s offset %" PRIu64 ": %s (battle %" PRIu64 ")", file,
                 off, what, id);
    else if (file && *file)
        snprintf(e->msg, sizeof e->msg, "%s offset %" PRIu64 ": %s", file, off, what);
    else
        snprintf(e->msg, sizeof e->msg, "%s", what);
}

/* ---- battle table ---- */

static size_t hash_id(uint64_t x)
{
    return (size_t)mix64(x);
}

static jb *find(journal_set *s, uint64_t id)
{
    if (!s->icap)
        return NULL;
    for (size_t i = hash_id(id) & (s->icap - 1);; i = (i + 1) & (s->icap - 1)) {
        uint32_t v = s->index[i];
        if (!v)
            return NULL;
        if (s->battles[v - 1].pub.id == id)
            return &s->battles[v - 1];
    }
}

static int grow_index(journal_set *s)
{
    size_t ncap = s->icap ? s->icap * 2 : 64;
    uint32_t *ni = calloc(ncap, sizeof *ni);
    if (!ni)
        return -ENOMEM;
    for (size_t k = 0; k < s->nb; k++) {
        size_t i = hash_id(s->battles[k].pub.id) & (ncap - 1);
        while (ni[i])
            i = (i + 1) & (ncap - 1);
        ni[i] = (uint32_t)(k + 1);
    }
    free(s->index);
    s->index = ni;
    s->icap = ncap;
    return 0;
}

static jb *add(journal_set *s, uint64_t id)
{
    if (s->nb >= UINT32_MAX - 1)
        return NULL;
    if ((s->nb + 1) * 10 > s->icap * 7 && grow_index(s) != 0)
        return NULL;
    if (s->nb == s->capb) {
        size_t nc = s->capb ? s->capb * 2 : 64;
        jb *nbt = realloc(s->battles, nc * sizeof *nbt);
        if (!nbt)
            return NULL;
        s->battles = nbt;
        s->capb = nc;
    }
    jb *b = &s->battles[s->nb];
    memset(b, 0, sizeof *b);
    b->pub.id = id;
    size_t i = hash_id(id) & (s->icap - 1);
    while (s->index[i])
        i = (i + 1) & (s->icap - 1);
    s->index[i] = (uint32_t)(++s->nb);
    return b;
}

static void clear_actions(jb *b)
{
    free(b->acts);
    b->acts = NULL;
    b->cap = 0;
    b->pub.nactions = 0;
}

/* ---- applying records ---- */

/* A battle's history cannot be trusted: fail, or skip the battle. */
static int damage(journal_loader *l, uint64_t id, const char *file, uint64_t off, const char *why)
{
    if (!l->opts.skip_damaged) {
        set_err(&l->err, JOURNAL_E_DAMAGED, 0, file, off, id, why);
        return -ECANCELED;
    }
    jb *b = find(l->set, id);
    if (!b && !(b = add(l->set, id))) {
        set_err(&l->err, JOURNAL_E_NOMEM, ENOMEM, file, off, id, "out of memory");
        return -ECANCELED;
    }
    b->pub.ended = false;
    if (b->state != JB_DAMAGED) {
        char msg[160];
        snprintf(msg, sizeof msg, "journal: damaged battle skipped: %s", why);
        warn(l, msg, file, off, id);
    }
    b->state = JB_DAMAGED;
    clear_actions(b);
    return 0;
}

static int apply(journal_loader *l, const journal_rec *r, const char *file, uint64_t off)
{
    journal_set *s = l->set;
    jb *b = find(s, r->battle_id);
    switch (r->type) {
    case JOURNAL_REC_CREATED:
        if (b && b->state != JB_ENDED)
            s->stats.replaced++;
        if (!b && !(b = add(s, r->battle_id))) {
            set_err(&l->err, JOURNAL_E_NOMEM, ENOMEM, file, off, r->battle_id, "out of memory");
            return -ECANCELED;
        }
        clear_actions(b);
        b->pub.created = *r;
        b->pub.ended = false;
        b->state = JB_LIVE;
        return 0;
    case JOURNAL_REC_ACTION: {
        if (b && b->state == JB_DAMAGED)
            return 0;
        if (!b || b->state != JB_LIVE)
            return damage(l, r->battle_id, file, off, "action for a battle not created");
        uint64_t last = b->pub.nactions ? b->acts[b->pub.nactions - 1].seq : b->pub.created.seq;
        if (last == UINT64_MAX || r->seq != last + 1)
            return damage(l, r->battle_id, file, off, "action sequence gap");
        if (b->pub.nactions == b->cap) {
            size_t nc = b->cap ? b->cap * 2 : 16;
            journal_rec *na = realloc(b->acts, nc * sizeof *na);
            if (!na) {
                set_err(&l->err, JOURNAL_E_NOMEM, ENOMEM, file, off, r->battle_id,
                        "out of memory");
                return -ECANCELED;
            }
            b->acts = na;
            b->cap = nc;
        }
        b->acts[b->pub.nactions++] = *r;
        return 0;
    }
    case JOURNAL_REC_ENDED:
        if (b && b->state == JB_DAMAGED) {
            /* It is over: nothing of it needs recovering, damaged or not. */
            b->state = JB_ENDED;
            s->stats.ended++;
            return 0;
        }
        if (!b || b->state != JB_LIVE)
            return damage(l, r->battle_id, file, off, "end of a battle not created");
        b->state = JB_ENDED;
        s->stats.ended++;
        if (l->opts.keep_ended) { /* whole, for the caller to show how it ended */
            b->pub.ended = true;
            b->pub.end = *r;
            return 0;
        }
        clear_actions(b);
        return 0;
    }
    return damage(l, r->battle_id, file, off, "unknown record type");
}

/* The first offset after from where a good record starts, or len. A record
 * body always opens with a fixmap byte, which rules out most offsets before
 * any checksum is computed. */
static size_t next_good(const uint8_t *d, size_t len, size_t from)
{
    for (size_t p = from; p + JOURNAL_HEADER_BYTES + JOURNAL_BODY_MIN <= len; p++) {
        if ((d[p + JOURNAL_HEADER_BYTES] & 0xf0) != 0x80)
            continue;
        journal_rec r;
        size_t rl;
        if (journal_rec_parse(d, len, p, &r, &rl) == JOURNAL_REC_OK)
            return p;
    }
    return len;
}

/* The battle a bad record at off names, as far as its bytes can tell (0 when they cannot): the
 * body the header declares, cut at the end of the data. */
static uint64_t bad_record_battle(const uint8_t *d, size_t len, size_t off)
{
    if (len - off <= JOURNAL_HEADER_BYTES)
        return 0;
    size_t body = (size_t)d[off] << 24 | (size_t)d[off + 1] << 16 | (size_t)d[off + 2] << 8 |
                  d[off + 3];
    size_t have = len - off - JOURNAL_HEADER_BYTES;
    return journal_rec_peek_battle(d + off + JOURNAL_HEADER_BYTES, body < have ? body : have);
}

static int parse_segment(journal_loader *l, const char *name, const uint8_t *d, size_t len,
                         bool is_log)
{
    journal_set *s = l->set;
    s->stats.files++;
    s->stats.bytes += len;
    size_t off = 0;
    while (off < len) {
        journal_rec r;
        size_t rl;
        journal_rec_status st = journal_rec_parse(d, len, off, &r, &rl);
        if (st == JOURNAL_REC_OK) {
            s->stats.records++;
            int rc = apply(l, &r, name, off);
            if (rc != 0)
                return rc;
            off += rl;
            continue;
        }
        size_t next = next_good(d, len, off + 1);
        uint64_t bid = bad_record_battle(d, len, off);
        if (next == len && is_log) {
            char msg[96];
            snprintf(msg, sizeof msg, "journal: torn tail cut (%s, %zu bytes)", journal_rec_status_text(st),
                     len - off);
            warn(l, msg, name, off, bid);
            s->stats.torn_tails++;
            s->stats.torn_bytes += len - off;
            return 0;
        }
        if (!l->opts.skip_damaged) {
            char what[96];
            snprintf(what, sizeof what, "damaged record (%s)%s", journal_rec_status_text(st),
                     is_log ? "" : " in a snapshot");
            set_err(&l->err, JOURNAL_E_DAMAGED, 0, name, off, 0, what);
            return -ECANCELED;
        }
        s->stats.damaged_regions++;
        warn(l, "journal: damaged region skipped", name, off, bid);
        /* A record whose checksum alone is wrong still names its battle. */
        if (st == JOURNAL_REC_BADCRC &&
            journal_rec_decode_body(d + off + JOURNAL_HEADER_BYTES,
                           (size_t)d[off] << 24 | (size_t)d[off + 1] << 16 |
                               (size_t)d[off + 2] << 8 | d[off + 3],
                           &r)) {
            int rc = damage(l, r.battle_id, name, off, "record checksum mismatch");
            if (rc != 0)
                return rc;
        }
        off = next;
    }
    return 0;
}

/* ---- loader ---- */

journal_loader *journal_load_new(const journal_load_opts *opts)
{
    journal_loader *l = calloc(1, sizeof *l);
    if (!l || !(l->set = calloc(1, sizeof *l->set))) {
        free(l);
        return NULL;
    }
    if (opts)
        l->opts = *opts;
    if (!l->opts.warn)
        l->opts.warn = journal_warn_stderr;
    return l;
}

static int keep_buf(journal_set *s, uint8_t *data)
{
    if (s->nbufs == s->capbufs) {
        size_t nc = s->capbufs ? s->capbufs * 2 : 8;
        uint8_t **nb = realloc(s->bufs, nc * sizeof *nb);
        if (!nb)
            return -ENOMEM;
        s->bufs = nb;
        s->capbufs = nc;
    }
    s->bufs[s->nbufs++] = data;
    return 0;
}

int journal_load_segment(void *loader, const char *name, uint8_t *data, size_t len, bool is_log)
{
    journal_loader *l = loader;
    if (keep_buf(l->set, data) != 0) {
        free(data);
        set_err(&l->err, JOURNAL_E_NOMEM, ENOMEM, name, 0, 0, "out of memory");
        return -ECANCELED;
    }
    return parse_segment(l, name, data, len, is_log);
}

void journal_set_free(journal_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nb; i++)
        free(s->battles[i].acts);
    free(s->battles);
    free(s->index);
    free(s->live);
    for (size_t i = 0; i < s->nbufs; i++)
        free(s->bufs[i]);
    free(s->bufs);
    if (s->be)
        s->be->names_free(s->names);
    free(s->dir);
    free(s);
}

void journal_load_free(journal_loader *l)
{
    if (!l)
        return;
    journal_set_free(l->set);
    free(l);
}

journal_set *journal_load_finish(journal_loader *l, journal_error *err)
{
    journal_set *s = l->set;
    s->live = calloc(s->nb ? s->nb : 1, sizeof *s->live);
    if (!s->live) {
        set_err(err, JOURNAL_E_NOMEM, ENOMEM, NULL, 0, 0, "out of memory");
        journal_load_free(l);
        return NULL;
    }
    for (size_t i = 0; i < s->nb; i++) {
        jb *b = &s->battles[i];
        if (b->state == JB_LIVE || (b->state == JB_ENDED && b->pub.ended)) {
            b->pub.actions = b->acts;
            s->live[s->nlive++] = &b->pub;
        } else if (b->state == JB_DAMAGED) {
            s->stats.skipped_battles++;
        }
    }
    l->set = NULL;
    journal_load_free(l);
    if (err)
        memset(err, 0, sizeof *err);
    return s;
}

int journal_load(const char *dir, const journal_load_opts *opts, journal_set **out,
                 journal_error *err)
{
    journal_error dummy;
    if (!err)
        err = &dummy;
    *out = NULL;
    const store_backend *be = opts && opts->backend ? opts->backend : &store_file_backend;
    journal_loader *l = journal_load_new(opts);
    if (!l) {
        set_err(err, JOURNAL_E_NOMEM, ENOMEM, NULL, 0, 0, "out of memory");
        return -1;
    }
    char **names = NULL;
    uint64_t next_gen = 1;
    char msg[256] = "";
    int rc = be->load(dir, journal_load_segment, l, &names, &next_gen, msg, sizeof msg);
    if (rc == -ECANCELED) {
        *err = l->err;
        journal_load_free(l);
        return -1;
    }
    if (rc != 0) {
        set_err(err, rc == -ENOMEM ? JOURNAL_E_NOMEM : JOURNAL_E_IO, -rc, NULL, 0, 0, msg);
        journal_load_free(l);
        return -1;
    }
    journal_set *s = journal_load_finish(l, err);
    if (!s) {
        be->names_free(names);
        return -1;
    }
    s->be = be;
    s->names = names;
    s->next_gen = next_gen;
    if (!(s->dir = strdup(dir))) {
        journal_set_free(s);
        set_err(err, JOURNAL_E_NOMEM, ENOMEM, NULL, 0, 0, "out of memory");
        return -1;
    }
    *out = s;
    return 0;
}

int journal_load_buffers(const uint8_t *const *bufs, const size_t *lens, const char *const *names,
                         const bool *is_log, size_t n, const journal_load_opts *opts,
                         journal_set **out, journal_error *err)
{
    journal_error dummy;
    if (!err)
        err = &dummy;
    *out = NULL;
    journal_loader *l = journal_load_new(opts);
    if (!l) {
        set_err(err, JOURNAL_E_NOMEM, ENOMEM, NULL, 0, 0, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char name[32];
        if (!names || !names[i])
            snprintf(name, sizeof name, "segment-%zu", i);
        if (parse_segment(l, names && names[i] ? names[i] : name, bufs[i], lens[i],
                          is_log ? is_log[i] : true) != 0) {
            *err = l->err;
            journal_load_free(l);
            return -1;
        }
    }
    journal_set *s = journal_load_finish(l, err);
    if (!s)
        return -1;
    s->next_gen = 1;
    *out = s;
    return 0;
}

size_t journal_set_count(const journal_set *s)
{
    return s->nlive;
}

const journal_battle *journal_set_battle(const journal_set *s, size_t i)
{
    return i < s->nlive ? s->live[i] : NULL;
}

const journal_battle *journal_set_find(const journal_set *s, uint64_t id)
{
    jb *b = find((journal_set *)s, id);
    return b && (b->state == JB_LIVE || (b->state == JB_ENDED && b->pub.ended)) ? &b->pub : NULL;
}

journal_load_stats journal_set_stats(const journal_set *s)
{
    return s->stats;
}

uint64_t journal_set_next_gen(const journal_set *s)
{
    return s->next_gen;
}

int journal_set_retire(journal_set *s, journal_error *err)
{
    if (!s->dir || !s->names || !s->be)
        return 0;
    int rc = s->be->retire(s->dir, s->names);
    if (rc != 0) {
        char what[160];
        snprintf(what, sizeof what, "%s: cannot delete recovered journal files: %s", s->dir,
                 strerror(-rc));
        if (err)
            set_err(err, JOURNAL_E_IO, -rc, NULL, 0, 0, what);
        return -1;
    }
    s->be->names_free(s->names);
    s->names = NULL;
    return 0;
}

/* ---- encoding battles (startup snapshot, compaction) ---- */

static size_t battle_size(const journal_battle *b)
{
    size_t n = journal_rec_encoded_size(b->id, b->created.seq, b->created.payload_len);
    for (size_t i = 0; i < b->nactions; i++)
        n += journal_rec_encoded_size(b->id, b->actions[i].seq, b->actions[i].payload_len);
    if (b->ended)
        n += journal_rec_encoded_size(b->id, b->end.seq, b->end.payload_len);
    return n;
}

static size_t put_rec(uint8_t *p, size_t cap, const journal_rec *r)
{
    return journal_record_encode(p, cap, r->type, r->battle_id, r->seq, r->payload,
                                 r->payload_len);
}

int journal_battles_encode(const journal_battle *const *bs, size_t n, uint8_t **out, size_t *len)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += battle_size(bs[i]);
    uint8_t *buf = malloc(total ? total : 1);
    if (!buf)
        return -ENOMEM;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const journal_battle *b = bs[i];
        journal_rec c = b->created;
        c.type = JOURNAL_REC_CREATED;
        c.battle_id = b->id;
        at += put_rec(buf + at, total - at, &c);
        for (size_t k = 0; k < b->nactions; k++)
            at += put_rec(buf + at, total - at, &b->actions[k]);
        if (b->ended) {
            journal_rec e = b->end;
            e.type = JOURNAL_REC_ENDED;
            e.battle_id = b->id;
            at += put_rec(buf + at, total - at, &e);
        }
    }
    *out = buf;
    *len = at;
    return 0;
}

int journal_set_encode(const journal_set *s, uint8_t **out, size_t *len)
{
    return journal_battles_encode(s->live, s->nlive, out, len);
}
