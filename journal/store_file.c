/* The local file backend of store.h: one directory, log segments appended with
 * write(2), snapshots written as *.tmp, synced, renamed, directory synced. */
#include "journal/store.h"

#include "journal/segname.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>


typedef struct store_file {
    store base;
    char *dir;
    int dirfd;
    unsigned shard;
    uint64_t run_base; /* first generation this store wrote */
    _Atomic int fault; /* store_fault, test hook */

    /* Owned by the shard thread; changed under mu where other threads read. */
    int fd;            /* current log segment (O_APPEND) */
    uint64_t cur_gen;  /* its generation */
    uint64_t cur_size; /* bytes in it (shard thread only) */
    bool torn;         /* a failed write could not be cut back: retry the cut first */

    pthread_mutex_t mu;
    uint64_t rotated;  /* bytes in rotated log segments not yet replaced by a snapshot */
    uint64_t live;     /* cur_size as seen by log_bytes (updated under mu) */
    int prev_fd;       /* last rotated segment, kept open until a sync covers it */
    uint64_t prev_epoch;
    bool dir_dirty;    /* a segment was created since the last directory sync */
    uint64_t snap_gen; /* generation of this run's snapshot, 0 for none */
    uint64_t clean_from; /* lowest generation whose superseded files may remain (compactor) */
} store_file;

static int fsync_errno(int fd)
{
    return fsync(fd) == 0 ? 0 : -errno;
}

/* Writes all of buf at the file's end; 0 or -errno. */
static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (w == 0)
            return -EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int sf_append(store *s, const void *buf, size_t len)
{
    store_file *f = (store_file *)s;
    if (f->torn) {
        /* A partial record left by an earlier failure must go before anything
         * lands after it, or it becomes damage in the middle of the log. */
        if (ftruncate(f->fd, (off_t)f->cur_size) != 0)
            return -errno;
        f->torn = false;
    }
    int rc = write_all(f->fd, buf, len);
    if (rc != 0) {
        if (ftruncate(f->fd, (off_t)f->cur_size) != 0)
            f->torn = true;
        return rc;
    }
    f->cur_size += len;
    pthread_mutex_lock(&f->mu);
    f->live = f->cur_size;
    pthread_mutex_unlock(&f->mu);
    return 0;
}

/* Syncs copies of the descriptors so a concurrent rotate may close the
 * originals; the previous segment first, so a crash never keeps a newer
 * segment's records while losing an older one's. */
static int sf_sync(store *s)
{
    store_file *f = (store_file *)s;
    pthread_mutex_lock(&f->mu);
    int cur = dup(f->fd);
    int prev = f->prev_fd >= 0 ? dup(f->prev_fd) : -1;
    uint64_t epoch = f->prev_epoch;
    bool dir = f->dir_dirty;
    f->dir_dirty = false;
    pthread_mutex_unlock(&f->mu);
    int rc = cur < 0 ? -errno : 0;
    if (prev >= 0) {
        int r = fdatasync(prev) == 0 ? 0 : -errno;
        close(prev);
        if (r == 0) {
            pthread_mutex_lock(&f->mu);
            if (f->prev_epoch == epoch && f->prev_fd >= 0) {
                close(f->prev_fd);
                f->prev_fd = -1;
            }
            pthread_mutex_unlock(&f->mu);
        } else if (rc == 0) {
            rc = r;
        }
    }
    if (cur >= 0) {
        if (fdatasync(cur) != 0 && rc == 0)
            rc = -errno;
        close(cur);
    }
    if (dir) {
        int r = fsync_errno(f->dirfd);
        if (r != 0) {
            pthread_mutex_lock(&f->mu);
            f->dir_dirty = true;
            pthread_mutex_unlock(&f->mu);
            if (rc == 0)
                rc = r;
        }
    }
    return rc;
}

static uint64_t sf_log_bytes(store *s)
{
    store_file *f = (store_file *)s;
    pthread_mutex_lock(&f->mu);
    uint64_t n = f->rotated + f->live;
    pthread_mutex_unlock(&f->mu);
    return n;
}

static int open_log(store_file *f, uint64_t gen)
{
    char name[SEGNAME_MAX];
    segname_log(name, f->shard, gen);
    int fd = openat(f->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    return fd < 0 ? -errno : fd;
}

static int sf_rotate(store *s, store_cut *cut)
{
    store_file *f = (store_file *)s;
    if (f->torn) {
        if (ftruncate(f->fd, (off_t)f->cur_size) != 0)
            return -errno;
        f->torn = false;
    }
    int fd = open_log(f, f->cur_gen + 1);
    if (fd < 0)
        return fd;
    pthread_mutex_lock(&f->mu);
    if (f->prev_fd >= 0)
        close(f->prev_fd); /* two rotations without a sync: policy "no" */
    f->prev_fd = f->fd;
    f->prev_epoch++;
    f->fd = fd;
    f->rotated += f->cur_size;
    f->live = 0;
    f->cur_gen++;
    f->dir_dirty = true;
    cut->base = f->run_base;
    cut->gen = f->cur_gen;
    cut->bytes = f->rotated;
    pthread_mutex_unlock(&f->mu);
    f->cur_size = 0;
    return 0;
}

/* Reads a whole file into a malloc'ed buffer; 0 or -errno. */
static int read_file_at(int dirfd, const char *name, uint8_t **out, size_t *len)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    if ((uint64_t)st.st_size > (uint64_t)SIZE_MAX - 1) {
        close(fd);
        return -EFBIG;
    }
    size_t cap = (size_t)st.st_size;
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    size_t n = 0;
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = -errno;
            free(buf);
            close(fd);
            return e;
        }
        if (r == 0)
            break; /* shrank while we read: keep what is there */
        n += (size_t)r;
    }
    close(fd);
    *out = buf;
    *len = n;
    return 0;
}

static int feed(int dirfd, const char *name, bool is_log, store_segment_fn fn, void *ctx)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = read_file_at(dirfd, name, &data, &len);
    if (rc != 0)
        return rc;
    return fn(ctx, name, data, len, is_log);
}

static int sf_read_cut(store *s, const store_cut *cut, store_segment_fn fn, void *ctx)
{
    store_file *f = (store_file *)s;
    char name[SEGNAME_MAX];
    pthread_mutex_lock(&f->mu);
    uint64_t snap = f->snap_gen;
    pthread_mutex_unlock(&f->mu);
    uint64_t from = f->run_base;
    if (snap) {
        segname_snap(name, f->shard, f->run_base, snap, false);
        int rc = feed(f->dirfd, name, false, fn, ctx);
        if (rc != 0)
            return rc;
        from = snap;
    }
    for (uint64_t g = from; g < cut->gen; g++) {
        segname_log(name, f->shard, g);
        int rc = feed(f->dirfd, name, true, fn, ctx);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int sf_install_snapshot(store *s, const store_cut *cut, const void *buf, size_t len)
{
    store_file *f = (store_file *)s;
    store_cut first = {.base = f->run_base, .gen = f->run_base, .bytes = 0};
    if (!cut)
        cut = &first;
    char tmp[SEGNAME_MAX], fin[SEGNAME_MAX], name[SEGNAME_MAX];
    segname_snap(tmp, f->shard, cut->base, cut->gen, true);
    segname_snap(fin, f->shard, cut->base, cut->gen, false);
    int fd = openat(f->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int rc = write_all(fd, buf, len);
    if (rc == 0 && fdatasync(fd) != 0)
        rc = -errno;
    close(fd);
    if (rc != 0) {
        unlinkat(f->dirfd, tmp, 0);
        return rc;
    }
    int fault = STORE_FAULT_BEFORE_RENAME;
    if (atomic_compare_exchange_strong(&f->fault, &fault, STORE_FAULT_NONE))
        return -EINTR;
    if (renameat(f->dirfd, tmp, f->dirfd, fin) != 0) {
        rc = -errno;
        unlinkat(f->dirfd, tmp, 0);
        return rc;
    }
    /* The rename is the commit point only once the directory is on disk. */
    rc = fsync_errno(f->dirfd);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&f->mu);
    f->snap_gen = cut->gen;
    f->rotated = f->rotated >= cut->bytes ? f->rotated - cut->bytes : 0;
    pthread_mutex_unlock(&f->mu);
    fault = STORE_FAULT_BEFORE_UNLINK;
    if (atomic_compare_exchange_strong(&f->fault, &fault, STORE_FAULT_NONE))
        return 0;
    /* Superseded files are dead weight from here on; a crash before they go
     * is harmless because the loader skips what a snapshot supersedes. */
    bool clean = true;
    for (uint64_t g = f->clean_from; g < cut->gen; g++) {
        segname_log(name, f->shard, g);
        if (unlinkat(f->dirfd, name, 0) != 0 && errno != ENOENT)
            clean = false;
        segname_snap(name, f->shard, cut->base, g, false);
        if (unlinkat(f->dirfd, name, 0) != 0 && errno != ENOENT)
            clean = false;
    }
    if (clean)
        f->clean_from = cut->gen;
    return 0;
}

static void sf_close(store *s)
{
    store_file *f = (store_file *)s;
    if (!f)
        return;
    if (f->fd >= 0)
        close(f->fd);
    if (f->prev_fd >= 0)
        close(f->prev_fd);
    if (f->dirfd >= 0)
        close(f->dirfd);
    pthread_mutex_destroy(&f->mu);
    free(f->dir);
    free(f);
}

static const store_ops store_file_ops = {
    .append = sf_append,
    .sync = sf_sync,
    .log_bytes = sf_log_bytes,
    .rotate = sf_rotate,
    .read_cut = sf_read_cut,
    .install_snapshot = sf_install_snapshot,
    .close = sf_close,
};

/* ---- names ---------------------------------------------------------------- */

static bool is_tmp_name(const char *name)
{
    size_t n = strlen(name);
    return strncmp(name, "shard-", 6) == 0 && n > 4 && strcmp(name + n - 4, ".tmp") == 0;
}

static void store_file_names_free(char **names)
{
    if (!names)
        return;
    for (char **p = names; *p; p++)
        free(*p);
    free(names);
}

/* Collects dir's journal file names; 0 or -errno. */
static int list_dir(const char *dir, char ***names_out, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int rc = 0;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        segname e;
        if (!segname_parse(de->d_name, &e) && !is_tmp_name(de->d_name))
            continue;
        if (n + 1 >= cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nn = realloc(names, nc * sizeof *nn);
            if (!nn) {
                rc = -ENOMEM;
                break;
            }
            names = nn;
            cap = nc;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = -ENOMEM;
            break;
        }
        names[++n] = NULL;
    }
    closedir(d);
    if (rc == 0 && !names && !(names = calloc(1, sizeof *names)))
        rc = -ENOMEM;
    if (rc != 0) {
        store_file_names_free(names);
        return rc;
    }
    *names_out = names;
    *count = n;
    return 0;
}

static int store_file_load(const char *dir, store_segment_fn fn, void *ctx, char ***names_out,
                    uint64_t *next_gen, char *err, size_t errlen)
{
    char **names;
    size_t n;
    *names_out = NULL;
    *next_gen = 1;
    int rc = list_dir(dir, &names, &n);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(-rc));
        return rc;
    }
    segname *es = calloc(n ? n : 1, sizeof *es);
    if (!es) {
        store_file_names_free(names);
        snprintf(err, errlen, "%s: out of memory", dir);
        return -ENOMEM;
    }
    uint64_t top;
    size_t m = segname_order(names, n, es, &top);
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    rc = dirfd < 0 ? -errno : 0;
    if (rc != 0)
        snprintf(err, errlen, "%s: %s", dir, strerror(-rc));
    for (size_t i = 0; rc == 0 && i < m; i++) {
        if (es[i].superseded)
            continue;
        rc = feed(dirfd, es[i].name, es[i].is_log, fn, ctx);
        if (rc != 0 && rc != -ECANCELED)
            snprintf(err, errlen, "%s/%s: %s", dir, es[i].name, strerror(-rc));
    }
    if (dirfd >= 0)
        close(dirfd);
    free(es);
    if (rc != 0) {
        store_file_names_free(names);
        return rc;
    }
    *names_out = names;
    *next_gen = top + 1;
    return 0;
}

static int store_file_retire(const char *dir, char *const *names)
{
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return -errno;
    int rc = 0;
    for (char *const *p = names; p && *p; p++)
        if (unlinkat(dirfd, *p, 0) != 0 && errno != ENOENT && rc == 0)
            rc = -errno;
    int r = fsync_errno(dirfd);
    close(dirfd);
    return rc ? rc : r;
}

static int store_file_prepare(const char *dir)
{
    return mkdir(dir, 0700) != 0 && errno != EEXIST ? -errno : 0;
}

struct store_lock {
    int fd; /* <dir>/LOCK, flock'ed */
};

static int store_file_lock(const char *dir, store_lock **out)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/LOCK", dir) >= sizeof path)
        return -ENAMETOOLONG;
    store_lock *l = malloc(sizeof *l);
    if (!l)
        return -ENOMEM;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = -errno;
        free(l);
        return e;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno == EWOULDBLOCK ? -EWOULDBLOCK : -errno;
        close(fd);
        free(l);
        return e;
    }
    l->fd = fd;
    *out = l;
    return 0;
}

static void store_file_unlock(store_lock *l)
{
    if (!l)
        return;
    close(l->fd); /* closing the last descriptor releases the flock */
    free(l);
}

/* ---- open ------------------------------------------------------------------ */

/* One above the highest generation of any journal file in dir. */
static int next_gen_in(const char *dir, uint64_t *out)
{
    char **names;
    size_t n;
    int rc = list_dir(dir, &names, &n);
    if (rc != 0)
        return rc;
    uint64_t top = 0;
    for (size_t i = 0; i < n; i++) {
        segname e;
        if (segname_parse(names[i], &e) && e.gen > top)
            top = e.gen;
    }
    store_file_names_free(names);
    *out = top + 1;
    return 0;
}

static int store_file_open(const char *dir, unsigned shard, uint64_t gen, store **out)
{
    *out = NULL;
    if (gen == 0) {
        int rc = next_gen_in(dir, &gen);
        if (rc != 0)
            return rc;
    }
    store_file *f = calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    f->base.ops = &store_file_ops;
    f->fd = f->prev_fd = f->dirfd = -1;
    f->shard = shard;
    f->run_base = f->cur_gen = f->clean_from = gen;
    pthread_mutex_init(&f->mu, NULL);
    int rc = 0;
    if (!(f->dir = strdup(dir)))
        rc = -ENOMEM;
    else if ((f->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        rc = -errno;
    else if ((f->fd = open_log(f, gen)) < 0)
        rc = f->fd;
    else
        rc = fsync_errno(f->dirfd);
    if (rc != 0) {
        if (f->fd < 0)
            f->fd = -1;
        sf_close(&f->base);
        return rc;
    }
    *out = &f->base;
    return 0;
}

void store_file_set_fault(store *s, store_fault fault)
{
    atomic_store(&((store_file *)s)->fault, (int)fault);
}

const store_backend store_file_backend = {
    .name = "file",
    .prepare = store_file_prepare,
    .lock = store_file_lock,
    .unlock = store_file_unlock,
    .load = store_file_load,
    .retire = store_file_retire,
    .names_free = store_file_names_free,
    .open = store_file_open,
};
