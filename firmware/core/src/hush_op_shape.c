/* Operators that only move bytes: RESHAPE (a view: the planner lets its output share the
 * input's storage, so it usually costs nothing) and CONCATENATION along the last axis with
 * every input quantized like the output, as the converter emits it. */
#include <string.h>

#include "hush_engine_private.h"

/* Builtin-options field numbers (schema.fbs ConcatenationOptions). */
enum { CONCAT_OPT_AXIS = 0, CONCAT_OPT_ACTIVATION = 1 };

static hush_status_t reshape_prepare(hush_engine *e, eng_op *op, const hush_tflite_op *fo,
                                     size_t *persist)
{
    (void)fo;
    (void)persist;
    if (op->n_in < 1 || op->in[0] < 0) {
        return HUSH_E_SHAPE;
    }
    const eng_tensor *in = eng_in(e, op, 0);
    const eng_tensor *out = eng_out(e, op);
    if (in->type != out->type || out->is_const || eng_type_bytes(in->type) == 0) {
        return HUSH_E_TYPE;
    }
    /* An empty tensor has no storage: refused here, not copied from at run time. */
    return in->bytes == out->bytes && in->bytes > 0 ? HUSH_OK : HUSH_E_SHAPE;
}

/* Copies only when the planner could not alias (a graph input or output on either side). */
static void reshape_invoke(hush_engine *e, const eng_op *op)
{
    const eng_tensor *out = eng_out(e, op);
    const uint8_t *a = eng_in(e, op, 0)->data;
    if ((const void *)a != (const void *)out->data) {
        memmove(out->data, a, (size_t)out->bytes);
    }
}

static hush_status_t concat_prepare(hush_engine *e, eng_op *op, const hush_tflite_op *fo,
                                    size_t *persist)
{
    (void)persist;
    const eng_tensor *out = eng_out(e, op);
    if (!eng_is_act(out, HUSH_TFLITE_INT8)) {
        return HUSH_E_TYPE;
    }
    int32_t axis = hush_tflite_option_int(&e->model, fo->options, CONCAT_OPT_AXIS, 0);
    if (axis < 0) {
        axis += out->rank;
    }
    if (axis != out->rank - 1 ||
        hush_tflite_option_byte(&e->model, fo->options, CONCAT_OPT_ACTIVATION, 0) != 0) {
        return HUSH_E_OP;
    }
    eng_concat *c = &op->p.concat;
    c->outer = out->last_dim > 0 ? out->num_elements / out->last_dim : 0;
    int32_t total = 0;
    for (int32_t i = 0; i < op->n_in; ++i) {
        if (op->in[i] < 0) {
            return HUSH_E_SHAPE;
        }
        const eng_tensor *t = eng_in(e, op, i);
        /* TFLM copies bytes, which is only right when every input shares the output's scale */
        if (t->type != HUSH_TFLITE_INT8 || t->scale != out->scale ||
            t->zero_point != out->zero_point) {
            return HUSH_E_TYPE;
        }
        if (t->rank != out->rank || t->last_dim * c->outer != t->num_elements) {
            return HUSH_E_SHAPE;
        }
        c->inner[i] = t->last_dim;
        total += t->last_dim;
    }
    return total == out->last_dim ? HUSH_OK : HUSH_E_SHAPE;
}

static void concat_invoke(hush_engine *e, const eng_op *op)
{
    const eng_concat *c = &op->p.concat;
    uint8_t *dst = eng_out(e, op)->data;
    for (int32_t o = 0; o < c->outer; ++o) {
        for (int32_t k = 0; k < op->n_in; ++k) {
            const size_t n = (size_t)c->inner[k];
            memcpy(dst, eng_in(e, op, k)->data + (size_t)o * n, n);
            dst += n;
        }
    }
}

/* TFLite BuiltinOperator codes (schema.fbs). */
const hush_op_registration hush_op_reshape = {
    22, "RESHAPE", reshape_prepare, NULL, reshape_invoke, HUSH_OP_VIEW,
};
const hush_op_registration hush_op_concatenation = {
    2, "CONCATENATION", concat_prepare, NULL, concat_invoke, 0,
};
