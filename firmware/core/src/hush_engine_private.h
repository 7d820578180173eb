/* The engine's internal state and its operator registry; private to the core (hush_engine.c,
 * hush_engine_plan.c, hush_op_*.c).
 *
 * Every operator the engine runs is one entry of hush_op_registry (hush_op_registry.c), as
 * TensorFlow Lite Micro's op resolver lists its kernels' registrations: its TFLite builtin
 * code and name, a prepare step (checks the tensors, fills the op's parameters, reserves its
 * persistent arena bytes), an optional init step (fills those bytes once the arena is placed)
 * and an invoke step. Adding an operator is one new registration and one table row; nothing
 * else switches on the operator set. The host tools read the table through
 * hush_engine_op_count() / hush_engine_op_code() / hush_engine_op_name().
 */
#ifndef HUSH_ENGINE_PRIVATE_H
#define HUSH_ENGINE_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include "hush_engine.h"
#include "hush_kernels.h"
#include "hush_tflite.h"

#define ENGINE_ALIGN 8u /* int32 row constants and int16 scratch; also 4-byte FC input loads */

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
    int16_t alias; /* a view's output (RESHAPE): the tensor whose bytes it shares, else -1 */
    uint8_t is_const;
    size_t offset; /* planned offset inside the activation area */
} eng_tensor;

typedef struct {
    int32_t outer;                        /* product of the dims before the last */
    int32_t inner[HUSH_TFLITE_MAX_OP_IO]; /* last dim of each input */
} eng_concat;

typedef struct eng_op eng_op;

/* The output is a view of input 0 (same bytes, other shape): only input 0 is planned, and the
 * planner lets the output share its storage. */
#define HUSH_OP_VIEW 1u

typedef struct {
    int32_t code;     /* TFLite BuiltinOperator (schema.fbs) */
    const char *name; /* its schema name, as the converter and the host tools spell it */
    /* Checks the op's tensors and options, fills op->p, adds its persistent bytes to *persist
     * (recording the offset in op->persist). Returns HUSH_OK or why the op cannot run. */
    hush_status_t (*prepare)(hush_engine *e, eng_op *op, const hush_tflite_op *fo, size_t *persist);
    /* Fills the op's persistent bytes at base + op->persist; NULL when it has none. */
    void (*init)(hush_engine *e, eng_op *op, uint8_t *base);
    void (*invoke)(hush_engine *e, const eng_op *op);
    uint32_t flags; /* HUSH_OP_* */
} hush_op_registration;

extern const hush_op_registration *const hush_op_registry[];
extern const int hush_op_registry_size;

/* The registration of a builtin code, NULL when the engine has none. */
const hush_op_registration *hush_op_find(int32_t code);

struct eng_op {
    const hush_op_registration *reg;
    int32_t n_in;
    int16_t in[HUSH_TFLITE_MAX_OP_IO];
    int16_t out;
    int32_t fc_bias; /* FC: bias tensor or -1 */
    size_t persist;  /* FC, LOGISTIC, TANH: offset of their constants in the persistent area */
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
};

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

static inline size_t eng_align_up(size_t n)
{
    return (n + ENGINE_ALIGN - 1u) & ~(size_t)(ENGINE_ALIGN - 1u);
}

static inline const eng_tensor *eng_in(const hush_engine *e, const eng_op *op, int i)
{
    return &e->tensors[op->in[i]];
}

static inline const eng_tensor *eng_out(const hush_engine *e, const eng_op *op)
{
    return &e->tensors[op->out];
}

/* A planned (non-constant) tensor of this TFLite type. */
static inline int eng_is_act(const eng_tensor *t, int32_t type)
{
    return !t->is_const && t->type == type;
}

/* Bytes per element of a TensorType the engine stores, 0 for any other. */
int32_t eng_type_bytes(int32_t type);

/* ---- the planner (hush_engine_plan.c) ---- */

/* Widens a tensor's lifetime to include op index `op` (constants are not planned). */
void eng_plan_touch(eng_tensor *t, int16_t op);
/* Lets each view's output share its input's storage (see HUSH_OP_VIEW). */
void eng_plan_alias_views(hush_engine *e);
/* Places every planned tensor by lifetime; returns the activation area's size. */
size_t eng_plan_activations(hush_engine *e);

#endif /* HUSH_ENGINE_PRIVATE_H */
