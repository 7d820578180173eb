/* FULLY_CONNECTED: int8 input and weights (per-tensor or per-channel), optional int32 bias,
 * fused NONE/RELU/RELU_N1_TO_1/RELU6 (TFLM's fully_connected Prepare and Eval). */
#include <string.h>

#include "hush_engine_private.h"

/* Builtin-options field numbers (schema.fbs FullyConnectedOptions). */
enum { FC_OPT_ACTIVATION = 0, FC_OPT_WEIGHTS_FORMAT = 1 };

static hush_status_t fc_prepare(hush_engine *e, eng_op *op, const hush_tflite_op *fo,
                                size_t *persist)
{
    if (op->n_in < 2 || op->in[0] < 0 || op->in[1] < 0) {
        return HUSH_E_SHAPE;
    }
    const eng_tensor *in = eng_in(e, op, 0);
    const eng_tensor *w = eng_in(e, op, 1);
    const eng_tensor *out = eng_out(e, op);
    hush_tflite_tensor wt;
    if (hush_tflite_tensor_get(&e->model, (uint32_t)op->in[1], &wt) != HUSH_OK) {
        return HUSH_E_MODEL;
    }
    if (!eng_is_act(in, HUSH_TFLITE_INT8) || !eng_is_act(out, HUSH_TFLITE_INT8) || !w->is_const ||
        w->type != HUSH_TFLITE_INT8 || wt.num_scales == 0 || wt.zero_point != 0 ||
        hush_tflite_option_byte(&e->model, fo->options, FC_OPT_WEIGHTS_FORMAT, 0) != 0) {
        return HUSH_E_TYPE;
    }
    if (wt.rank != 2 || wt.dims[1] <= 0 || in->num_elements % wt.dims[1] != 0) {
        return HUSH_E_SHAPE;
    }
    hush_kern_fc *p = &op->p.fc;
    p->rows = wt.dims[0];
    p->depth = wt.dims[1];
    p->batches = in->num_elements / p->depth;
    if (out->num_elements != p->batches * p->rows) {
        return HUSH_E_SHAPE;
    }
    op->fc_bias = (op->n_in > 2) ? op->in[2] : -1;
    if (op->fc_bias >= 0) {
        const eng_tensor *b = &e->tensors[op->fc_bias];
        if (!b->is_const || b->type != HUSH_TFLITE_INT32) {
            return HUSH_E_TYPE;
        }
        if (b->num_elements != p->rows) {
            return HUSH_E_SHAPE;
        }
    }
    p->per_channel = wt.num_scales > 1;
    if (p->per_channel && (wt.num_scales != (uint32_t)p->rows || wt.quantized_dimension != 0)) {
        return HUSH_E_SHAPE;
    }
    p->weights = (const int8_t *)w->data;
    p->output_offset = out->zero_point;
    const int32_t act = hush_tflite_option_byte(&e->model, fo->options, FC_OPT_ACTIVATION, 0);
    if (hush_kern_activation_range(act, out->scale, out->zero_point, &p->act_min, &p->act_max)) {
        return HUSH_E_OP;
    }
    /* Persistent layout: row_const[rows], multiplier[n], shift[n]. */
    const size_t n_mult = p->per_channel ? (size_t)p->rows : 1u;
    op->persist = *persist;
    *persist += eng_align_up((size_t)p->rows * 4u) + 2u * eng_align_up(n_mult * 4u);
    const size_t scratch = eng_align_up(hush_kern_fc_scratch_bytes(p->depth, p->rows));
    e->fc_scratch = scratch > e->fc_scratch ? scratch : e->fc_scratch;
    return HUSH_OK;
}

/* Fills the folded bias rows and multipliers once the arena is known to be big enough. */
static void fc_init(hush_engine *e, eng_op *op, uint8_t *base)
{
    hush_kern_fc *p = &op->p.fc;
    const eng_tensor *in = eng_in(e, op, 0);
    const eng_tensor *out = eng_out(e, op);
    hush_tflite_tensor wt;
    (void)hush_tflite_tensor_get(&e->model, (uint32_t)op->in[1], &wt); /* checked in prepare */
    const size_t n_mult = p->per_channel ? (size_t)p->rows : 1u;
    uint8_t *q = base + op->persist;
    int32_t *row_const = (int32_t *)(void *)q;
    q += eng_align_up((size_t)p->rows * 4u);
    int32_t *mult = (int32_t *)(void *)q;
    q += eng_align_up(n_mult * 4u);
    int32_t *shift = (int32_t *)(void *)q;
    op->scratch = (int16_t *)(void *)(base + e->persistent - e->fc_scratch);
    const int32_t input_offset = -in->zero_point;
    for (int32_t r = 0; r < p->rows; ++r) {
        int32_t bias = 0;
        if (op->fc_bias >= 0) {
            memcpy(&bias, e->tensors[op->fc_bias].data + 4u * (size_t)r, sizeof bias);
        }
        const int8_t *row = p->weights + (size_t)r * (size_t)p->depth;
        /* In wrapping int32 arithmetic, as TFLM's int32 computes it for any valid model;
         * a hostile zero point or bias must not be undefined behaviour. */
        row_const[r] = (int32_t)((uint32_t)bias + (uint32_t)input_offset *
                                                      (uint32_t)hush_kern_row_sum(row, p->depth));
    }
    for (size_t i = 0; i < n_mult; ++i) {
        double real;
        if (p->per_channel) {
            /* TFLM per-channel: double(input) * double(filter[i]) / double(output) */
            real = (double)in->scale * (double)hush_tflite_scale(&e->model, &wt, (uint32_t)i) /
                   (double)out->scale;
        } else {
            /* TFLM per-tensor: the scale product is taken in float first */
            real = (double)(in->scale * wt.scale) / (double)out->scale;
        }
        int s = 0;
        hush_kern_quantize_multiplier(real, &mult[i], &s);
        shift[i] = s;
    }
    p->row_const = row_const;
    p->multiplier = mult;
    p->shift = shift;
    hush_kern_fc_plan_requant(p);
}

static void fc_invoke(hush_engine *e, const eng_op *op)
{
    const int8_t *x = (const int8_t *)eng_in(e, op, 0)->data;
    int8_t *y = (int8_t *)eng_out(e, op)->data;
    hush_kern_fc_s8(&op->p.fc, x, y, op->scratch, op->in[0] == e->widened_tensor);
    e->widened_tensor = op->p.fc.batches == 1 ? op->in[0] : -1;
}

const hush_op_registration hush_op_fully_connected = {
    9, "FULLY_CONNECTED", fc_prepare, fc_init, fc_invoke, 0,
};
