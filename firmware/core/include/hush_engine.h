/* hush_engine: int8 inference of a TFLite flatbuffer, bit-exact with TensorFlow Lite Micro.
 *
 * Operators: those of the registry in hush_op_registry.c (hush_engine_op_count/_code/_name list
 * them). Today (int8 activations, int8 weights, int32 bias): FULLY_CONNECTED
 * (per-tensor or per-channel weights, fused NONE/RELU/RELU_N1_TO_1/RELU6), LOGISTIC, TANH,
 * ADD, SUB, MUL (both inputs with the same number of elements, e.g. [1,H] and [H]; no other
 * broadcasting), RESHAPE, QUANTIZE (int8 -> int8 requantize) and CONCATENATION (along the
 * last axis, all inputs quantized like the output, as the converter emits it).
 *
 * Memory: the engine state is a fixed-size struct (hush_engine_get_size() bytes, aligned for a
 * pointer) owned by the caller; it holds at most HUSH_ENGINE_MAX_TENSORS tensors and HUSH_ENGINE_MAX_OPS operators.
 * Weights and biases are read in place from the model bytes, which must stay valid and
 * unchanged for the engine's lifetime (4-byte aligned; the exported array is 16-byte aligned).
 * The arena (caller-owned, any alignment) receives per-op constants (folded bias rows,
 * per-channel multipliers, a 256-byte lookup table per LOGISTIC and TANH, one FC scratch for
 * the widened input and row accumulators, shared by all FC ops as they run one at a time) and
 * all activation tensors (a RESHAPE output shares its input's bytes), planned at init by
 * lifetime with first-fit; hush_engine_arena_used() reports the bytes really used. Graph
 * inputs and outputs are never shared with another tensor: the caller writes inputs before
 * hush_engine_invoke() and reads outputs after it, and they keep their contents between
 * invokes. No malloc; nothing is allocated after init.
 */
#ifndef HUSH_ENGINE_H
#define HUSH_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "hush_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HUSH_ENGINE_MAX_TENSORS 96 /* shipped model: 43; two GRUs behind two convs: 86 */
#define HUSH_ENGINE_MAX_OPS     64
#define HUSH_ENGINE_MAX_IO      8 /* graph inputs, and graph outputs */

typedef struct {
    const char *name; /* tensor name in the model */
    int32_t num_elements;
    float scale;
    int32_t zero_point;
    int32_t type; /* TFLite TensorType value (HUSH_TFLITE_INT8 for int8) */
} hush_tensor_info;

typedef struct hush_engine hush_engine; /* opaque */

size_t hush_engine_get_size(void);

/* Validates the model, precomputes the quantization parameters and plans the arena.
 * `e` points to `e_size` bytes: HUSH_E_MEMORY (and nothing written) when that is less than
 * hush_engine_get_size() or `e` is not aligned for a pointer. */
hush_status_t hush_engine_init(hush_engine *e, size_t e_size, const uint8_t *model,
                               size_t model_len, uint8_t *arena, size_t arena_len);

/* Bytes of the arena really used (constants + planned activations), alignment padding incl. */
size_t hush_engine_arena_used(const hush_engine *e);
/* The part of arena_used holding per-op constants and scratch rather than tensors. */
size_t hush_engine_arena_persistent(const hush_engine *e);

int hush_engine_num_inputs(const hush_engine *e);
int hush_engine_num_outputs(const hush_engine *e);
/* Data of graph input/output i (NULL when out of range); `info` may be NULL. */
int8_t *hush_engine_input(hush_engine *e, int i, hush_tensor_info *info);
int8_t *hush_engine_output(hush_engine *e, int i, hush_tensor_info *info);
/* First input/output whose tensor name, or failing that whose signature name, contains
 * `name` ("features" finds "serving_default_features:0"); -1 if none. */
int hush_engine_find_input(const hush_engine *e, const char *name);
int hush_engine_find_output(const hush_engine *e, const char *name);

hush_status_t hush_engine_invoke(hush_engine *e);

/* The operator registry: how many operators the engine runs, and the TFLite builtin code and
 * schema name ("FULLY_CONNECTED") of entry i (-1 / NULL when out of range). */
int hush_engine_op_count(void);
int32_t hush_engine_op_code(int i);
const char *hush_engine_op_name(int i);

/* Builtin code of the op that made init fail with HUSH_E_OP (or HUSH_E_TYPE/HUSH_E_SHAPE), -1
 * if none. */
int hush_engine_unsupported_op(const hush_engine *e);

#ifdef __cplusplus
}
#endif

#endif /* HUSH_ENGINE_H */
