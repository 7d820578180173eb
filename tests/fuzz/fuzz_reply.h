/* The reply check both command fuzzers share: a reply must decode as exactly one valid frame
 * with the reply flag set (header-only, so each harness keeps its own decoder memory). */
#ifndef FUZZ_REPLY_H
#define FUZZ_REPLY_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hush_frame.h"
#include "hush_protocol.h"

static _Alignas(8) uint8_t fuzz_reply_decoder_mem[HUSH_FRAME_DECODER_MEM_BYTES];

/* `reply` holds `n` bytes of a buffer of `cap`; n == 0 means no reply. Aborts on anything
 * else than one well-formed reply frame; returns the decoded frame (header first, valid until
 * the next call), or NULL for no reply. */
static const uint8_t *fuzz_check_reply(const uint8_t *reply, size_t cap, size_t n)
{
    if (n == 0) {
        return NULL;
    }
    if (n > cap || reply[n - 1] != 0 || memchr(reply, 0, n - 1) != NULL) {
        abort();
    }
    hush_frame_decoder *dec =
        hush_frame_decoder_init(fuzz_reply_decoder_mem, sizeof fuzz_reply_decoder_mem);
    int r = HUSH_FRAME_PENDING;
    for (size_t i = 0; i < n; i++) {
        r = hush_frame_decoder_push(dec, reply[i]);
    }
    size_t len = 0;
    const uint8_t *frame = hush_frame_decoder_frame(dec, &len);
    if (r != HUSH_FRAME_READY || !(frame[HUSH_PROTO_HDR_OPCODE_OFFSET] & HUSH_PROTO_REPLY_FLAG)) {
        abort();
    }
    return frame;
}

#endif
