/* Streaming STFT analysis / overlap-add synthesis: see hush_stft.h. */
#include "hush_stft.h"

#include <string.h>

#include "hush_dspmath.h"
#include "hush_stft_window.h"

/* int16 full scale: x = s / 32768 maps [-32768, 32767] onto [-1, 1). A power of two, so the
 * conversion is exact in both directions. */
#define HUSH_STFT_PCM_SCALE     32768.0f
#define HUSH_STFT_PCM_INV_SCALE (1.0f / 32768.0f)

int hush_stft_init(hush_stft *s, int n_fft)
{
    arm_status status;

    memset(s, 0, sizeof *s);
    /* Size-specific inits: each links only its own twiddle and bit-reversal tables. */
    if (n_fft == 256) {
        status = arm_rfft_fast_init_256_f32(&s->rfft);
    } else if (n_fft == 128) {
        status = arm_rfft_fast_init_128_f32(&s->rfft);
    } else {
        return -1;
    }
    if (status != ARM_MATH_SUCCESS) {
        return -1;
    }
    s->n_fft = n_fft;
    s->hop = n_fft / 2;
    s->window_stride = HUSH_STFT_WINDOW_SIZE / n_fft;
    return 0;
}

void hush_stft_reset(hush_stft *s)
{
    memset(s->input, 0, sizeof s->input);
    memset(s->carry, 0, sizeof s->carry);
}

void hush_stft_analyze(hush_stft *s, const int16_t *in, float *spec)
{
    const int hop = s->hop;
    const int stride = s->window_stride;
    const float *w = hush_stft_window;
    float *frame = s->frame;

    /* The window covers the previous hop (kept in s->input) then the new one: hop = n_fft / 2,
     * so the history is one hop long and is replaced, not shifted. */
    for (int i = 0; i < hop; i++) {
        frame[i] = s->input[i] * w[i * stride];
    }
    for (int i = 0; i < hop; i++) {
        const float x = (float)in[i] * HUSH_STFT_PCM_INV_SCALE;
        frame[hop + i] = x * w[(hop + i) * stride];
        s->input[i] = x;
    }
    arm_rfft_fast_f32(&s->rfft, frame, spec, 0);
}

void hush_stft_power(const hush_stft *s, const float *spec, float *power)
{
    const int half = s->n_fft / 2;

    power[0] = spec[0] * spec[0];
    power[half] = spec[1] * spec[1];
    for (int k = 1; k < half; k++) {
        const float re = spec[2 * k];
        const float im = spec[2 * k + 1];
        power[k] = re * re + im * im;
    }
}

void hush_stft_apply_gains(const hush_stft *s, float *spec, const float *gain)
{
    const int half = s->n_fft / 2;

    spec[0] *= gain[0];
    spec[1] *= gain[half];
    for (int k = 1; k < half; k++) {
        spec[2 * k] *= gain[k];
        spec[2 * k + 1] *= gain[k];
    }
}

void hush_stft_apply_gain_table(const hush_stft *s, float *spec, const uint8_t *index,
                                const float *table)
{
    const int half = s->n_fft / 2;

    spec[0] *= table[index[0]];
    spec[1] *= table[index[half]];
    for (int k = 1; k < half; k++) {
        const float g = table[index[k]];
        spec[2 * k] *= g;
        spec[2 * k + 1] *= g;
    }
}

void hush_stft_synthesize(hush_stft *s, float *spec, int16_t *out)
{
    const int n = s->n_fft;
    const int hop = s->hop;

    /* The CMSIS inverse includes the 1/n_fft scaling. */
    arm_rfft_fast_f32(&s->rfft, spec, s->frame, 1);
    for (int i = 0; i < hop; i++) {
        const float y = s->carry[i] + s->frame[i] * hush_stft_window[i * s->window_stride];
        out[i] = hush_round_sat16(y * HUSH_STFT_PCM_SCALE);
    }
    for (int i = 0; i < n - hop; i++) {
        s->carry[i] = s->frame[hop + i] * hush_stft_window[(hop + i) * s->window_stride];
    }
}
