/* Fixed-point helpers shared by the int8 kernels (hush_fixedpoint.c, hush_kernels_ref.c,
 * hush_kernels_dsp.c); private to the core.
 *
 * They follow gemmlowp's fixedpoint.h and TFLite's quantization_util: a raw int32 with N
 * integer bits ("QN") represents raw / 2^(31-N). Additions of raw values wrap like the hardware
 * does (gemmlowp relies on that and never overflows in practice); the wrap is done on uint32_t
 * so the C stays free of signed-overflow undefined behaviour.
 *
 * The per-element loops inline these, so they are defined here rather than called. Helpers
 * that were never marked inline stay so (HUSH_KERN_LOCAL), leaving the compiler's inlining
 * choices, and with them the instruction counts per hop, as they are in one translation unit.
 */
#ifndef HUSH_KERN_PRIVATE_H
#define HUSH_KERN_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "hush_kernels.h"

/* The Cortex-M DSP extension (M4, M7, M33, M55): SMLAD, SSAT, SMMULR. The FC kernel's fast
 * path lives in hush_kernels_dsp.c, the portable one in hush_kernels_ref.c; the CPU flags of
 * the build pick one. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define HUSH_KERN_DSP 1
#else
#define HUSH_KERN_DSP 0
#endif

#define HUSH_KERN_LOCAL static __attribute__((unused))

#define Q0_ONE INT32_MAX /* 1.0 in Q0.31, saturated */

HUSH_KERN_LOCAL int32_t wrap_add(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

HUSH_KERN_LOCAL int32_t wrap_sub(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

HUSH_KERN_LOCAL int32_t wrap_shl(int32_t x, int s)
{
    return (int32_t)((uint32_t)x << s);
}

HUSH_KERN_LOCAL int32_t clamp32(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* gemmlowp adds 2^30 (ab >= 0) or 1 - 2^30 (ab < 0) and divides by 2^31 truncating toward
 * zero. For ab < 0 that truncation is a ceiling, and ceil((ab + 1 - 2^30) / 2^31) equals
 * floor((ab + 2^30) / 2^31): both signs reduce to one add and one arithmetic shift (GCC shifts
 * signed values arithmetically), about five instructions on Cortex-M instead of a division. */
static inline int32_t srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

static inline int32_t rdbpot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* MultiplyByQuantizedMultiplier for multiplier != INT32_MIN and shift = -right <= 0, inlined
 * into every per-element loop. The high multiply is v = floor((x * m + 2^30) / 2^31) (see srdhm). Rounding v by
 * 2^-right, half away from zero, is floor((v + c) / 2^right) with c = 2^(right-1) - [v < 0];
 * halving first, floor((v + c) / 2) = (v >> 1) + (((v & 1) + c) >> 1), keeps every sum inside
 * int32, and the remaining right - 1 bits are a plain arithmetic shift: about a dozen
 * instructions on Cortex-M, with no 64-bit variable shift. */
static inline int32_t mul_by_qm_right(int32_t x, int32_t multiplier, int right)
{
    const int32_t v = (int32_t)(((int64_t)x * (int64_t)multiplier + ((int64_t)1 << 30)) >> 31);
    if (right == 0) {
        return v;
    }
    const int32_t c = (int32_t)(1u << (right - 1)) - (v < 0 ? 1 : 0);
    return ((v >> 1) + (((v & 1) + c) >> 1)) >> (right - 1);
}

static inline int32_t mul_by_qm(int32_t x, int32_t multiplier, int shift)
{
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
#define FAST_LIMIT     ((int32_t)1 << 30) /* |x| bound for the doubled high multiply */

static inline int32_t mulhi_round(int32_t a, int32_t b)
{
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
static inline int32_t round_right(int32_t v, int32_t right, int32_t c)
{
    return (v + (v >> 31) + c) >> right;
}

/* mul_by_qm(x, m, shift) for |x| < 2^30 and shift in [-30, -1], as the FC requantization
 * runs it. floor((u + 2^(right-1)) / 2^right) = floor((floor(u / 2^(right-1)) + 1) / 2) with
 * u = v + [v < 0 ? -1 : 0] and right - 1 = ~shift: no rounding constant to build, and a caller
 * adding an offset gets the last halving folded into that add. */
static inline int32_t requant_fast(int32_t x, int32_t multiplier, int32_t shift)
{
    const int32_t v = mulhi_round(x * 2, multiplier);
    return (((v + (v >> 31)) >> ~shift) + 1) >> 1;
}

static inline int32_t clamp_s8(int32_t x)
{
#if HUSH_KERN_DSP
    return __ssat(x, 8);
#else
    return clamp32(x, INT8_MIN, INT8_MAX);
#endif
}

/* Shifts the fast path supports: no left part, at most FAST_MAX_RIGHT to the right. */
HUSH_KERN_LOCAL int fast_shift_ok(int32_t shift)
{
    return shift <= 0 && shift >= -FAST_MAX_RIGHT;
}

/* ---- FULLY_CONNECTED requantization, shared by both FC variants ---- */

/* Widened input (int16, padded to whole groups of 4) then one int32 accumulator per row. The
 * input part is a multiple of 8 bytes, so the accumulators stay word aligned. */
HUSH_KERN_LOCAL size_t fc_input_bytes(int32_t depth)
{
    return (size_t)((depth + 3) & ~3) * sizeof(int16_t);
}

/* The fast path (see hush_kern_fc_plan_requant): every row shifts right by 1..30 and its
 * accumulator is below 2^30, about 14 instructions per output on Cortex-M4. */
static inline __attribute__((always_inline)) void
fc_requant_fast_loop(const hush_kern_fc *p, const int32_t *acc, int8_t *out, int32_t step)
{
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
HUSH_KERN_LOCAL void fc_requant_fast(const hush_kern_fc *p, const int32_t *acc, int8_t *out)
{
    if (p->per_channel) {
        fc_requant_fast_loop(p, acc, out, 1);
    } else {
        fc_requant_fast_loop(p, acc, out, 0);
    }
}

/* Requantizes the accumulators of all rows in one tight loop (nothing reloaded per row). Row
 * multipliers below one (shift <= 0, the usual case) take a path without the left shift. */
HUSH_KERN_LOCAL void fc_requant(const hush_kern_fc *p, const int32_t *acc, int8_t *out)
{
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

#endif /* HUSH_KERN_PRIVATE_H */
