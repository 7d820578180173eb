/* audio_path: real-time hops through the pipeline, and the AUDIO_* commands (audio_path.h). */
#include "audio_path.h"

#include <string.h>

#include "app_watchdog.h"
#include "commands.h"
#include "hal_audio.h"
#include "hal_timer.h"
#include "hush_frame.h"
#include "hush_model_config.h"
#include "hush_protocol.h"

_Static_assert(HAL_AUDIO_MAX_HOP >= HUSH_CMD_MAX_HOP, "codec buffers shorter than a hop");

/* Samples converted per step between the wire (int16 LE) and the tape. */
#define TAPE_CHUNK_SAMPLES 64u

static struct {
    hush_pipeline *pipeline;
    uint32_t n_hops;
    uint32_t next;       /* next hop to process */
    uint16_t load_every; /* forced overload: every load_every-th hop ... */
    uint32_t load_us;    /* ... gets this much extra busy work */
    int active;          /* a run was started and not all of its hops are processed */
    int reply_due;       /* an AUDIO_START with wait = 1 awaits the end of the run */
    uint16_t reply_seq;
    /* Counters of the current (or last) run. */
    uint32_t processed;
    uint32_t misses;
    uint32_t overruns;
    uint32_t worst_lateness_us;
    uint32_t cost_max;
    uint64_t cost_total;
    uint8_t level;
    uint8_t level_max;
    int16_t work[HAL_AUDIO_MAX_HOP];
} s_audio;

void hush_audio_init(hush_pipeline *pipeline)
{
    memset(&s_audio, 0, sizeof s_audio);
    s_audio.pipeline = pipeline;
}

int hush_audio_busy(void)
{
    return s_audio.active;
}

int hush_audio_pending(void)
{
    if (!s_audio.active) {
        return 0;
    }
    return hal_audio_hops_captured() > s_audio.next || !hal_audio_running();
}

/* Busy-wait `us` microseconds of codec time: the forced overload of a test run. Codec time
 * stops with the codec, and so does the wait. */
static void spin_us(uint32_t us)
{
    const uint32_t start = hal_audio_time_us();
    while (hal_audio_running() && hal_audio_time_us() - start < us) {
    }
}

static void process_hop(uint32_t index)
{
    app_watchdog_enter(HUSH_WDT_PHASE_AUDIO);
    const hal_timer_mark_t mark = hal_timer_start();
    const int rc = hush_pipeline_process(s_audio.pipeline, s_audio.work, s_audio.work);
    const uint32_t cost = hal_timer_elapsed(mark);
    if (rc != HUSH_PIPELINE_OK) {
        memset(s_audio.work, 0, sizeof s_audio.work); /* play silence, never garbage */
    }
    s_audio.cost_total += cost;
    s_audio.cost_max = cost > s_audio.cost_max ? cost : s_audio.cost_max;
    if (s_audio.load_every != 0u && (index + 1u) % s_audio.load_every == 0u) {
        spin_us(s_audio.load_us);
    }
    int32_t lateness_us = 0;
    if (hal_audio_write_hop(index, s_audio.work, &lateness_us) == HAL_AUDIO_E_LATE) {
        s_audio.misses++;
        const uint32_t late = lateness_us > 0 ? (uint32_t)lateness_us : 0u;
        s_audio.worst_lateness_us =
            late > s_audio.worst_lateness_us ? late : s_audio.worst_lateness_us;
    }
    s_audio.processed++;
}

static size_t put_status(uint8_t *out)
{
    memset(out, 0, HUSH_AUDIO_STATUS_REPLY_SIZE);
    out[HUSH_AUDIO_STATUS_REPLY_RUNNING_OFFSET] = (uint8_t)s_audio.active;
    out[HUSH_AUDIO_STATUS_REPLY_SOURCE_OFFSET] = (uint8_t)hal_audio_source();
    out[HUSH_AUDIO_STATUS_REPLY_BUFFER_LEVEL_OFFSET] = s_audio.level;
    out[HUSH_AUDIO_STATUS_REPLY_BUFFER_LEVEL_MAX_OFFSET] = s_audio.level_max;
    const int hop = s_audio.pipeline != NULL ? hush_pipeline_hop(s_audio.pipeline) : 0;
    hush_frame_put_u16(out + HUSH_AUDIO_STATUS_REPLY_HOP_OFFSET, (uint16_t)hop);
    hush_frame_put_u16(out + HUSH_AUDIO_STATUS_REPLY_PATH_DELAY_HOPS_OFFSET,
                       (uint16_t)HAL_AUDIO_PATH_DELAY_HOPS);
    hush_frame_put_u32(out + HUSH_AUDIO_STATUS_REPLY_TAPE_SAMPLES_OFFSET,
                       (uint32_t)hal_audio_tape_samples());
    hush_frame_put_u32(out + HUSH_AUDIO_STATUS_REPLY_HOPS_CAPTURED_OFFSET,
                       hal_audio_hops_captured());
    hush_frame_put_u32(out + HUSH_AUDIO_STATUS_REPLY_HOPS_PROCESSED_OFFSET, s_audio.processed);
    hush_frame_put_u32(out + HUSH_AUDIO_STATUS_REPLY_DEADLINE_MISSES_OFFSET, s_audio.misses);
    hush_frame_put_u32(out + HUSH_AUDIO_STATUS_REPLY_UNDERRUNS_OFFSET, hal_audio_underruns());
    hush_frame_put_u32(out + HUSH_AUDIO_STATUS_REPLY_OVERRUNS_OFFSET, s_audio.overruns);
    hush_frame_put_u32(out + HUSH_AUDIO_STATUS_REPLY_WORST_LATENESS_US_OFFSET,
                       s_audio.worst_lateness_us);
    hush_frame_put_u32(out + HUSH_AUDIO_STATUS_REPLY_COST_MAX_OFFSET, s_audio.cost_max);
    hush_frame_put_u64(out + HUSH_AUDIO_STATUS_REPLY_COST_TOTAL_OFFSET, s_audio.cost_total);
    return HUSH_AUDIO_STATUS_REPLY_SIZE;
}

size_t hush_audio_service(uint8_t *reply, size_t cap)
{
    if (!s_audio.active) {
        return 0;
    }
    uint32_t captured;
    while ((captured = hal_audio_hops_captured()) > s_audio.next) {
        const uint32_t waiting = captured - s_audio.next;
        s_audio.level = (uint8_t)(waiting > 255u ? 255u : waiting);
        s_audio.level_max = s_audio.level > s_audio.level_max ? s_audio.level : s_audio.level_max;
        const uint32_t index = s_audio.next++;
        if (hal_audio_read_hop(index, s_audio.work) == HAL_AUDIO_E_GONE) {
            s_audio.overruns++; /* the capture half was refilled before we got to it */
            continue;
        }
        process_hop(index);
    }
    s_audio.level = 0;
    if (hal_audio_running()) {
        return 0;
    }
    s_audio.active = 0;
    if (!s_audio.reply_due || cap < HUSH_CMD_REPLY_BYTES) {
        return 0;
    }
    s_audio.reply_due = 0;
    const size_t n = put_status(hush_frame_payload(reply));
    return hush_frame_seal(reply, HUSH_OP_AUDIO_START | HUSH_PROTO_REPLY_FLAG, HUSH_STATUS_OK,
                           s_audio.reply_seq, n);
}

void hush_audio_put_stats(uint8_t *out)
{
    hush_frame_put_u32(out + HUSH_STATS_REPLY_AUDIO_HOPS_OFFSET, s_audio.processed);
    hush_frame_put_u32(out + HUSH_STATS_REPLY_DEADLINE_MISSES_OFFSET, s_audio.misses);
    hush_frame_put_u32(out + HUSH_STATS_REPLY_WORST_LATENESS_US_OFFSET, s_audio.worst_lateness_us);
    hush_frame_put_u32(out + HUSH_STATS_REPLY_OVERRUNS_OFFSET, s_audio.overruns);
    out[HUSH_STATS_REPLY_BUFFER_LEVEL_MAX_OFFSET] = s_audio.level_max;
}

static size_t reply_status(uint8_t *reply, uint8_t op, uint16_t seq, uint8_t status,
                           const char *detail)
{
    const size_t n = detail != NULL ? strlen(detail) : 0u;
    if (n != 0u) {
        memcpy(hush_frame_payload(reply), detail, n);
    }
    return hush_frame_seal(reply, op, status, seq, n);
}

static uint8_t hal_status(int rc)
{
    switch (rc) {
    case HAL_AUDIO_E_BUSY:
        return HUSH_STATUS_AUDIO_BUSY;
    case HAL_AUDIO_E_RANGE:
        return hal_audio_tape_samples() == 0u ? HUSH_STATUS_AUDIO_NO_TAPE : HUSH_STATUS_AUDIO_RANGE;
    default:
        return HUSH_STATUS_AUDIO_CONFIG;
    }
}

static size_t cmd_load(uint8_t *reply, uint8_t op, uint16_t seq, const uint8_t *in, size_t len)
{
    if (len < HUSH_AUDIO_LOAD_REQUEST_SIZE || (len - HUSH_AUDIO_LOAD_REQUEST_SIZE) % 2u != 0u) {
        return reply_status(reply, op, seq, HUSH_STATUS_BAD_LENGTH, NULL);
    }
    size_t offset = hush_frame_get_u32(in + HUSH_AUDIO_LOAD_REQUEST_OFFSET_OFFSET);
    const uint8_t *src = in + HUSH_AUDIO_LOAD_REQUEST_SIZE;
    size_t left = (len - HUSH_AUDIO_LOAD_REQUEST_SIZE) / 2u;
    if (hal_audio_tape_samples() == 0u) {
        return reply_status(reply, op, seq, HUSH_STATUS_AUDIO_NO_TAPE, NULL);
    }
    if (offset > hal_audio_tape_samples() || left > hal_audio_tape_samples() - offset) {
        return reply_status(reply, op, seq, HUSH_STATUS_AUDIO_RANGE, NULL);
    }
    int16_t chunk[TAPE_CHUNK_SAMPLES];
    while (left != 0u) {
        const size_t n = left < TAPE_CHUNK_SAMPLES ? left : TAPE_CHUNK_SAMPLES;
        for (size_t i = 0; i < n; i++) {
            chunk[i] = (int16_t)hush_frame_get_u16(src + 2u * i);
        }
        const int rc = hal_audio_tape_write(offset, chunk, n);
        if (rc != HAL_AUDIO_OK) {
            return reply_status(reply, op, seq, hal_status(rc), NULL);
        }
        src += 2u * n;
        offset += n;
        left -= n;
    }
    return hush_frame_seal(reply, op, HUSH_STATUS_OK, seq, 0);
}

static size_t cmd_read(uint8_t *reply, uint8_t op, uint16_t seq, const uint8_t *in, size_t len)
{
    if (len != HUSH_AUDIO_READ_REQUEST_SIZE) {
        return reply_status(reply, op, seq, HUSH_STATUS_BAD_LENGTH, NULL);
    }
    size_t offset = hush_frame_get_u32(in + HUSH_AUDIO_READ_REQUEST_OFFSET_OFFSET);
    const size_t count = hush_frame_get_u16(in + HUSH_AUDIO_READ_REQUEST_COUNT_OFFSET);
    if (2u * count > HUSH_PROTO_MAX_PAYLOAD) {
        return reply_status(reply, op, seq, HUSH_STATUS_REPLY_TOO_LARGE, NULL);
    }
    uint8_t *dst = hush_frame_payload(reply);
    int16_t chunk[TAPE_CHUNK_SAMPLES];
    for (size_t done = 0; done < count;) {
        const size_t n = count - done < TAPE_CHUNK_SAMPLES ? count - done : TAPE_CHUNK_SAMPLES;
        const int rc = hal_audio_tape_read(offset + done, chunk, n);
        if (rc != HAL_AUDIO_OK) {
            return reply_status(reply, op, seq, hal_status(rc), NULL);
        }
        for (size_t i = 0; i < n; i++) {
            hush_frame_put_u16(dst + 2u * (done + i), (uint16_t)chunk[i]);
        }
        done += n;
    }
    return hush_frame_seal(reply, op, HUSH_STATUS_OK, seq, 2u * count);
}

static size_t cmd_start(uint8_t *reply, uint8_t op, uint16_t seq, const uint8_t *in, size_t len)
{
    if (len != HUSH_AUDIO_START_REQUEST_SIZE) {
        return reply_status(reply, op, seq, HUSH_STATUS_BAD_LENGTH, NULL);
    }
    if (s_audio.pipeline == NULL) {
        return reply_status(reply, op, seq, HUSH_STATUS_MODEL_NOT_LOADED, NULL);
    }
    const uint8_t wait = in[HUSH_AUDIO_START_REQUEST_WAIT_OFFSET];
    if (wait > 1u) {
        return reply_status(reply, op, seq, HUSH_STATUS_BAD_ARGUMENT, "wait must be 0 or 1");
    }
    hush_pipeline *pipeline = s_audio.pipeline;
    memset(&s_audio, 0, sizeof s_audio);
    s_audio.pipeline = pipeline;
    s_audio.n_hops = hush_frame_get_u32(in + HUSH_AUDIO_START_REQUEST_N_HOPS_OFFSET);
    s_audio.load_every = hush_frame_get_u16(in + HUSH_AUDIO_START_REQUEST_LOAD_EVERY_OFFSET);
    s_audio.load_us = hush_frame_get_u32(in + HUSH_AUDIO_START_REQUEST_LOAD_US_OFFSET);
    /* Every run starts from silence, like the first hops after boot. */
    hush_pipeline_reset(pipeline);
    const int hop = hush_pipeline_hop(pipeline);
    const int rc = hal_audio_start(HUSH_SAMPLE_RATE, (uint32_t)hop, s_audio.n_hops);
    if (rc != HAL_AUDIO_OK) {
        return reply_status(reply, op, seq, hal_status(rc), NULL);
    }
    s_audio.active = 1;
    if (wait) {
        s_audio.reply_due = 1;
        s_audio.reply_seq = seq;
        return 0;
    }
    return hush_frame_seal(reply, op, HUSH_STATUS_OK, seq, put_status(hush_frame_payload(reply)));
}

size_t hush_audio_cmd(uint8_t opcode, uint16_t seq, const uint8_t *payload, size_t len,
                      uint8_t *reply)
{
    const uint8_t op = (uint8_t)(opcode | HUSH_PROTO_REPLY_FLAG);
    switch (opcode) {
    case HUSH_OP_AUDIO_LOAD:
        return cmd_load(reply, op, seq, payload, len);
    case HUSH_OP_AUDIO_READ:
        return cmd_read(reply, op, seq, payload, len);
    case HUSH_OP_AUDIO_START:
        return cmd_start(reply, op, seq, payload, len);
    case HUSH_OP_AUDIO_STOP:
        if (len != 0u) {
            return reply_status(reply, op, seq, HUSH_STATUS_BAD_LENGTH, NULL);
        }
        hal_audio_stop();
        if (s_audio.active) {
            hush_audio_service(reply, 0); /* finish the captured hops; no deferred reply */
            s_audio.reply_due = 0;
        }
        return hush_frame_seal(reply, op, HUSH_STATUS_OK, seq,
                               put_status(hush_frame_payload(reply)));
    case HUSH_OP_AUDIO_STATUS:
        if (len != 0u) {
            return reply_status(reply, op, seq, HUSH_STATUS_BAD_LENGTH, NULL);
        }
        return hush_frame_seal(reply, op, HUSH_STATUS_OK, seq,
                               put_status(hush_frame_payload(reply)));
    default:
        return reply_status(reply, op, seq, HUSH_STATUS_UNKNOWN_OPCODE, NULL);
    }
}
