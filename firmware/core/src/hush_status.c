/* Text of the core's status values (hush_status.h). */
#include "hush_status.h"

const char *hush_status_str(hush_status_t s)
{
    switch (s) {
    case HUSH_OK:
        return "ok";
    case HUSH_E_MODEL:
        return "corrupt or truncated model";
    case HUSH_E_SCHEMA:
        return "unsupported TFLite schema version (need 3)";
    case HUSH_E_OP:
        return "unsupported operator";
    case HUSH_E_TYPE:
        return "unsupported tensor type or quantization";
    case HUSH_E_ARENA:
        return "arena too small";
    case HUSH_E_SHAPE:
        return "tensor shapes do not fit the operator, or model exceeds engine limits";
    case HUSH_E_MEMORY:
        return "state memory too small or misaligned";
    case HUSH_E_N_FFT:
        return "n_fft must be 128 or 256";
    case HUSH_E_TENSOR:
        return "model lacks a features, state_in, mask or state_out tensor";
    case HUSH_E_IO_TYPE:
        return "features, state_in, mask and state_out must be int8";
    case HUSH_E_IO_SHAPE:
        return "features/mask size is not n_fft/2 + 1, or state_in/state_out sizes disagree "
               "or exceed HUSH_PIPELINE_MAX_STATE";
    }
    return "unknown status";
}
