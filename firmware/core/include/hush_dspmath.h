/* Deterministic scalar math for the firmware core.
 *
 * The int8 model features are quantized logs of the power spectrum, so a 1-ulp difference in
 * a log between the host build and the Cortex-M build can flip a feature by one LSB. libm's
 * logf differs between glibc and newlib, so the core uses these functions instead: they use
 * only IEEE-754 single precision +, -, *, / and integer bit manipulation, which give the same
 * bits on every platform compiled with -ffp-contract=off and without -ffast-math.
 */
#ifndef HUSH_DSPMATH_H
#define HUSH_DSPMATH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ln 2 split so that e * HUSH_LN2_HI is exact for |e| < 2^8 (HUSH_LN2_HI has 16 significant
 * bits) and HUSH_LN2_LO carries the rest: the exponent term adds no rounding error. */
#define HUSH_LN2_HI 0.693145751953125f
#define HUSH_LN2_LO 1.42860676533018e-06f
#define HUSH_SQRT2  1.41421356f

/* ln of the positive normal float with bit pattern u, plus extra_exp * ln 2: the body of
 * hush_logf, inline so that per-bin loops whose inputs are known to be normal (a power
 * spectrum plus a positive epsilon) skip the special cases and the call. */
static inline float hush_log_bits(uint32_t u, int32_t extra_exp)
{
    int32_t e = extra_exp + (int32_t)((u >> 23) & 0xffu) - 127;
    union {
        uint32_t u;
        float f;
    } m_bits = {(u & 0x007fffffu) | 0x3f800000u};
    float m = m_bits.f; /* mantissa in [1, 2) */
    if (m > HUSH_SQRT2) {
        /* Centre the mantissa on 1, m in [0.707, 1.414], so |s| <= 0.172 below. */
        m *= 0.5f;
        e += 1;
    }
    /* ln m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), s = (m - 1) / (m + 1). m - 1 is exact
     * (Sterbenz), so the result is relative-accurate even for m near 1. Truncating after s^9
     * leaves an error below 2 s^11 / 11 < 1e-9. */
    const float s = (m - 1.0f) / (m + 1.0f);
    const float s2 = s * s;
    const float tail = s2 * (0.33333334f + s2 * (0.2f + s2 * (0.14285715f + s2 * 0.11111111f)));
    const float ln_m = 2.0f * s + 2.0f * s * tail;
    const float ef = (float)e;
    return ef * HUSH_LN2_HI + (ln_m + ef * HUSH_LN2_LO);
}

/* hush_logf for x known to be a positive normal finite float (x >= 2^-126), same bits. */
static inline float hush_logf_normal(float x)
{
    union {
        float f;
        uint32_t u;
    } b = {x};
    return hush_log_bits(b.u, 0);
}

/* ln x for a positive normal finite float, to an absolute error below 4e-6 for x in
 * [1e-10, 2^20]: the feature log, whose result is quantized in steps of about 0.1. x = 2^e m
 * with m in [0.707, 1.414) comes from integer operations only (subtracting the bits of 0.707
 * splits exponent and mantissa at that point), the series stops after s^5 (remainder below
 * 2 s^7 / 7 < 1.3e-6) and ln 2 is one float: about fourteen instructions cheaper per bin than
 * hush_logf_normal, and deterministic the same way. */
static inline float hush_log_feature(float x)
{
    union {
        float f;
        uint32_t u;
    } b = {x};
    const int32_t e = ((int32_t)b.u - 0x3f3504f3) >> 23; /* arithmetic shift */
    union {
        uint32_t u;
        float f;
    } m_bits = {b.u - ((uint32_t)e << 23)};
    const float m = m_bits.f;
    const float s = (m - 1.0f) / (m + 1.0f);
    const float s2 = s * s;
    const float two_s = 2.0f * s;
    const float ln_m = two_s + two_s * (s2 * (0.33333334f + s2 * 0.2f));
    return (float)e * 0.693147182f + ln_m;
}

/* Natural logarithm. Relative error below 5e-7 for all positive normal and subnormal inputs
 * (measured against double-precision log in tests/c/test_stft.c). x == 0 gives -inf, x < 0
 * or NaN gives NaN, +inf gives +inf. */
float hush_logf(float x);

/* e^x. Relative error below 1e-6 for x in [-87, 88]; smaller x gives 0, larger +inf. */
float hush_expf(float x);

/* Round to the nearest integer, ties to even (C's rintf in the default rounding mode).
 * Valid only for |v| <= 2^22: callers clamp first (hush_round_clamp does). No libm: the
 * Cortex-M4 FPU has no rounding instruction and newlib's rintf is a software routine. */
static inline float hush_rintf(float v)
{
    /* Adding 1.5 * 2^23 moves v into [2^23, 2^24), where one ulp is 1.0, so the FPU's
     * round-to-nearest-even does the rounding; subtracting it back is exact. */
    const float magic = 12582912.0f;
    return (v + magic) - magic;
}

/* clamp(rint(v), lo, hi) as an int, for any float v including NaN (-> lo). */
static inline int32_t hush_round_clamp(float v, int32_t lo, int32_t hi)
{
    if (!(v > (float)lo)) {
        return lo;
    }
    if (v > (float)hi) {
        return hi;
    }
    return (int32_t)hush_rintf(v);
}

/* clamp(rint(v), -32768, 32767) for any float v, NaN giving 0. On Cortex-M with an FPU this is
 * VCVTR (round to nearest even, the FPSCR default; saturating to int32, NaN to 0) and SSAT:
 * two instructions where hush_round_clamp needs two float compares. The portable version gives
 * the same result for every input. */
static inline int16_t hush_round_sat16(float v)
{
#if defined(__arm__) && defined(__ARM_FP) && defined(__ARM_FEATURE_SAT) && __ARM_FEATURE_SAT
    float r;
    int32_t i;
    __asm__("vcvtr.s32.f32 %0, %1" : "=t"(r) : "t"(v));
    __asm__("vmov %0, %1" : "=r"(i) : "t"(r));
    __asm__("ssat %0, #16, %1" : "=r"(i) : "r"(i));
    return (int16_t)i;
#else
    if (v != v) {
        return 0;
    }
    return (int16_t)hush_round_clamp(v, INT16_MIN, INT16_MAX);
#endif
}

#ifdef __cplusplus
}
#endif

#endif /* HUSH_DSPMATH_H */
