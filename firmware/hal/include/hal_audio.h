/*
 * hal_audio: the real-time audio path, continuous capture and playback in hop-sized double
 * buffers (in the spirit of the Arm ML evaluation kit's audio HAL).
 *
 * Timing, for hop k (hop = P samples; "IRQ m" is the codec's m-th hop interrupt, m >= 1,
 * at time m * P after hal_audio_start):
 *   - capture fills the receive half k & 1 during period k and signals "hop ready" at IRQ k+1;
 *     hal_audio_read_hop(k) works while hal_audio_hops_captured() - k == 1 (a DMA codec
 *     refills the half from IRQ k+2 on; the virtual codec copies at IRQ k+3, so there it also
 *     works at 2);
 *   - playback plays the transmit half k & 1 during period k + 2: the output of hop k must be
 *     handed over (hal_audio_write_hop) before IRQ k+2, its deadline.
 * So the path adds HAL_AUDIO_PATH_DELAY_HOPS = 2 hops to the pipeline's own delay: an input
 * sample at time t leaves the codec at t + 2 * P + (n_fft - hop).
 *
 * The interrupt side only moves buffers and counts: at each IRQ it completes a capture half,
 * starts playing the next transmit half (silence when the main loop did not hand it over in
 * time: an underrun) and wakes the main loop. Everything else (the pipeline, deadline and
 * lateness accounting) runs in the main loop.
 *
 * A hop handed over late is not played at all (hal_audio_write_hop refuses it), so overload
 * shows as silent hops and counted misses, never as a half-written buffer.
 *
 * Implementations: hal/vcodec (virtual codec for QEMU: a timer at the hop rate plays an
 * input tape in memory and records an output tape), hal/stm32f411_hw (I2S full duplex with
 * circular DMA, half/complete interrupts), hal/audio_none (no codec). Single consumer: call everything but the ISRs from
 * the main loop.
 */
#ifndef HAL_AUDIO_H
#define HAL_AUDIO_H

#include <stddef.h>
#include <stdint.h>

/* Largest hop the codec buffers hold: 128 samples = 8 ms at 16 kHz. */
#define HAL_AUDIO_MAX_HOP 128u

/* Hops the capture and playback buffers add to the delay (see above). */
#define HAL_AUDIO_PATH_DELAY_HOPS 2u

#define HAL_AUDIO_OK          0
#define HAL_AUDIO_E_CONFIG    (-1) /* hop or sample rate the codec cannot run */
#define HAL_AUDIO_E_BUSY      (-2) /* already running */
#define HAL_AUDIO_E_NOT_READY (-3) /* hop not captured yet */
#define HAL_AUDIO_E_GONE      (-4) /* hop already overwritten by a later capture (overrun) */
#define HAL_AUDIO_E_LATE      (-5) /* its playback slot has started: output dropped */
#define HAL_AUDIO_E_RANGE     (-6) /* outside the tape */

/* What the codec is (the protocol's AudioSource values). */
typedef enum {
    HAL_AUDIO_SOURCE_NONE = 0,
    HAL_AUDIO_SOURCE_VIRTUAL_TAPE = 1,
    HAL_AUDIO_SOURCE_I2S_DMA = 2,
} hal_audio_source_t;

hal_audio_source_t hal_audio_source(void);

/* Start capture and playback at sample_rate with `hop` samples per buffer half. n_hops: the
 * run stops by itself after that many hop interrupts (the virtual codec: at most
 * hal_audio_tape_samples() / hop); 0 runs until hal_audio_stop(). */
int hal_audio_start(uint32_t sample_rate, uint32_t hop, uint32_t n_hops);

void hal_audio_stop(void);

/* 1 while the codec runs. */
int hal_audio_running(void);

/* Hop interrupts since start = hops captured (hop k is ready once this exceeds k). */
uint32_t hal_audio_hops_captured(void);

/* Playback slots since start that played silence because their hop was not handed over. */
uint32_t hal_audio_underruns(void);

/* Copy captured hop `index` (hop samples) into dst. HAL_AUDIO_OK, _E_NOT_READY or _E_GONE. */
int hal_audio_read_hop(uint32_t index, int16_t *dst);

/* Hand over the output of hop `index` for playback. *lateness_us (may be NULL) is the time
 * now relative to the hop's deadline, in microseconds (negative = slack). Returns
 * HAL_AUDIO_OK, or HAL_AUDIO_E_LATE when the slot has already started (nothing written). */
int hal_audio_write_hop(uint32_t index, const int16_t *src, int32_t *lateness_us);

/* Microseconds of codec time since hal_audio_start (exact under QEMU -icount). */
uint32_t hal_audio_time_us(void);

/* Virtual codec tape, in samples per direction (0: a real codec, no tape). The input tape is
 * written before a run; the output tape holds, at sample m * hop + i, what playback slot m
 * played (slots 0 and 1 are silence: nothing can be ready yet). */
size_t hal_audio_tape_samples(void);
int hal_audio_tape_write(size_t offset, const int16_t *src, size_t count);
int hal_audio_tape_read(size_t offset, int16_t *dst, size_t count);

#endif /* HAL_AUDIO_H */
