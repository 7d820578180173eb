/* Deterministic natural logarithm: see hush_dspmath.h for why the core avoids libm. */
#include "hush_dspmath.h"

#include <string.h>

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
    return hush_log_bits(u, e);
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
