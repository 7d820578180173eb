/* Host unit tests of the STFT framing and the deterministic math of the firmware core:
 * perfect reconstruction with unit gains, the spectrum layout against a direct DFT, and the
 * accuracy of hush_logf / hush_expf / hush_rintf against libm in double precision. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hush_dspmath.h"
#include "hush_stft.h"

#define N_SAMPLES 8192
#define TEST_PI   3.14159265358979323846

static int failures;

static void check(int ok, const char *what)
{
    printf("%s %s\n", ok ? "PASS" : "FAIL", what);
    if (!ok) {
        failures++;
    }
}

/* Deterministic test signal: a full-scale-ish sweep plus LCG noise, with clipped runs. */
static void make_signal(int16_t *x, int n)
{
    uint32_t seed = 12345u;
    for (int i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        const double noise = (double)(int32_t)(seed >> 16 & 0xffffu) - 32768.0;
        const double tone = 20000.0 * sin(0.001 * (double)i * (double)i / 16.0);
        double v = 0.4 * noise + tone;
        if (i % 2000 < 50) {
            v = (i % 2 ? 1.0 : -1.0) * 40000.0; /* saturated samples */
        }
        v = v > 32767.0 ? 32767.0 : v < -32768.0 ? -32768.0 : v;
        x[i] = (int16_t)v;
    }
}

static void test_reconstruction(int n_fft)
{
    static int16_t in[N_SAMPLES], out[N_SAMPLES];
    static float spec[HUSH_STFT_MAX_N_FFT];
    hush_stft s;
    char what[160];

    make_signal(in, N_SAMPLES);
    check(hush_stft_init(&s, n_fft) == 0, "stft init");
    const int hop = n_fft / 2;
    const int delay = n_fft - hop;
    for (int t = 0; t + hop <= N_SAMPLES; t += hop) {
        hush_stft_analyze(&s, in + t, spec);
        hush_stft_synthesize(&s, spec, out + t);
    }
    int max_err = 0;
    long exact = 0;
    for (int i = 0; i < N_SAMPLES; i++) {
        const int expected = i >= delay ? in[i - delay] : 0;
        const int err = abs(out[i] - expected);
        max_err = err > max_err ? err : max_err;
        exact += err == 0;
    }
    snprintf(what, sizeof what,
             "n_fft %d: unit-gain reconstruction, delay %d, max error %d LSB"
             " (%ld/%d exact)",
             n_fft, delay, max_err, exact, N_SAMPLES);
    check(max_err <= 1, what);

    /* Reset restores the initial state: a second pass gives the same output. */
    static int16_t again[N_SAMPLES];
    hush_stft_reset(&s);
    for (int t = 0; t + hop <= N_SAMPLES; t += hop) {
        hush_stft_analyze(&s, in + t, spec);
        hush_stft_synthesize(&s, spec, again + t);
    }
    check(memcmp(out, again, sizeof out) == 0, "reset makes the STFT repeatable");
}

/* Spectrum layout and gains: compare power with a direct DFT of the windowed frame. */
static void test_spectrum(int n_fft)
{
    static int16_t in[HUSH_STFT_MAX_N_FFT];
    static float spec[HUSH_STFT_MAX_N_FFT], power[HUSH_STFT_MAX_BINS];
    static float gain[HUSH_STFT_MAX_BINS];
    hush_stft s;
    char what[160];

    make_signal(in, n_fft);
    hush_stft_init(&s, n_fft);
    hush_stft_analyze(&s, in, spec);             /* history: zeros, then hop samples */
    hush_stft_analyze(&s, in + n_fft / 2, spec); /* full window of signal */
    hush_stft_power(&s, spec, power);

    double max_rel = 0.0;
    for (int k = 0; k <= n_fft / 2; k++) {
        double re = 0.0, im = 0.0;
        for (int i = 0; i < n_fft; i++) {
            const double w = sin(TEST_PI * i / n_fft); /* sqrt periodic Hann */
            const double x = in[i] / 32768.0 * w;
            re += x * cos(2.0 * TEST_PI * k * i / n_fft);
            im -= x * sin(2.0 * TEST_PI * k * i / n_fft);
        }
        const double ref = re * re + im * im;
        const double rel = fabs(power[k] - ref) / (ref + 1e-3);
        max_rel = rel > max_rel ? rel : max_rel;
    }
    snprintf(what, sizeof what, "n_fft %d: power spectrum vs direct DFT, max rel error %.2e", n_fft,
             max_rel);
    check(max_rel < 1e-4, what);

    for (int k = 0; k <= n_fft / 2; k++) {
        gain[k] = (float)k;
    }
    float before[HUSH_STFT_MAX_N_FFT];
    memcpy(before, spec, sizeof before);
    hush_stft_apply_gains(&s, spec, gain);
    int ok = spec[0] == 0.0f && spec[1] == before[1] * (float)(n_fft / 2);
    for (int k = 1; k < n_fft / 2; k++) {
        ok &= spec[2 * k] == before[2 * k] * (float)k &&
              spec[2 * k + 1] == before[2 * k + 1] * (float)k;
    }
    snprintf(what, sizeof what, "n_fft %d: gains map to DC, Nyquist and (re, im) pairs", n_fft);
    check(ok, what);

    /* The table lookup applies the same gains as the direct form. */
    float table[256];
    uint8_t index[HUSH_STFT_MAX_BINS];
    for (int i = 0; i < 256; i++) {
        table[i] = 0.25f + (float)i / 128.0f;
    }
    for (int k = 0; k <= n_fft / 2; k++) {
        index[k] = (uint8_t)((k * 37 + 11) & 0xff);
        gain[k] = table[index[k]];
    }
    float direct[HUSH_STFT_MAX_N_FFT];
    memcpy(direct, before, sizeof direct);
    memcpy(spec, before, sizeof before);
    hush_stft_apply_gains(&s, direct, gain);
    hush_stft_apply_gain_table(&s, spec, index, table);
    snprintf(what, sizeof what, "n_fft %d: gain table lookup equals the direct gains", n_fft);
    check(memcmp(direct, spec, (size_t)n_fft * sizeof(float)) == 0, what);
}

static void test_logf(void)
{
    double max_rel = 0.0;
    float worst = 0.0f;
    /* Every 97th float from the smallest subnormal to +large: covers the feature range
     * (power + 1e-10 in [1e-10, 65536]) and far beyond, with all mantissa patterns. */
    for (uint32_t u = 1; u < 0x7f000000u; u += 97) {
        float x;
        memcpy(&x, &u, sizeof x);
        const double ref = log((double)x);
        const double rel = fabs((double)hush_logf(x) - ref) / fmax(fabs(ref), 1e-30);
        if (rel > max_rel) {
            max_rel = rel;
            worst = x;
        }
    }
    char what[160];
    snprintf(what, sizeof what, "hush_logf max relative error %.2e (at %.9g)", max_rel, worst);
    check(max_rel < 1e-6, what);
    check(hush_logf(1.0f) == 0.0f, "hush_logf(1) == 0");
    check(isinf(hush_logf(0.0f)) && hush_logf(0.0f) < 0.0f, "hush_logf(0) == -inf");
    check(isnan(hush_logf(-1.0f)), "hush_logf(-1) is NaN");
}

static void test_log_feature(void)
{
    double max_abs = 0.0;
    float worst = 0.0f;
    /* Every 31st float over the feature range, power + 1e-10 in [1e-10, 65536], and past it. */
    uint32_t lo;
    uint32_t hi;
    const float x_lo = 1e-10f;
    const float x_hi = 1048576.0f;
    memcpy(&lo, &x_lo, sizeof lo);
    memcpy(&hi, &x_hi, sizeof hi);
    for (uint32_t u = lo; u <= hi; u += 31) {
        float x;
        memcpy(&x, &u, sizeof x);
        const double err = fabs((double)hush_log_feature(x) - log((double)x));
        if (err > max_abs) {
            max_abs = err;
            worst = x;
        }
    }
    char what[160];
    snprintf(what, sizeof what, "hush_log_feature max absolute error %.2e (at %.9g)", max_abs,
             worst);
    check(max_abs < 4e-6, what);
}

static void test_expf(void)
{
    double max_rel = 0.0;
    for (int i = 0; i <= 200000; i++) {
        const float x = -87.0f + 175.0f * (float)i / 200000.0f;
        const double ref = exp((double)x);
        const double rel = fabs((double)hush_expf(x) - ref) / ref;
        max_rel = rel > max_rel ? rel : max_rel;
    }
    char what[160];
    snprintf(what, sizeof what, "hush_expf max relative error %.2e on [-87, 88]", max_rel);
    check(max_rel < 1e-6, what);
}

static void test_rint(void)
{
    const float in[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 2.4999998f, 126.5f, -127.5f};
    int ok = 1;
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        ok &= hush_rintf(in[i]) == rintf(in[i]);
    }
    check(ok, "hush_rintf rounds half to even like rintf");
    check(
        hush_round_clamp(1e30f, -128, 127) == 127 && hush_round_clamp(-1e30f, -128, 127) == -128 &&
            hush_round_clamp(NAN, -128, 127) == -128 && hush_round_clamp(126.6f, -128, 127) == 127,
        "hush_round_clamp saturates");
    const float sat_in[] = {0.5f,      1.5f,      -2.5f, 32766.5f, 32767.4f,  32767.5f,
                            -32768.5f, -32767.5f, 1e30f, -1e30f,   12345.678f};
    ok = 1;
    for (size_t i = 0; i < sizeof sat_in / sizeof sat_in[0]; i++) {
        ok &= hush_round_sat16(sat_in[i]) == hush_round_clamp(sat_in[i], INT16_MIN, INT16_MAX);
    }
    check(ok && hush_round_sat16(NAN) == 0, "hush_round_sat16 rounds to even and saturates");
}

int main(void)
{
    test_reconstruction(256);
    test_reconstruction(128);
    test_spectrum(256);
    test_spectrum(128);
    test_logf();
    test_log_feature();
    test_expf();
    test_rint();
    check(hush_stft_init(&(hush_stft){0}, 512) != 0, "unsupported n_fft rejected");
    printf("%s\n", failures ? "test_stft: FAILED" : "test_stft: all passed");
    return failures ? 1 : 0;
}
