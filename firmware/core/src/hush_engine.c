/* int8 TFLite interpreter for the firmware (see hush_engine.h). */
#include "hush_engine.h"

#include <string.h>

#include "hush_kernels.h"
#include "hush_tflite.h"

#define ARENA_ALIGN 8u /* int32 row constants and int16 scratch; also 4-byte FC input loads */

/* Builtin-options field numbers (schema.fbs). */
enum { FC_OPT_ACTIVATION = 0, FC_OPT_WEIGHTS_FORMAT = 1 };
enum { ARITH_OPT_ACTIVATION = 0 }; /* AddOptions, SubOptions, MulOptions */
enum { CONCAT_OPT_AXIS = 0, CONCAT_OPT_ACTIVATION = 1 };

typedef struct {
    uint8_t *data; /* arena (activations) or model bytes (constants); NULL until planned */
    const char *name;
    int32_t num_elements;
    int32_t bytes;
    float scale;
    int32_t zero_point;
    int32_t type;
    int32_t rank;
    int32_t last_dim;
    int16_t first; /* lifetime in op indices; first < 0: not an activation */
    int16_t last;
    int16_t alias; /* RESHAPE output: the tensor whose bytes it shares, else -1 */
    uint8_t is_const;
    size_t offset; /* planned offset inside the activation area */
} eng_tensor;

typedef struct {
    int32_t outer;                          /* product of the dims before the last */
    int32_t inner[HUSH_TFLITE_MAX_OP_IO];   /* last dim of each input */
} eng_concat;

typedef struct {
    int32_t code;
    int32_t n_in;
    int16_t in[HUSH_TFLITE_MAX_OP_IO];
    int16_t out;
    int32_t fc_bias;  /* FC: bias tensor or -1 */
    size_t persist;   /* FC, LOGISTIC, TANH: offset of their constants in the persistent area */
    union {
        hush_kern_fc fc;
        hush_kern_act act;
        hush_kern_addsub addsub;
        hush_kern_mul mul;
        hush_kern_requant requant;
        eng_concat concat;
    } p;
    int16_t *scratch;
    int8_t *lut; /* LOGISTIC, TANH: HUSH_KERN_LUT_SIZE outputs, one per input byte */
} eng_op;

struct hush_engine {
    hush_tflite_model model;
    eng_tensor tensors[HUSH_ENGINE_MAX_TENSORS];
    eng_op ops[HUSH_ENGINE_MAX_OPS];
    int32_t n_tensors;
    int32_t n_ops;
    int32_t n_inputs;
    int32_t n_outputs;
    int16_t inputs[HUSH_ENGINE_MAX_IO];
    int16_t outputs[HUSH_ENGINE_MAX_IO];
    size_t persistent;
    size_t fc_scratch; /* bytes of the one FC scratch all FC ops share (they run one by one) */
    /* Tensor whose widened copy the FC scratch holds during an invoke (-1: none). A tensor is
     * written once per invoke, before its readers, so the copy stays valid for all of them. */
    int32_t widened_tensor;
    size_t arena_used;
    int32_t bad_op;
    int32_t ready;
};

const char *hush_engine_status_str(hush_engine_status s) {
    switch (s) {
    case HUSH_ENGINE_OK:
        return "ok";
    case HUSH_ENGINE_E_MODEL:
        return "corrupt or truncated model";
    case HUSH_ENGINE_E_SCHEMA:
        return "unsupported TFLite schema version (need 3)";
    case HUSH_ENGINE_E_OP:
        return "unsupported operator";
    case HUSH_ENGINE_E_TYPE:
        return "unsupported tensor type or quantization";
    case HUSH_ENGINE_E_ARENA:
        return "arena too small";
    case HUSH_ENGINE_E_SHAPE:
        return "tensor shapes do not fit the operator, or model exceeds engine limits";
    }
    return "unknown status";
}

size_t hush_engine_get_size(void) { return sizeof(hush_engine); }

static size_t align_up(size_t n) { return (n + ARENA_ALIGN - 1u) & ~(size_t)(ARENA_ALIGN - 1u); }

static hush_engine_status from_tflite(hush_tflite_status s) {
    switch (s) {
    case HUSH_TFLITE_OK:
        return HUSH_ENGINE_OK;
    case HUSH_TFLITE_E_SCHEMA:
        return HUSH_ENGINE_E_SCHEMA;
    case HUSH_TFLITE_E_LIMIT:
        return HUSH_ENGINE_E_SHAPE;
    case HUSH_TFLITE_E_MALFORMED:
        break;
    }
    return HUSH_ENGINE_E_MODEL;
}

static int32_t type_bytes(int32_t type) {
    switch (type) {
    case HUSH_TFLITE_INT8:
        return 1;
    case HUSH_TFLITE_INT16:
        return 2;
    case HUSH_TFLITE_INT32:
    case HUSH_TFLITE_FLOAT32:
        return 4;
    default:
        return 0;
    }
}

static hush_engine_status load_tensors(hush_engine *e) {
    for (int32_t i = 0; i < e->n_tensors; ++i) {
        hush_tflite_tensor t;
        const hush_tflite_status st = hush_tflite_tensor_get(&e->model, (uint32_t)i, &t);
        if (st != HUSH_TFLITE_OK) {
            return from_tflite(st);
        }
        eng_tensor *et = &e->tensors[i];
        et->name = t.name;
        et->num_elements = t.num_elements;
        et->type = t.type;
        et->scale = t.scale;
        et->zero_point = t.zero_point;
        et->rank = t.rank;
        et->last_dim = t.rank > 0 ? t.dims[t.rank - 1] : 1;
        et->first = -1;
        et->last = -1;
        et->alias = -1;
        const int32_t tb = type_bytes(t.type);
        et->bytes = t.num_elements * (tb > 0 ? tb : 1);
        if (t.data != NULL) {
            if (tb == 0 || t.data_len < (uint32_t)et->bytes) {
                return HUSH_ENGINE_E_MODEL; /* constant shorter than its shape says */
            }
            et->is_const = 1;
            et->data = (uint8_t *)(uintptr_t)t.data; /* never written: constants are inputs */
        }
    }
    return HUSH_ENGINE_OK;
}

static void touch(eng_tensor *t, int16_t op) {
    if (t->is_const) {
        return;
    }
    if (t->first < 0 || op < t->first) {
        t->first = op;
    }
    if (op > t->last) {
        t->last = op;
    }
}

static const eng_tensor *tin(const hush_engine *e, const eng_op *op, int i) {
    return &e->tensors[op->in[i]];
}

static int is_act(const eng_tensor *t, int32_t type) { return !t->is_const && t->type == type; }

/* ---- per-op preparation (TFLM's Prepare) ---- */

static hush_engine_status prep_fc(hush_engine *e, eng_op *op, const hush_tflite_op *fo,
                                  size_t *persist) {
    if (op->n_in < 2 || op->in[0] < 0 || op->in[1] < 0) {
        return HUSH_ENGINE_E_SHAPE;
    }
    const eng_tensor *in = tin(e, op, 0);
    const eng_tensor *w = tin(e, op, 1);
    const eng_tensor *out = &e->tensors[op->out];
    hush_tflite_tensor wt;
    if (hush_tflite_tensor_get(&e->model, (uint32_t)op->in[1], &wt) != HUSH_TFLITE_OK) {
        return HUSH_ENGINE_E_MODEL;
    }
    if (!is_act(in, HUSH_TFLITE_INT8) || !is_act(out, HUSH_TFLITE_INT8) || !w->is_const ||
        w->type != HUSH_TFLITE_INT8 || wt.num_scales == 0 || wt.zero_point != 0 ||
        hush_tflite_option_byte(&e->model, fo->options, FC_OPT_WEIGHTS_FORMAT, 0) != 0) {
        return HUSH_ENGINE_E_TYPE;
    }
    if (wt.rank != 2 || wt.dims[1] <= 0 || in->num_elements % wt.dims[1] != 0) {
        return HUSH_ENGINE_E_SHAPE;
    }
    hush_kern_fc *p = &op->p.fc;
    p->rows = wt.dims[0];
    p->depth = wt.dims[1];
    p->batches = in->num_elements / p->depth;
    if (out->num_elements != p->batches * p->rows) {
        return HUSH_ENGINE_E_SHAPE;
    }
    op->fc_bias = (op->n_in > 2) ? op->in[2] : -1;
    if (op->fc_bias >= 0) {
        const eng_tensor *b = &e->tensors[op->fc_bias];
        if (!b->is_const || b->type != HUSH_TFLITE_INT32) {
            return HUSH_ENGINE_E_TYPE;
        }
        if (b->num_elements != p->rows) {
            return HUSH_ENGINE_E_SHAPE;
        }
    }
    p->per_channel = wt.num_scales > 1;
    if (p->per_channel && (wt.num_scales != (uint32_t)p->rows || wt.quantized_dimension != 0)) {
        return HUSH_ENGINE_E_SHAPE;
    }
    p->weights = (const int8_t *)w->data;
    p->output_offset = out->zero_point;
    const int32_t act = hush_tflite_option_byte(&e->model, fo->options, FC_OPT_ACTIVATION, 0);
    if (hush_kern_activation_range(act, out->scale, out->zero_point, &p->act_min, &p->act_max)) {
        return HUSH_ENGINE_E_OP;
    }
    /* Persistent layout: row_const[rows], multiplier[n], shift[n]. */
    const size_t n_mult = p->per_channel ? (size_t)p->rows : 1u;
    op->persist = *persist;
    *persist += align_up((size_t)p->rows * 4u) + 2u * align_up(n_mult * 4u);
    const size_t scratch = align_up(hush_kern_fc_scratch_bytes(p->depth, p->rows));
    e->fc_scratch = scratch > e->fc_scratch ? scratch : e->fc_scratch;
    return HUSH_ENGINE_OK;
}

/* Fills an FC op's folded bias rows and multipliers once the arena is known to be big enough. */
static void fill_fc(hush_engine *e, eng_op *op, uint8_t *base) {
    hush_kern_fc *p = &op->p.fc;
    const eng_tensor *in = tin(e, op, 0);
    const eng_tensor *out = &e->tensors[op->out];
    hush_tflite_tensor wt;
    (void)hush_tflite_tensor_get(&e->model, (uint32_t)op->in[1], &wt); /* checked in prep_fc */
    const size_t n_mult = p->per_channel ? (size_t)p->rows : 1u;
    uint8_t *q = base + op->persist;
    int32_t *row_const = (int32_t *)(void *)q;
    q += align_up((size_t)p->rows * 4u);
    int32_t *mult = (int32_t *)(void *)q;
    q += align_up(n_mult * 4u);
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

static hush_engine_status prep_act(hush_engine *e, eng_op *op, size_t *persist) {
    if (op->n_in < 1 || op->in[0] < 0) {
        return HUSH_ENGINE_E_SHAPE;
    }
    const eng_tensor *in = tin(e, op, 0);
    const eng_tensor *out = &e->tensors[op->out];
    if (!is_act(in, HUSH_TFLITE_INT8) || !is_act(out, HUSH_TFLITE_INT8)) {
        return HUSH_ENGINE_E_TYPE;
    }
    if (in->num_elements != out->num_elements) {
        return HUSH_ENGINE_E_SHAPE;
    }
    if (op->code == HUSH_TFLITE_OP_LOGISTIC && out->zero_point != -128) {
        return HUSH_ENGINE_E_TYPE; /* TFLM requires the 1/256, -128 output quantization */
    }
    hush_kern_act_prepare(&op->p.act, in->scale, in->zero_point);
    op->persist = *persist;
    *persist += align_up(HUSH_KERN_LUT_SIZE);
    return HUSH_ENGINE_OK;
}

static hush_engine_status prep_binary(hush_engine *e, eng_op *op, const hush_tflite_op *fo) {
    if (op->n_in != 2 || op->in[0] < 0 || op->in[1] < 0) {
        return HUSH_ENGINE_E_SHAPE;
    }
    const eng_tensor *a = tin(e, op, 0);
    const eng_tensor *b = tin(e, op, 1);
    const eng_tensor *out = &e->tensors[op->out];
    if (a->type != HUSH_TFLITE_INT8 || b->type != HUSH_TFLITE_INT8 ||
        !is_act(out, HUSH_TFLITE_INT8)) {
        return HUSH_ENGINE_E_TYPE;
    }
    /* Only equal element counts: [1,H] op [H] is elementwise, real broadcasting is not done. */
    if (a->num_elements != b->num_elements || a->num_elements != out->num_elements) {
        return HUSH_ENGINE_E_SHAPE;
    }
    const int32_t act = hush_tflite_option_byte(&e->model, fo->options, ARITH_OPT_ACTIVATION, 0);
    int32_t lo = 0;
    int32_t hi = 0;
    if (hush_kern_activation_range(act, out->scale, out->zero_point, &lo, &hi)) {
        return HUSH_ENGINE_E_OP;
    }
    if (op->code == HUSH_TFLITE_OP_MUL) {
        hush_kern_mul *p = &op->p.mul;
        p->input1_offset = -a->zero_point;
        p->input2_offset = -b->zero_point;
        p->output_offset = out->zero_point;
        int s = 0;
        hush_kern_quantize_multiplier((double)a->scale * (double)b->scale / (double)out->scale,
                                      &p->output_multiplier, &s);
        p->output_shift = s;
        p->act_min = lo;
        p->act_max = hi;
    } else {
        hush_kern_addsub_prepare(&op->p.addsub, a->scale, a->zero_point, b->scale, b->zero_point,
                                 out->scale, out->zero_point, op->code == HUSH_TFLITE_OP_SUB);
        op->p.addsub.act_min = lo;
        op->p.addsub.act_max = hi;
    }
    return HUSH_ENGINE_OK;
}

static hush_engine_status prep_reshape(hush_engine *e, eng_op *op) {
    if (op->n_in < 1 || op->in[0] < 0) {
        return HUSH_ENGINE_E_SHAPE;
    }
    const eng_tensor *in = tin(e, op, 0);
    const eng_tensor *out = &e->tensors[op->out];
    if (in->type != out->type || out->is_const || type_bytes(in->type) == 0) {
        return HUSH_ENGINE_E_TYPE;
    }
    return in->bytes == out->bytes ? HUSH_ENGINE_OK : HUSH_ENGINE_E_SHAPE;
}

static hush_engine_status prep_quantize(hush_engine *e, eng_op *op) {
    if (op->n_in < 1 || op->in[0] < 0) {
        return HUSH_ENGINE_E_SHAPE;
    }
    const eng_tensor *in = tin(e, op, 0);
    const eng_tensor *out = &e->tensors[op->out];
    if (in->type != HUSH_TFLITE_INT8 || !is_act(out, HUSH_TFLITE_INT8)) {
        return HUSH_ENGINE_E_TYPE; /* float <-> int8 boundaries are not part of the model */
    }
    if (in->num_elements != out->num_elements) {
        return HUSH_ENGINE_E_SHAPE;
    }
    hush_kern_requant *p = &op->p.requant;
    p->input_zero_point = in->zero_point;
    p->output_zero_point = out->zero_point;
    int s = 0;
    hush_kern_quantize_multiplier((double)in->scale / (double)out->scale, &p->multiplier, &s);
    p->shift = s;
    return HUSH_ENGINE_OK;
}

static hush_engine_status prep_concat(hush_engine *e, eng_op *op, const hush_tflite_op *fo) {
    const eng_tensor *out = &e->tensors[op->out];
    if (!is_act(out, HUSH_TFLITE_INT8)) {
        return HUSH_ENGINE_E_TYPE;
    }
    int32_t axis = hush_tflite_option_int(&e->model, fo->options, CONCAT_OPT_AXIS, 0);
    if (axis < 0) {
        axis += out->rank;
    }
    if (axis != out->rank - 1 ||
        hush_tflite_option_byte(&e->model, fo->options, CONCAT_OPT_ACTIVATION, 0) != 0) {
        return HUSH_ENGINE_E_OP;
    }
    eng_concat *c = &op->p.concat;
    c->outer = out->last_dim > 0 ? out->num_elements / out->last_dim : 0;
    int32_t total = 0;
    for (int32_t i = 0; i < op->n_in; ++i) {
        if (op->in[i] < 0) {
            return HUSH_ENGINE_E_SHAPE;
        }
        const eng_tensor *t = tin(e, op, i);
        /* TFLM copies bytes, which is only right when every input shares the output's scale */
        if (t->type != HUSH_TFLITE_INT8 || t->scale != out->scale ||
            t->zero_point != out->zero_point) {
            return HUSH_ENGINE_E_TYPE;
        }
        if (t->rank != out->rank || t->last_dim * c->outer != t->num_elements) {
            return HUSH_ENGINE_E_SHAPE;
        }
        c->inner[i] = t->last_dim;
        total += t->last_dim;
    }
    return total == out->last_dim ? HUSH_ENGINE_OK : HUSH_ENGINE_E_SHAPE;
}

static hush_engine_status prep_op(hush_engine *e, int32_t i, size_t *persist) {
    hush_tflite_op fo;
    const hush_tflite_status st = hush_tflite_op_get(&e->model, (uint32_t)i, &fo);
    if (st != HUSH_TFLITE_OK) {
        return from_tflite(st);
    }
    eng_op *op = &e->ops[i];
    op->code = fo.builtin_code;
    e->bad_op = fo.builtin_code;
    switch (fo.builtin_code) {
    case HUSH_TFLITE_OP_FULLY_CONNECTED:
    case HUSH_TFLITE_OP_LOGISTIC:
    case HUSH_TFLITE_OP_TANH:
    case HUSH_TFLITE_OP_ADD:
    case HUSH_TFLITE_OP_SUB:
    case HUSH_TFLITE_OP_MUL:
    case HUSH_TFLITE_OP_RESHAPE:
    case HUSH_TFLITE_OP_QUANTIZE:
    case HUSH_TFLITE_OP_CONCATENATION:
        break;
    default:
        return HUSH_ENGINE_E_OP;
    }
    if (fo.num_outputs != 1 || fo.outputs[0] < 0) {
        return HUSH_ENGINE_E_SHAPE;
    }
    op->n_in = fo.num_inputs;
    for (int32_t k = 0; k < fo.num_inputs; ++k) {
        op->in[k] = (int16_t)fo.inputs[k];
    }
    op->out = (int16_t)fo.outputs[0];
    hush_engine_status s = HUSH_ENGINE_OK;
    switch (fo.builtin_code) {
    case HUSH_TFLITE_OP_FULLY_CONNECTED:
        s = prep_fc(e, op, &fo, persist);
        break;
    case HUSH_TFLITE_OP_LOGISTIC:
    case HUSH_TFLITE_OP_TANH:
        s = prep_act(e, op, persist);
        break;
    case HUSH_TFLITE_OP_ADD:
    case HUSH_TFLITE_OP_SUB:
    case HUSH_TFLITE_OP_MUL:
        s = prep_binary(e, op, &fo);
        break;
    case HUSH_TFLITE_OP_RESHAPE:
        s = prep_reshape(e, op);
        break;
    case HUSH_TFLITE_OP_QUANTIZE:
        s = prep_quantize(e, op);
        break;
    default:
        s = prep_concat(e, op, &fo);
        break;
    }
    if (s == HUSH_ENGINE_OK) {
        e->bad_op = -1;
        /* A RESHAPE's shape operand is read at conversion time only; it stays unplanned. */
        const int32_t used = op->code == HUSH_TFLITE_OP_RESHAPE ? 1 : op->n_in;
        for (int32_t k = 0; k < used; ++k) {
            if (op->in[k] >= 0) {
                touch(&e->tensors[op->in[k]], (int16_t)i);
            }
        }
        touch(&e->tensors[op->out], (int16_t)i);
    }
    return s;
}

/* Lifetime-based placement: largest tensors first, each at the lowest offset that does not
 * collide with an already placed tensor alive at the same time. Returns the area's size. */
static size_t plan_activations(hush_engine *e) {
    int16_t order[HUSH_ENGINE_MAX_TENSORS];
    int32_t n = 0;
    for (int32_t i = 0; i < e->n_tensors; ++i) {
        if (e->tensors[i].first >= 0) {
            int32_t k = n++;
            while (k > 0 && e->tensors[order[k - 1]].bytes < e->tensors[i].bytes) {
                order[k] = order[k - 1];
                --k;
            }
            order[k] = (int16_t)i;
        }
    }
    size_t high = 0;
    for (int32_t a = 0; a < n; ++a) {
        eng_tensor *t = &e->tensors[order[a]];
        size_t off = 0;
        for (int moved = 1; moved;) {
            moved = 0;
            for (int32_t b = 0; b < a; ++b) {
                const eng_tensor *p = &e->tensors[order[b]];
                const int live = t->first <= p->last && p->first <= t->last;
                const int overlap = off < p->offset + (size_t)p->bytes &&
                                    p->offset < off + (size_t)t->bytes;
                if (live && overlap) {
                    off = align_up(p->offset + (size_t)p->bytes);
                    moved = 1;
                }
            }
        }
        t->offset = off;
        if (off + (size_t)t->bytes > high) {
            high = off + (size_t)t->bytes;
        }
    }
    return align_up(high);
}

static int is_graph_io(const hush_engine *e, int16_t t) {
    for (int32_t k = 0; k < e->n_inputs; ++k) {
        if (e->inputs[k] == t) {
            return 1;
        }
    }
    for (int32_t k = 0; k < e->n_outputs; ++k) {
        if (e->outputs[k] == t) {
            return 1;
        }
    }
    return 0;
}

/* A RESHAPE only renames bytes: its output shares the input's storage, whose lifetime grows to
 * cover both, so the op costs nothing at invoke. Chains of RESHAPEs end on one tensor. Graph
 * inputs and outputs keep storage of their own (the caller owns their contents). */
static void alias_reshapes(hush_engine *e) {
    for (int32_t i = 0; i < e->n_ops; ++i) {
        const eng_op *op = &e->ops[i];
        if (op->code != HUSH_TFLITE_OP_RESHAPE || e->tensors[op->in[0]].is_const ||
            is_graph_io(e, op->in[0]) || is_graph_io(e, op->out)) {
            continue;
        }
        int16_t root = op->in[0];
        while (e->tensors[root].alias >= 0) {
            root = e->tensors[root].alias;
        }
        eng_tensor *r = &e->tensors[root];
        eng_tensor *out = &e->tensors[op->out];
        r->first = out->first < r->first ? out->first : r->first;
        r->last = out->last > r->last ? out->last : r->last;
        out->alias = root;
        out->first = -1; /* not planned on its own */
    }
}

hush_engine_status hush_engine_init(hush_engine *e, const uint8_t *model, size_t model_len,
                                    uint8_t *arena, size_t arena_len) {
    memset(e, 0, sizeof *e);
    e->bad_op = -1;
    hush_tflite_status st = hush_tflite_open(&e->model, model, model_len);
    if (st != HUSH_TFLITE_OK) {
        return from_tflite(st);
    }
    const hush_tflite_model *m = &e->model;
    if (m->num_tensors > HUSH_ENGINE_MAX_TENSORS || m->num_operators > HUSH_ENGINE_MAX_OPS ||
        m->num_inputs > HUSH_ENGINE_MAX_IO || m->num_outputs > HUSH_ENGINE_MAX_IO) {
        return HUSH_ENGINE_E_SHAPE;
    }
    e->n_tensors = (int32_t)m->num_tensors;
    e->n_ops = (int32_t)m->num_operators;
    e->n_inputs = (int32_t)m->num_inputs;
    e->n_outputs = (int32_t)m->num_outputs;
    hush_engine_status s = load_tensors(e);
    if (s != HUSH_ENGINE_OK) {
        return s;
    }
    size_t persist = 0;
    for (int32_t i = 0; i < e->n_ops; ++i) {
        s = prep_op(e, i, &persist);
        if (s != HUSH_ENGINE_OK) {
            return s;
        }
    }
    /* Graph inputs and outputs live across the whole invoke (and between invokes). */
    const int16_t last_op = (int16_t)(e->n_ops > 0 ? e->n_ops - 1 : 0);
    for (int32_t k = 0; k < e->n_inputs + e->n_outputs; ++k) {
        const int32_t t = k < e->n_inputs ? hush_tflite_input(m, (uint32_t)k)
                                          : hush_tflite_output(m, (uint32_t)(k - e->n_inputs));
        if (t < 0) {
            return HUSH_ENGINE_E_MODEL;
        }
        eng_tensor *et = &e->tensors[t];
        if (et->is_const || et->type != HUSH_TFLITE_INT8) {
            return HUSH_ENGINE_E_TYPE;
        }
        et->first = 0;
        et->last = last_op;
        if (k < e->n_inputs) {
            e->inputs[k] = (int16_t)t;
        } else {
            e->outputs[k - e->n_inputs] = (int16_t)t;
        }
    }
    alias_reshapes(e);
    e->persistent = align_up(persist) + e->fc_scratch;
    const size_t activations = plan_activations(e);
    const size_t pad = (size_t)((ARENA_ALIGN - ((uintptr_t)arena & (ARENA_ALIGN - 1u))) &
                                (ARENA_ALIGN - 1u));
    /* Reported without the base-pointer padding, so the figure is the same on every target. */
    e->arena_used = e->persistent + activations;
    if (arena == NULL || arena_len < pad || arena_len - pad < e->arena_used) {
        return HUSH_ENGINE_E_ARENA;
    }
    uint8_t *base = arena + pad;
    for (int32_t i = 0; i < e->n_ops; ++i) {
        eng_op *op = &e->ops[i];
        if (op->code == HUSH_TFLITE_OP_FULLY_CONNECTED) {
            fill_fc(e, op, base);
        } else if (op->code == HUSH_TFLITE_OP_LOGISTIC) {
            op->lut = (int8_t *)(base + op->persist);
            hush_kern_logistic_table(&op->p.act, op->lut);
        } else if (op->code == HUSH_TFLITE_OP_TANH) {
            op->lut = (int8_t *)(base + op->persist);
            hush_kern_tanh_table(&op->p.act, op->lut);
        }
    }
    uint8_t *act_base = base + e->persistent;
    for (int32_t i = 0; i < e->n_tensors; ++i) {
        eng_tensor *t = &e->tensors[i];
        if (t->first >= 0) {
            t->data = act_base + t->offset;
        }
    }
    for (int32_t i = 0; i < e->n_tensors; ++i) {
        eng_tensor *t = &e->tensors[i];
        if (t->alias >= 0) {
            t->data = e->tensors[t->alias].data;
        }
    }
    memset(act_base, 0, activations);
    e->ready = 1;
    return HUSH_ENGINE_OK;
}

size_t hush_engine_arena_used(const hush_engine *e) { return e->arena_used; }

size_t hush_engine_arena_persistent(const hush_engine *e) { return e->persistent; }

int hush_engine_num_inputs(const hush_engine *e) { return e->ready ? e->n_inputs : 0; }

int hush_engine_num_outputs(const hush_engine *e) { return e->ready ? e->n_outputs : 0; }

static int8_t *io_tensor(hush_engine *e, int16_t index, hush_tensor_info *info) {
    eng_tensor *t = &e->tensors[index];
    if (info != NULL) {
        info->name = t->name;
        info->num_elements = t->num_elements;
        info->scale = t->scale;
        info->zero_point = t->zero_point;
        info->type = t->type;
    }
    return (int8_t *)t->data;
}

int8_t *hush_engine_input(hush_engine *e, int i, hush_tensor_info *info) {
    if (!e->ready || i < 0 || i >= e->n_inputs) {
        return NULL;
    }
    return io_tensor(e, e->inputs[i], info);
}

int8_t *hush_engine_output(hush_engine *e, int i, hush_tensor_info *info) {
    if (!e->ready || i < 0 || i >= e->n_outputs) {
        return NULL;
    }
    return io_tensor(e, e->outputs[i], info);
}

static int find_io(const hush_engine *e, const int16_t *list, int n, int is_output,
                   const char *name) {
    if (!e->ready || name == NULL) {
        return -1;
    }
    for (int i = 0; i < n; ++i) {
        if (strstr(e->tensors[list[i]].name, name) != NULL) {
            return i;
        }
    }
    for (int i = 0; i < n; ++i) {
        const char *sig = hush_tflite_signature_name(&e->model, is_output, list[i]);
        if (sig != NULL && strstr(sig, name) != NULL) {
            return i;
        }
    }
    return -1;
}

int hush_engine_find_input(const hush_engine *e, const char *name) {
    return find_io(e, e->inputs, e->n_inputs, 0, name);
}

int hush_engine_find_output(const hush_engine *e, const char *name) {
    return find_io(e, e->outputs, e->n_outputs, 1, name);
}

static void run_concat(const hush_engine *e, const eng_op *op) {
    const eng_concat *c = &op->p.concat;
    uint8_t *dst = e->tensors[op->out].data;
    for (int32_t o = 0; o < c->outer; ++o) {
        for (int32_t k = 0; k < op->n_in; ++k) {
            const size_t n = (size_t)c->inner[k];
            memcpy(dst, tin(e, op, k)->data + (size_t)o * n, n);
            dst += n;
        }
    }
}

hush_engine_status hush_engine_invoke(hush_engine *e) {
    if (!e->ready) {
        return HUSH_ENGINE_E_MODEL;
    }
    e->widened_tensor = -1;
    for (int32_t i = 0; i < e->n_ops; ++i) {
        const eng_op *op = &e->ops[i];
        const eng_tensor *out = &e->tensors[op->out];
        int8_t *y = (int8_t *)out->data;
        const int8_t *a = (const int8_t *)tin(e, op, 0)->data;
        const int32_t n = out->num_elements;
        switch (op->code) {
        case HUSH_TFLITE_OP_FULLY_CONNECTED:
            hush_kern_fc_s8(&op->p.fc, a, y, op->scratch, op->in[0] == e->widened_tensor);
            e->widened_tensor = op->p.fc.batches == 1 ? op->in[0] : -1;
            break;
        case HUSH_TFLITE_OP_LOGISTIC:
        case HUSH_TFLITE_OP_TANH:
            hush_kern_lut_s8(op->lut, a, y, n);
            break;
        case HUSH_TFLITE_OP_ADD:
            hush_kern_add_s8(&op->p.addsub, a, (const int8_t *)tin(e, op, 1)->data, y, n);
            break;
        case HUSH_TFLITE_OP_SUB:
            hush_kern_sub_s8(&op->p.addsub, a, (const int8_t *)tin(e, op, 1)->data, y, n);
            break;
        case HUSH_TFLITE_OP_MUL:
            hush_kern_mul_s8(&op->p.mul, a, (const int8_t *)tin(e, op, 1)->data, y, n);
            break;
        case HUSH_TFLITE_OP_QUANTIZE:
            hush_kern_requant_s8(&op->p.requant, a, y, n);
            break;
        case HUSH_TFLITE_OP_RESHAPE:
            if ((const void *)a != (const void *)y) {
                memmove(y, a, (size_t)out->bytes);
            }
            break;
        default:
            run_concat(e, op);
            break;
        }
    }
    return HUSH_ENGINE_OK;
}

int hush_engine_unsupported_op(const hush_engine *e) { return e->bad_op; }
