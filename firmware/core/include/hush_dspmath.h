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

#ifdef __cplusplus
}
#endif

#endif /* HUSH_DSPMATH_H */
