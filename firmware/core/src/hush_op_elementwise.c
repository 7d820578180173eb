/* Elementwise int8 operators: LOGISTIC and TANH (one 256-entry table each, filled at init by
 * the reference kernels), ADD, SUB, MUL (both inputs with the same number of elements, no
 * broadcasting) and QUANTIZE (int8 -> int8 requantize), as TFLM's Prepare and Eval run them. */
#include "hush_engine_private.h"

/* Builtin-options field number of AddOptions, SubOptions and MulOptions. */
enum { ARITH_OPT_ACTIVATION = 0 };

/* ---- LOGISTIC, TANH ---- */

static hush_status_t act_prepare(hush_engine *e, eng_op *op, size_t *persist)
{
    if (op->n_in < 1 || op->in[0] < 0) {
        return HUSH_E_SHAPE;
    }
    const eng_tensor *in = eng_in(e, op, 0);
    const eng_tensor *out = eng_out(e, op);
    if (!eng_is_act(in, HUSH_TFLITE_INT8) || !eng_is_act(out, HUSH_TFLITE_INT8)) {
        return HUSH_E_TYPE;
    }
    if (in->num_elements != out->num_elements) {
        return HUSH_E_SHAPE;
    }
    hush_kern_act_prepare(&op->p.act, in->scale, in->zero_point);
    op->persist = *persist;
    *persist += eng_align_up(HUSH_KERN_LUT_SIZE);
    return HUSH_OK;
}

static hush_status_t logistic_prepare(hush_engine *e, eng_op *op, const hush_tflite_op *fo,
                                      size_t *persist)
{
    (void)fo;
    const hush_status_t s = act_prepare(e, op, persist);
    if (s == HUSH_OK && eng_out(e, op)->zero_point != -128) {
        return HUSH_E_TYPE; /* TFLM requires the 1/256, -128 output quantization */
    }
    return s;
}

static hush_status_t tanh_prepare(hush_engine *e, eng_op *op, const hush_tflite_op *fo,
                                  size_t *persist)
{
    (void)fo;
    return act_prepare(e, op, persist);
}

static void logistic_init(hush_engine *e, eng_op *op, uint8_t *base)
{
    (void)e;
    op->lut = (int8_t *)(base + op->persist);
    hush_kern_logistic_table(&op->p.act, op->lut);
}

static void tanh_init(hush_engine *e, eng_op *op, uint8_t *base)
{
    (void)e;
    op->lut = (int8_t *)(base + op->persist);
    hush_kern_tanh_table(&op->p.act, op->lut);
}

static void lut_invoke(hush_engine *e, const eng_op *op)
{
    const eng_tensor *out = eng_out(e, op);
    hush_kern_lut_s8(op->lut, (const int8_t *)eng_in(e, op, 0)->data, (int8_t *)out->data,
                     out->num_elements);
}

/* ---- ADD, SUB, MUL ---- */

/* Checks two int8 inputs of the output's size; the fused activation's clamp in lo/hi. */
static hush_status_t binary_check(hush_engine *e, eng_op *op, const hush_tflite_op *fo, int32_t *lo,
                                  int32_t *hi)
{
    if (op->n_in != 2 || op->in[0] < 0 || op->in[1] < 0) {
        return HUSH_E_SHAPE;
    }
    const eng_tensor *a = eng_in(e, op, 0);
    const eng_tensor *b = eng_in(e, op, 1);
    const eng_tensor *out = eng_out(e, op);
    if (a->type != HUSH_TFLITE_INT8 || b->type != HUSH_TFLITE_INT8 ||
        !eng_is_act(out, HUSH_TFLITE_INT8)) {
        return HUSH_E_TYPE;
    }
    /* Only equal element counts: [1,H] op [H] is elementwise, real broadcasting is not done. */
    if (a->num_elements != b->num_elements || a->num_elements != out->num_elements) {
        return HUSH_E_SHAPE;
    }
    const int32_t act = hush_tflite_option_byte(&e->model, fo->options, ARITH_OPT_ACTIVATION, 0);
    if (hush_kern_activation_range(act, out->scale, out->zero_point, lo, hi)) {
        return HUSH_E_OP;
    }
    return HUSH_OK;
}

static hush_status_t addsub_prepare(hush_engine *e, eng_op *op, const hush_tflite_op *fo,
                                    int is_sub)
{
    int32_t lo = 0;
    int32_t hi = 0;
    const hush_status_t s = binary_check(e, op, fo, &lo, &hi);
    if (s != HUSH_OK) {
        return s;
    }
    const eng_tensor *a = eng_in(e, op, 0);
    const eng_tensor *b = eng_in(e, op, 1);
    const eng_tensor *out = eng_out(e, op);
    hush_kern_addsub_prepare(&op->p.addsub, a->scale, a->zero_point, b->scale, b->zero_point,
                             out->scale, out->zero_point, is_sub);
    op->p.addsub.act_min = lo;
    op->p.addsub.act_max = hi;
    return HUSH_OK;
}

static hush_status_t add_prepare(hush_engine *e, eng_op *op, const hush_tflite_op *fo,
                                 size_t *persist)
{
    (void)persist;
    return addsub_prepare(e, op, fo, 0);
}

static hush_status_t sub_prepare(hush_engine *e, eng_op *op, const hush_tflite_op *fo,
                                 size_t *persist)
{
    (void)persist;
    return addsub_prepare(e, op, fo, 1);
}

static hush_status_t mul_prepare(hush_engine *e, eng_op *op, const hush_tflite_op *fo,
                                 size_t *persist)
{
    (void)persist;
    int32_t lo = 0;
    int32_t hi = 0;
    const hush_status_t s = binary_check(e, op, fo, &lo, &hi);
    if (s != HUSH_OK) {
        return s;
    }
    const eng_tensor *a = eng_in(e, op, 0);
    const eng_tensor *b = eng_in(e, op, 1);
    const eng_tensor *out = eng_out(e, op);
    hush_kern_mul *p = &op->p.mul;
    p->input1_offset = -a->zero_point;
    p->input2_offset = -b->zero_point;
    p->output_offset = out->zero_point;
    int shift = 0;
    hush_kern_quantize_multiplier((double)a->scale * (double)b->scale / (double)out->scale,
                                  &p->output_multiplier, &shift);
    p->output_shift = shift;
    p->act_min = lo;
    p->act_max = hi;
    return HUSH_OK;
}

static void add_invoke(hush_engine *e, const eng_op *op)
{
    const eng_tensor *out = eng_out(e, op);
    hush_kern_add_s8(&op->p.addsub, (const int8_t *)eng_in(e, op, 0)->data,
                     (const int8_t *)eng_in(e, op, 1)->data, (int8_t *)out->data,
                     out->num_elements);
}

static void sub_invoke(hush_engine *e, const eng_op *op)
{
    const eng_tensor *out = eng_out(e, op);
    hush_kern_sub_s8(&op->p.addsub, (const int8_t *)eng_in(e, op, 0)->data,
                     (const int8_t *)eng_in(e, op, 1)->data, (int8_t *)out->data,
                     out->num_elements);
}

static void mul_invoke(hush_engine *e, const eng_op *op)
{
    const eng_tensor *out = eng_out(e, op);
    hush_kern_mul_s8(&op->p.mul, (const int8_t *)eng_in(e, op, 0)->data,
                     (const int8_t *)eng_in(e, op, 1)->data, (int8_t *)out->data,
                     out->num_elements);
}

/* ---- QUANTIZE ---- */

static hush_status_t quantize_prepare(hush_engine *e, eng_op *op, const hush_tflite_op *fo,
                                      size_t *persist)
{
    (void)fo;
    (void)persist;
    if (op->n_in < 1 || op->in[0] < 0) {
        return HUSH_E_SHAPE;
    }
    const eng_tensor *in = eng_in(e, op, 0);
    const eng_tensor *out = eng_out(e, op);
    if (in->type != HUSH_TFLITE_INT8 || !eng_is_act(out, HUSH_TFLITE_INT8)) {
        return HUSH_E_TYPE; /* float <-> int8 boundaries are not part of the model */
    }
    if (in->num_elements != out->num_elements) {
        return HUSH_E_SHAPE;
    }
    hush_kern_requant *p = &op->p.requant;
    p->input_zero_point = in->zero_point;
    p->output_zero_point = out->zero_point;
    int shift = 0;
    hush_kern_quantize_multiplier((double)in->scale / (double)out->scale, &p->multiplier, &shift);
    p->shift = shift;
    return HUSH_OK;
}

static void quantize_invoke(hush_engine *e, const eng_op *op)
{
    const eng_tensor *out = eng_out(e, op);
    hush_kern_requant_s8(&op->p.requant, (const int8_t *)eng_in(e, op, 0)->data,
                         (int8_t *)out->data, out->num_elements);
}

/* TFLite BuiltinOperator codes (schema.fbs). */
const hush_op_registration hush_op_logistic = {
    14, "LOGISTIC", logistic_prepare, logistic_init, lut_invoke, 0,
};
const hush_op_registration hush_op_tanh = {
    28, "TANH", tanh_prepare, tanh_init, lut_invoke, 0,
};
const hush_op_registration hush_op_add = {0, "ADD", add_prepare, NULL, add_invoke, 0};
const hush_op_registration hush_op_sub = {41, "SUB", sub_prepare, NULL, sub_invoke, 0};
const hush_op_registration hush_op_mul = {18, "MUL", mul_prepare, NULL, mul_invoke, 0};
const hush_op_registration hush_op_quantize = {
    114, "QUANTIZE", quantize_prepare, NULL, quantize_invoke, 0,
};
