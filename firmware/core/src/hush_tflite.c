/* Bounds-checked TFLite flatbuffer reader (see hush_tflite.h).
 *
 * Flatbuffer layout in brief: the file starts with a uoffset (uint32) to the root table, then
 * the 4-byte identifier. A table starts with an int32 soffset back to its vtable; the vtable
 * holds uint16 sizes (vtable, table) and one uint16 offset per field (0 = absent). References
 * to tables, vectors and strings are uint32 offsets relative to where they are stored; vectors
 * and strings start with a uint32 element count. All little-endian, as are the Cortex-M and
 * x86-64 targets this reads on.
 *
 * Position 0 never holds a table (it holds the root offset), so 0 means "absent" below. All
 * position arithmetic is done in 64 bits so a hostile offset cannot wrap around.
 */
#include "hush_tflite.h"

#include <string.h>

/* Schema field numbers (tensorflow/lite/schema/schema.fbs). */
enum { MODEL_VERSION = 0, MODEL_OPCODES = 1, MODEL_SUBGRAPHS = 2, MODEL_BUFFERS = 4 };
enum { MODEL_METADATA = 6, MODEL_SIGNATURES = 7 };
enum { OPCODE_DEPRECATED = 0, OPCODE_BUILTIN = 3 };
enum { SUBGRAPH_TENSORS = 0, SUBGRAPH_INPUTS = 1, SUBGRAPH_OUTPUTS = 2, SUBGRAPH_OPERATORS = 3 };
enum { TENSOR_SHAPE = 0, TENSOR_TYPE = 1, TENSOR_BUFFER = 2, TENSOR_NAME = 3, TENSOR_QUANT = 4 };
enum { QUANT_SCALE = 2, QUANT_ZERO_POINT = 3, QUANT_DIMENSION = 6 };
enum { BUFFER_DATA = 0, BUFFER_OFFSET = 1, BUFFER_SIZE = 2 };
enum { OP_OPCODE_INDEX = 0, OP_INPUTS = 1, OP_OUTPUTS = 2, OP_OPTIONS = 4 };
enum { METADATA_NAME = 0, METADATA_BUFFER = 1 };
enum { SIGNATURE_INPUTS = 0, SIGNATURE_OUTPUTS = 1 };
enum { TENSORMAP_NAME = 0, TENSORMAP_INDEX = 1 };

/* Quantization scales the loader accepts (a NaN fails both comparisons). hushkit's models use
 * 1e-6 .. 1e2; int32 biases are stored at input * weight scale, so ~1e-12 must pass. */
#define HUSH_TFLITE_MIN_SCALE 1e-20f
#define HUSH_TFLITE_MAX_SCALE 1e20f

/* Largest tensor the engine handles; also keeps element-count products far from overflow. */
#define MAX_ELEMENTS (1 << 24)

static int in_bounds(const hush_tflite_model *m, uint64_t pos, uint64_t size)
{
    return pos <= m->len && size <= m->len - pos;
}

static uint32_t rd_u32(const hush_tflite_model *m, uint64_t pos)
{
    uint32_t v;
    memcpy(&v, m->buf + pos, sizeof v);
    return v;
}

static uint16_t rd_u16(const hush_tflite_model *m, uint64_t pos)
{
    uint16_t v;
    memcpy(&v, m->buf + pos, sizeof v);
    return v;
}

/* Position of a field's inline value of `size` bytes, or 0 when absent or out of bounds. */
static uint32_t field_pos(const hush_tflite_model *m, uint32_t table, int field, uint32_t size)
{
    if (table == 0 || !in_bounds(m, table, 4)) {
        return 0;
    }
    const int64_t vtable = (int64_t)table - (int32_t)rd_u32(m, table);
    if (vtable < 0 || !in_bounds(m, (uint64_t)vtable, 4)) {
        return 0;
    }
    const uint16_t vt_size = rd_u16(m, (uint64_t)vtable);
    const uint16_t table_size = rd_u16(m, (uint64_t)vtable + 2);
    const uint32_t entry = 4u + 2u * (uint32_t)field;
    if (vt_size < 4 || !in_bounds(m, (uint64_t)vtable, vt_size) || entry + 2u > vt_size) {
        return 0;
    }
    const uint16_t off = rd_u16(m, (uint64_t)vtable + entry);
    if (off == 0 || (uint32_t)off + size > table_size ||
        !in_bounds(m, (uint64_t)table + off, size)) {
        return 0;
    }
    return table + off;
}

/* Follows a uoffset stored at `pos`; 0 when it leads outside the buffer. */
static uint32_t deref(const hush_tflite_model *m, uint32_t pos)
{
    if (pos == 0) {
        return 0;
    }
    const uint64_t target = (uint64_t)pos + rd_u32(m, pos);
    return (target == 0 || !in_bounds(m, target, 4)) ? 0 : (uint32_t)target;
}

static uint32_t get_u32(const hush_tflite_model *m, uint32_t table, int field, uint32_t dflt)
{
    const uint32_t p = field_pos(m, table, field, 4);
    return p ? rd_u32(m, p) : dflt;
}

static int32_t get_i8(const hush_tflite_model *m, uint32_t table, int field, int32_t dflt)
{
    const uint32_t p = field_pos(m, table, field, 1);
    return p ? (int32_t)(int8_t)m->buf[p] : dflt;
}

/* A vector field: 0 and *count 0 when absent; -1 when it does not fit the buffer. */
static int get_vector(const hush_tflite_model *m, uint32_t table, int field, uint32_t elem_size,
                      uint32_t *vec, uint32_t *count)
{
    *vec = 0;
    *count = 0;
    const uint32_t p = field_pos(m, table, field, 4);
    if (p == 0) {
        return 0;
    }
    const uint32_t v = deref(m, p);
    if (v == 0) {
        return -1;
    }
    const uint32_t n = rd_u32(m, v);
    if (!in_bounds(m, (uint64_t)v + 4, (uint64_t)n * elem_size)) {
        return -1;
    }
    *vec = v;
    *count = n;
    return 0;
}

/* `table` when its vtable and its whole inline part lie inside the buffer, else 0. Checking
 * the table as a whole makes a cut through it an error rather than "field absent". */
static uint32_t check_table(const hush_tflite_model *m, uint32_t table)
{
    if (table == 0 || !in_bounds(m, table, 4)) {
        return 0;
    }
    const int64_t vtable = (int64_t)table - (int32_t)rd_u32(m, table);
    if (vtable < 0 || !in_bounds(m, (uint64_t)vtable, 4)) {
        return 0;
    }
    const uint16_t vt_size = rd_u16(m, (uint64_t)vtable);
    const uint16_t table_size = rd_u16(m, (uint64_t)vtable + 2);
    if (vt_size < 4 || table_size < 4 || !in_bounds(m, (uint64_t)vtable, vt_size) ||
        !in_bounds(m, table, table_size)) {
        return 0;
    }
    return table;
}

/* Table i of a vector of tables (i < count, checked by the caller); 0 when out of bounds. */
static uint32_t vec_table(const hush_tflite_model *m, uint32_t vec, uint32_t i)
{
    return check_table(m, deref(m, vec + 4u + 4u * i));
}

static int32_t vec_i32(const hush_tflite_model *m, uint32_t vec, uint32_t i)
{
    return (int32_t)rd_u32(m, (uint64_t)vec + 4u + 4u * i);
}

/* A string field as a C string; "" when absent, NULL when malformed or not NUL-terminated. */
static const char *get_string(const hush_tflite_model *m, uint32_t table, int field)
{
    const uint32_t p = field_pos(m, table, field, 4);
    if (p == 0) {
        return "";
    }
    const uint32_t s = deref(m, p);
    if (s == 0) {
        return NULL;
    }
    const uint32_t n = rd_u32(m, s);
    if (!in_bounds(m, (uint64_t)s + 4, (uint64_t)n + 1) || m->buf[(uint64_t)s + 4 + n] != 0) {
        return NULL;
    }
    return (const char *)(m->buf + s + 4);
}

static hush_status_t buffer_get(const hush_tflite_model *m, uint32_t index, const uint8_t **data,
                                uint32_t *len);

/* Every buffer and every metadata entry must lie inside the bytes, so a truncated file is
 * rejected up front even when the cut only hits data read later (or never). */
static hush_status_t validate_reachable(const hush_tflite_model *m)
{
    const uint8_t *data;
    uint32_t len;
    for (uint32_t i = 0; i < m->num_buffers; ++i) {
        if (buffer_get(m, i, &data, &len) != HUSH_OK) {
            return HUSH_E_MODEL;
        }
    }
    for (uint32_t i = 0; i < m->num_metadata; ++i) {
        const uint32_t md = vec_table(m, m->metadata, i);
        if (md == 0 || get_string(m, md, METADATA_NAME) == NULL ||
            buffer_get(m, get_u32(m, md, METADATA_BUFFER, 0), &data, &len) != HUSH_OK) {
            return HUSH_E_MODEL;
        }
    }
    return HUSH_OK;
}

hush_status_t hush_tflite_open(hush_tflite_model *m, const uint8_t *buf, size_t len)
{
    memset(m, 0, sizeof *m);
    m->buf = buf;
    m->len = len;
    if (buf == NULL || len < 16 || memcmp(buf + 4, "TFL3", 4) != 0 || len > UINT32_MAX) {
        return HUSH_E_MODEL;
    }
    const uint32_t model = check_table(m, rd_u32(m, 0)); /* root, relative to position 0 */
    if (model == 0) {
        return HUSH_E_MODEL;
    }
    if (get_u32(m, model, MODEL_VERSION, 0) != HUSH_TFLITE_SCHEMA_VERSION) {
        return HUSH_E_SCHEMA;
    }
    uint32_t subgraphs = 0;
    uint32_t num_subgraphs = 0;
    if (get_vector(m, model, MODEL_OPCODES, 4, &m->opcodes, &m->num_opcodes) ||
        get_vector(m, model, MODEL_SUBGRAPHS, 4, &subgraphs, &num_subgraphs) ||
        get_vector(m, model, MODEL_BUFFERS, 4, &m->buffers, &m->num_buffers) ||
        get_vector(m, model, MODEL_METADATA, 4, &m->metadata, &m->num_metadata) ||
        get_vector(m, model, MODEL_SIGNATURES, 4, &m->signatures, &m->num_signatures)) {
        return HUSH_E_MODEL;
    }
    if (num_subgraphs < 1) {
        return HUSH_E_MODEL;
    }
    m->subgraph = vec_table(m, subgraphs, 0);
    if (m->subgraph == 0 ||
        get_vector(m, m->subgraph, SUBGRAPH_TENSORS, 4, &m->tensors, &m->num_tensors) ||
        get_vector(m, m->subgraph, SUBGRAPH_INPUTS, 4, &m->inputs, &m->num_inputs) ||
        get_vector(m, m->subgraph, SUBGRAPH_OUTPUTS, 4, &m->outputs, &m->num_outputs) ||
        get_vector(m, m->subgraph, SUBGRAPH_OPERATORS, 4, &m->operators, &m->num_operators)) {
        return HUSH_E_MODEL;
    }
    return validate_reachable(m);
}

/* Contents of buffer `index`; data NULL and len 0 for an empty buffer. */
static hush_status_t buffer_get(const hush_tflite_model *m, uint32_t index, const uint8_t **data,
                                uint32_t *len)
{
    *data = NULL;
    *len = 0;
    if (index >= m->num_buffers) {
        return HUSH_E_MODEL;
    }
    const uint32_t b = vec_table(m, m->buffers, index);
    if (b == 0) {
        return HUSH_E_MODEL;
    }
    uint32_t vec = 0;
    uint32_t n = 0;
    if (get_vector(m, b, BUFFER_DATA, 1, &vec, &n)) {
        return HUSH_E_MODEL;
    }
    if (n > 0) {
        *data = m->buf + vec + 4;
        *len = n;
        return HUSH_OK;
    }
    /* Models over 2 GB keep data after the flatbuffer, addressed by (offset, size). */
    const uint32_t po = field_pos(m, b, BUFFER_OFFSET, 8);
    const uint32_t ps = field_pos(m, b, BUFFER_SIZE, 8);
    if (po && ps) {
        uint64_t off;
        uint64_t size;
        memcpy(&off, m->buf + po, 8);
        memcpy(&size, m->buf + ps, 8);
        if (off > 1) {
            if (!in_bounds(m, off, size)) {
                return HUSH_E_MODEL;
            }
            *data = m->buf + off;
            *len = (uint32_t)size;
        }
    }
    return HUSH_OK;
}

hush_status_t hush_tflite_tensor_get(const hush_tflite_model *m, uint32_t index,
                                     hush_tflite_tensor *t)
{
    memset(t, 0, sizeof *t);
    if (index >= m->num_tensors) {
        return HUSH_E_MODEL;
    }
    const uint32_t tt = vec_table(m, m->tensors, index);
    if (tt == 0) {
        return HUSH_E_MODEL;
    }
    uint32_t shape = 0;
    uint32_t rank = 0;
    if (get_vector(m, tt, TENSOR_SHAPE, 4, &shape, &rank)) {
        return HUSH_E_MODEL;
    }
    if (rank > HUSH_TFLITE_MAX_DIMS) {
        return HUSH_E_SHAPE;
    }
    t->rank = (int32_t)rank;
    int64_t elements = 1;
    for (uint32_t i = 0; i < rank; ++i) {
        t->dims[i] = vec_i32(m, shape, i);
        if (t->dims[i] < 0) {
            return HUSH_E_MODEL;
        }
        elements *= t->dims[i];
        if (elements > MAX_ELEMENTS) {
            return HUSH_E_SHAPE;
        }
    }
    t->num_elements = (int32_t)elements;
    t->type = get_i8(m, tt, TENSOR_TYPE, HUSH_TFLITE_FLOAT32);
    t->name = get_string(m, tt, TENSOR_NAME);
    if (t->name == NULL) {
        return HUSH_E_MODEL;
    }
    const hush_status_t st =
        buffer_get(m, get_u32(m, tt, TENSOR_BUFFER, 0), &t->data, &t->data_len);
    if (st != HUSH_OK) {
        return st;
    }
    const uint32_t qp = field_pos(m, tt, TENSOR_QUANT, 4);
    const uint32_t q = check_table(m, deref(m, qp));
    if (qp != 0 && q == 0) {
        return HUSH_E_MODEL;
    }
    if (q != 0) {
        uint32_t zps = 0;
        uint32_t n_zps = 0;
        if (get_vector(m, q, QUANT_SCALE, 4, &t->scales, &t->num_scales) ||
            get_vector(m, q, QUANT_ZERO_POINT, 8, &zps, &n_zps)) {
            return HUSH_E_MODEL;
        }
        /* Every scale must be a positive finite float within what int8 arithmetic can
         * express: the engine derives fixed-point multipliers and shifts from their ratios,
         * and a hostile scale would otherwise become an out-of-range shift at run time. */
        for (uint32_t i = 0; i < t->num_scales; ++i) {
            const float s = hush_tflite_scale(m, t, i);
            if (!(s >= HUSH_TFLITE_MIN_SCALE && s <= HUSH_TFLITE_MAX_SCALE)) {
                return HUSH_E_MODEL;
            }
        }
        if (t->num_scales > 0) {
            t->scale = hush_tflite_scale(m, t, 0);
        }
        /* Zero points must lie on the tensor's own grid: int8 in [-128, 127], int32 (biases)
         * 0, as TFLite requires; the engine's offset arithmetic relies on it. */
        const int64_t zp_lo = t->type == HUSH_TFLITE_INT8 ? -128 : INT32_MIN;
        const int64_t zp_hi = t->type == HUSH_TFLITE_INT8 ? 127 : INT32_MAX;
        for (uint32_t i = 0; i < n_zps; ++i) {
            int64_t zp;
            memcpy(&zp, m->buf + zps + 4u + 8u * i, sizeof zp);
            if (t->type == HUSH_TFLITE_INT32 && zp != 0) {
                return HUSH_E_MODEL;
            }
            if (zp < zp_lo || zp > zp_hi) {
                return HUSH_E_MODEL;
            }
            if (i == 0) {
                t->zero_point = (int32_t)zp;
            }
        }
        t->quantized_dimension = (int32_t)get_u32(m, q, QUANT_DIMENSION, 0);
    }
    return HUSH_OK;
}

float hush_tflite_scale(const hush_tflite_model *m, const hush_tflite_tensor *t, uint32_t i)
{
    float s;
    memcpy(&s, m->buf + t->scales + 4u + 4u * i, sizeof s);
    return s;
}

static hush_status_t index_list(const hush_tflite_model *m, uint32_t table, int field, int32_t *out,
                                int32_t *count)
{
    uint32_t vec = 0;
    uint32_t n = 0;
    if (get_vector(m, table, field, 4, &vec, &n)) {
        return HUSH_E_MODEL;
    }
    if (n > HUSH_TFLITE_MAX_OP_IO) {
        return HUSH_E_SHAPE;
    }
    for (uint32_t i = 0; i < n; ++i) {
        out[i] = vec_i32(m, vec, i);
        if (out[i] < -1 || out[i] >= (int32_t)m->num_tensors) {
            return HUSH_E_MODEL;
        }
    }
    *count = (int32_t)n;
    return HUSH_OK;
}

hush_status_t hush_tflite_op_get(const hush_tflite_model *m, uint32_t index, hush_tflite_op *op)
{
    memset(op, 0, sizeof *op);
    if (index >= m->num_operators) {
        return HUSH_E_MODEL;
    }
    const uint32_t o = vec_table(m, m->operators, index);
    if (o == 0) {
        return HUSH_E_MODEL;
    }
    const uint32_t opcode_index = get_u32(m, o, OP_OPCODE_INDEX, 0);
    if (opcode_index >= m->num_opcodes) {
        return HUSH_E_MODEL;
    }
    const uint32_t oc = vec_table(m, m->opcodes, opcode_index);
    if (oc == 0) {
        return HUSH_E_MODEL;
    }
    /* Codes above 127 only fit builtin_code; older files only set the deprecated int8. */
    const int32_t deprecated = get_i8(m, oc, OPCODE_DEPRECATED, 0);
    const int32_t builtin = (int32_t)get_u32(m, oc, OPCODE_BUILTIN, 0);
    op->builtin_code = deprecated > builtin ? deprecated : builtin;
    hush_status_t st = index_list(m, o, OP_INPUTS, op->inputs, &op->num_inputs);
    if (st == HUSH_OK) {
        st = index_list(m, o, OP_OUTPUTS, op->outputs, &op->num_outputs);
    }
    if (st != HUSH_OK) {
        return st;
    }
    const uint32_t p = field_pos(m, o, OP_OPTIONS, 4);
    op->options = check_table(m, deref(m, p));
    if (p != 0 && op->options == 0) {
        return HUSH_E_MODEL;
    }
    return HUSH_OK;
}

static int32_t io_index(const hush_tflite_model *m, uint32_t vec, uint32_t n, uint32_t i)
{
    if (i >= n) {
        return -1;
    }
    const int32_t t = vec_i32(m, vec, i);
    return (t >= 0 && t < (int32_t)m->num_tensors) ? t : -1;
}

int32_t hush_tflite_input(const hush_tflite_model *m, uint32_t i)
{
    return io_index(m, m->inputs, m->num_inputs, i);
}

int32_t hush_tflite_output(const hush_tflite_model *m, uint32_t i)
{
    return io_index(m, m->outputs, m->num_outputs, i);
}

int32_t hush_tflite_option_int(const hush_tflite_model *m, uint32_t table, int field, int32_t dflt)
{
    return (int32_t)get_u32(m, table, field, (uint32_t)dflt);
}

int32_t hush_tflite_option_byte(const hush_tflite_model *m, uint32_t table, int field, int32_t dflt)
{
    return get_i8(m, table, field, dflt);
}

int hush_tflite_metadata(const hush_tflite_model *m, const char *name, const uint8_t **data,
                         uint32_t *len)
{
    for (uint32_t i = 0; i < m->num_metadata; ++i) {
        const uint32_t md = vec_table(m, m->metadata, i);
        const char *n = get_string(m, md, METADATA_NAME);
        if (md == 0 || n == NULL || strcmp(n, name) != 0) {
            continue;
        }
        const uint32_t b = get_u32(m, md, METADATA_BUFFER, 0);
        if (buffer_get(m, b, data, len) == HUSH_OK && *data != NULL) {
            return 0;
        }
    }
    return -1;
}

const char *hush_tflite_signature_name(const hush_tflite_model *m, int is_output, int32_t tensor)
{
    if (m->num_signatures < 1) {
        return NULL;
    }
    const uint32_t sig = vec_table(m, m->signatures, 0);
    uint32_t vec = 0;
    uint32_t n = 0;
    if (sig == 0 ||
        get_vector(m, sig, is_output ? SIGNATURE_OUTPUTS : SIGNATURE_INPUTS, 4, &vec, &n)) {
        return NULL;
    }
    for (uint32_t i = 0; i < n; ++i) {
        const uint32_t tm = vec_table(m, vec, i);
        if (tm != 0 && (int32_t)get_u32(m, tm, TENSORMAP_INDEX, UINT32_MAX) == tensor) {
            const char *name = get_string(m, tm, TENSORMAP_NAME);
            return (name != NULL && name[0] != '\0') ? name : NULL;
        }
    }
    return NULL;
}
