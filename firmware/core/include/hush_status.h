/* hush_status_t: the one status type of the firmware core (model reader, engine, pipeline).
 *
 * A device reports the value its pipeline init returned in INFO (model_status, 0 = loaded);
 * the host library returns the same values (host_tools/corelib.py names a few of them). */
#ifndef HUSH_STATUS_H
#define HUSH_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    HUSH_OK = 0,
    HUSH_E_MODEL,  /* corrupt/truncated flatbuffer, or not a TFLite model */
    HUSH_E_SCHEMA, /* wrong schema version */
    HUSH_E_OP,     /* unsupported op (see hush_engine_unsupported_op) */
    HUSH_E_TYPE,   /* tensor type/quantization not int8/int32 as required */
    HUSH_E_ARENA,  /* arena too small */
    HUSH_E_SHAPE,  /* shapes do not fit the op, or the model exceeds the engine's limits */
    HUSH_E_MEMORY, /* state memory smaller than its get_size() or not aligned for it */
    /* the pipeline (hush_pipeline.h) */
    HUSH_E_N_FFT,    /* n_fft is not 128 or 256 */
    HUSH_E_TENSOR,   /* no features / state_in / mask / state_out tensor */
    HUSH_E_IO_TYPE,  /* one of those tensors is not int8 */
    HUSH_E_IO_SHAPE, /* features/mask size != n_fft/2 + 1, bad state size */
} hush_status_t;

/* One line of text for a status ("arena too small"); never NULL. */
const char *hush_status_str(hush_status_t s);

#ifdef __cplusplus
}
#endif

#endif /* HUSH_STATUS_H */
