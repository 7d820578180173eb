/* Unit tests of the frame codec: CRC32 vectors, COBS edge cases, in-place encoding and the
 * byte-at-a-time decoder (valid frames, corruption, truncation, overflow, resync). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hush_frame.h"

static int failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

static uint32_t rng_state = 12345u;

static uint8_t rng_byte(void)
{
    rng_state = rng_state * 1664525u + 1013904223u; /* Numerical Recipes LCG */
    return (uint8_t)(rng_state >> 24);
}

static void test_crc32_vectors(void)
{
    const uint8_t check[] = "123456789";
    CHECK(hush_frame_crc32(0, check, 9) == 0xCBF43926u); /* the CRC-32/ISO-HDLC check value */
    CHECK(hush_frame_crc32(0, check, 0) == 0u);
    /* chaining over a split equals one pass, as with zlib.crc32 */
    CHECK(hush_frame_crc32(hush_frame_crc32(0, check, 4), check + 4, 5) == 0xCBF43926u);
}

static void check_cobs(const uint8_t *in, size_t len, const uint8_t *expected, size_t exp_len)
{
    uint8_t enc[600];
    uint8_t dec[600];
    const size_t n = hush_frame_cobs_encode(in, len, enc, sizeof enc);
    CHECK(n == exp_len);
    CHECK(memcmp(enc, expected, exp_len) == 0);
    CHECK(memchr(enc, 0, n) == NULL);
    CHECK(n <= len + HUSH_FRAME_COBS_OVERHEAD(len));
    const size_t m = hush_frame_cobs_decode(enc, n, dec, sizeof dec);
    CHECK(m == len);
    CHECK(len == 0 || memcmp(dec, in, len) == 0);
}

static void test_cobs_vectors(void)
{
    check_cobs((const uint8_t *)"", 0, (const uint8_t[]){0x01}, 1);
    check_cobs((const uint8_t[]){0x00}, 1, (const uint8_t[]){0x01, 0x01}, 2);
    check_cobs((const uint8_t[]){0x00, 0x00}, 2, (const uint8_t[]){0x01, 0x01, 0x01}, 3);
    check_cobs((const uint8_t[]){0x11, 0x22, 0x00, 0x33}, 4,
               (const uint8_t[]){0x03, 0x11, 0x22, 0x02, 0x33}, 5);

    uint8_t run[300];
    uint8_t expected[310];
    for (size_t i = 0; i < sizeof run; i++) {
        run[i] = (uint8_t)(1u + i % 255u);
    }
    /* 254 non-zero bytes fill one block exactly: 0xFF, data, then an empty final block. */
    expected[0] = 0xFF;
    memcpy(expected + 1, run, 254);
    expected[255] = 0x01;
    check_cobs(run, 254, expected, 256);
    /* 255 non-zero bytes: a full block, then a block holding the last byte. */
    expected[255] = 0x02;
    expected[256] = run[254];
    check_cobs(run, 255, expected, 257);
    /* 253 bytes: one block, no split. */
    expected[0] = 0xFE;
    check_cobs(run, 253, expected, 254);

    uint8_t zeros[300] = {0};
    uint8_t ones[301];
    memset(ones, 0x01, sizeof ones);
    check_cobs(zeros, sizeof zeros, ones, sizeof zeros + 1);
}

static void test_cobs_decode_rejects(void)
{
    uint8_t out[16];
    CHECK(hush_frame_cobs_decode((const uint8_t[]){0x03, 0x11}, 2, out, sizeof out) == SIZE_MAX);
    CHECK(hush_frame_cobs_decode((const uint8_t[]){0x02, 0x00}, 2, out, sizeof out) == SIZE_MAX);
    CHECK(hush_frame_cobs_decode((const uint8_t[]){0x00}, 1, out, sizeof out) == SIZE_MAX);
    /* cap too small */
    CHECK(hush_frame_cobs_decode((const uint8_t[]){0x03, 0x11, 0x22}, 3, out, 1) == SIZE_MAX);
}

static void test_cobs_in_place_random(void)
{
    static uint8_t src[HUSH_PROTO_MAX_RAW_FRAME];
    static uint8_t buf[HUSH_FRAME_BUFFER_SIZE];
    static uint8_t ref[HUSH_FRAME_BUFFER_SIZE];
    static uint8_t dec[HUSH_PROTO_MAX_RAW_FRAME];
    for (int trial = 0; trial < 200; trial++) {
        const size_t len = trial == 0 ? sizeof src : (size_t)(rng_byte() << 4 | rng_byte() >> 4);
        const unsigned zero_odds = rng_byte() % 4u; /* 0: no zeros, 3: many zeros */
        for (size_t i = 0; i < len; i++) {
            const uint8_t b = rng_byte();
            src[i] = (zero_odds && rng_byte() % (zero_odds * 8u) == 0) ? 0 : (uint8_t)(b | 1u);
        }
        const size_t n_ref = hush_frame_cobs_encode(src, len, ref, sizeof ref);
        const size_t off = HUSH_FRAME_COBS_OVERHEAD(len);
        memcpy(buf + off, src, len);
        const size_t n = hush_frame_cobs_encode(buf + off, len, buf, sizeof buf);
        CHECK(n == n_ref && memcmp(buf, ref, n) == 0);
        CHECK(hush_frame_cobs_decode(buf, n, dec, sizeof dec) == len);
        CHECK(memcmp(dec, src, len) == 0);
    }
}

static int feed(hush_frame_decoder *dec, const uint8_t *bytes, size_t n, int *last)
{
    int ready = 0;
    for (size_t i = 0; i < n; i++) {
        const int r = hush_frame_decoder_push(dec, bytes[i]);
        if (r != HUSH_FRAME_PENDING) {
            *last = r;
            ready++;
        }
    }
    return ready;
}

static void test_decoder(void)
{
    static _Alignas(8) uint8_t mem[HUSH_FRAME_DECODER_MEM_BYTES + 8];
    static uint8_t wire[HUSH_FRAME_BUFFER_SIZE];
    static uint8_t payload[HUSH_PROTO_MAX_PAYLOAD + 1];
    const size_t need = hush_frame_decoder_get_size();
    CHECK(need <= HUSH_FRAME_DECODER_MEM_BYTES);
    /* Short or misaligned memory is refused. */
    CHECK(hush_frame_decoder_init(mem, need - 1) == NULL);
    CHECK(hush_frame_decoder_init(mem + 1, need) == NULL);
    CHECK(hush_frame_decoder_init(NULL, need) == NULL);
    hush_frame_decoder *dec = hush_frame_decoder_init(mem, need);
    CHECK(dec != NULL);
    for (size_t i = 0; i < sizeof payload; i++) {
        payload[i] = (uint8_t)(i % 7u == 0 ? 0 : rng_byte());
    }
    int last = 0;
    size_t len = 0;

    /* A valid frame, preceded by idle delimiters. */
    size_t n = hush_frame_encode(HUSH_OP_INFO, 0, 0xBEEF, payload, 300, wire, sizeof wire);
    CHECK(n > 300 && wire[n - 1] == 0);
    CHECK(feed(dec, (const uint8_t[]){0, 0}, 2, &last) == 0);
    CHECK(feed(dec, wire, n, &last) == 1 && last == HUSH_FRAME_READY);
    const uint8_t *f = hush_frame_decoder_frame(dec, &len);
    CHECK(len == HUSH_PROTO_HEADER_SIZE + 300);
    CHECK(f[0] == HUSH_OP_INFO && hush_frame_get_u16(f + 2) == 0xBEEF);
    CHECK(hush_frame_get_u16(f + 4) == 300 && memcmp(f + 6, payload, 300) == 0);

    /* A flipped bit: CRC error, header still readable; then the next frame decodes. */
    wire[10] ^= 0x40;
    if (wire[10] == 0) {
        wire[10] = 0x40;
    }
    CHECK(feed(dec, wire, n, &last) == 1 && last == HUSH_FRAME_ERR_CRC);
    hush_frame_decoder_frame(dec, &len);
    CHECK(len == HUSH_PROTO_HEADER_SIZE + 300);
    wire[10] ^= 0x40;
    n = hush_frame_encode(HUSH_OP_STATS, 0, 7, NULL, 0, wire, sizeof wire);
    CHECK(feed(dec, wire, n, &last) == 1 && last == HUSH_FRAME_READY);

    /* Too short to hold header + CRC. */
    CHECK(feed(dec, (const uint8_t[]){0x03, 0x11, 0x22, 0x00}, 4, &last) == 1);
    CHECK(last == HUSH_FRAME_ERR_SHORT);
    /* Truncated COBS block (the line dropped bytes). */
    CHECK(feed(dec, (const uint8_t[]){0x09, 0x11, 0x22, 0x00}, 4, &last) == 1);
    CHECK(last == HUSH_FRAME_ERR_COBS);
    hush_frame_decoder_frame(dec, &len);
    CHECK(len == 0);

    /* Largest payload fits, one more byte does not encode, and an oversized raw stream is
     * reported as too long once its delimiter arrives. */
    n = hush_frame_encode(HUSH_OP_PROCESS, 0, 1, payload, HUSH_PROTO_MAX_PAYLOAD, wire,
                          sizeof wire);
    CHECK(n > 0 && n <= HUSH_PROTO_MAX_ENCODED_FRAME);
    CHECK(feed(dec, wire, n, &last) == 1 && last == HUSH_FRAME_READY);
    CHECK(hush_frame_encode(HUSH_OP_PROCESS, 0, 1, payload, HUSH_PROTO_MAX_PAYLOAD + 1, wire,
                            sizeof wire) == 0);
    /* All 0xFF: full 254-byte blocks, decoding to ~254/255 of the bytes fed. */
    static uint8_t flood[HUSH_PROTO_MAX_RAW_FRAME + 40];
    memset(flood, 0xFF, sizeof flood);
    CHECK(feed(dec, flood, sizeof flood, &last) == 0);
    CHECK(feed(dec, (const uint8_t[]){0}, 1, &last) == 1 && last == HUSH_FRAME_ERR_TOO_LONG);
    n = hush_frame_encode(HUSH_OP_RESET, 0, 2, NULL, 0, wire, sizeof wire);
    CHECK(feed(dec, wire, n, &last) == 1 && last == HUSH_FRAME_READY);
}

static void test_seal_in_place(void)
{
    static uint8_t buf[HUSH_FRAME_BUFFER_SIZE];
    static uint8_t ref[HUSH_FRAME_BUFFER_SIZE];
    static uint8_t payload[HUSH_PROTO_MAX_PAYLOAD];
    const size_t sizes[] = {0, 1, 253, 254, 1000, HUSH_PROTO_MAX_PAYLOAD};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (size_t i = 0; i < sizes[s]; i++) {
            payload[i] = (uint8_t)(i % 300u < 260u ? 0x80u | rng_byte() : 0);
        }
        const size_t n_ref = hush_frame_encode(HUSH_OP_PROCESS | HUSH_PROTO_REPLY_FLAG, 0, 9,
                                               payload, sizes[s], ref, sizeof ref);
        memcpy(hush_frame_payload(buf), payload, sizes[s]);
        const size_t n =
            hush_frame_seal(buf, HUSH_OP_PROCESS | HUSH_PROTO_REPLY_FLAG, 0, 9, sizes[s]);
        CHECK(n == n_ref && n > 0 && memcmp(buf, ref, n) == 0);
    }
}

int main(void)
{
    test_crc32_vectors();
    test_cobs_vectors();
    test_cobs_decode_rejects();
    test_cobs_in_place_random();
    test_decoder();
    test_seal_in_place();
    if (failures) {
        fprintf(stderr, "test_frame: %d failure(s)\n", failures);
        return EXIT_FAILURE;
    }
    printf("test_frame: ok\n");
    return EXIT_SUCCESS;
}
