/* The per-hop noise suppression pipeline: see hush_pipeline.h for the steps. */
#include "hush_pipeline.h"

#include <stdalign.h>
#include <string.h>

#if defined(__ARM_FEATURE_SAT) && __ARM_FEATURE_SAT
#include <arm_acle.h>
#endif

#include "hush_contract.h"
#include "hush_dspmath.h"
#include "hush_engine.h"
#include "hush_safety.h"
#include "hush_stft.h"
#include "hush_tflite.h"

/* ln(10) / 20: a level in dB to a natural-log gain. */
#define HUSH_PIPELINE_DB_TO_LN 0.115129255f

/* Quantization of one int8 tensor the pipeline reads or writes. */
typedef struct {
    int8_t *data;
    float scale;
    int32_t zero_point;
} hush_qtensor;

struct hush_pipeline {
    hush_stft stft;
    hush_engine *engine; /* lives right after this struct, see engine_offset() */
    hush_qtensor features;
    hush_qtensor state_in;
    hush_qtensor mask;
    hush_qtensor state_out;
    int n_bins;
    int n_features; /* n_bins, or 2 * n_bins with the floor feature */
    int floor_fall; /* the floor feature's shifts (hush_contract.h) */
    int floor_rise;
    int floor_started; /* the floor holds a hop since the last reset */
    int state_size;
    int bypass;
    float floor_gain;   /* minimum gain per bin; 0 = no limit */
    int ran_model;      /* the tap holds a hop */
    hush_safety safety; /* output limiter, bypass on divergence */
    float spec[HUSH_STFT_MAX_N_FFT];
    float bins[HUSH_STFT_MAX_BINS]; /* power */
    /* Gain for each mask byte (indexed by its bits as unsigned): max((q - zp) * scale, floor),
     * rebuilt when the floor changes, so a hop looks each gain up instead of computing it. */
    float gain_table[256];
    /* The model's inputs of the last hop, kept here because the engine may reuse input
     * memory during an invoke. */
    int8_t tap_features[2 * HUSH_STFT_MAX_BINS];
    int8_t tap_state_in[HUSH_PIPELINE_MAX_STATE];
    /* The floor feature's running floor per bin, in 2^-HUSH_FLOOR_FRAC_BITS of a quantized
     * step above the features' zero point. */
    int32_t floor[HUSH_STFT_MAX_BINS];
};

static size_t engine_offset(void)
{
    const size_t align = alignof(max_align_t);
    return (sizeof(struct hush_pipeline) + align - 1) / align * align;
}

size_t hush_pipeline_get_size(void)
{
    return engine_offset() + hush_engine_get_size();
}

/* Quantize a float with the tensor's parameters: clamp(rint(x / scale) + zp, -128, 127). */
static int8_t quantize(float x, const hush_qtensor *t)
{
    const int32_t zp = t->zero_point;
    return (int8_t)(hush_round_clamp(x / t->scale, HUSH_INT8_MIN - zp, HUSH_INT8_MAX - zp) + zp);
}

static hush_status_t bind_tensor(hush_engine *e, int is_output, const char *name,
                                 int32_t n_elements, hush_qtensor *t)
{
    hush_tensor_info info;
    const int index =
        is_output ? hush_engine_find_output(e, name) : hush_engine_find_input(e, name);
    if (index < 0) {
        return HUSH_E_TENSOR;
    }
    t->data = is_output ? hush_engine_output(e, index, &info) : hush_engine_input(e, index, &info);
    if (t->data == NULL) {
        return HUSH_E_TENSOR;
    }
    if (info.type != HUSH_TFLITE_INT8) {
        return HUSH_E_IO_TYPE;
    }
    if (info.num_elements != n_elements || !(info.scale > 0.0f)) {
        return HUSH_E_IO_SHAPE;
    }
    t->scale = info.scale;
    t->zero_point = info.zero_point;
    return HUSH_OK;
}

/* The features input: n_bins log powers, or twice that with the floor feature. */
static hush_status_t bind_features(hush_pipeline *p)
{
    p->n_features = p->n_bins;
    hush_status_t err = bind_tensor(p->engine, 0, HUSH_TENSOR_FEATURES, p->n_bins, &p->features);
    if (err != HUSH_E_IO_SHAPE) {
        return err;
    }
    err = bind_tensor(p->engine, 0, HUSH_TENSOR_FEATURES, 2 * p->n_bins, &p->features);
    if (err != HUSH_OK) {
        return err;
    }
    /* One more shift for each halving of the hop below HUSH_FLOOR_SHIFTS_HOP. */
    int extra = 0;
    for (int hop = p->stft.hop; hop < HUSH_FLOOR_SHIFTS_HOP; hop *= 2) {
        extra++;
    }
    p->n_features = 2 * p->n_bins;
    p->floor_fall = HUSH_FLOOR_FALL_SHIFT + extra;
    p->floor_rise = HUSH_FLOOR_RISE_SHIFT + extra;
    return HUSH_OK;
}

static int state_size_of(hush_engine *e, int is_output, const char *name)
{
    hush_tensor_info info;
    const int index =
        is_output ? hush_engine_find_output(e, name) : hush_engine_find_input(e, name);
    if (index < 0) {
        return -1;
    }
    if (is_output) {
        hush_engine_output(e, index, &info);
    } else {
        hush_engine_input(e, index, &info);
    }
    return (int)info.num_elements;
}

/* g = max((q - zp) * scale, floor_gain) for every mask value q, the same float operations the
 * per-bin gain would take. */
static void build_gain_table(hush_pipeline *p)
{
    for (int i = 0; i < 256; i++) {
        const int32_t q = (int8_t)(uint8_t)i;
        const float g = (float)(q - p->mask.zero_point) * p->mask.scale;
        p->gain_table[i] = g > p->floor_gain ? g : p->floor_gain;
    }
}

hush_status_t hush_pipeline_init(hush_pipeline *p, size_t p_size, int n_fft, const uint8_t *model,
                                 size_t model_len, uint8_t *arena, size_t arena_len)
{
    if (p == NULL || p_size < hush_pipeline_get_size() ||
        (uintptr_t)p % alignof(max_align_t) != 0) {
        return HUSH_E_MEMORY;
    }
    memset(p, 0, sizeof *p);
    hush_safety_init(&p->safety);
    if (hush_stft_init(&p->stft, n_fft) != 0) {
        return HUSH_E_N_FFT;
    }
    p->n_bins = n_fft / 2 + 1;
    p->engine = (hush_engine *)((uint8_t *)p + engine_offset());

    const hush_status_t status =
        hush_engine_init(p->engine, hush_engine_get_size(), model, model_len, arena, arena_len);
    if (status != HUSH_OK) {
        return status;
    }
    p->state_size = state_size_of(p->engine, 0, HUSH_TENSOR_STATE_IN);
    if (p->state_size < 0 || state_size_of(p->engine, 1, HUSH_TENSOR_STATE_OUT) < 0) {
        return HUSH_E_TENSOR;
    }
    if (p->state_size > HUSH_PIPELINE_MAX_STATE) {
        return HUSH_E_IO_SHAPE;
    }
    hush_status_t err = bind_features(p);
    if (err == HUSH_OK) {
        err = bind_tensor(p->engine, 0, HUSH_TENSOR_STATE_IN, p->state_size, &p->state_in);
    }
    if (err == HUSH_OK) {
        err = bind_tensor(p->engine, 1, HUSH_TENSOR_MASK, p->n_bins, &p->mask);
    }
    if (err == HUSH_OK) {
        err = bind_tensor(p->engine, 1, HUSH_TENSOR_STATE_OUT, p->state_size, &p->state_out);
    }
    if (err != HUSH_OK) {
        return err;
    }
    build_gain_table(p);
    hush_pipeline_reset(p);
    return HUSH_OK;
}

void hush_pipeline_reset(hush_pipeline *p)
{
    hush_stft_reset(&p->stft);
    hush_safety_reset(&p->safety);
    /* "Zero" state is the real value 0, i.e. the zero point of the quantized tensor. */
    memset(p->state_in.data, (int8_t)p->state_in.zero_point, (size_t)p->state_size);
    p->ran_model = 0;
    p->floor_started = 0;
}

int hush_pipeline_hop(const hush_pipeline *p)
{
    return p->stft.hop;
}

void hush_pipeline_set_bypass(hush_pipeline *p, int on)
{
    p->bypass = on != 0;
}

void hush_pipeline_set_attenuation_limit(hush_pipeline *p, float db)
{
    p->floor_gain = db > 0.0f ? hush_expf(-db * HUSH_PIPELINE_DB_TO_LN) : 0.0f;
    build_gain_table(p);
}

/* Hand this hop's state_out to the next hop's state_in. A plain copy when both tensors share
 * quantization (what the exporter produces); otherwise requantized through float. */
static void carry_state(hush_pipeline *p)
{
    const hush_qtensor *src = &p->state_out;
    if (src->scale == p->state_in.scale && src->zero_point == p->state_in.zero_point) {
        memcpy(p->state_in.data, src->data, (size_t)p->state_size);
        return;
    }
    for (int i = 0; i < p->state_size; i++) {
        const float x = (float)((int32_t)src->data[i] - src->zero_point) * src->scale;
        p->state_in.data[i] = quantize(x, &p->state_in);
    }
}

/* Features are logs of power + 1e-10 with power <= (n_fft * full scale)^2 = 2^16, so they lie
 * in [-23.1, 11.1]; above this scale |feature / scale| < 2^22 and the fast quantization below
 * applies. */
#define HUSH_PIPELINE_MIN_FAST_SCALE 1e-5f

/* clamp(rint(v) + zp, -128, 127) for |v| < 2^22, as quantize() computes it: adding 1.5 * 2^23
 * rounds v to an integer in the float's low mantissa bits (round half to even), so the bit
 * pattern minus that of 1.5 * 2^23 is rint(v); `bias` is that pattern minus zp. */
static int8_t quantize_bounded(float v, int32_t bias)
{
    union {
        float f;
        int32_t i;
    } b = {v + 12582912.0f};
    const int32_t q = b.i - bias;
#if defined(__ARM_FEATURE_SAT) && __ARM_FEATURE_SAT
    return (int8_t)__ssat(q, 8);
#else
    return (int8_t)(q < HUSH_INT8_MIN ? HUSH_INT8_MIN : (q > HUSH_INT8_MAX ? HUSH_INT8_MAX : q));
#endif
}

/* The fast path's feature of one bin with power re^2 + im^2 (the same float operations as
 * hush_stft_power; power >= 0, so the log's argument is at least 1e-10: a normal float). */
static int8_t fast_feature(float power, float scale, int32_t bias)
{
    return quantize_bounded(hush_log_feature(power + HUSH_LOG_POWER_EPS) / scale, bias);
}

/* Quantized log-power features of the spectrum in p->spec into p->tap_features. */
static void compute_features(hush_pipeline *p)
{
    const float scale = p->features.scale;
    if (!(scale >= HUSH_PIPELINE_MIN_FAST_SCALE)) {
        hush_stft_power(&p->stft, p->spec, p->bins);
        for (int k = 0; k < p->n_bins; k++) {
            const float feature = hush_log_feature(p->bins[k] + HUSH_LOG_POWER_EPS);
            p->tap_features[k] = quantize(feature, &p->features);
        }
        return;
    }
    const union {
        float f;
        int32_t i;
    } magic = {12582912.0f};
    const int32_t bias = magic.i - p->features.zero_point;
    /* Power and feature in one pass over the packed spectrum (CMSIS layout: [0] = DC,
     * [1] = Nyquist, then (re, im) pairs), so the power is never stored. */
    const float *spec = p->spec;
    const int half = p->n_bins - 1;
    int8_t *out = p->tap_features;
    out[0] = fast_feature(spec[0] * spec[0], scale, bias);
    out[half] = fast_feature(spec[1] * spec[1], scale, bias);
    for (int k = 1; k < half; k++) {
        const float re = spec[2 * k];
        const float im = spec[2 * k + 1];
        out[k] = fast_feature(re * re + im * im, scale, bias);
    }
}

/* The floor feature (hush_contract.h): each bin's height above its running floor, after the
 * n_bins quantized log powers in p->tap_features. Integers only, so every build agrees. */
static void compute_floor_feature(hush_pipeline *p)
{
    const int32_t zp = p->features.zero_point;
    const int32_t half = 1 << (HUSH_FLOOR_FRAC_BITS - 1);
    int8_t *height = p->tap_features + p->n_bins;
    for (int k = 0; k < p->n_bins; k++) {
        const int32_t v = (int32_t)p->tap_features[k] - zp;
        const int32_t target = v * (1 << HUSH_FLOOR_FRAC_BITS);
        if (!p->floor_started) {
            p->floor[k] = target;
        } else {
            /* Arithmetic right shifts (GCC and Clang on every target this builds for). */
            const int32_t d = target - p->floor[k];
            p->floor[k] += d >> (d < 0 ? p->floor_fall : p->floor_rise);
        }
        const int32_t h = v - ((p->floor[k] + half) >> HUSH_FLOOR_FRAC_BITS) + zp;
        height[k] =
            (int8_t)(h < HUSH_INT8_MIN ? HUSH_INT8_MIN : (h > HUSH_INT8_MAX ? HUSH_INT8_MAX : h));
    }
    p->floor_started = 1;
}

/* Features and model for the spectrum in p->spec; the mask is left in the engine's output. */
static hush_status_t run_model(hush_pipeline *p)
{
    compute_features(p);
    if (p->n_features > p->n_bins) {
        compute_floor_feature(p);
    }
    memcpy(p->features.data, p->tap_features, (size_t)p->n_features);
    memcpy(p->tap_state_in, p->state_in.data, (size_t)p->state_size);
    const hush_status_t status = hush_engine_invoke(p->engine);
    if (status != HUSH_OK) {
        return status;
    }
    p->ran_model = 1;
    carry_state(p);
    return HUSH_OK;
}

hush_status_t hush_pipeline_process(hush_pipeline *p, const int16_t *in, int16_t *out)
{
    hush_status_t err = HUSH_OK;

    hush_safety_observe(&p->safety, in, p->stft.hop);
    hush_stft_analyze(&p->stft, in, p->spec);
    if (!p->bypass && !hush_safety_tripped(&p->safety)) {
        err = run_model(p);
        /* On an engine failure the hop passes through unchanged (gain 1) so the audio keeps
         * flowing; the caller sees the error. */
        if (err == HUSH_OK) {
            hush_stft_apply_gain_table(&p->stft, p->spec, (const uint8_t *)p->mask.data,
                                       p->gain_table);
        }
    }
    hush_stft_synthesize(&p->stft, p->spec, out);
    hush_safety_limit(&p->safety, out, p->stft.hop);
    return err;
}

void hush_pipeline_get_tap(const hush_pipeline *p, hush_pipeline_tap *tap)
{
    const int valid = p->ran_model;
    tap->features = valid ? p->tap_features : NULL;
    tap->state_in = valid ? p->tap_state_in : NULL;
    tap->mask = valid ? p->mask.data : NULL;
    tap->state_out = valid ? p->state_out.data : NULL;
    tap->n_bins = p->n_bins;
    tap->n_features = p->n_features;
    tap->state_size = p->state_size;
}

void hush_pipeline_get_safety(const hush_pipeline *p, hush_safety_stats *stats)
{
    hush_safety_get_stats(&p->safety, stats);
}

size_t hush_pipeline_arena_used(const hush_pipeline *p)
{
    return hush_engine_arena_used(p->engine);
}
