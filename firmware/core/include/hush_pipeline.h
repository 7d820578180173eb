/* The per-hop noise suppression pipeline: int16 audio in, int16 audio out, one hop per call.
 *
 * Per hop (hop = n_fft / 2 samples: 8 ms at n_fft = 256, 4 ms at n_fft = 128, 16 kHz):
 *   1. append the hop to the analysis window, apply the sqrt periodic Hann window;
 *   2. real FFT (CMSIS arm_rfft_fast_f32), power P_k = re^2 + im^2 for k = 0 .. n_fft/2;
 *   3. features f_k = ln(P_k + 1e-10) with the core's deterministic hush_logf;
 *   4. quantize with the model's `features` input scale / zero point (round half to even);
 *      a model whose `features` hold 2 * (n_fft/2 + 1) values also reads each bin's height
 *      above a running noise floor, tracked in integers on the quantized values
 *      (hush_contract.h, the floor feature);
 *   5. invoke the int8 model; its `state_out` becomes the next hop's `state_in`;
 *   6. gain g_k = dequantized `mask`, floored by the attenuation limit;
 *   7. Y = g * X, inverse FFT, window, overlap-add; output lags input by n_fft - hop samples;
 *   8. the output safety stage (hush_safety.h): a ceiling relative to the recent input peak,
 *      and the model bypassed until the next reset when the output keeps hitting it.
 * Every step uses only IEEE single-precision + - * / (no libm), so the host build and the
 * Cortex-M build produce the same int8 tensors every hop.
 *
 * Tensors are found by name: the model must have int8 inputs whose names contain "features"
 * [n_fft/2 + 1] or [2 * (n_fft/2 + 1)] and "state_in" [H], and int8 outputs containing "mask" [n_fft/2 + 1] and
 * "state_out" [H].
 *
 * Memory: the caller owns the state (hush_pipeline_get_size() bytes, aligned like
 * max_align_t, e.g. alignas(16)), the model (read in place, must outlive the pipeline; flash
 * is fine) and the tensor arena (RAM, must outlive the pipeline). No heap.
 */
#ifndef HUSH_PIPELINE_H
#define HUSH_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "hush_safety.h"
#include "hush_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest model state (GRU hidden size) the pipeline accepts; the tap keeps a copy of it. */
#define HUSH_PIPELINE_MAX_STATE 256

/* Results are hush_status_t: the engine's when it refuses the model, HUSH_E_N_FFT,
 * HUSH_E_TENSOR, HUSH_E_IO_TYPE, HUSH_E_IO_SHAPE or HUSH_E_MEMORY for the pipeline's own
 * checks. HUSH_PIPELINE_OK and hush_pipeline_error_str are the same values and text under the
 * pipeline's name. */
#define HUSH_PIPELINE_OK                HUSH_OK
#define hush_pipeline_error_str(status) hush_status_str((hush_status_t)(status))

typedef struct hush_pipeline hush_pipeline; /* opaque; holds the engine state */

/* Bytes of state memory to give hush_pipeline_init (constant for a build). */
size_t hush_pipeline_get_size(void);

/* Set up the pipeline for n_fft (128 or 256) and the int8 model in the `p_size` bytes at `p`
 * (HUSH_E_MEMORY when that is less than hush_pipeline_get_size() or not aligned like
 * max_align_t). Returns HUSH_OK or why not. Starts reset, bypass off, attenuation unlimited. */
hush_status_t hush_pipeline_init(hush_pipeline *p, size_t p_size, int n_fft, const uint8_t *model,
                                 size_t model_len, uint8_t *arena, size_t arena_len);

/* Zero the model state (its quantized zero), the analysis history and the overlap-add tail,
 * and clear the safety stage (a tripped model runs again): the next hops behave exactly like
 * the first hops after init. */
void hush_pipeline_reset(hush_pipeline *p);

/* Samples per hop (n_fft / 2). */
int hush_pipeline_hop(const hush_pipeline *p);

/* Process one hop: `in` and `out` hold hush_pipeline_hop() int16 samples (they may alias).
 * Returns HUSH_OK or the engine's error. */
hush_status_t hush_pipeline_process(hush_pipeline *p, const int16_t *in, int16_t *out);

/* on != 0: gains are 1 and the model is not invoked (its state is kept); the audio still goes
 * through the STFT, so switching bypass on and off is click-free. */
void hush_pipeline_set_bypass(hush_pipeline *p, int on);

/* Limit the suppression to `db` dB per bin (gains floored at 10^(-db/20)); db <= 0 removes
 * the limit. */
void hush_pipeline_set_attenuation_limit(hush_pipeline *p, float db);

/* The int8 tensors of the last hop that ran the model (all NULL before the first one, and
 * after a reset). state_in is the state the model read in that hop. The pointers are into the
 * pipeline and the engine's arena: valid until the next process, reset or init call. */
typedef struct {
    const int8_t *features;
    const int8_t *state_in;
    const int8_t *mask;
    const int8_t *state_out;
    int n_bins;
    int state_size;
    int n_features; /* values in `features`: n_bins, or 2 * n_bins with the floor feature */
} hush_pipeline_tap;

void hush_pipeline_get_tap(const hush_pipeline *p, hush_pipeline_tap *tap);

/* Output safety counters since the last reset (trips: since init). */
void hush_pipeline_get_safety(const hush_pipeline *p, hush_safety_stats *stats);

/* Arena bytes the engine really planned (measured at init). */
size_t hush_pipeline_arena_used(const hush_pipeline *p);

#ifdef __cplusplus
}
#endif

#endif /* HUSH_PIPELINE_H */
