/* libFuzzer target: the frame codec (byte-at-a-time decoder, COBS, CRC) on hostile bytes.
 *
 * Every input is pushed through the decoder; after it, the same bytes are wrapped as a
 * payload, encoded and decoded again, which must give them back exactly (a round-trip
 * property, so the fuzzer also checks correctness, not only memory safety). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hush_frame.h"

static _Alignas(8) uint8_t decoder_mem[HUSH_FRAME_DECODER_MEM_BYTES];
static uint8_t encoded[HUSH_FRAME_BUFFER_SIZE];
static uint8_t scratch[HUSH_PROTO_MAX_RAW_FRAME + 16];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hush_frame_decoder *dec = hush_frame_decoder_init(decoder_mem, sizeof decoder_mem);
    for (size_t i = 0; i < size; i++) {
        const int r = hush_frame_decoder_push(dec, data[i]);
        if (r == HUSH_FRAME_READY || r == HUSH_FRAME_ERR_CRC) {
            size_t len = 0;
            const uint8_t *frame = hush_frame_decoder_frame(dec, &len);
            if (frame == NULL || len < HUSH_PROTO_HEADER_SIZE || len > HUSH_PROTO_MAX_RAW_FRAME) {
                abort();
            }
            memcpy(scratch, frame, len); /* the whole claimed frame must be readable */
        }
    }
    /* COBS decode of raw input must never write past its output buffer. */
    (void)hush_frame_cobs_decode(data, size, scratch, sizeof scratch);

    /* Round trip: payload -> frame -> decoder -> the same payload. */
    const size_t n = size < HUSH_PROTO_MAX_PAYLOAD ? size : HUSH_PROTO_MAX_PAYLOAD;
    const uint16_t seq = size >= 2 ? (uint16_t)(data[0] | data[1] << 8) : 0;
    const size_t len = hush_frame_encode(0x42, 0, seq, data, n, encoded, sizeof encoded);
    if (len == 0 || memchr(encoded, 0, len - 1) != NULL || encoded[len - 1] != 0) {
        abort();
    }
    hush_frame_decoder_reset(dec);
    int result = HUSH_FRAME_PENDING;
    for (size_t i = 0; i < len; i++) {
        result = hush_frame_decoder_push(dec, encoded[i]);
        if (result != HUSH_FRAME_PENDING && i + 1 != len) {
            abort();
        }
    }
    size_t got = 0;
    const uint8_t *frame = hush_frame_decoder_frame(dec, &got);
    if (result != HUSH_FRAME_READY || got != HUSH_PROTO_HEADER_SIZE + n ||
        memcmp(frame + HUSH_PROTO_HEADER_SIZE, data, n) != 0) {
        abort();
    }
    return 0;
}
