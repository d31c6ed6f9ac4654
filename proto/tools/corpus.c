/* proto_corpus: writes the seed corpora of fuzz_msg and fuzz_frame (tests/fuzz/corpus/{msg,frame})
 * from the sample messages plus a few hostile inputs. Run once when messages change:
 *   proto_corpus tests/fuzz/corpus/msg tests/fuzz/corpus/frame */
#include <stdio.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/tools/samples.h"

static int put(const char *dir, const char *name, const void *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) {
        perror(path);
        if (f)
            fclose(f);
        return -1;
    }
    return fclose(f);
}

static uint8_t stream[1 << 16];

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: proto_corpus MSG_DIR FRAME_DIR\n");
        return 2;
    }
    const char *md = argv[1], *fd = argv[2];
    static uint8_t buf[8192];
    static proto_event e;
    proto_request r;
    size_t len, sreq = 2, sevt = 2;
    uint8_t *evs = stream + sizeof stream / 2;
    stream[0] = evs[0] = 5; /* max frame: PROTO_FRAME_DEFAULT_MAX */
    stream[1] = 7;
    evs[1] = 3;
    char name[64];
    for (int t = PROTO_T_HELLO; t <= PROTO_T_EVT_LAST; t++) {
        if (sample_request(t, &r) == 0) {
            proto_encode_request(buf, sizeof buf, &r, &len);
            memcpy(stream + sreq, buf, len);
            sreq += len;
        } else if (sample_event(t, &e) == 0) {
            proto_encode_event(buf, sizeof buf, &e, &len);
            memcpy(evs + sevt, buf, len);
            sevt += len;
        } else {
            continue;
        }
        snprintf(name, sizeof name, "%s", proto_type_name(t));
        if (put(md, name, buf + 4, len - 4) != 0)
            return 1;
    }
    if (put(fd, "requests", stream, sreq) || put(fd, "events", evs, sevt))
        return 1;

    static const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t arr32[] = {0x82, 0xa1, 't', 0xa4, 'p', 'i', 'n', 'g', 0xa1, 'x', 0xdd, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t dup[] = {0x84, 0xa1, 't', 0xa4, 'f', 'i', 'r', 'e', 0xa3, 'b', 'i', 'd', 0x05,
                                  0xa1, 'w', 0x00, 0xa1, 'w', 0x01};
    static const uint8_t extra[] = {0x85, 0xa1, 't', 0xa4, 'f', 'i', 'r', 'e', 0xa3, 'b', 'i', 'd', 0x05, 0xa1, 'w',
                                    0x01, 0xa5, 'f', 'u', 't', 'u', 'r', 0x91, 0x80, 0x92, 0x01, 0x02, 0xc0};
    static const uint8_t types[] = {0x81, 0xa1, 'x', 0x9a, 0xc0, 0xc2, 0xc3, 0xca, 0, 0, 0, 0, 0xd0, 0x80,
                                    0xd4, 1, 2, 0xc7, 1, 5, 9, 0xc4, 1, 0, 0xcf, 0, 0, 0, 0, 0, 0, 0, 1, 0xe0};
    uint8_t deep[40];
    memset(deep, 0x91, sizeof deep);
    deep[sizeof deep - 1] = 0x90;
    if (put(md, "x_map32", map32, sizeof map32) || put(md, "x_arr32", arr32, sizeof arr32) ||
        put(md, "x_dup", dup, sizeof dup) || put(md, "x_extra_keys", extra, sizeof extra) ||
        put(md, "x_all_types", types, sizeof types) || put(md, "x_deep", deep, sizeof deep))
        return 1;

    static const uint8_t zero[] = {5, 1, 0, 0, 0, 0, 0x80};
    static const uint8_t big[] = {0, 9, 0, 0, 0, 2, 0x81, 0xc0};
    static const uint8_t huge[] = {5, 1, 0xff, 0xff, 0xff, 0xff, 0x00};
    if (put(fd, "x_zero", zero, sizeof zero) || put(fd, "x_over_max", big, sizeof big) ||
        put(fd, "x_huge", huge, sizeof huge))
        return 1;
    return 0;
}
