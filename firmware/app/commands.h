/* commands: the firmware side of the serial protocol (hush_protocol.h).
 *
 * Turns received bytes into replies: frame decoding (hush_frame), command dispatch (INFO,
 * PROCESS, STATS, SET, RESET, SAFETY here; the audio commands go to audio_path.c, the flash
 * and model commands to app_flash.c), per-hop cost and statistics. It calls the pipeline API and
 * the HAL's timer and stack probes, never a register, so it runs unchanged on every target.
 *
 * Use from the main loop:
 *
 *     static _Alignas(8) uint8_t cmd_mem[HUSH_CMD_MEM_BYTES];
 *     static uint8_t reply[HUSH_CMD_REPLY_BYTES];
 *     hush_cmd_ctx *cmd = hush_cmd_init(cmd_mem, sizeof cmd_mem, pipeline, init_status, &info);
 *     for (;;) {
 *         hal_uart_wait_rx();
 *         while (hal_uart_read(&byte, 1) == 1) {
 *             size_t n = hush_cmd_feed(cmd, byte, reply, sizeof reply);
 *             if (n) hal_uart_write(reply, n);
 *         }
 *     }
 *
 * Memory: the context lives in caller memory (hush_cmd_get_size() bytes, at most
 * HUSH_CMD_MEM_BYTES, 8-byte aligned) and holds the receive buffer (one raw frame, ~4 KB)
 * and a copy of the last reply (~4 KB), resent when the host retries that request.
 * The reply buffer (HUSH_CMD_REPLY_BYTES, ~4 KB) belongs to the caller; a reply is written
 * and encoded in place in it. The pipeline and the info strings must outlive the context.
 */
#ifndef HUSH_COMMANDS_H
#define HUSH_COMMANDS_H

#include <stddef.h>
#include <stdint.h>

#include "hush_frame.h"
#include "hush_pipeline.h"

/* Largest hop the command layer handles: n_fft 256 -> 128 samples (8 ms at 16 kHz). */
#define HUSH_CMD_MAX_HOP 128u

#define HUSH_CMD_REPLY_BYTES HUSH_FRAME_BUFFER_SIZE

/* Context bytes: the decoder's frame buffer, one hop of int16 samples, a copy of the last
 * reply (answers a retried request without running it again), bookkeeping. */
#define HUSH_CMD_MEM_BYTES \
    (HUSH_FRAME_DECODER_MEM_BYTES + 2u * HUSH_CMD_MAX_HOP + HUSH_CMD_REPLY_BYTES + 160u)

/* What INFO reports about this build. Strings are NUL terminated and truncated to the protocol
 * field sizes (16 chars for versions and targets, 64 hex digits for the sha256). */
typedef struct {
    const char *fw_version;   /* e.g. "0.1.0" */
    const char *target;       /* build target, e.g. "qemu-m4" */
    const char *model_sha256; /* HUSH_MODEL_SHA256 of the exported model, hex */
    uint32_t sample_rate;     /* HUSH_SAMPLE_RATE, Hz */
    uint16_t n_fft;           /* HUSH_N_FFT, samples */
} hush_cmd_device_info;

typedef struct hush_cmd_ctx hush_cmd_ctx;

size_t hush_cmd_get_size(void);

/* Set up the command layer in mem (mem_size bytes). pipeline is the initialised pipeline, or
 * NULL; init_status is what hush_pipeline_init returned: anything but HUSH_PIPELINE_OK makes
 * model commands answer MODEL_NOT_LOADED while INFO reports the error. Returns NULL when
 * mem_size < hush_cmd_get_size() or mem is not 8-byte aligned (the context holds 64-bit
 * counters). */
hush_cmd_ctx *hush_cmd_init(void *mem, size_t mem_size, hush_pipeline *pipeline, int init_status,
                            const hush_cmd_device_info *info);

/* Switch to another pipeline between two frames (a pushed model); the settings (bypass,
 * attenuation) carry over. */
void hush_cmd_set_pipeline(hush_cmd_ctx *ctx, hush_pipeline *pipeline, int init_status);

/* Turn the model bypass on or off, as SET does (the firmware starts in bypass after a watchdog
 * reset). */
void hush_cmd_set_bypass(hush_cmd_ctx *ctx, int bypass);

/* Feed one received byte. Returns the number of reply bytes written to reply[0..] (a complete
 * encoded frame with its delimiter) when this byte ended a frame, else 0. cap must be at least
 * HUSH_CMD_REPLY_BYTES. Frames that fail their CRC are answered with BAD_CRC (echoing the seq);
 * unreadable ones with BAD_FRAME or FRAME_TOO_LONG and opcode HUSH_OP_NONE. A request equal to
 * the previous one (opcode, seq and payload: a retry) gets the previous reply again without
 * being executed. */
size_t hush_cmd_feed(hush_cmd_ctx *ctx, uint8_t byte, uint8_t *reply, size_t cap);

/* Execute one decoded frame (header | payload, CRC already checked) and write the encoded
 * reply. Returns its length, or 0 when cap is too small. hush_cmd_feed calls this. */
size_t hush_cmd_handle(hush_cmd_ctx *ctx, const uint8_t *frame, size_t len, uint8_t *reply,
                       size_t cap);

#endif /* HUSH_COMMANDS_H */
