/* Fixed-point primitives of TFLite's quantization (gemmlowp fixedpoint.h, TFLite
 * quantization_util): the multiplier arithmetic, QuantizeMultiplier, the Q4.27 logistic and
 * tanh polynomials and the fused-activation range, bit-exact with TensorFlow Lite Micro.
 */
#include <math.h>

#include "hush_kern_private.h"

int32_t hush_kern_srdhm(int32_t a, int32_t b)
{
    return srdhm(a, b);
}

int32_t hush_kern_rdbpot(int32_t x, int exponent)
{
    return rdbpot(x, exponent);
}

int32_t hush_kern_mul_by_qm_fast(int32_t x, int32_t multiplier, int shift)
{
    return requant_fast(x, multiplier, shift);
}

int32_t hush_kern_mul_by_qm(int32_t x, int32_t multiplier, int shift)
{
    if (multiplier == INT32_MIN) {
        /* the one product srdhm saturates (x << left == INT32_MIN): the two-step reference */
        const int left = shift > 0 ? shift : 0;
        return rdbpot(srdhm(wrap_shl(x, left), multiplier), shift > 0 ? 0 : -shift);
    }
    return mul_by_qm(x, multiplier, shift);
}

void hush_kern_quantize_multiplier(double real, int32_t *multiplier, int *shift)
{
    /* A hostile model's scales can multiply to infinity: no multiplier represents that, and
     * converting it would be undefined; it maps to 0 like a zero scale. */
    if (real == 0.0 || !isfinite(real)) {
        *multiplier = 0;
        *shift = 0;
        return;
    }
    int e = 0;
    const double q = frexp(real, &e);
    int64_t q_fixed = (int64_t)round(q * 2147483648.0);
    if (q_fixed == ((int64_t)1 << 31)) {
        q_fixed /= 2;
        ++e;
    }
    if (e < -31) {
        e = 0;
        q_fixed = 0;
    }
    if (e > 31) {
        /* real >= 2^31: every nonzero input saturates the int8 output, as with the largest
         * representable multiplier; keeps the kernels' left shifts below 32 for any scales. */
        e = 31;
        q_fixed = INT32_MAX;
    }
    *multiplier = (int32_t)q_fixed;
    *shift = e;
}

/* gemmlowp SaturatingRoundingMultiplyByPOT: x * 2^exponent, saturating when exponent > 0. */
static int32_t sat_mul_pot(int32_t x, int exponent)
{
    if (exponent > 0) {
        const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
        if (x > threshold) {
            return INT32_MAX;
        }
        if (x < -threshold) {
            return INT32_MIN;
        }
        return wrap_shl(x, exponent);
    }
    if (exponent < 0) {
        return rdbpot(x, -exponent);
    }
    return x;
}

static int32_t rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    const int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

/* exp(a) for a in [-1/4, 0), Q0 in and out: Taylor series around -1/8. */
static int32_t exp_on_quarter_interval(int32_t a)
{
    const int32_t exp_minus_one_eighth = 1895147668; /* exp(-1/8) in Q0.31 */
    const int32_t one_third = 715827883;             /* 1/3 in Q0.31 */
    const int32_t x = wrap_add(a, 1 << 28);          /* a + 1/8 */
    const int32_t x2 = srdhm(x, x);
    const int32_t x3 = srdhm(x2, x);
    const int32_t x4 = srdhm(x2, x2);
    const int32_t x4_over_4 = sat_mul_pot(x4, -2);
    const int32_t poly = sat_mul_pot(wrap_add(srdhm(wrap_add(x4_over_4, x3), one_third), x2), -1);
    return wrap_add(exp_minus_one_eighth, srdhm(exp_minus_one_eighth, wrap_add(x, poly)));
}

/* exp(a) for a <= 0 with `integer_bits` integer bits in, Q0.31 out (gemmlowp's barrel
 * shifter: exp of the fractional quarter times exp(-2^k) for each set bit k of the rest). */
static int32_t exp_on_negative_values(int32_t a, int integer_bits)
{
    static const int32_t exp_neg_pot[7] = {
        1672461947, /* exp(-1/4) */
        1302514674, /* exp(-1/2) */
        790015084,  /* exp(-1) */
        290630308,  /* exp(-2) */
        39332535,   /* exp(-4) */
        720401,     /* exp(-8) */
        242,        /* exp(-16) */
    };
    const int frac_bits = 31 - integer_bits;
    const int32_t one_quarter = (int32_t)1 << (frac_bits - 2);
    const int32_t a_mod = wrap_sub(a & (one_quarter - 1), one_quarter);
    int32_t result = exp_on_quarter_interval(sat_mul_pot(a_mod, integer_bits));
    const int32_t remainder = wrap_sub(a_mod, a);
    for (int k = 0; k < 7; ++k) {
        const int exponent = k - 2;
        if (integer_bits > exponent) {
            const int bit = frac_bits + exponent;
            if (remainder & ((int32_t)1 << bit)) {
                result = srdhm(result, exp_neg_pot[k]);
            }
        }
    }
    if (integer_bits > 5) {
        const int32_t clamp = -((int32_t)1 << (frac_bits + 5)); /* -32.0 */
        if (a < clamp) {
            result = 0;
        }
    }
    return a == 0 ? Q0_ONE : result;
}

/* Newton-Raphson for 1 / (1 + a), a in [0, 1]; returns x in Q2.29 with x ~ 1 / half_den. */
static int32_t reciprocal_half_denominator(int32_t half_den)
{
    const int32_t c48_over_17 = 1515870810;     /* 48/17 in Q2.29 */
    const int32_t cneg32_over_17 = -1010580540; /* -32/17 in Q2.29 */
    const int32_t one_q2 = (int32_t)1 << 29;
    int32_t x = wrap_add(c48_over_17, srdhm(half_den, cneg32_over_17));
    for (int i = 0; i < 3; ++i) {
        const int32_t hdx = srdhm(half_den, x);
        const int32_t one_minus_hdx = wrap_sub(one_q2, hdx);
        x = wrap_add(x, sat_mul_pot(srdhm(x, one_minus_hdx), 2));
    }
    return x;
}

static int32_t one_over_one_plus_x(int32_t a)
{
    const int32_t x = reciprocal_half_denominator(rounding_half_sum(a, Q0_ONE));
    return sat_mul_pot(x, 1); /* x/2 in Q1, rescaled to Q0 */
}

static int32_t one_minus_x_over_one_plus_x(int32_t a)
{
    const int32_t x = reciprocal_half_denominator(rounding_half_sum(a, Q0_ONE));
    return sat_mul_pot(wrap_sub(x, (int32_t)1 << 29), 2);
}

int32_t hush_kern_logistic_q4(int32_t x_q4)
{
    if (x_q4 == 0) {
        return (int32_t)1 << 30; /* 0.5 */
    }
    const int32_t abs_x = x_q4 > 0 ? x_q4 : wrap_sub(0, x_q4);
    const int32_t pos = one_over_one_plus_x(exp_on_negative_values(wrap_sub(0, abs_x), 4));
    return x_q4 > 0 ? pos : wrap_sub(Q0_ONE, pos);
}

int32_t hush_kern_tanh_q4(int32_t x_q4)
{
    if (x_q4 == 0) {
        return 0;
    }
    const int32_t neg = x_q4 < 0 ? x_q4 : wrap_sub(0, x_q4);
    /* tanh(|x|) = (1 - e^(-2|x|)) / (1 + e^(-2|x|)): the same raw read as Q5 is 2x. */
    const int32_t t = one_minus_x_over_one_plus_x(exp_on_negative_values(neg, 5));
    return x_q4 < 0 ? wrap_sub(0, t) : t;
}

/* TFLM's QuantizeHelper: zero_point + round(f / scale) with the division in float; -1 when
 * the value does not fit an int32. */
static int quantize_limit(float f, float scale, int32_t zero_point, int32_t *q)
{
    const float tmp = roundf(f / scale);
    if (!(tmp >= -2147483648.0f && tmp < 2147483648.0f)) {
        return -1;
    }
    *q = zero_point + (int32_t)tmp;
    return 0;
}

int hush_kern_activation_range(int32_t activation, float scale, int32_t zero_point, int32_t *lo,
                               int32_t *hi)
{
    enum { ACT_NONE = 0, ACT_RELU = 1, ACT_RELU_N1_TO_1 = 2, ACT_RELU6 = 3 };
    int32_t qmin = INT8_MIN;
    int32_t qmax = INT8_MAX;
    int32_t a = 0;
    int32_t b = 0;
    int err = 0;
    switch (activation) {
    case ACT_NONE:
        break;
    case ACT_RELU:
        err = quantize_limit(0.0f, scale, zero_point, &a);
        qmin = a > qmin ? a : qmin;
        break;
    case ACT_RELU6:
        err = quantize_limit(0.0f, scale, zero_point, &a) |
              quantize_limit(6.0f, scale, zero_point, &b);
        qmin = a > qmin ? a : qmin;
        qmax = b < qmax ? b : qmax;
        break;
    case ACT_RELU_N1_TO_1:
        err = quantize_limit(-1.0f, scale, zero_point, &a) |
              quantize_limit(1.0f, scale, zero_point, &b);
        qmin = a > qmin ? a : qmin;
        qmax = b < qmax ? b : qmax;
        break;
    default:
        return -1;
    }
    if (err) {
        return -1;
    }
    *lo = qmin;
    *hi = qmax;
    return 0;
}
