/* commands: protocol dispatch for the firmware (see commands.h and hush_protocol.h). */
#include "commands.h"

#include <math.h>
#include <stdalign.h>
#include <string.h>

#include "app_flash.h"
#include "app_watchdog.h"
#include "audio_path.h"
#include "hal_sys.h"
#include "hal_timer.h"

/* Opcodes 0x20-0x2F belong to the real-time audio path (audio_path.c). */
#define HUSH_AUDIO_OPCODE_MASK 0xF0u

/* Longest ASCII detail an error reply carries after its status. */
#define DETAIL_MAX_BYTES 64u

struct hush_cmd_ctx {
    hush_pipeline *pipeline;
    const hush_cmd_device_info *info;
    int init_status;
    uint8_t bypass;
    float attenuation_db; /* 0 = unlimited */
    /* Cost statistics since init or RESET, in hal_timer_unit() units. */
    uint32_t hops;
    uint32_t cost_min;
    uint32_t cost_max;
    uint64_t cost_total;
    uint32_t frame_errors; /* since boot: RESET keeps it, it describes the link */
    /* The last request answered and its reply, for retries (see hush_cmd_feed). */
    uint32_t last_key;       /* CRC32 of the request's header | payload (opcode, seq, bytes) */
    size_t last_request_len; /* 0: nothing cached */
    size_t last_reply_len;
    uint32_t retries_answered; /* since boot */
    uint8_t last_reply[HUSH_CMD_REPLY_BYTES];
    hush_frame_decoder *decoder;
    int16_t pcm[HUSH_CMD_MAX_HOP];
    _Alignas(8) uint8_t decoder_mem[HUSH_FRAME_DECODER_MEM_BYTES];
};

_Static_assert(sizeof(struct hush_cmd_ctx) <= HUSH_CMD_MEM_BYTES, "HUSH_CMD_MEM_BYTES too small");

size_t hush_cmd_get_size(void)
{
    return sizeof(struct hush_cmd_ctx);
}

static void clear_stats(hush_cmd_ctx *ctx)
{
    ctx->hops = 0;
    ctx->cost_min = 0;
    ctx->cost_max = 0;
    ctx->cost_total = 0;
}

hush_cmd_ctx *hush_cmd_init(void *mem, size_t mem_size, hush_pipeline *pipeline, int init_status,
                            const hush_cmd_device_info *info)
{
    if (mem == NULL || mem_size < sizeof(struct hush_cmd_ctx) ||
        (uintptr_t)mem % alignof(struct hush_cmd_ctx) != 0) {
        return NULL;
    }
    hush_cmd_ctx *ctx = (hush_cmd_ctx *)mem;
    memset(ctx, 0, sizeof *ctx);
    ctx->pipeline = pipeline;
    ctx->info = info;
    ctx->init_status = init_status;
    ctx->decoder = hush_frame_decoder_init(ctx->decoder_mem, sizeof ctx->decoder_mem);
    clear_stats(ctx);
    return ctx;
}

void hush_cmd_set_pipeline(hush_cmd_ctx *ctx, hush_pipeline *pipeline, int init_status)
{
    ctx->pipeline = pipeline;
    ctx->init_status = init_status;
    if (pipeline != NULL && init_status == HUSH_PIPELINE_OK) {
        hush_pipeline_set_bypass(pipeline, ctx->bypass);
        hush_pipeline_set_attenuation_limit(pipeline, ctx->attenuation_db);
    }
}

static int model_loaded(const hush_cmd_ctx *ctx)
{
    return ctx->pipeline != NULL && ctx->init_status == HUSH_PIPELINE_OK;
}

void hush_cmd_set_bypass(hush_cmd_ctx *ctx, int bypass)
{
    ctx->bypass = bypass != 0;
    if (model_loaded(ctx)) {
        hush_pipeline_set_bypass(ctx->pipeline, ctx->bypass);
    }
}

/* Why model commands are refused; "" when the model is loaded. */
static const char *model_error(const hush_cmd_ctx *ctx)
{
    if (model_loaded(ctx)) {
        return "";
    }
    return ctx->pipeline == NULL ? "no pipeline in this build"
                                 : hush_pipeline_error_str(ctx->init_status);
}

static uint8_t cost_source(void)
{
    return hal_timer_unit() == HAL_TIMER_UNIT_CYCLES ? HUSH_COST_DWT_CYCLES
                                                     : HUSH_COST_SYSTICK_ICOUNT;
}

/* Copy a C string into a fixed NUL-padded protocol field. */
static void put_text(uint8_t *dst, size_t field_bytes, const char *text)
{
    memset(dst, 0, field_bytes);
    if (text != NULL) {
        const size_t n = strlen(text);
        memcpy(dst, text, n < field_bytes ? n : field_bytes);
    }
}

static void put_f32(uint8_t *dst, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    hush_frame_put_u32(dst, bits);
}

static size_t reply_error(uint8_t *reply, uint8_t opcode, uint16_t seq, uint8_t status,
                          const char *detail)
{
    size_t n = 0;
    if (detail != NULL) {
        n = strlen(detail);
        n = n < DETAIL_MAX_BYTES ? n : DETAIL_MAX_BYTES;
        memcpy(hush_frame_payload(reply), detail, n);
    }
    return hush_frame_seal(reply, opcode, status, seq, n);
}

static size_t cmd_info(hush_cmd_ctx *ctx, uint8_t *out)
{
    const hush_cmd_device_info *info = ctx->info;
    const uint16_t n_fft = info != NULL ? info->n_fft : 0u;
    hush_pipeline_tap tap = {0};
    if (model_loaded(ctx)) {
        hush_pipeline_get_tap(ctx->pipeline, &tap);
    }
    memset(out, 0, HUSH_INFO_REPLY_SIZE);
    hush_frame_put_u16(out + HUSH_INFO_REPLY_PROTOCOL_VERSION_OFFSET, HUSH_PROTO_VERSION);
    put_text(out + HUSH_INFO_REPLY_FW_VERSION_OFFSET, HUSH_INFO_REPLY_FW_VERSION_BYTES,
             info != NULL ? info->fw_version : NULL);
    put_text(out + HUSH_INFO_REPLY_TARGET_OFFSET, HUSH_INFO_REPLY_TARGET_BYTES,
             info != NULL ? info->target : NULL);
    put_text(out + HUSH_INFO_REPLY_MODEL_SHA256_OFFSET, HUSH_INFO_REPLY_MODEL_SHA256_BYTES,
             info != NULL ? info->model_sha256 : NULL);
    hush_frame_put_u32(out + HUSH_INFO_REPLY_SAMPLE_RATE_OFFSET,
                       info != NULL ? info->sample_rate : 0u);
    hush_frame_put_u16(out + HUSH_INFO_REPLY_N_FFT_OFFSET, n_fft);
    hush_frame_put_u16(out + HUSH_INFO_REPLY_HOP_OFFSET, (uint16_t)(n_fft / 2u));
    hush_frame_put_u16(out + HUSH_INFO_REPLY_N_BINS_OFFSET,
                       (uint16_t)(n_fft != 0u ? n_fft / 2u + 1u : 0u));
    hush_frame_put_u16(out + HUSH_INFO_REPLY_STATE_SIZE_OFFSET, (uint16_t)tap.state_size);
    hush_frame_put_u32(out + HUSH_INFO_REPLY_MODEL_STATUS_OFFSET, (uint32_t)ctx->init_status);
    put_text(out + HUSH_INFO_REPLY_MODEL_MESSAGE_OFFSET, HUSH_INFO_REPLY_MODEL_MESSAGE_BYTES,
             model_error(ctx));
    hush_frame_put_u32(out + HUSH_INFO_REPLY_ARENA_BYTES_OFFSET,
                       model_loaded(ctx) ? (uint32_t)hush_pipeline_arena_used(ctx->pipeline) : 0u);
    hush_frame_put_u16(out + HUSH_INFO_REPLY_MAX_PAYLOAD_OFFSET, HUSH_PROTO_MAX_PAYLOAD);
    out[HUSH_INFO_REPLY_COST_SOURCE_OFFSET] = cost_source();
    out[HUSH_INFO_REPLY_FEATURE_PLANES_OFFSET] =
        (uint8_t)(tap.n_bins != 0 ? tap.n_features / tap.n_bins : 0);
    return HUSH_INFO_REPLY_SIZE;
}

static void record_cost(hush_cmd_ctx *ctx, uint32_t cost)
{
    if (ctx->hops == 0 || cost < ctx->cost_min) {
        ctx->cost_min = cost;
    }
    if (cost > ctx->cost_max) {
        ctx->cost_max = cost;
    }
    ctx->cost_total += cost;
    ctx->hops++;
}

/* A tap of a hop that never reached the model (bypass, no model) has no tensors: zeros. */
static void put_tensor(uint8_t *dst, const void *src, size_t n)
{
    if (n == 0u) {
        return;
    }
    if (src != NULL) {
        memcpy(dst, src, n);
    } else {
        memset(dst, 0, n);
    }
}

static void put_tap(uint8_t *dst, const hush_pipeline_tap *tap)
{
    const size_t bins = (size_t)tap->n_bins;
    const size_t features = (size_t)tap->n_features;
    const size_t state = (size_t)tap->state_size;
    put_tensor(dst, tap->features, features);
    put_tensor(dst + features, tap->state_in, state);
    put_tensor(dst + features + state, tap->mask, bins);
    put_tensor(dst + features + state + bins, tap->state_out, state);
}

/* PROCESS: hop by hop, input samples are read from the request and output records written
 * to the reply as they are produced; the per-hop cost covers hush_pipeline_process only. */
static size_t cmd_process(hush_cmd_ctx *ctx, uint8_t *reply, uint16_t seq, const uint8_t *in,
                          size_t in_len)
{
    const uint8_t op = HUSH_OP_PROCESS | HUSH_PROTO_REPLY_FLAG;
    if (!model_loaded(ctx)) {
        return reply_error(reply, op, seq, HUSH_STATUS_MODEL_NOT_LOADED, model_error(ctx));
    }
    if (hush_audio_busy()) {
        return reply_error(reply, op, seq, HUSH_STATUS_AUDIO_BUSY, NULL);
    }
    if (in_len < HUSH_PROCESS_REQUEST_SIZE) {
        return reply_error(reply, op, seq, HUSH_STATUS_BAD_LENGTH, "short PROCESS header");
    }
    const size_t n_hops = hush_frame_get_u16(in + HUSH_PROCESS_REQUEST_N_HOPS_OFFSET);
    const uint8_t flags = in[HUSH_PROCESS_REQUEST_FLAGS_OFFSET];
    const size_t hop = (size_t)hush_pipeline_hop(ctx->pipeline);
    if (hop > HUSH_CMD_MAX_HOP) {
        return reply_error(reply, op, seq, HUSH_STATUS_PIPELINE_ERROR, "hop too long");
    }
    if (flags & ~(uint8_t)HUSH_PROCESS_TAPS) {
        return reply_error(reply, op, seq, HUSH_STATUS_BAD_ARGUMENT, "unknown PROCESS flags");
    }
    if (in_len != HUSH_PROCESS_REQUEST_SIZE + n_hops * hop * 2u) {
        return reply_error(reply, op, seq, HUSH_STATUS_BAD_LENGTH, "samples != n_hops * hop");
    }
    hush_pipeline_tap tap = {0};
    hush_pipeline_get_tap(ctx->pipeline, &tap);
    const size_t tap_bytes =
        (flags & HUSH_PROCESS_TAPS)
            ? (size_t)tap.n_features + (size_t)tap.n_bins + 2u * (size_t)tap.state_size
            : 0u;
    const size_t record = HUSH_PROCESS_HOP_SIZE + 2u * hop + tap_bytes;
    const size_t out_len = HUSH_PROCESS_REPLY_SIZE + n_hops * record;
    if (out_len > HUSH_PROTO_MAX_PAYLOAD) {
        return reply_error(reply, op, seq, HUSH_STATUS_REPLY_TOO_LARGE, NULL);
    }

    uint8_t *out = hush_frame_payload(reply);
    memset(out, 0, HUSH_PROCESS_REPLY_SIZE);
    hush_frame_put_u16(out + HUSH_PROCESS_REPLY_N_HOPS_OFFSET, (uint16_t)n_hops);
    out[HUSH_PROCESS_REPLY_FLAGS_OFFSET] = flags;
    hush_frame_put_u16(out + HUSH_PROCESS_REPLY_TAP_BYTES_OFFSET, (uint16_t)tap_bytes);
    const uint8_t *src = in + HUSH_PROCESS_REQUEST_SIZE;
    uint8_t *dst = out + HUSH_PROCESS_REPLY_SIZE;
    for (size_t h = 0; h < n_hops; h++) {
        for (size_t i = 0; i < hop; i++) {
            ctx->pcm[i] = (int16_t)hush_frame_get_u16(src + 2u * i);
        }
        src += 2u * hop;
        app_watchdog_enter(HUSH_WDT_PHASE_HOP);
        app_watchdog_hop_hook();
        const hal_timer_mark_t mark = hal_timer_start();
        const int rc = hush_pipeline_process(ctx->pipeline, ctx->pcm, ctx->pcm);
        const uint32_t cost = hal_timer_elapsed(mark);
        app_watchdog_enter(HUSH_WDT_PHASE_COMMAND);
        if (rc != HUSH_PIPELINE_OK) {
            return reply_error(reply, op, seq, HUSH_STATUS_PIPELINE_ERROR,
                               hush_pipeline_error_str(rc));
        }
        record_cost(ctx, cost);
        hush_frame_put_u32(dst + HUSH_PROCESS_HOP_COST_OFFSET, cost);
        dst += HUSH_PROCESS_HOP_SIZE;
        for (size_t i = 0; i < hop; i++) {
            hush_frame_put_u16(dst + 2u * i, (uint16_t)ctx->pcm[i]);
        }
        dst += 2u * hop;
        if (tap_bytes) {
            hush_pipeline_get_tap(ctx->pipeline, &tap);
            put_tap(dst, &tap);
            dst += tap_bytes;
        }
    }
    return hush_frame_seal(reply, op, HUSH_STATUS_OK, seq, out_len);
}

static size_t cmd_stats(hush_cmd_ctx *ctx, uint8_t *out)
{
    memset(out, 0, HUSH_STATS_REPLY_SIZE);
    hush_frame_put_u32(out + HUSH_STATS_REPLY_HOPS_OFFSET, ctx->hops);
    hush_frame_put_u32(out + HUSH_STATS_REPLY_COST_MIN_OFFSET, ctx->cost_min);
    hush_frame_put_u32(out + HUSH_STATS_REPLY_COST_MAX_OFFSET, ctx->cost_max);
    hush_frame_put_u64(out + HUSH_STATS_REPLY_COST_TOTAL_OFFSET, ctx->cost_total);
    out[HUSH_STATS_REPLY_COST_SOURCE_OFFSET] = cost_source();
    hush_frame_put_u32(out + HUSH_STATS_REPLY_ARENA_BYTES_OFFSET,
                       model_loaded(ctx) ? (uint32_t)hush_pipeline_arena_used(ctx->pipeline) : 0u);
    hush_frame_put_u32(out + HUSH_STATS_REPLY_STACK_USED_OFFSET, hal_sys_stack_used());
    hush_frame_put_u32(out + HUSH_STATS_REPLY_FRAME_ERRORS_OFFSET, ctx->frame_errors);
    hush_audio_put_stats(out);
    app_watchdog_put_stats(out);
    return HUSH_STATS_REPLY_SIZE;
}

static size_t cmd_safety(hush_cmd_ctx *ctx, uint8_t *out)
{
    hush_safety_stats st = {0};
    if (model_loaded(ctx)) {
        hush_pipeline_get_safety(ctx->pipeline, &st);
    }
    memset(out, 0, HUSH_SAFETY_REPLY_SIZE);
    hush_frame_put_u32(out + HUSH_SAFETY_REPLY_LIMITED_SAMPLES_OFFSET, st.limited_samples);
    hush_frame_put_u32(out + HUSH_SAFETY_REPLY_TRIPS_OFFSET, st.trips);
    out[HUSH_SAFETY_REPLY_TRIPPED_OFFSET] = (uint8_t)(st.tripped != 0);
    return HUSH_SAFETY_REPLY_SIZE;
}

static size_t cmd_set(hush_cmd_ctx *ctx, uint8_t *reply, uint16_t seq, const uint8_t *in,
                      size_t in_len)
{
    const uint8_t op = HUSH_OP_SET | HUSH_PROTO_REPLY_FLAG;
    if (in_len != HUSH_SET_REQUEST_SIZE) {
        return reply_error(reply, op, seq, HUSH_STATUS_BAD_LENGTH, NULL);
    }
    const uint8_t fields = in[HUSH_SET_REQUEST_FIELDS_OFFSET];
    const uint32_t bits = hush_frame_get_u32(in + HUSH_SET_REQUEST_ATTENUATION_DB_OFFSET);
    float db;
    memcpy(&db, &bits, sizeof db);
    if (fields & ~(uint8_t)(HUSH_SET_BYPASS | HUSH_SET_ATTENUATION)) {
        return reply_error(reply, op, seq, HUSH_STATUS_BAD_ARGUMENT, "unknown SET fields");
    }
    if ((fields & HUSH_SET_ATTENUATION) && !isfinite(db)) {
        return reply_error(reply, op, seq, HUSH_STATUS_BAD_ARGUMENT, "attenuation not finite");
    }
    if (fields && !model_loaded(ctx)) {
        return reply_error(reply, op, seq, HUSH_STATUS_MODEL_NOT_LOADED, model_error(ctx));
    }
    if (fields & HUSH_SET_BYPASS) {
        ctx->bypass = in[HUSH_SET_REQUEST_BYPASS_OFFSET] != 0;
        hush_pipeline_set_bypass(ctx->pipeline, ctx->bypass);
    }
    if (fields & HUSH_SET_ATTENUATION) {
        ctx->attenuation_db = db > 0.0f ? db : 0.0f; /* <= 0 means unlimited */
        hush_pipeline_set_attenuation_limit(ctx->pipeline, ctx->attenuation_db);
    }
    uint8_t *out = hush_frame_payload(reply);
    memset(out, 0, HUSH_SET_REPLY_SIZE);
    out[HUSH_SET_REPLY_BYPASS_OFFSET] = ctx->bypass;
    put_f32(out + HUSH_SET_REPLY_ATTENUATION_DB_OFFSET, ctx->attenuation_db);
    return hush_frame_seal(reply, op, HUSH_STATUS_OK, seq, HUSH_SET_REPLY_SIZE);
}

size_t hush_cmd_handle(hush_cmd_ctx *ctx, const uint8_t *frame, size_t len, uint8_t *reply,
                       size_t cap)
{
    if (cap < HUSH_CMD_REPLY_BYTES || len < HUSH_PROTO_HEADER_SIZE) {
        return 0;
    }
    const uint8_t opcode = frame[HUSH_PROTO_HDR_OPCODE_OFFSET];
    const uint16_t seq = hush_frame_get_u16(frame + HUSH_PROTO_HDR_SEQ_OFFSET);
    const size_t payload_len = hush_frame_get_u16(frame + HUSH_PROTO_HDR_LENGTH_OFFSET);
    const uint8_t *payload = frame + HUSH_PROTO_HEADER_SIZE;
    const uint8_t op = (uint8_t)(opcode | HUSH_PROTO_REPLY_FLAG);
    app_watchdog_enter(HUSH_WDT_PHASE_COMMAND);
    if (payload_len != len - HUSH_PROTO_HEADER_SIZE) {
        ctx->frame_errors++;
        return reply_error(reply, op, seq, HUSH_STATUS_BAD_LENGTH, "header length != frame");
    }
    uint8_t *out = hush_frame_payload(reply);
    switch (opcode) {
    case HUSH_OP_INFO:
        if (payload_len != 0) {
            return reply_error(reply, op, seq, HUSH_STATUS_BAD_LENGTH, NULL);
        }
        return hush_frame_seal(reply, op, HUSH_STATUS_OK, seq, cmd_info(ctx, out));
    case HUSH_OP_PROCESS:
        return cmd_process(ctx, reply, seq, payload, payload_len);
    case HUSH_OP_STATS:
        if (payload_len != 0) {
            return reply_error(reply, op, seq, HUSH_STATUS_BAD_LENGTH, NULL);
        }
        return hush_frame_seal(reply, op, HUSH_STATUS_OK, seq, cmd_stats(ctx, out));
    case HUSH_OP_SET:
        return cmd_set(ctx, reply, seq, payload, payload_len);
    case HUSH_OP_RESET:
        if (payload_len != 0) {
            return reply_error(reply, op, seq, HUSH_STATUS_BAD_LENGTH, NULL);
        }
        if (hush_audio_busy()) {
            return reply_error(reply, op, seq, HUSH_STATUS_AUDIO_BUSY, NULL);
        }
        if (model_loaded(ctx)) {
            hush_pipeline_reset(ctx->pipeline);
        }
        clear_stats(ctx);
        return hush_frame_seal(reply, op, HUSH_STATUS_OK, seq, 0);
    case HUSH_OP_SAFETY:
        if (payload_len != 0) {
            return reply_error(reply, op, seq, HUSH_STATUS_BAD_LENGTH, NULL);
        }
        return hush_frame_seal(reply, op, HUSH_STATUS_OK, seq, cmd_safety(ctx, out));
    case HUSH_OP_FAULT:
        return app_watchdog_fault_cmd(seq, payload, payload_len, reply);
    default:
        if ((opcode & HUSH_AUDIO_OPCODE_MASK) == HUSH_OP_AUDIO_LOAD) {
            return hush_audio_cmd(opcode, seq, payload, payload_len, reply);
        }
        return app_flash_handle(opcode, seq, payload, payload_len, reply);
    }
}

size_t hush_cmd_feed(hush_cmd_ctx *ctx, uint8_t byte, uint8_t *reply, size_t cap)
{
    const int result = hush_frame_decoder_push(ctx->decoder, byte);
    if (result == HUSH_FRAME_PENDING || cap < HUSH_CMD_REPLY_BYTES) {
        return 0;
    }
    size_t len = 0;
    const uint8_t *frame = hush_frame_decoder_frame(ctx->decoder, &len);
    if (result == HUSH_FRAME_READY) {
        /* A host whose reply was lost on the link resends the same request (same opcode, seq
         * and bytes). It gets the reply it missed, and the command does not run again: a
         * retried PROCESS must not advance the pipeline twice. */
        const uint32_t key = hush_frame_crc32(0, frame, len);
        if (ctx->last_request_len == len && ctx->last_key == key && ctx->last_reply_len != 0) {
            ctx->retries_answered++;
            memcpy(reply, ctx->last_reply, ctx->last_reply_len);
            return ctx->last_reply_len;
        }
        const size_t n = hush_cmd_handle(ctx, frame, len, reply, cap);
        ctx->last_key = key;
        ctx->last_request_len = len;
        ctx->last_reply_len = n <= sizeof ctx->last_reply ? n : 0; /* 0: deferred, not cached */
        memcpy(ctx->last_reply, reply, ctx->last_reply_len);
        return n;
    }
    ctx->frame_errors++;
    if (result == HUSH_FRAME_ERR_CRC) {
        /* The header may itself be corrupted; echoing it lets the host match the reply to
         * its request in the common case of a payload error. */
        return reply_error(
            reply, (uint8_t)(frame[HUSH_PROTO_HDR_OPCODE_OFFSET] | HUSH_PROTO_REPLY_FLAG),
            hush_frame_get_u16(frame + HUSH_PROTO_HDR_SEQ_OFFSET), HUSH_STATUS_BAD_CRC, NULL);
    }
    const uint8_t status =
        result == HUSH_FRAME_ERR_TOO_LONG ? HUSH_STATUS_FRAME_TOO_LONG : HUSH_STATUS_BAD_FRAME;
    return reply_error(reply, HUSH_OP_NONE | HUSH_PROTO_REPLY_FLAG, 0, status, NULL);
}
