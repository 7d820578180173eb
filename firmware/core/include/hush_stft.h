/* Streaming STFT analysis and overlap-add synthesis, one hop at a time.
 *
 * Framing (identical to hushkit.training.dsp and the trainer's STFT): a sqrt periodic Hann
 * window of n_fft samples, hop = n_fft / 2, the same window for analysis and synthesis, so the
 * overlap-added product of the two windows is 1 and an unmodified spectrum reconstructs the
 * input delayed by n_fft - hop samples (16 ms at n_fft = 256, 8 ms at n_fft = 128, 16 kHz).
 *
 * Spectra use CMSIS-DSP's packed real-FFT layout, n_fft floats: [0] = DC (real),
 * [1] = Nyquist (real), then (re, im) of bins 1 .. n_fft/2 - 1.
 *
 * The state is embedded by value in its owner (the pipeline); its fields are private to
 * hush_stft.c. No heap: every buffer is sized for HUSH_STFT_MAX_N_FFT.
 */
#ifndef HUSH_STFT_H
#define HUSH_STFT_H

#include <stdint.h>

#include "arm_math.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HUSH_STFT_MAX_N_FFT 256
#define HUSH_STFT_MAX_HOP   (HUSH_STFT_MAX_N_FFT / 2)
#define HUSH_STFT_MAX_BINS  (HUSH_STFT_MAX_N_FFT / 2 + 1)

typedef struct {
    arm_rfft_fast_instance_f32 rfft;
    int n_fft;
    int hop;
    int window_stride;                /* table step: HUSH_STFT_WINDOW_SIZE / n_fft */
    float input[HUSH_STFT_MAX_HOP];   /* last hop of input samples, full scale = 1.0 */
    float carry[HUSH_STFT_MAX_HOP];   /* overlap-add tail still owed to the output */
    float frame[HUSH_STFT_MAX_N_FFT]; /* FFT scratch: CMSIS overwrites its input */
} hush_stft;

/* 0 on success, -1 if n_fft is not 128 or 256. Leaves the state reset. */
int hush_stft_init(hush_stft *s, int n_fft);

/* Zero the input history and the overlap-add tail. */
void hush_stft_reset(hush_stft *s);

/* Take `hop` new samples, return the spectrum of the window ending with them in `spec`
 * (n_fft floats, packed layout). */
void hush_stft_analyze(hush_stft *s, const int16_t *in, float *spec);

/* power[k] = re^2 + im^2 for k = 0 .. n_fft/2 (n_fft/2 + 1 values). */
void hush_stft_power(const hush_stft *s, const float *spec, float *power);

/* spec *= gain per bin (n_fft/2 + 1 real gains, DC .. Nyquist). */
void hush_stft_apply_gains(const hush_stft *s, float *spec, const float *gain);

/* spec *= table[index[k]] per bin k = 0 .. n_fft/2: the gains looked up by (for instance) the
 * bits of the int8 mask, without materializing them. */
void hush_stft_apply_gain_table(const hush_stft *s, float *spec, const uint8_t *index,
                                const float *table);

/* Inverse-transform `spec` (destroyed), window, overlap-add and write `hop` samples to `out`
 * (int16, rounded to nearest even, saturated). */
void hush_stft_synthesize(hush_stft *s, float *spec, int16_t *out);

#ifdef __cplusplus
}
#endif

#endif /* HUSH_STFT_H */
