/* int8 kernels, bit-exact with TensorFlow Lite Micro's reference kernels.
 *
 * The fixed-point helpers follow gemmlowp's fixedpoint.h and TFLite's quantization_util: a raw
 * int32 with N integer bits ("QN") represents raw / 2^(31-N). Additions of raw values wrap
 * like the hardware does (gemmlowp relies on that and never overflows in practice); the wrap
 * is done on uint32_t so the C stays free of signed-overflow undefined behaviour.
 */
#include "hush_kernels.h"

#include <math.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define HUSH_KERN_DSP 1
#else
#define HUSH_KERN_DSP 0
#endif

#define Q0_ONE INT32_MAX /* 1.0 in Q0.31, saturated */

static int32_t wrap_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }

static int32_t wrap_sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

static int32_t wrap_shl(int32_t x, int s) { return (int32_t)((uint32_t)x << s); }

static int32_t clamp32(int32_t x, int32_t lo, int32_t hi) {
    return x < lo ? lo : (x > hi ? hi : x);
}

/* gemmlowp adds 2^30 (ab >= 0) or 1 - 2^30 (ab < 0) and divides by 2^31 truncating toward
 * zero. For ab < 0 that truncation is a ceiling, and ceil((ab + 1 - 2^30) / 2^31) equals
 * floor((ab + 2^30) / 2^31): both signs reduce to one add and one arithmetic shift (GCC shifts
 * signed values arithmetically), about five instructions on Cortex-M instead of a division. */
static inline int32_t srdhm(int32_t a, int32_t b) {
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

int32_t hush_kern_srdhm(int32_t a, int32_t b) { return srdhm(a, b); }

static inline int32_t rdbpot(int32_t x, int exponent) {
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t hush_kern_rdbpot(int32_t x, int exponent) { return rdbpot(x, exponent); }

/* Inlined into every per-element loop: a call per element costs more than the arithmetic. */
static inline int32_t mul_by_qm(int32_t x, int32_t multiplier, int shift) {
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    return rdbpot(srdhm(wrap_shl(x, left), multiplier), right);
}

int32_t hush_kern_mul_by_qm(int32_t x, int32_t multiplier, int shift) {
    return mul_by_qm(x, multiplier, shift);
}

void hush_kern_quantize_multiplier(double real, int32_t *multiplier, int *shift) {
    if (real == 0.0) {
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
    *multiplier = (int32_t)q_fixed;
    *shift = e;
}

/* gemmlowp SaturatingRoundingMultiplyByPOT: x * 2^exponent, saturating when exponent > 0. */
static int32_t sat_mul_pot(int32_t x, int exponent) {
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

static int32_t rounding_half_sum(int32_t a, int32_t b) {
    const int64_t sum = (int64_t)a + (int64_t)b;
    const int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

/* exp(a) for a in [-1/4, 0), Q0 in and out: Taylor series around -1/8. */
static int32_t exp_on_quarter_interval(int32_t a) {
    const int32_t exp_minus_one_eighth = 1895147668; /* exp(-1/8) in Q0.31 */
    const int32_t one_third = 715827883;             /* 1/3 in Q0.31 */
    const int32_t x = wrap_add(a, 1 << 28);          /* a + 1/8 */
    const int32_t x2 = srdhm(x, x);
    const int32_t x3 = srdhm(x2, x);
    const int32_t x4 = srdhm(x2, x2);
    const int32_t x4_over_4 = sat_mul_pot(x4, -2);
    const int32_t poly =
        sat_mul_pot(wrap_add(srdhm(wrap_add(x4_over_4, x3), one_third), x2), -1);
    return wrap_add(exp_minus_one_eighth,
                    srdhm(exp_minus_one_eighth, wrap_add(x, poly)));
}

/* exp(a) for a <= 0 with `integer_bits` integer bits in, Q0.31 out (gemmlowp's barrel
 * shifter: exp of the fractional quarter times exp(-2^k) for each set bit k of the rest). */
static int32_t exp_on_negative_values(int32_t a, int integer_bits) {
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
static int32_t reciprocal_half_denominator(int32_t half_den) {
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

static int32_t one_over_one_plus_x(int32_t a) {
    const int32_t x = reciprocal_half_denominator(rounding_half_sum(a, Q0_ONE));
    return sat_mul_pot(x, 1); /* x/2 in Q1, rescaled to Q0 */
}

static int32_t one_minus_x_over_one_plus_x(int32_t a) {
    const int32_t x = reciprocal_half_denominator(rounding_half_sum(a, Q0_ONE));
    return sat_mul_pot(wrap_sub(x, (int32_t)1 << 29), 2);
}

int32_t hush_kern_logistic_q4(int32_t x_q4) {
    if (x_q4 == 0) {
        return (int32_t)1 << 30; /* 0.5 */
    }
    const int32_t abs_x = x_q4 > 0 ? x_q4 : wrap_sub(0, x_q4);
    const int32_t pos = one_over_one_plus_x(exp_on_negative_values(wrap_sub(0, abs_x), 4));
    return x_q4 > 0 ? pos : wrap_sub(Q0_ONE, pos);
}

int32_t hush_kern_tanh_q4(int32_t x_q4) {
    if (x_q4 == 0) {
        return 0;
    }
    const int32_t neg = x_q4 < 0 ? x_q4 : wrap_sub(0, x_q4);
    /* tanh(|x|) = (1 - e^(-2|x|)) / (1 + e^(-2|x|)): the same raw read as Q5 is 2x. */
    const int32_t t = one_minus_x_over_one_plus_x(exp_on_negative_values(neg, 5));
    return x_q4 < 0 ? wrap_sub(0, t) : t;
}

void hush_kern_act_prepare(hush_kern_act *p, float input_scale, int32_t input_zero_point) {
    const int input_integer_bits = 4; /* the gemmlowp functions take Q4.27 */
    const double real = (double)input_scale * (double)(1 << (31 - input_integer_bits));
    int shift = 0;
    const double q = frexp(real, &shift);
    int64_t m = (int64_t)round(q * 2147483648.0);
    if (m == ((int64_t)1 << 31)) {
        m /= 2;
        ++shift;
    }
    p->input_zero_point = input_zero_point;
    p->input_multiplier = (int32_t)m;
    p->input_left_shift = shift;
    /* Largest |input| whose rescaled value still fits Q4: (2^4 - 1) * 2^27 / 2^shift. */
    const double max_rescaled =
        ldexp((double)((1 << input_integer_bits) - 1), 31 - input_integer_bits - shift);
    p->input_range_radius = (int32_t)floor(max_rescaled);
}

void hush_kern_logistic_s8(const hush_kern_act *p, const int8_t *in, int8_t *out, int32_t n) {
    for (int32_t i = 0; i < n; ++i) {
        const int32_t x = (int32_t)in[i] - p->input_zero_point;
        if (x <= -p->input_range_radius) {
            out[i] = INT8_MIN;
        } else if (x >= p->input_range_radius) {
            out[i] = INT8_MAX;
        } else {
            const int32_t x_q4 = mul_by_qm(x, p->input_multiplier, p->input_left_shift);
            /* Q0.31 -> 1/256 steps (31 - 8 bits), output zero point -128. */
            const int32_t y = rdbpot(hush_kern_logistic_q4(x_q4), 23) - 128;
            out[i] = (int8_t)clamp32(y, INT8_MIN, INT8_MAX);
        }
    }
}

void hush_kern_tanh_s8(const hush_kern_act *p, const int8_t *in, int8_t *out, int32_t n) {
    for (int32_t i = 0; i < n; ++i) {
        const int32_t x = (int32_t)in[i] - p->input_zero_point;
        if (x <= -p->input_range_radius) {
            out[i] = INT8_MIN;
        } else if (x >= p->input_range_radius) {
            out[i] = INT8_MAX;
        } else {
            const int32_t x_q4 = mul_by_qm(x, p->input_multiplier, p->input_left_shift);
            /* Q0.31 -> 1/128 steps (31 - 7 bits), output zero point 0. */
            const int32_t y = rdbpot(hush_kern_tanh_q4(x_q4), 24);
            out[i] = (int8_t)clamp32(y, INT8_MIN, INT8_MAX);
        }
    }
}

/* Entry i holds the output for the input whose bit pattern is i, so the lookup indexes with the
 * input byte reinterpreted as unsigned. */
static void act_table(void (*ref)(const hush_kern_act *, const int8_t *, int8_t *, int32_t),
                      const hush_kern_act *p, int8_t *table) {
    int8_t inputs[HUSH_KERN_LUT_SIZE];
    for (int32_t i = 0; i < HUSH_KERN_LUT_SIZE; ++i) {
        const uint8_t bits = (uint8_t)i;
        memcpy(&inputs[i], &bits, 1);
    }
    ref(p, inputs, table, HUSH_KERN_LUT_SIZE);
}

void hush_kern_logistic_table(const hush_kern_act *p, int8_t *table) {
    act_table(hush_kern_logistic_s8, p, table);
}

void hush_kern_tanh_table(const hush_kern_act *p, int8_t *table) {
    act_table(hush_kern_tanh_s8, p, table);
}

void hush_kern_lut_s8(const int8_t *table, const int8_t *in, int8_t *out, int32_t n) {
    const uint8_t *u = (const uint8_t *)in;
    for (int32_t i = 0; i < n; ++i) {
        out[i] = table[u[i]];
    }
}

/* ---- FULLY_CONNECTED ---- */

size_t hush_kern_fc_scratch_bytes(int32_t depth) {
    /* The input row widened to int16 in the lane order SXTB16 produces, 4 values per group. */
    return (size_t)((depth + 3) & ~3) * sizeof(int16_t);
}

int32_t hush_kern_row_sum(const int8_t *row, int32_t depth) {
    int32_t sum = 0;
    for (int32_t d = 0; d < depth; ++d) {
        sum += row[d];
    }
    return sum;
}

static int8_t fc_output(const hush_kern_fc *p, int32_t r, int32_t acc) {
    const int32_t i = p->per_channel ? r : 0;
    const int32_t y = mul_by_qm(acc, p->multiplier[i], (int)p->shift[i]);
    return (int8_t)clamp32(y + p->output_offset, p->act_min, p->act_max);
}

#if HUSH_KERN_DSP
/* SXTB16 with the operand rotated by 8: lanes 1 and 3 of four packed int8, sign-extended. GCC
 * does not fold a C rotate into the instruction, hence the asm. */
static int32_t sxtb16_ror8(uint32_t v) {
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}

static uint32_t load_u32(const void *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v); /* a single LDR: Cortex-M4/M7/M55 allow unaligned word loads */
    return v;
}

/* Widen x to int16 so that word 2g holds (x[4g], x[4g+2]) and word 2g+1 (x[4g+1], x[4g+3]):
 * the lanes SXTB16(w) and SXTB16(w ROR 8) give for four packed weights. */
static void fc_widen_input(const int8_t *x, int32_t depth, int16_t *s) {
    const int32_t groups = depth >> 2;
    for (int32_t g = 0; g < groups; ++g) {
        s[4 * g + 0] = x[4 * g + 0];
        s[4 * g + 1] = x[4 * g + 2];
        s[4 * g + 2] = x[4 * g + 1];
        s[4 * g + 3] = x[4 * g + 3];
    }
}

/* acc += w[0..3] . x[0..3] with four packed weights and two widened input words. */
static int32_t mac4(int32_t acc, uint32_t w, int32_t xa, int32_t xb) {
    acc = __smlad(__sxtb16((int32_t)w), xa, acc);
    return __smlad(sxtb16_ror8(w), xb, acc);
}

/* Two rows per pass share the widened input words: per 8 MACs two weight loads, one
 * double-word input load, four SXTB16 and four SMLAD, 14 instructions with the loop (1.75 per
 * MAC on Cortex-M4 with GCC 12 -O2; four rows spill registers and come out slower). The integer
 * sum is exact, so the order of the terms does not change it. */
static void fc_rows_dsp(const hush_kern_fc *p, const int8_t *x, const int16_t *s, int8_t *out) {
    const int32_t depth = p->depth;
    const int32_t tail = depth & ~3;
    const uint32_t *sw = (const uint32_t *)(const void *)s;
    const uint32_t *sw_end = sw + (tail >> 1);
    int32_t r = 0;
    for (; r + 1 < p->rows; r += 2) {
        const int8_t *w0 = p->weights + (size_t)r * (size_t)depth;
        const int8_t *w1 = w0 + depth;
        int32_t acc0 = p->row_const[r];
        int32_t acc1 = p->row_const[r + 1];
        const int8_t *pw0 = w0;
        const int8_t *pw1 = w1;
        for (const uint32_t *px = sw; px < sw_end; px += 2) {
            const int32_t xa = (int32_t)px[0];
            const int32_t xb = (int32_t)px[1];
            acc0 = mac4(acc0, load_u32(pw0), xa, xb);
            acc1 = mac4(acc1, load_u32(pw1), xa, xb);
            pw0 += 4;
            pw1 += 4;
        }
        for (int32_t d = tail; d < depth; ++d) {
            acc0 += w0[d] * x[d];
            acc1 += w1[d] * x[d];
        }
        out[r] = fc_output(p, r, acc0);
        out[r + 1] = fc_output(p, r + 1, acc1);
    }
    for (; r < p->rows; ++r) {
        const int8_t *w0 = p->weights + (size_t)r * (size_t)depth;
        int32_t acc0 = p->row_const[r];
        const int8_t *pw0 = w0;
        for (const uint32_t *px = sw; px < sw_end; px += 2) {
            acc0 = mac4(acc0, load_u32(pw0), (int32_t)px[0], (int32_t)px[1]);
            pw0 += 4;
        }
        for (int32_t d = tail; d < depth; ++d) {
            acc0 += w0[d] * x[d];
        }
        out[r] = fc_output(p, r, acc0);
    }
}
#endif

void hush_kern_fc_s8(const hush_kern_fc *p, const int8_t *in, int8_t *out, int16_t *scratch) {
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *x = in + (size_t)b * (size_t)p->depth;
        int8_t *y = out + (size_t)b * (size_t)p->rows;
#if HUSH_KERN_DSP
        fc_widen_input(x, p->depth, scratch);
        fc_rows_dsp(p, x, scratch, y);
#else
        (void)scratch;
        for (int32_t r = 0; r < p->rows; ++r) {
            const int8_t *w = p->weights + (size_t)r * (size_t)p->depth;
            int32_t acc = p->row_const[r];
            for (int32_t d = 0; d < p->depth; ++d) {
                acc += w[d] * x[d];
            }
            y[r] = fc_output(p, r, acc);
        }
#endif
    }
}

/* ---- elementwise ---- */

static void quantize_smaller_than_one(double real, int32_t *multiplier, int32_t *shift) {
    int s = 0;
    hush_kern_quantize_multiplier(real, multiplier, &s);
    *shift = s;
}

void hush_kern_addsub_prepare(hush_kern_addsub *p, float scale1, int32_t zp1, float scale2,
                              int32_t zp2, float out_scale, int32_t out_zp, int is_sub) {
    p->input1_offset = -zp1;
    p->input2_offset = -zp2;
    p->output_offset = out_zp;
    p->left_shift = 20;
    double m1, m2, mo;
    if (is_sub) {
        const float twice_max = 2.0f * (scale1 > scale2 ? scale1 : scale2);
        m1 = (double)(scale1 / twice_max);
        m2 = (double)(scale2 / twice_max);
        mo = (double)(twice_max / ((float)(1 << p->left_shift) * out_scale));
    } else {
        const double twice_max = 2.0 * (double)(scale1 > scale2 ? scale1 : scale2);
        m1 = (double)scale1 / twice_max;
        m2 = (double)scale2 / twice_max;
        mo = twice_max / ((double)(1 << p->left_shift) * (double)out_scale);
    }
    quantize_smaller_than_one(m1, &p->input1_multiplier, &p->input1_shift);
    quantize_smaller_than_one(m2, &p->input2_multiplier, &p->input2_shift);
    quantize_smaller_than_one(mo, &p->output_multiplier, &p->output_shift);
    p->act_min = INT8_MIN;
    p->act_max = INT8_MAX;
}

static int32_t addsub_scale(const hush_kern_addsub *p, int32_t v, int which) {
    const int32_t shifted = wrap_shl(v, p->left_shift);
    return which == 1 ? mul_by_qm(shifted, p->input1_multiplier, p->input1_shift)
                      : mul_by_qm(shifted, p->input2_multiplier, p->input2_shift);
}

static int8_t addsub_out(const hush_kern_addsub *p, int32_t raw) {
    const int32_t y = mul_by_qm(raw, p->output_multiplier, p->output_shift);
    return (int8_t)clamp32(y + p->output_offset, p->act_min, p->act_max);
}

void hush_kern_add_s8(const hush_kern_addsub *p, const int8_t *a, const int8_t *b, int8_t *out,
                      int32_t n) {
    for (int32_t i = 0; i < n; ++i) {
        const int32_t sa = addsub_scale(p, p->input1_offset + a[i], 1);
        const int32_t sb = addsub_scale(p, p->input2_offset + b[i], 2);
        out[i] = addsub_out(p, wrap_add(sa, sb));
    }
}

void hush_kern_sub_s8(const hush_kern_addsub *p, const int8_t *a, const int8_t *b, int8_t *out,
                      int32_t n) {
    for (int32_t i = 0; i < n; ++i) {
        const int32_t sa = addsub_scale(p, p->input1_offset + a[i], 1);
        const int32_t sb = addsub_scale(p, p->input2_offset + b[i], 2);
        out[i] = addsub_out(p, wrap_sub(sa, sb));
    }
}

void hush_kern_mul_s8(const hush_kern_mul *p, const int8_t *a, const int8_t *b, int8_t *out,
                      int32_t n) {
    for (int32_t i = 0; i < n; ++i) {
        const int32_t prod = (p->input1_offset + a[i]) * (p->input2_offset + b[i]);
        const int32_t y =
            p->output_offset + mul_by_qm(prod, p->output_multiplier, p->output_shift);
        out[i] = (int8_t)clamp32(y, p->act_min, p->act_max);
    }
}

void hush_kern_requant_s8(const hush_kern_requant *p, const int8_t *in, int8_t *out, int32_t n) {
    for (int32_t i = 0; i < n; ++i) {
        const int32_t x = (int32_t)in[i] - p->input_zero_point;
        const int32_t y = mul_by_qm(x, p->multiplier, p->shift) + p->output_zero_point;
        out[i] = (int8_t)clamp32(y, INT8_MIN, INT8_MAX);
    }
}

/* TFLM's QuantizeHelper: zero_point + round(f / scale) with the division in float; -1 when
 * the value does not fit an int32. */
static int quantize_limit(float f, float scale, int32_t zero_point, int32_t *q) {
    const float tmp = roundf(f / scale);
    if (!(tmp >= -2147483648.0f && tmp < 2147483648.0f)) {
        return -1;
    }
    *q = zero_point + (int32_t)tmp;
    return 0;
}

int hush_kern_activation_range(int32_t activation, float scale, int32_t zero_point, int32_t *lo,
                               int32_t *hi) {
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
