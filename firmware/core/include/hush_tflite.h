/* A minimal, bounds-checked reader for TFLite flatbuffers (schema version 3).
 *
 * It reads the model bytes in place (typically the exported C array in flash) and never
 * allocates: every accessor checks offsets against the buffer length first, so a truncated or
 * corrupt model yields HUSH_E_MODEL instead of an out-of-bounds read (HUSH_E_SCHEMA for another
 * schema version, HUSH_E_SHAPE beyond the reader's fixed limits). Only the first
 * subgraph is used (hushkit models have one).
 *
 * Strings handed out (tensor names, metadata names) point into the model buffer; the reader
 * has checked that each one is NUL-terminated inside it, so they are safe C strings that live
 * as long as the model bytes.
 */
#ifndef HUSH_TFLITE_H
#define HUSH_TFLITE_H

#include <stddef.h>
#include <stdint.h>

#include "hush_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HUSH_TFLITE_SCHEMA_VERSION 3
#define HUSH_TFLITE_MAX_DIMS       6
#define HUSH_TFLITE_MAX_OP_IO      8 /* inputs (and outputs) per operator */

/* TFLite TensorType values used by the engine (schema.fbs). Operator codes are in the
 * engine's operator registry (hush_op_registry.c). */
enum {
    HUSH_TFLITE_FLOAT32 = 0,
    HUSH_TFLITE_INT32 = 2,
    HUSH_TFLITE_INT16 = 7,
    HUSH_TFLITE_INT8 = 9,
};

typedef struct {
    const uint8_t *buf;
    size_t len;
    uint32_t subgraph; /* table position of subgraphs[0] */
    uint32_t opcodes;  /* vector positions (of the length word), 0 when absent */
    uint32_t buffers;
    uint32_t tensors;
    uint32_t operators;
    uint32_t inputs;
    uint32_t outputs;
    uint32_t metadata;
    uint32_t signatures;
    uint32_t num_opcodes, num_buffers, num_tensors, num_operators;
    uint32_t num_inputs, num_outputs, num_metadata, num_signatures;
} hush_tflite_model;

typedef struct {
    const char *name; /* "" when unnamed */
    int32_t type;     /* TensorType */
    int32_t rank;
    int32_t dims[HUSH_TFLITE_MAX_DIMS];
    int32_t num_elements;
    const uint8_t *data; /* constant contents, NULL for activations */
    uint32_t data_len;
    uint32_t num_scales; /* 0: not quantized; > 1: per-channel */
    float scale;         /* scales[0] */
    int32_t zero_point;  /* zero_points[0] */
    int32_t quantized_dimension;
    uint32_t scales; /* vector position, read with hush_tflite_scale() */
} hush_tflite_tensor;

typedef struct {
    int32_t builtin_code; /* max(deprecated_builtin_code, builtin_code), as TFLite resolves it */
    int32_t num_inputs;
    int32_t num_outputs;
    int32_t inputs[HUSH_TFLITE_MAX_OP_IO]; /* -1: optional input left out */
    int32_t outputs[HUSH_TFLITE_MAX_OP_IO];
    uint32_t options; /* table position of builtin_options, 0 when absent */
} hush_tflite_op;

/* Checks the header, identifier "TFL3", schema version and the top-level vectors. */
hush_status_t hush_tflite_open(hush_tflite_model *m, const uint8_t *buf, size_t len);

hush_status_t hush_tflite_tensor_get(const hush_tflite_model *m, uint32_t index,
                                     hush_tflite_tensor *t);
/* Per-channel scale i of a tensor (i < t->num_scales, checked by hush_tflite_tensor_get). */
float hush_tflite_scale(const hush_tflite_model *m, const hush_tflite_tensor *t, uint32_t i);

hush_status_t hush_tflite_op_get(const hush_tflite_model *m, uint32_t index, hush_tflite_op *op);

/* Subgraph input/output i -> tensor index, or -1 when out of range or invalid. */
int32_t hush_tflite_input(const hush_tflite_model *m, uint32_t i);
int32_t hush_tflite_output(const hush_tflite_model *m, uint32_t i);

/* Scalar field of a builtin-options table (`field` is the schema field number), or `dflt`
 * when the table or field is absent or out of bounds. */
int32_t hush_tflite_option_int(const hush_tflite_model *m, uint32_t table, int field, int32_t dflt);
int32_t hush_tflite_option_byte(const hush_tflite_model *m, uint32_t table, int field,
                                int32_t dflt);

/* Contents of the metadata entry `name`; 0 when found, -1 otherwise. */
int hush_tflite_metadata(const hush_tflite_model *m, const char *name, const uint8_t **data,
                         uint32_t *len);

/* Name under which signature 0 exposes tensor `tensor` as an input (is_output 0) or output,
 * e.g. "mask" for "StatefulPartitionedCall:0"; NULL when none. */
const char *hush_tflite_signature_name(const hush_tflite_model *m, int is_output, int32_t tensor);

#ifdef __cplusplus
}
#endif

#endif /* HUSH_TFLITE_H */
