/* int8 reference kernels, bit-exact with TensorFlow Lite Micro's reference kernels: LOGISTIC
 * and TANH (and their lookup tables), FULLY_CONNECTED's portable path and requantization
 * planning, ADD, SUB, MUL and QUANTIZE. The engine (hush_engine.c and the hush_op_*.c
 * registrations) computes the parameters once at init; the kernels only run them.
 *
 * The FULLY_CONNECTED accumulation has a Cortex-M DSP-extension variant in hush_kernels_dsp.c;
 * the build's CPU flags select one of the two hush_kern_fc_s8 (a target with the extension
 * compiles that file's, every other the one here).
 */
#include <math.h>
#include <string.h>

#include "hush_kern_private.h"

void hush_kern_act_prepare(hush_kern_act *p, float input_scale, int32_t input_zero_point)
{
    const int input_integer_bits = 4; /* the gemmlowp functions take Q4.27 */
    const double real = (double)input_scale * (double)(1 << (31 - input_integer_bits));
    int shift = 0;
    const double q = frexp(real, &shift);
    int64_t m = (int64_t)round(q * 2147483648.0);
    if (m == ((int64_t)1 << 31)) {
        m /= 2;
        ++shift;
    }
    /* A tiny input scale asks for a right shift past 31 bits (undefined in the shifts): every
     * int8 input then rescales to 0 either way, and so it does at 31. */
    if (shift < -31) {
        shift = -31;
    }
    p->input_zero_point = input_zero_point;
    p->input_multiplier = (int32_t)m;
    p->input_left_shift = shift;
    /* Largest |input| whose rescaled value still fits Q4: (2^4 - 1) * 2^27 / 2^shift. A tiny
     * input scale puts it past int32 (converting that is undefined): every input is then
     * inside the radius, as INT32_MAX says too. */
    const double max_rescaled =
        ldexp((double)((1 << input_integer_bits) - 1), 31 - input_integer_bits - shift);
    p->input_range_radius =
        max_rescaled >= (double)INT32_MAX ? INT32_MAX : (int32_t)floor(max_rescaled);
}

/* TFLM's int8 LOGISTIC/TANH: saturate outside the input range radius, else rescale to Q4.27,
 * evaluate `fn` (gemmlowp fixed point, Q0.31 out), round to the output step and add its zero
 * point. Logistic: 1/256 steps (shift 31 - 8), zero point -128; tanh: 1/128 steps (31 - 7), 0. */
static void act_s8(const hush_kern_act *p, const int8_t *in, int8_t *out, int32_t n,
                   int32_t (*fn)(int32_t), int32_t out_shift, int32_t out_zero_point)
{
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

void hush_kern_logistic_s8(const hush_kern_act *p, const int8_t *in, int8_t *out, int32_t n)
{
    act_s8(p, in, out, n, hush_kern_logistic_q4, 23, -128);
}

void hush_kern_tanh_s8(const hush_kern_act *p, const int8_t *in, int8_t *out, int32_t n)
{
    act_s8(p, in, out, n, hush_kern_tanh_q4, 24, 0);
}

/* Entry i holds the output for the input whose bit pattern is i, so the lookup indexes with the
 * input byte reinterpreted as unsigned. */
static void act_table(void (*ref)(const hush_kern_act *, const int8_t *, int8_t *, int32_t),
                      const hush_kern_act *p, int8_t *table)
{
    int8_t inputs[HUSH_KERN_LUT_SIZE];
    for (int32_t i = 0; i < HUSH_KERN_LUT_SIZE; ++i) {
        const uint8_t bits = (uint8_t)i;
        memcpy(&inputs[i], &bits, 1);
    }
    ref(p, inputs, table, HUSH_KERN_LUT_SIZE);
}

void hush_kern_logistic_table(const hush_kern_act *p, int8_t *table)
{
    act_table(hush_kern_logistic_s8, p, table);
}

void hush_kern_tanh_table(const hush_kern_act *p, int8_t *table)
{
    act_table(hush_kern_tanh_s8, p, table);
}

void hush_kern_lut_s8(const int8_t *table, const int8_t *in, int8_t *out, int32_t n)
{
    const uint8_t *u = (const uint8_t *)in;
    for (int32_t i = 0; i < n; ++i) {
        out[i] = table[u[i]];
    }
}

/* ---- FULLY_CONNECTED ---- */

size_t hush_kern_fc_scratch_bytes(int32_t depth, int32_t rows)
{
    return fc_input_bytes(depth) + (size_t)rows * sizeof(int32_t);
}

int32_t hush_kern_row_sum(const int8_t *row, int32_t depth)
{
    int32_t sum = 0;
    for (int32_t d = 0; d < depth; ++d) {
        sum += row[d];
    }
    return sum;
}

void hush_kern_fc_plan_requant(hush_kern_fc *p)
{
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

#if !HUSH_KERN_DSP
void hush_kern_fc_s8(const hush_kern_fc *p, const int8_t *in, int8_t *out, int16_t *scratch,
                     int widened)
{
    int32_t *acc = (int32_t *)(void *)((uint8_t *)scratch + fc_input_bytes(p->depth));
    (void)widened;
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *x = in + (size_t)b * (size_t)p->depth;
        memcpy(acc, p->row_const, (size_t)p->rows * sizeof(int32_t));
        for (int32_t r = 0; r < p->rows; ++r) {
            const int8_t *w = p->weights + (size_t)r * (size_t)p->depth;
            int32_t a = acc[r];
            for (int32_t d = 0; d < p->depth; ++d) {
                a = wrap_add(a, w[d] * x[d]); /* wraps like SMLAD: a hostile bias is not UB */
            }
            acc[r] = a;
        }
        fc_requant(p, acc, out + (size_t)b * (size_t)p->rows);
    }
}
#endif

/* ---- elementwise ---- */

static void quantize_smaller_than_one(double real, int32_t *multiplier, int32_t *shift)
{
    int s = 0;
    hush_kern_quantize_multiplier(real, multiplier, &s);
    *shift = s;
}

void hush_kern_addsub_prepare(hush_kern_addsub *p, float scale1, int32_t zp1, float scale2,
                              int32_t zp2, float out_scale, int32_t out_zp, int is_sub)
{
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

static int is_half(int32_t multiplier, int32_t shift)
{
    return multiplier == HALF_MULTIPLIER && shift == 0;
}

/* One input of the fast loop: exactly halved when `half`, else the fast requantization of
 * (a + off) << 20 (passed doubled, as a << 21 plus k = off << 21) with a right shift >= 1. */
static inline __attribute__((always_inline)) int32_t
addsub_input(int32_t a, int half, int32_t k, int32_t m, int32_t right, int32_t c)
{
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
                                                              int half1, int half2)
{
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

static int addsub_input_ok(int32_t multiplier, int32_t shift)
{
    return is_half(multiplier, shift) || (fast_shift_ok(shift) && shift < 0);
}

/* Inputs (a + off) << 20 stay below 255 * 2^20 < 2^28 (doubled, below 2^30) and their
 * rescaled sum below 2^29 (input multipliers are at most 1/2): the fast requantization applies
 * when the input shifts are right shifts by 1..30 (or the input is exactly halved), the output
 * shift is a right shift by 1..30, and the output zero point, scaled by 2^right, leaves room
 * in int32 for the output high multiply and the rounding constant. */
static int addsub_fast_ok(const hush_kern_addsub *p)
{
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
                                                                 const int8_t *a, const int8_t *b,
                                                                 int8_t *out, int32_t n, int sign)
{
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
                             int8_t *out, int32_t n, int sign)
{
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
        out[i] = (int8_t)clamp32(wrap_add(mul_by_qm(raw, mo, so), out_off), lo, hi);
    }
}

void hush_kern_add_s8(const hush_kern_addsub *p, const int8_t *a, const int8_t *b, int8_t *out,
                      int32_t n)
{
    if (addsub_try_fast(p, a, b, out, n, 1)) {
        return;
    }
    addsub_s8(p, a, b, out, n, 1);
}

void hush_kern_sub_s8(const hush_kern_addsub *p, const int8_t *a, const int8_t *b, int8_t *out,
                      int32_t n)
{
    if (addsub_try_fast(p, a, b, out, n, -1)) {
        return;
    }
    addsub_s8(p, a, b, out, n, -1);
}

void hush_kern_mul_s8(const hush_kern_mul *p, const int8_t *a, const int8_t *b, int8_t *out,
                      int32_t n)
{
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
        out[i] = (int8_t)clamp32(wrap_add(out_off, mul_by_qm(prod, mo, so)), lo, hi);
    }
}

void hush_kern_requant_s8(const hush_kern_requant *p, const int8_t *in, int8_t *out, int32_t n)
{
    for (int32_t i = 0; i < n; ++i) {
        const int32_t x = (int32_t)in[i] - p->input_zero_point;
        const int32_t y = wrap_add(mul_by_qm(x, p->multiplier, p->shift), p->output_zero_point);
        out[i] = (int8_t)clamp32(y, INT8_MIN, INT8_MAX);
    }
}
