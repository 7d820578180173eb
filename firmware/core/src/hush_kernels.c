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

/* MultiplyByQuantizedMultiplier for multiplier != INT32_MIN and shift = -right <= 0, inlined
 * into every per-element loop. The high multiply is v = floor((x * m + 2^30) / 2^31) (see srdhm). Rounding v by
 * 2^-right, half away from zero, is floor((v + c) / 2^right) with c = 2^(right-1) - [v < 0];
 * halving first, floor((v + c) / 2) = (v >> 1) + (((v & 1) + c) >> 1), keeps every sum inside
 * int32, and the remaining right - 1 bits are a plain arithmetic shift: about a dozen
 * instructions on Cortex-M, with no 64-bit variable shift. */
static inline int32_t mul_by_qm_right(int32_t x, int32_t multiplier, int right) {
    const int32_t v = (int32_t)(((int64_t)x * (int64_t)multiplier + ((int64_t)1 << 30)) >> 31);
    if (right == 0) {
        return v;
    }
    const int32_t c = (int32_t)(1u << (right - 1)) - (v < 0 ? 1 : 0);
    return ((v >> 1) + (((v & 1) + c) >> 1)) >> (right - 1);
}

static inline int32_t mul_by_qm(int32_t x, int32_t multiplier, int shift) {
    return shift > 0 ? mul_by_qm_right(wrap_shl(x, shift), multiplier, 0)
                     : mul_by_qm_right(x, multiplier, -shift);
}

/* ---- fast requantization for bounded inputs ----
 *
 * For |x| < 2^30 the doubling high multiply srdhm(x, m) = floor((x * m + 2^30) / 2^31) equals
 * floor((2x * m + 2^31) / 2^32), which is one SMMULR of 2x (no saturation case, no 64-bit
 * add). The rounding right shift by r, half away from zero, is then
 * (v + [v < 0 ? -1 : 0] + 2^(r-1)) >> r: with |v| < 2^30 and r <= 30 nothing overflows. The
 * kernels take this path when init-time bounds guarantee those ranges, and the exact general
 * code otherwise, so the result is the reference's either way. */
#define FAST_MAX_RIGHT 30
#define FAST_LIMIT ((int32_t)1 << 30) /* |x| bound for the doubled high multiply */

static inline int32_t mulhi_round(int32_t a, int32_t b) {
#if HUSH_KERN_DSP
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 31)) >> 32);
#endif
}

/* v / 2^right rounded half away from zero, for right in 1..30 and c = 2^(right-1): the
 * negative-value correction of the rounding is the bare sign bit. A caller may add k * 2^right
 * to c to add k to the result, when the sum stays inside int32. */
static inline int32_t round_right(int32_t v, int32_t right, int32_t c) {
    return (v + (v >> 31) + c) >> right;
}

/* mul_by_qm(x, m, shift) for |x| < 2^30 and shift in [-30, -1], as the FC requantization
 * runs it. floor((u + 2^(right-1)) / 2^right) = floor((floor(u / 2^(right-1)) + 1) / 2) with
 * u = v + [v < 0 ? -1 : 0] and right - 1 = ~shift: no rounding constant to build, and a caller
 * adding an offset gets the last halving folded into that add. */
static inline int32_t requant_fast(int32_t x, int32_t multiplier, int32_t shift) {
    const int32_t v = mulhi_round(x * 2, multiplier);
    return (((v + (v >> 31)) >> ~shift) + 1) >> 1;
}

int32_t hush_kern_mul_by_qm_fast(int32_t x, int32_t multiplier, int shift) {
    return requant_fast(x, multiplier, shift);
}

static inline int32_t clamp_s8(int32_t x) {
#if HUSH_KERN_DSP
    return __ssat(x, 8);
#else
    return clamp32(x, INT8_MIN, INT8_MAX);
#endif
}

/* Shifts the fast path supports: no left part, at most FAST_MAX_RIGHT to the right. */
static int fast_shift_ok(int32_t shift) { return shift <= 0 && shift >= -FAST_MAX_RIGHT; }

int32_t hush_kern_mul_by_qm(int32_t x, int32_t multiplier, int shift) {
    if (multiplier == INT32_MIN) {
        /* the one product srdhm saturates (x << left == INT32_MIN): the two-step reference */
        const int left = shift > 0 ? shift : 0;
        return rdbpot(srdhm(wrap_shl(x, left), multiplier), shift > 0 ? 0 : -shift);
    }
    return mul_by_qm(x, multiplier, shift);
}

void hush_kern_quantize_multiplier(double real, int32_t *multiplier, int *shift) {
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

/* TFLM's int8 LOGISTIC/TANH: saturate outside the input range radius, else rescale to Q4.27,
 * evaluate `fn` (gemmlowp fixed point, Q0.31 out), round to the output step and add its zero
 * point. Logistic: 1/256 steps (shift 31 - 8), zero point -128; tanh: 1/128 steps (31 - 7), 0. */
static void act_s8(const hush_kern_act *p, const int8_t *in, int8_t *out, int32_t n,
                   int32_t (*fn)(int32_t), int32_t out_shift, int32_t out_zero_point) {
    for (int32_t i = 0; i < n; ++i) {
        const int32_t x = (int32_t)in[i] - p->input_zero_point;
        if (x <= -p->input_range_radius) {
            out[i] = INT8_MIN;
        } else if (x >= p->input_range_radius) {
            out[i] = INT8_MAX;
        } else {
            const int32_t x_q4 = mul_by_qm(x, p->input_multiplier, p->input_left_shift);
            const int32_t y = rdbpot(fn(x_q4), out_shift) + out_zero_point;
            out[i] = (int8_t)clamp32(y, INT8_MIN, INT8_MAX);
        }
    }
}

void hush_kern_logistic_s8(const hush_kern_act *p, const int8_t *in, int8_t *out, int32_t n) {
    act_s8(p, in, out, n, hush_kern_logistic_q4, 23, -128);
}

void hush_kern_tanh_s8(const hush_kern_act *p, const int8_t *in, int8_t *out, int32_t n) {
    act_s8(p, in, out, n, hush_kern_tanh_q4, 24, 0);
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

/* Widened input (int16, padded to whole groups of 4) then one int32 accumulator per row. The
 * input part is a multiple of 8 bytes, so the accumulators stay word aligned. */
static size_t fc_input_bytes(int32_t depth) {
    return (size_t)((depth + 3) & ~3) * sizeof(int16_t);
}

size_t hush_kern_fc_scratch_bytes(int32_t depth, int32_t rows) {
    return fc_input_bytes(depth) + (size_t)rows * sizeof(int32_t);
}

int32_t hush_kern_row_sum(const int8_t *row, int32_t depth) {
    int32_t sum = 0;
    for (int32_t d = 0; d < depth; ++d) {
        sum += row[d];
    }
    return sum;
}

void hush_kern_fc_plan_requant(hush_kern_fc *p) {
    p->fast_requant = 0;
    if (p->act_min != INT8_MIN || p->act_max != INT8_MAX) {
        return;
    }
    const int32_t n_mult = p->per_channel ? p->rows : 1;
    for (int32_t i = 0; i < n_mult; ++i) {
        /* right = 0 would need the sign correction masked per row: keep those on the exact path */
        if (!fast_shift_ok(p->shift[i]) || p->shift[i] == 0) {
            return;
        }
    }
    for (int32_t r = 0; r < p->rows; ++r) {
        /* |acc| <= |row_const| + 128 * sum |w|: int8 inputs minus their zero point fold into
         * row_const, so the data term is sum w * x with x in [-128, 127]. */
        const int8_t *w = p->weights + (size_t)r * (size_t)p->depth;
        int64_t bound = p->row_const[r] < 0 ? -(int64_t)p->row_const[r] : p->row_const[r];
        for (int32_t d = 0; d < p->depth; ++d) {
            bound += 128 * (w[d] < 0 ? -(int64_t)w[d] : (int64_t)w[d]);
        }
        if (bound >= FAST_LIMIT) {
            return;
        }
    }
    p->fast_requant = 1;
}

/* The fast path (see hush_kern_fc_plan_requant): every row shifts right by 1..30 and its
 * accumulator is below 2^30, about 14 instructions per output on Cortex-M4. */
static inline __attribute__((always_inline)) void fc_requant_fast_loop(const hush_kern_fc *p,
                                                                        const int32_t *acc,
                                                                        int8_t *out,
                                                                        int32_t step) {
    const int32_t *mult = p->multiplier;
    const int32_t *shift = p->shift;
    const int32_t offset = p->output_offset;
    const int32_t rows = p->rows;
    for (int32_t r = 0; r < rows; ++r) {
        const int32_t y = offset + requant_fast(acc[r], *mult, *shift);
        out[r] = (int8_t)clamp_s8(y);
        mult += step;
        shift += step;
    }
}

/* One copy per layout, so the per-row step is a constant (post-incremented loads). */
static void fc_requant_fast(const hush_kern_fc *p, const int32_t *acc, int8_t *out) {
    if (p->per_channel) {
        fc_requant_fast_loop(p, acc, out, 1);
    } else {
        fc_requant_fast_loop(p, acc, out, 0);
    }
}

/* Requantizes the accumulators of all rows in one tight loop (nothing reloaded per row). Row
 * multipliers below one (shift <= 0, the usual case) take a path without the left shift. */
static void fc_requant(const hush_kern_fc *p, const int32_t *acc, int8_t *out) {
    if (p->fast_requant) {
        fc_requant_fast(p, acc, out);
        return;
    }
    const int32_t *mult = p->multiplier;
    const int32_t *shift = p->shift;
    const int32_t step = p->per_channel ? 1 : 0;
    const int32_t offset = p->output_offset;
    const int32_t lo = p->act_min;
    const int32_t hi = p->act_max;
    const int32_t rows = p->rows;
    for (int32_t r = 0; r < rows; ++r) {
        const int32_t sh = *shift;
        /* + offset wraps like TFLM's int32: with a saturated product (a hostile multiplier)
         * a plain + would be undefined behaviour. */
        const int32_t y = wrap_add(sh > 0 ? mul_by_qm(acc[r], *mult, (int)sh)
                                          : mul_by_qm_right(acc[r], *mult, (int)-sh),
                                   offset);
        out[r] = (int8_t)clamp32(y, lo, hi);
        mult += step;
        shift += step;
    }
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

/* Four weights of one row against the input words xa, xb: a post-incremented (unaligned) load,
 * two SXTB16 and two SMLAD. */
#define FC_ROW(acc, ptr)                                                                         \
    "ldr %[w], [%[" ptr "]], #4\n"                                                               \
    "sxtb16 %[t], %[w]\n"                                                                        \
    "smlad %[" acc "], %[t], %[xa], %[" acc "]\n"                                                \
    "sxtb16 %[t], %[w], ror #8\n"                                                                \
    "smlad %[" acc "], %[t], %[xb], %[" acc "]\n"

/* Four inputs for four rows: one LDRD of widened input, 21 instructions per 16 MACs. */
#define FC_STEP4                                                                                 \
    "ldrd %[xa], %[xb], [%[px]], #8\n" FC_ROW("a0", "p0") FC_ROW("a1", "p1") FC_ROW("a2", "p2") \
        FC_ROW("a3", "p3")

/* Four rows share each widened input load. The cost that matters is instructions, so the loops
 * are written out: 16 inputs per inner iteration, 4 x 21 instructions plus 3 for the loop
 * (its end is read from the stack: all 14 allocatable registers but one are in use), 1.36 per
 * MAC against 1.75 for a compiled two-row loop. The loop over blocks of four rows is written
 * out too: a block's rows start `tail` bytes past where the previous block's last row pointer
 * stopped, and the block loop's values are read from the stack, about 18 instructions per
 * block around its inner loop. Covers inputs [0, depth & ~15) of rows [0, 4 blocks); needs
 * depth >= 16. The integer sum is exact, so the order of the terms does not change it. */
static void fc_blocks_16(const int8_t *w0, int32_t depth, const int16_t *s, int32_t *acc,
                         int32_t blocks) {
    const int16_t *const s0 = s;
    const int16_t *const end = s + (depth & ~15);
    const int32_t tail = depth & 15;
    int32_t *accp = acc;
    int32_t *const acc_end = acc + 4 * blocks;
    const int8_t *p3 = w0 - tail;
    const int8_t *p0, *p1, *p2;
    const int16_t *px;
    int32_t a0, a1, a2, a3;
    uint32_t xa, xb, w, t;
    __asm__("2:\n"
            "ldr %[t], %[accp]\n"
            "ldrd %[a0], %[a1], [%[t]]\n"
            "ldrd %[a2], %[a3], [%[t], #8]\n"
            "ldr %[t], %[tail]\n"
            "add %[p0], %[p3], %[t]\n"
            "ldr %[t], %[depth]\n"
            "add %[p1], %[p0], %[t]\n"
            "add %[p2], %[p1], %[t]\n"
            "add %[p3], %[p2], %[t]\n"
            "ldr %[px], %[s0]\n"
            "1:\n" FC_STEP4 FC_STEP4 FC_STEP4 FC_STEP4
            "ldr %[t], %[end]\n"
            "cmp %[px], %[t]\n"
            "blo 1b\n"
            "ldr %[t], %[accp]\n"
            "strd %[a0], %[a1], [%[t]]\n"
            "strd %[a2], %[a3], [%[t], #8]\n"
            "add %[t], %[t], #16\n"
            "str %[t], %[accp]\n"
            "ldr %[xa], %[acc_end]\n"
            "cmp %[t], %[xa]\n"
            "blo 2b\n"
            : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [p0] "=&r"(p0),
              [p1] "=&r"(p1), [p2] "=&r"(p2), [p3] "+r"(p3), [px] "=&r"(px), [xa] "=&r"(xa),
              [xb] "=&r"(xb), [w] "=&r"(w), [t] "=&r"(t), [accp] "+m"(accp)
            : [end] "m"(end), [s0] "m"(s0), [depth] "m"(depth), [tail] "m"(tail),
              [acc_end] "m"(acc_end)
            : "cc", "memory");
}

/* acc += row . x for a row outside the blocks of four, in groups of 4 then one by one. */
static void fc_row(const int8_t *w, const int8_t *x, const int16_t *s, int32_t depth,
                   int32_t *acc) {
    const int32_t groups_end = depth & ~3;
    int32_t a = *acc;
    int32_t d = 0;
    for (; d < groups_end; d += 4) {
        a = mac4(a, load_u32(w + d), (int32_t)load_u32(s + d), (int32_t)load_u32(s + d + 2));
    }
    for (; d < depth; ++d) {
        a += w[d] * x[d];
    }
    *acc = a;
}

/* The inputs [from, depth) left over by fc_blocks_16 (fewer than 16), for the same four rows in
 * one pass, so each input is read once and there is no call per row. */
static void fc_4rows_tail(const int8_t *w0, int32_t depth, const int8_t *x, int32_t from,
                          int32_t *acc) {
    const int8_t *w1 = w0 + depth;
    const int8_t *w2 = w1 + depth;
    const int8_t *w3 = w2 + depth;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    for (int32_t d = from; d < depth; ++d) {
        const int32_t xd = x[d];
        a0 += w0[d] * xd;
        a1 += w1[d] * xd;
        a2 += w2[d] * xd;
        a3 += w3[d] * xd;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

static void fc_accumulate(const hush_kern_fc *p, const int8_t *x, const int16_t *s,
                          int32_t *acc) {
    const int32_t depth = p->depth;
    const int32_t done = depth & ~15;
    int32_t r = 0;
    if (done > 0 && p->rows >= 4) {
        r = p->rows & ~3;
        fc_blocks_16(p->weights, depth, s, acc, r >> 2);
        for (int32_t k = 0; done < depth && k < r; k += 4) {
            fc_4rows_tail(p->weights + (size_t)k * (size_t)depth, depth, x, done, &acc[k]);
        }
    }
    for (; r < p->rows; ++r) {
        fc_row(p->weights + (size_t)r * (size_t)depth, x, s, depth, &acc[r]);
    }
}
#endif

void hush_kern_fc_s8(const hush_kern_fc *p, const int8_t *in, int8_t *out, int16_t *scratch,
                     int widened) {
    int32_t *acc = (int32_t *)(void *)((uint8_t *)scratch + fc_input_bytes(p->depth));
    (void)widened;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *x = in + (size_t)b * (size_t)p->depth;
        memcpy(acc, p->row_const, (size_t)p->rows * sizeof(int32_t));
#if HUSH_KERN_DSP
        if (!widened || p->batches != 1) {
            fc_widen_input(x, p->depth, scratch);
        }
        fc_accumulate(p, x, scratch, acc);
#else
        for (int32_t r = 0; r < p->rows; ++r) {
            const int8_t *w = p->weights + (size_t)r * (size_t)p->depth;
            int32_t a = acc[r];
            for (int32_t d = 0; d < p->depth; ++d) {
                a = wrap_add(a, w[d] * x[d]); /* wraps like SMLAD: a hostile bias is not UB */
            }
            acc[r] = a;
        }
#endif
        fc_requant(p, acc, out + (size_t)b * (size_t)p->rows);
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

/* ADD and SUB rescale both inputs to twice the larger input scale, so the larger-scale input
 * has multiplier exactly 1/2 (2^30, shift 0): its rescaled value (a + off) << 20, halved by
 * the doubling high multiply, is exactly (a + off) << 19 (even, so no rounding), one add. */
#define HALF_MULTIPLIER ((int32_t)1 << 30)

static int is_half(int32_t multiplier, int32_t shift) {
    return multiplier == HALF_MULTIPLIER && shift == 0;
}

/* One input of the fast loop: exactly halved when `half`, else the fast requantization of
 * (a + off) << 20 (passed doubled, as a << 21 plus k = off << 21) with a right shift >= 1. */
static inline __attribute__((always_inline)) int32_t addsub_input(int32_t a, int half, int32_t k,
                                                                  int32_t m, int32_t right,
                                                                  int32_t c) {
    if (half) {
        return wrap_shl(a, 19) + k;
    }
    return round_right(mulhi_round(wrap_shl(a, 21) + k, m), right, c);
}

/* Fast ADD/SUB loop with sign and the exactly-halved inputs fixed at compile time (always
 * inlined, one copy per case, so the loop holds no tests) and the int8 clamp as one
 * saturation. */
static inline __attribute__((always_inline)) void addsub_fast(const hush_kern_addsub *p,
                                                              const int8_t *a, const int8_t *b,
                                                              int8_t *out, int32_t n, int sign,
                                                              int half1, int half2) {
    const int32_t m1 = p->input1_multiplier;
    const int32_t m2 = p->input2_multiplier;
    const int32_t mo = p->output_multiplier;
    const int32_t r1 = half1 ? 0 : -p->input1_shift;
    const int32_t r2 = half2 ? 0 : -p->input2_shift;
    const int32_t ro = -p->output_shift;
    const int32_t c1 = half1 ? 0 : (int32_t)1 << (r1 - 1);
    const int32_t c2 = half2 ? 0 : (int32_t)1 << (r2 - 1);
    /* the output zero point rides in the rounding constant: (v + c + (zp << r)) >> r equals
     * ((v + c) >> r) + zp exactly, and addsub_fast_ok checks the sum stays inside int32 */
    const int32_t co = ((int32_t)1 << (ro - 1)) + (int32_t)((uint32_t)p->output_offset << ro);
    const int32_t k1 = wrap_shl(p->input1_offset, half1 ? 19 : 21);
    const int32_t k2 = wrap_shl(p->input2_offset, half2 ? 19 : 21);
    for (int32_t i = 0; i < n; ++i) {
        const int32_t sa = addsub_input(a[i], half1, k1, m1, r1, c1);
        const int32_t sb = addsub_input(b[i], half2, k2, m2, r2, c2);
        const int32_t raw = sign > 0 ? sa + sb : sa - sb;
        const int32_t vo = mulhi_round(raw * 2, mo);
        out[i] = (int8_t)clamp_s8(round_right(vo, ro, co));
    }
}

static int addsub_input_ok(int32_t multiplier, int32_t shift) {
    return is_half(multiplier, shift) || (fast_shift_ok(shift) && shift < 0);
}

/* Inputs (a + off) << 20 stay below 255 * 2^20 < 2^28 (doubled, below 2^30) and their
 * rescaled sum below 2^29 (input multipliers are at most 1/2): the fast requantization applies
 * when the input shifts are right shifts by 1..30 (or the input is exactly halved), the output
 * shift is a right shift by 1..30, and the output zero point, scaled by 2^right, leaves room
 * in int32 for the output high multiply and the rounding constant. */
static int addsub_fast_ok(const hush_kern_addsub *p) {
    if (p->left_shift != 20 || p->act_min != INT8_MIN || p->act_max != INT8_MAX) {
        return 0;
    }
    if (!addsub_input_ok(p->input1_multiplier, p->input1_shift) ||
        !addsub_input_ok(p->input2_multiplier, p->input2_shift) ||
        !fast_shift_ok(p->output_shift) || p->output_shift == 0) {
        return 0;
    }
    /* |raw| < 2^29, so the output high multiply of 2 raw is below 2^29 in magnitude */
    const int32_t right = -p->output_shift;
    const int64_t zp_scaled = (int64_t)p->output_offset * ((int64_t)1 << right);
    const int64_t worst = ((int64_t)1 << 29) + 1 + ((int64_t)1 << (right - 1)) +
                          (zp_scaled < 0 ? -zp_scaled : zp_scaled);
    return worst <= INT32_MAX;
}

/* Runs the fast loop for the case at hand; 0 when it does not apply. */
static inline __attribute__((always_inline)) int addsub_try_fast(const hush_kern_addsub *p,
                                                                 const int8_t *a,
                                                                 const int8_t *b, int8_t *out,
                                                                 int32_t n, int sign) {
    if (!addsub_fast_ok(p)) {
        return 0;
    }
    const int h1 = is_half(p->input1_multiplier, p->input1_shift);
    const int h2 = is_half(p->input2_multiplier, p->input2_shift);
    if (h1 && !h2) {
        addsub_fast(p, a, b, out, n, sign, 1, 0);
    } else if (h2 && !h1) {
        addsub_fast(p, a, b, out, n, sign, 0, 1);
    } else if (h1 && h2) {
        addsub_fast(p, a, b, out, n, sign, 1, 1);
    } else {
        addsub_fast(p, a, b, out, n, sign, 0, 0);
    }
    return 1;
}

static inline void addsub_s8(const hush_kern_addsub *p, const int8_t *a, const int8_t *b,
                             int8_t *out, int32_t n, int sign) {
    const int32_t off1 = p->input1_offset;
    const int32_t off2 = p->input2_offset;
    const int ls = (int)p->left_shift;
    const int32_t m1 = p->input1_multiplier;
    const int32_t m2 = p->input2_multiplier;
    const int32_t mo = p->output_multiplier;
    const int s1 = (int)p->input1_shift;
    const int s2 = (int)p->input2_shift;
    const int so = (int)p->output_shift;
    const int32_t out_off = p->output_offset;
    const int32_t lo = p->act_min;
    const int32_t hi = p->act_max;
    for (int32_t i = 0; i < n; ++i) {
        const int32_t sa = mul_by_qm(wrap_shl(off1 + a[i], ls), m1, s1);
        const int32_t sb = mul_by_qm(wrap_shl(off2 + b[i], ls), m2, s2);
        const int32_t raw = sign > 0 ? wrap_add(sa, sb) : wrap_sub(sa, sb);
        out[i] = (int8_t)clamp32(mul_by_qm(raw, mo, so) + out_off, lo, hi);
    }
}

void hush_kern_add_s8(const hush_kern_addsub *p, const int8_t *a, const int8_t *b, int8_t *out,
                      int32_t n) {
    if (addsub_try_fast(p, a, b, out, n, 1)) {
        return;
    }
    addsub_s8(p, a, b, out, n, 1);
}

void hush_kern_sub_s8(const hush_kern_addsub *p, const int8_t *a, const int8_t *b, int8_t *out,
                      int32_t n) {
    if (addsub_try_fast(p, a, b, out, n, -1)) {
        return;
    }
    addsub_s8(p, a, b, out, n, -1);
}

void hush_kern_mul_s8(const hush_kern_mul *p, const int8_t *a, const int8_t *b, int8_t *out,
                      int32_t n) {
    const int32_t off1 = p->input1_offset;
    const int32_t off2 = p->input2_offset;
    const int32_t mo = p->output_multiplier;
    const int so = (int)p->output_shift;
    const int32_t out_off = p->output_offset;
    const int32_t lo = p->act_min;
    const int32_t hi = p->act_max;
    if (fast_shift_ok(so) && so < 0 && lo == INT8_MIN && hi == INT8_MAX) {
        /* |prod| <= 255^2 < 2^16: well inside the fast path's 2^30 */
        for (int32_t i = 0; i < n; ++i) {
            const int32_t prod = (off1 + a[i]) * (off2 + b[i]);
            out[i] = (int8_t)clamp_s8(out_off + requant_fast(prod, mo, so));
        }
        return;
    }
    for (int32_t i = 0; i < n; ++i) {
        const int32_t prod = (off1 + a[i]) * (off2 + b[i]);
        out[i] = (int8_t)clamp32(out_off + mul_by_qm(prod, mo, so), lo, hi);
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
