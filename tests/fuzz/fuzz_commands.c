/* libFuzzer target: the firmware's command handler with the shipped model loaded.
 *
 * The first input byte picks how the rest is used:
 *   even: raw link bytes fed to hush_cmd_feed (framing, CRC, resync, error replies);
 *   odd:  a list of requests [opcode, length_lo, length_hi, payload...] that the harness
 *         frames with a valid CRC, so the fuzzer reaches every command's argument checks
 *         (PROCESS hop counts, flags, taps; SET fields and floats) without guessing CRCs.
 * Every reply must be a well-formed frame that fits the reply buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "hush_frame.h"
#include "hush_pipeline.h"
#include "fuzz_reply.h"

/* The shipped int8 model, compiled in by the Makefile (build/fuzz/fuzz_model_data.c). */
extern const uint8_t fuzz_model_data[];
extern const unsigned int fuzz_model_data_len;

#define ARENA_BYTES (64u * 1024u)

static _Alignas(16) uint8_t pipeline_mem[32768];
static _Alignas(16) uint8_t arena[ARENA_BYTES];
static _Alignas(8) uint8_t cmd_mem[HUSH_CMD_MEM_BYTES];
static uint8_t reply[HUSH_CMD_REPLY_BYTES];
static uint8_t request[HUSH_FRAME_BUFFER_SIZE];

static const hush_cmd_device_info info = {
    .fw_version = "fuzz",
    .target = "host",
    .model_sha256 = "0",
    .sample_rate = 16000,
    .n_fft = 256,
};

static hush_cmd_ctx *setup(void)
{
    if (hush_pipeline_get_size() > sizeof pipeline_mem) {
        abort();
    }
    hush_pipeline *p = (hush_pipeline *)pipeline_mem;
    const int st = hush_pipeline_init(p, sizeof pipeline_mem, 256, fuzz_model_data,
                                      fuzz_model_data_len, arena, sizeof arena);
    if (st != HUSH_PIPELINE_OK) {
        abort(); /* the shipped model must load */
    }
    /* Memory that is too small or not 8-byte aligned is refused. */
    if (hush_cmd_init(cmd_mem, hush_cmd_get_size() - 1, p, st, &info) != NULL ||
        hush_cmd_init(cmd_mem + 4, sizeof cmd_mem - 4, p, st, &info) != NULL) {
        abort();
    }
    return hush_cmd_init(cmd_mem, sizeof cmd_mem, p, st, &info);
}

static void feed(hush_cmd_ctx *ctx, const uint8_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fuzz_check_reply(reply, sizeof reply, hush_cmd_feed(ctx, bytes[i], reply, sizeof reply));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hush_cmd_ctx *ctx;
    if (ctx == NULL) {
        ctx = setup();
    }
    if (size == 0) {
        return 0;
    }
    /* Each input starts from the same device state, so a crash reproduces from its input. */
    hush_pipeline_reset((hush_pipeline *)pipeline_mem);
    hush_pipeline_set_bypass((hush_pipeline *)pipeline_mem, 0);
    hush_pipeline_set_attenuation_limit((hush_pipeline *)pipeline_mem, 0.0f);
    ctx = hush_cmd_init(cmd_mem, sizeof cmd_mem, (hush_pipeline *)pipeline_mem, 0, &info);
    if (!(data[0] & 1)) {
        feed(ctx, data + 1, size - 1);
        return 0;
    }
    size_t at = 1;
    uint16_t seq = 0;
    while (at + 3 <= size) {
        const uint8_t opcode = data[at];
        size_t len = (size_t)(data[at + 1] | data[at + 2] << 8);
        at += 3;
        if (len > size - at) {
            len = size - at;
        }
        if (len > HUSH_PROTO_MAX_PAYLOAD) {
            len = HUSH_PROTO_MAX_PAYLOAD;
        }
        const size_t n =
            hush_frame_encode(opcode, 0, seq++, data + at, len, request, sizeof request);
        at += len;
        feed(ctx, request, n);
    }
    return 0;
}
