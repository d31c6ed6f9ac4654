/* test_ws_frame: a client's WebSocket frame built by hand, as a browser builds it or as a hostile
 * client does (any fin, reserved bits, opcode, mask or declared length), for test_ws and
 * test_it_ws. Header-only: one static function. */
#ifndef BATTLED_TESTS_TEST_WS_FRAME_H
#define BATTLED_TESTS_TEST_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Writes into b a frame with the given fin bit, reserved bits (0..7), opcode, mask flag and
 * declared payload length, followed by the first n bytes of p (masked when masked; p may be NULL
 * when n is 0). declared may differ from n (a lie, or a frame whose rest never comes). b needs
 * 14 + n bytes. Returns the bytes written. */
static inline size_t test_ws_frame(uint8_t *b, int fin, int rsv, int op, int masked,
                                   const uint8_t *p, size_t n, uint64_t declared)
{
    size_t o = 0;
    b[o++] = (uint8_t)((fin ? 0x80 : 0) | (rsv << 4) | op);
    uint8_t m = masked ? 0x80 : 0;
    if (declared < 126) {
        b[o++] = (uint8_t)(m | declared);
    } else if (declared < 65536) {
        b[o++] = m | 126;
        b[o++] = (uint8_t)(declared >> 8);
        b[o++] = (uint8_t)declared;
    } else {
        b[o++] = m | 127;
        for (int i = 7; i >= 0; i--)
            b[o++] = (uint8_t)(declared >> (8 * i));
    }
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    if (masked) {
        memcpy(b + o, key, 4);
        o += 4;
    }
    for (size_t i = 0; i < n; i++)
        b[o++] = masked ? p[i] ^ key[i % 4] : p[i];
    return o;
}

#endif
