/* int8 kernels with TensorFlow Lite Micro's reference arithmetic.
 *
 * Every function here reproduces TFLM's reference kernels bit for bit: the same fixed-point
 * multipliers (MultiplyByQuantizedMultiplier with its double rounding), the same gemmlowp
 * fixed-point logistic/tanh polynomials, the same saturation and clamping. The engine
 * (its operator registrations, hush_op_*.c) computes the parameters once at init; the kernels
 * only run them. Implemented in hush_fixedpoint.c, hush_kernels_ref.c and hush_kernels_dsp.c.
 *
 * All kernels are pure functions of their arguments: no state, no allocation.
 */
#ifndef HUSH_KERNELS_H
#define HUSH_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- fixed-point primitives (gemmlowp / tflite quantization_util) ---- */

/* (a * b * 2) >> 32 rounded to nearest, saturating the single overflow case INT32_MIN^2. */
int32_t hush_kern_srdhm(int32_t a, int32_t b);

/* x / 2^exponent rounded to nearest, ties away from zero; exponent in [0, 31]. */
int32_t hush_kern_rdbpot(int32_t x, int exponent);

/* TFLite's MultiplyByQuantizedMultiplier: x * multiplier * 2^(shift - 31), with the left part
 * of the shift applied before and the right part (rounded) after the high multiply. */
int32_t hush_kern_mul_by_qm(int32_t x, int32_t multiplier, int shift);

/* hush_kern_mul_by_qm on the kernels' fast path: one rounding high multiply of 2x and a
 * rounding right shift. Equal to hush_kern_mul_by_qm when |x| < 2^30 and shift is in
 * [-30, -1]; the kernels take it only where init-time bounds guarantee that. */
int32_t hush_kern_mul_by_qm_fast(int32_t x, int32_t multiplier, int shift);

/* TFLite's QuantizeMultiplier: real = multiplier * 2^(shift - 31), multiplier in [2^30, 2^31). */
void hush_kern_quantize_multiplier(double real, int32_t *multiplier, int *shift);

/* gemmlowp::logistic / gemmlowp::tanh on a Q4.27 input, result in Q0.31. */
int32_t hush_kern_logistic_q4(int32_t x_q4);
int32_t hush_kern_tanh_q4(int32_t x_q4);

/* ---- op parameters, filled by the engine at init ---- */

typedef struct {
    int32_t rows;          /* output features */
    int32_t depth;         /* input features (accumulation depth) */
    int32_t batches;       /* rows of the input */
    int32_t output_offset; /* output zero point */
    int32_t act_min;       /* fused activation clamp, in output LSB */
    int32_t act_max;
    const int8_t *weights; /* [rows][depth], row-major, in the model (flash) */
    /* bias[r] + input_offset * sum(weights[r][:]), folded at init (input_offset = -input zp) */
    const int32_t *row_const;
    /* one multiplier/shift per row (per-channel weights) or both point at a single entry */
    const int32_t *multiplier;
    const int32_t *shift;
    int32_t per_channel;  /* 1: multiplier[r]/shift[r]; 0: multiplier[0]/shift[0] */
    int32_t fast_requant; /* set by hush_kern_fc_plan_requant */
} hush_kern_fc;

/* Once every other field is filled: checks, from the weights, row constants and shifts, whether
 * every accumulator stays below 2^30 and every row shifts right by 1..30, so the requantization
 * can take a shorter path with the same results. */
void hush_kern_fc_plan_requant(hush_kern_fc *p);

/* Bytes of scratch the FC kernel needs (same on every target): the input widened to int16,
 * then one int32 accumulator per row. */
size_t hush_kern_fc_scratch_bytes(int32_t depth, int32_t rows);

/* Sum of each weight row, used at init to fold the input zero point into row_const. */
int32_t hush_kern_row_sum(const int8_t *row, int32_t depth);

/* out[b][r] = clamp(requant(row_const[r] + sum_d w[r][d] * in[b][d]) + output_offset).
 * scratch: hush_kern_fc_scratch_bytes(depth, rows) bytes, 4-byte aligned; its first part holds
 * the input widened to int16 afterwards when batches == 1. widened: 1 when scratch already
 * holds this very input widened (an earlier FC of the same input, batches == 1, and no FC of
 * another input in between), so the widening is skipped; 0 otherwise. */
void hush_kern_fc_s8(const hush_kern_fc *p, const int8_t *in, int8_t *out, int16_t *scratch,
                     int widened);

typedef struct {
    int32_t input_zero_point;
    int32_t input_range_radius; /* |x - zp| beyond this saturates */
    int32_t input_multiplier;   /* input scale -> Q4.27 */
    int32_t input_left_shift;
} hush_kern_act;

/* Fills p for LOGISTIC/TANH from the input tensor's quantization (TFLM's Prepare). */
void hush_kern_act_prepare(hush_kern_act *p, float input_scale, int32_t input_zero_point);

/* Output quantization fixed by TFLite: logistic scale 1/256, zp -128; tanh 1/128, zp 0. */
void hush_kern_logistic_s8(const hush_kern_act *p, const int8_t *in, int8_t *out, int32_t n);
void hush_kern_tanh_s8(const hush_kern_act *p, const int8_t *in, int8_t *out, int32_t n);

/* An int8 -> int8 function has only 256 inputs: the engine tabulates LOGISTIC and TANH once at
 * init with the reference kernels above (so the table is bit-exact by construction) and runs
 * the op as one lookup per element. Tables hold HUSH_KERN_LUT_SIZE entries indexed by the input
 * byte read as uint8_t. */
#define HUSH_KERN_LUT_SIZE 256
void hush_kern_logistic_table(const hush_kern_act *p, int8_t *table);
void hush_kern_tanh_table(const hush_kern_act *p, int8_t *table);
void hush_kern_lut_s8(const int8_t *table, const int8_t *in, int8_t *out, int32_t n);

typedef struct {
    int32_t input1_offset;
    int32_t input2_offset;
    int32_t output_offset;
    int32_t left_shift; /* 20 for int8: headroom before the rescale */
    int32_t input1_multiplier, input1_shift;
    int32_t input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} hush_kern_addsub;

/* ADD and SUB: TFLM computes the double-precision scale ratios for ADD and single-precision
 * ones for SUB, which can change a multiplier by one LSB; `is_sub` selects which. */
void hush_kern_addsub_prepare(hush_kern_addsub *p, float scale1, int32_t zp1, float scale2,
                              int32_t zp2, float out_scale, int32_t out_zp, int is_sub);
void hush_kern_add_s8(const hush_kern_addsub *p, const int8_t *a, const int8_t *b, int8_t *out,
                      int32_t n);
void hush_kern_sub_s8(const hush_kern_addsub *p, const int8_t *a, const int8_t *b, int8_t *out,
                      int32_t n);

typedef struct {
    int32_t input1_offset;
    int32_t input2_offset;
    int32_t output_offset;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} hush_kern_mul;

void hush_kern_mul_s8(const hush_kern_mul *p, const int8_t *a, const int8_t *b, int8_t *out,
                      int32_t n);

typedef struct {
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t multiplier, shift;
} hush_kern_requant;

/* QUANTIZE int8 -> int8 with a different scale/zero point. */
void hush_kern_requant_s8(const hush_kern_requant *p, const int8_t *in, int8_t *out, int32_t n);

/* TFLM's CalculateActivationRangeQuantized for int8 outputs. Returns 0 on success, -1 for a
 * fused activation TFLM does not support on quantized outputs (TANH, SIGN_BIT, ...). */
int hush_kern_activation_range(int32_t activation, float scale, int32_t zero_point, int32_t *lo,
                               int32_t *hi);

#ifdef __cplusplus
}
#endif

#endif /* HUSH_KERNELS_H */
