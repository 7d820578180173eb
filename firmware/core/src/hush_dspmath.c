/* Deterministic natural logarithm: see hush_dspmath.h for why the core avoids libm. */
#include "hush_dspmath.h"

#include <string.h>

/* ln 2 split so that e * HUSH_LN2_HI is exact for |e| < 2^8 (HUSH_LN2_HI has 16 significant
 * bits) and HUSH_LN2_LO carries the rest: the exponent term adds no rounding error. */
#define HUSH_LN2_HI 0.693145751953125f
#define HUSH_LN2_LO 1.42860676533018e-06f
#define HUSH_SQRT2 1.41421356f

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float hush_logf(float x)
{
    uint32_t u = float_bits(x);
    int32_t e = 0;

    if (x != x || x < 0.0f) {
        return bits_float(0x7fc00000u); /* NaN */
    }
    if (x == 0.0f) {
        return bits_float(0xff800000u); /* -inf */
    }
    if (u >= 0x7f800000u) {
        return x; /* +inf */
    }
    if (u < 0x00800000u) {
        /* Subnormal: scale by 2^23 (exact) into the normal range. */
        u = float_bits(x * 8388608.0f);
        e = -23;
    }
    e += (int32_t)((u >> 23) & 0xffu) - 127;
    float m = bits_float((u & 0x007fffffu) | 0x3f800000u); /* mantissa in [1, 2) */
    if (m > HUSH_SQRT2) {
        /* Centre the mantissa on 1, m in [0.707, 1.414], so |s| <= 0.172 below. */
        m *= 0.5f;
        e += 1;
    }
    /* ln m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), s = (m - 1) / (m + 1). m - 1 is exact
     * (Sterbenz), so the result is relative-accurate even for m near 1. Truncating after s^9
     * leaves an error below 2 s^11 / 11 < 1e-9. */
    float s = (m - 1.0f) / (m + 1.0f);
    float s2 = s * s;
    float tail = s2 * (0.33333334f + s2 * (0.2f + s2 * (0.14285715f + s2 * 0.11111111f)));
    float ln_m = 2.0f * s + 2.0f * s * tail;
    float ef = (float)e;
    return ef * HUSH_LN2_HI + (ln_m + ef * HUSH_LN2_LO);
}

float hush_expf(float x)
{
    if (x != x) {
        return x;
    }
    if (x < -87.0f) {
        return 0.0f; /* below the smallest normal float */
    }
    if (x > 88.0f) {
        return bits_float(0x7f800000u); /* +inf */
    }
    /* x = k ln2 + r with |r| <= ln2 / 2; k * HUSH_LN2_HI is exact, so r is accurate. */
    const float k = hush_rintf(x * 1.44269504f);
    const float r = (x - k * HUSH_LN2_HI) - k * HUSH_LN2_LO;
    /* Taylor series to r^7: the remainder is below 0.35^8 / 8! < 6e-9. */
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* 2^k built from its exponent field; k in [-126, 127] here. */
    const float scale = bits_float((uint32_t)((int32_t)k + 127) << 23);
    return p * scale;
}
