/*
 * hal_audio for QEMU: a virtual codec clocked by a board timer at the hop rate.
 *
 * The tapes stand in for the converters: at IRQ m the "capture DMA" copies input-tape hop m-1
 * into receive half (m-1) & 1, and the "playback DMA" copies transmit half m & 1 (which must
 * hold the output of hop m-2) onto output-tape hop m, or silence when it was not handed over
 * in time. Under QEMU -icount the timer runs in virtual time, so a run repeats exactly.
 *
 * The tapes live in board memory outside the firmware's RAM region (HAL_BOARD_TAPE_BASE:
 * the PSRAM of the MPS2/MPS3 images, the CCM RAM of the STM32F405), half for input, half for
 * output, so they do not count against the firmware's RAM budget.
 */
#include <stdint.h>
#include <string.h>

#include "cortex_m.h"
#include "hal_audio.h"
#include "hal_board.h"
#include "hal_hoptimer.h"

#define TAPE_SAMPLES (HAL_BOARD_TAPE_BYTES / 2u / sizeof(int16_t))
#define US_PER_S     1000000ull

static int16_t *const s_tape_in = (int16_t *)HAL_BOARD_TAPE_BASE;
static int16_t *const s_tape_out = (int16_t *)HAL_BOARD_TAPE_BASE + TAPE_SAMPLES;

static int16_t s_rx[2][HAL_AUDIO_MAX_HOP];
static int16_t s_tx[2][HAL_AUDIO_MAX_HOP];
/* Which hop each transmit half holds; UINT32_MAX: nothing handed over. */
static uint32_t s_tx_hop[2];

static uint32_t s_hop;
static uint32_t s_n_hops;
static uint32_t s_period_ticks;
static volatile uint32_t s_irqs;
static volatile uint32_t s_underruns;
static volatile int s_running;

hal_audio_source_t hal_audio_source(void)
{
    return HAL_AUDIO_SOURCE_VIRTUAL_TAPE;
}

size_t hal_audio_tape_samples(void)
{
    return TAPE_SAMPLES;
}

int hal_audio_tape_write(size_t offset, const int16_t *src, size_t count)
{
    if (s_running) {
        return HAL_AUDIO_E_BUSY;
    }
    if (offset > TAPE_SAMPLES || count > TAPE_SAMPLES - offset) {
        return HAL_AUDIO_E_RANGE;
    }
    memcpy(s_tape_in + offset, src, count * sizeof *src);
    return HAL_AUDIO_OK;
}

int hal_audio_tape_read(size_t offset, int16_t *dst, size_t count)
{
    if (s_running) {
        return HAL_AUDIO_E_BUSY;
    }
    if (offset > TAPE_SAMPLES || count > TAPE_SAMPLES - offset) {
        return HAL_AUDIO_E_RANGE;
    }
    memcpy(dst, s_tape_out + offset, count * sizeof *dst);
    return HAL_AUDIO_OK;
}

void hal_vcodec_tick(void)
{
    const uint32_t m = s_irqs + 1u;
    const uint32_t hop = s_hop;
    /* Capture: hop m-1 is complete. */
    memcpy(s_rx[(m - 1u) & 1u], s_tape_in + (size_t)(m - 1u) * hop, hop * sizeof(int16_t));
    /* Playback: slot m plays the output of hop m-2, if it was handed over in time. */
    const uint32_t half = m & 1u;
    if (m < s_n_hops) {
        int16_t *slot = s_tape_out + (size_t)m * hop;
        if (m >= HAL_AUDIO_PATH_DELAY_HOPS && s_tx_hop[half] == m - HAL_AUDIO_PATH_DELAY_HOPS) {
            memcpy(slot, s_tx[half], hop * sizeof(int16_t));
        } else {
            memset(slot, 0, hop * sizeof(int16_t));
            s_underruns += m >= HAL_AUDIO_PATH_DELAY_HOPS;
        }
    }
    s_tx_hop[half] = UINT32_MAX;
    s_irqs = m;
    if (m >= s_n_hops) {
        hal_hoptimer_stop();
        s_running = 0;
    }
}

int hal_audio_start(uint32_t sample_rate, uint32_t hop, uint32_t n_hops)
{
    if (s_running) {
        return HAL_AUDIO_E_BUSY;
    }
    const uint64_t ticks = (uint64_t)hal_hoptimer_hz() * hop;
    if (hop == 0u || hop > HAL_AUDIO_MAX_HOP || sample_rate == 0u || ticks % sample_rate != 0u) {
        return HAL_AUDIO_E_CONFIG; /* the hop period must be a whole number of timer ticks */
    }
    if (n_hops == 0u || n_hops > TAPE_SAMPLES / hop) {
        return HAL_AUDIO_E_RANGE; /* the virtual codec always plays a tape */
    }
    s_hop = hop;
    s_n_hops = n_hops;
    s_period_ticks = (uint32_t)(ticks / sample_rate);
    s_irqs = 0;
    s_underruns = 0;
    s_tx_hop[0] = s_tx_hop[1] = UINT32_MAX;
    memset(s_tape_out, 0, (size_t)hop * sizeof(int16_t)); /* slot 0: nothing to play yet */
    s_running = 1;
    hal_hoptimer_start(s_period_ticks);
    return HAL_AUDIO_OK;
}

void hal_audio_stop(void)
{
    hal_hoptimer_stop();
    s_running = 0;
}

int hal_audio_running(void)
{
    return s_running;
}

uint32_t hal_audio_hops_captured(void)
{
    return s_irqs;
}

uint32_t hal_audio_underruns(void)
{
    return s_underruns;
}

int hal_audio_read_hop(uint32_t index, int16_t *dst)
{
    int rc = HAL_AUDIO_OK;
    cm_irq_disable();
    const uint32_t captured = s_irqs;
    if (captured <= index) {
        rc = HAL_AUDIO_E_NOT_READY;
    } else if (captured - index > 2u) {
        rc = HAL_AUDIO_E_GONE;
    } else {
        memcpy(dst, s_rx[index & 1u], s_hop * sizeof(int16_t));
    }
    cm_irq_enable();
    return rc;
}

/* Timer ticks since start; call with interrupts masked. */
static uint64_t ticks_now(void)
{
    int pending;
    const uint32_t phase = hal_hoptimer_phase(&pending);
    const uint64_t periods = (uint64_t)s_irqs + (pending && s_running ? 1u : 0u);
    return periods * s_period_ticks + phase;
}

static int32_t ticks_to_us(int64_t ticks)
{
    return (int32_t)(ticks * (int64_t)US_PER_S / (int64_t)hal_hoptimer_hz());
}

int hal_audio_write_hop(uint32_t index, const int16_t *src, int32_t *lateness_us)
{
    int rc = HAL_AUDIO_OK;
    cm_irq_disable();
    const uint64_t deadline = ((uint64_t)index + HAL_AUDIO_PATH_DELAY_HOPS) * s_period_ticks;
    const int64_t late = (int64_t)(ticks_now() - deadline);
    /* At or past the deadline the slot belongs to playback, even while its interrupt is
     * still pending: the hop then plays silence and counts once, as a miss and an underrun. */
    if (s_irqs >= index + HAL_AUDIO_PATH_DELAY_HOPS || late >= 0) {
        rc = HAL_AUDIO_E_LATE;
    } else {
        memcpy(s_tx[index & 1u], src, s_hop * sizeof(int16_t));
        s_tx_hop[index & 1u] = index;
    }
    cm_irq_enable();
    if (lateness_us != NULL) {
        *lateness_us = ticks_to_us(late);
    }
    return rc;
}

uint32_t hal_audio_time_us(void)
{
    cm_irq_disable();
    const uint64_t ticks = ticks_now();
    cm_irq_enable();
    return (uint32_t)(ticks * US_PER_S / hal_hoptimer_hz());
}
