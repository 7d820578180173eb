/* int8 TFLite interpreter for the firmware (see hush_engine.h): init (tensors, each op's
 * prepare and init through the operator registry, the arena's layout) and invoke. The
 * operators are in hush_op_*.c, the planner in hush_engine_plan.c. */
#include "hush_engine.h"

#include <stdalign.h>
#include <string.h>

#include "hush_engine_private.h"

size_t hush_engine_get_size(void)
{
    return sizeof(hush_engine);
}

int32_t eng_type_bytes(int32_t type)
{
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

static hush_status_t load_tensors(hush_engine *e)
{
    for (int32_t i = 0; i < e->n_tensors; ++i) {
        hush_tflite_tensor t;
        const hush_status_t st = hush_tflite_tensor_get(&e->model, (uint32_t)i, &t);
        if (st != HUSH_OK) {
            return st;
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
        const int32_t tb = eng_type_bytes(t.type);
        et->bytes = t.num_elements * (tb > 0 ? tb : 1);
        if (t.data != NULL) {
            if (tb == 0 || t.data_len < (uint32_t)et->bytes) {
                return HUSH_E_MODEL; /* constant shorter than its shape says */
            }
            et->is_const = 1;
            et->data = (uint8_t *)(uintptr_t)t.data; /* never written: constants are inputs */
        }
    }
    return HUSH_OK;
}

/* Looks the op up in the registry and runs its prepare (TFLM's Prepare). */
static hush_status_t prepare_op(hush_engine *e, int32_t i, size_t *persist)
{
    hush_tflite_op fo;
    const hush_status_t st = hush_tflite_op_get(&e->model, (uint32_t)i, &fo);
    if (st != HUSH_OK) {
        return st;
    }
    eng_op *op = &e->ops[i];
    e->bad_op = fo.builtin_code;
    op->reg = hush_op_find(fo.builtin_code);
    if (op->reg == NULL) {
        return HUSH_E_OP;
    }
    if (fo.num_outputs != 1 || fo.outputs[0] < 0) {
        return HUSH_E_SHAPE;
    }
    op->n_in = fo.num_inputs;
    for (int32_t k = 0; k < fo.num_inputs; ++k) {
        op->in[k] = (int16_t)fo.inputs[k];
    }
    op->out = (int16_t)fo.outputs[0];
    const hush_status_t s = op->reg->prepare(e, op, &fo, persist);
    if (s == HUSH_OK) {
        e->bad_op = -1;
        /* A view's other operands (RESHAPE's shape) are read at conversion time only; they
         * stay unplanned. */
        const int32_t used = (op->reg->flags & HUSH_OP_VIEW) ? 1 : op->n_in;
        for (int32_t k = 0; k < used; ++k) {
            if (op->in[k] >= 0) {
                eng_plan_touch(&e->tensors[op->in[k]], (int16_t)i);
            }
        }
        eng_plan_touch(&e->tensors[op->out], (int16_t)i);
    }
    return s;
}

/* Graph inputs and outputs live across the whole invoke (and between invokes). */
static hush_status_t pin_graph_io(hush_engine *e)
{
    const hush_tflite_model *m = &e->model;
    const int16_t last_op = (int16_t)(e->n_ops > 0 ? e->n_ops - 1 : 0);
    for (int32_t k = 0; k < e->n_inputs + e->n_outputs; ++k) {
        const int32_t t = k < e->n_inputs ? hush_tflite_input(m, (uint32_t)k)
                                          : hush_tflite_output(m, (uint32_t)(k - e->n_inputs));
        if (t < 0) {
            return HUSH_E_MODEL;
        }
        eng_tensor *et = &e->tensors[t];
        if (et->is_const || et->type != HUSH_TFLITE_INT8) {
            return HUSH_E_TYPE;
        }
        et->first = 0;
        et->last = last_op;
        if (k < e->n_inputs) {
            e->inputs[k] = (int16_t)t;
        } else {
            e->outputs[k - e->n_inputs] = (int16_t)t;
        }
    }
    return HUSH_OK;
}

hush_status_t hush_engine_init(hush_engine *e, size_t e_size, const uint8_t *model,
                               size_t model_len, uint8_t *arena, size_t arena_len)
{
    if (e == NULL || e_size < sizeof *e || (uintptr_t)e % alignof(hush_engine) != 0) {
        return HUSH_E_MEMORY;
    }
    memset(e, 0, sizeof *e);
    e->bad_op = -1;
    hush_status_t s = hush_tflite_open(&e->model, model, model_len);
    if (s != HUSH_OK) {
        return s;
    }
    const hush_tflite_model *m = &e->model;
    if (m->num_tensors > HUSH_ENGINE_MAX_TENSORS || m->num_operators > HUSH_ENGINE_MAX_OPS ||
        m->num_inputs > HUSH_ENGINE_MAX_IO || m->num_outputs > HUSH_ENGINE_MAX_IO) {
        return HUSH_E_SHAPE;
    }
    e->n_tensors = (int32_t)m->num_tensors;
    e->n_ops = (int32_t)m->num_operators;
    e->n_inputs = (int32_t)m->num_inputs;
    e->n_outputs = (int32_t)m->num_outputs;
    s = load_tensors(e);
    if (s != HUSH_OK) {
        return s;
    }
    size_t persist = 0;
    for (int32_t i = 0; i < e->n_ops; ++i) {
        s = prepare_op(e, i, &persist);
        if (s != HUSH_OK) {
            return s;
        }
    }
    s = pin_graph_io(e);
    if (s != HUSH_OK) {
        return s;
    }
    eng_plan_alias_views(e);
    e->persistent = eng_align_up(persist) + e->fc_scratch;
    const size_t activations = eng_plan_activations(e);
    const size_t pad =
        (size_t)((ENGINE_ALIGN - ((uintptr_t)arena & (ENGINE_ALIGN - 1u))) & (ENGINE_ALIGN - 1u));
    /* Reported without the base-pointer padding, so the figure is the same on every target. */
    e->arena_used = e->persistent + activations;
    if (arena == NULL || arena_len < pad || arena_len - pad < e->arena_used) {
        return HUSH_E_ARENA;
    }
    uint8_t *base = arena + pad;
    for (int32_t i = 0; i < e->n_ops; ++i) {
        eng_op *op = &e->ops[i];
        if (op->reg->init != NULL) {
            op->reg->init(e, op, base);
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
    /* A hostile graph can name a tensor that no op produces and no input feeds: the planner
     * gives it no storage. Refused here, so no kernel ever reads or writes through NULL. */
    for (int32_t i = 0; i < e->n_ops; ++i) {
        const eng_op *op = &e->ops[i];
        for (int32_t k = 0; k < op->n_in; ++k) {
            if (op->in[k] >= 0 && e->tensors[op->in[k]].data == NULL) {
                return HUSH_E_SHAPE;
            }
        }
        if (e->tensors[op->out].data == NULL) {
            return HUSH_E_SHAPE;
        }
    }
    memset(act_base, 0, activations);
    e->ready = 1;
    return HUSH_OK;
}

size_t hush_engine_arena_used(const hush_engine *e)
{
    return e->arena_used;
}

size_t hush_engine_arena_persistent(const hush_engine *e)
{
    return e->persistent;
}

int hush_engine_num_inputs(const hush_engine *e)
{
    return e->ready ? e->n_inputs : 0;
}

int hush_engine_num_outputs(const hush_engine *e)
{
    return e->ready ? e->n_outputs : 0;
}

static int8_t *io_tensor(hush_engine *e, int16_t index, hush_tensor_info *info)
{
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

int8_t *hush_engine_input(hush_engine *e, int i, hush_tensor_info *info)
{
    if (!e->ready || i < 0 || i >= e->n_inputs) {
        return NULL;
    }
    return io_tensor(e, e->inputs[i], info);
}

int8_t *hush_engine_output(hush_engine *e, int i, hush_tensor_info *info)
{
    if (!e->ready || i < 0 || i >= e->n_outputs) {
        return NULL;
    }
    return io_tensor(e, e->outputs[i], info);
}

static int find_io(const hush_engine *e, const int16_t *list, int n, int is_output,
                   const char *name)
{
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

int hush_engine_find_input(const hush_engine *e, const char *name)
{
    return find_io(e, e->inputs, e->n_inputs, 0, name);
}

int hush_engine_find_output(const hush_engine *e, const char *name)
{
    return find_io(e, e->outputs, e->n_outputs, 1, name);
}

hush_status_t hush_engine_invoke(hush_engine *e)
{
    if (!e->ready) {
        return HUSH_E_MODEL;
    }
    e->widened_tensor = -1;
    for (int32_t i = 0; i < e->n_ops; ++i) {
        const eng_op *op = &e->ops[i];
        op->reg->invoke(e, op);
    }
    return HUSH_OK;
}

int hush_engine_unsupported_op(const hush_engine *e)
{
    return e->bad_op;
}
