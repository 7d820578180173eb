/* libFuzzer target: the model loader and engine set-up on hostile model bytes, then one hop.
 *
 * The bytes are copied into a heap block of exactly their size, so AddressSanitizer reports
 * any read past the model; the arena is a heap block too. A model the loader accepts must
 * then run a hop without touching memory outside the model, the arena and the pipeline
 * state, and produce output within int16 (by type) that the safety stage has bounded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hush_pipeline.h"

#define ARENA_BYTES (64u * 1024u)
#define HOP         128

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static _Alignas(16) uint8_t pipeline_mem[32768];
    if (hush_pipeline_get_size() > sizeof pipeline_mem) {
        abort();
    }
    uint8_t *model = malloc(size ? size : 1);
    uint8_t *arena = malloc(ARENA_BYTES);
    if (model == NULL || arena == NULL) {
        abort();
    }
    memcpy(model, data, size);
    hush_pipeline *p = (hush_pipeline *)pipeline_mem;
    for (int n_fft = 128; n_fft <= 256; n_fft *= 2) {
        if (hush_pipeline_init(p, sizeof pipeline_mem, n_fft, model, size, arena, ARENA_BYTES) !=
            HUSH_PIPELINE_OK) {
            continue;
        }
        int16_t in[HOP];
        int16_t out[HOP];
        for (int i = 0; i < HOP; i++) {
            in[i] = (int16_t)((i * 2654435761u) >> 16); /* loud, deterministic */
        }
        const int hop = hush_pipeline_hop(p);
        for (int h = 0; h < 3; h++) {
            (void)hush_pipeline_process(p, in, out);
        }
        hush_pipeline_tap tap;
        hush_pipeline_get_tap(p, &tap);
        if (hop > HOP || tap.n_bins != n_fft / 2 + 1) {
            abort();
        }
    }
    free(arena);
    free(model);
    return 0;
}
