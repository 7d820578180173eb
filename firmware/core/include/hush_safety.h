/* hush_safety: the output safety stage, the last thing audio passes before the DAC.
 *
 * A headphone must never play sound far louder than what came in: a hostile or broken model
 * (mask gains far above 1), a corrupted state or a bug upstream could otherwise drive the
 * driver at full scale. Per hop the stage
 *   1. remembers the input's peak over the last HUSH_SAFETY_HOLD_HOPS hops (every input sample
 *      that can reach this hop's output through the STFT lies in that span);
 *   2. limits the output to a ceiling of HUSH_SAFETY_HEADROOM x that peak + HUSH_SAFETY_FLOOR
 *      (a mask is a gain <= 1 per bin, so a working model stays far below it: normal output is
 *      never changed);
 *   3. after HUSH_SAFETY_TRIP_HOPS consecutive hops that needed limiting, trips: the pipeline
 *      then bypasses the model (gain 1, click-free passthrough) until the next reset.
 *
 * Memory: a plain struct the owner embeds (the pipeline does); no heap. Integer arithmetic
 * only, so host and Cortex-M builds behave identically.
 */
#ifndef HUSH_SAFETY_H
#define HUSH_SAFETY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Hops of input peak history: output hop t depends on input hops t-2 .. t at n_fft = 2 hop;
 * one spare hop of margin. */
#define HUSH_SAFETY_HOLD_HOPS 4
/* Output may reach 4x (+12 dB) the recent input peak before it is limited. */
#define HUSH_SAFETY_HEADROOM 4
/* ... plus 256 LSB (-42 dBFS), so near-silent input never limits its own rounding noise. */
#define HUSH_SAFETY_FLOOR 256
/* Consecutive limited hops (32 ms at the 8 ms hop) before the model is switched off. */
#define HUSH_SAFETY_TRIP_HOPS 4

typedef struct {
    int32_t peak[HUSH_SAFETY_HOLD_HOPS]; /* max |input| of each recent hop */
    int next;                            /* slot of the next hop in peak[] */
    int limited_run;                     /* consecutive hops that needed limiting */
    int tripped;                         /* 1: the model is bypassed until reset */
    uint32_t limited_samples;            /* output samples changed since reset */
    uint32_t trips;                      /* times tripped since init (reset keeps it) */
} hush_safety;

/* Counters a device reports (SAFETY command). */
typedef struct {
    uint32_t limited_samples;
    uint32_t trips;
    int tripped;
} hush_safety_stats;

void hush_safety_init(hush_safety *s);

/* Forget the input history and leave the tripped state (the model runs again); `trips` is
 * kept, it counts faults since boot. */
void hush_safety_reset(hush_safety *s);

/* Record one hop of input (n samples); call before the output of this hop is made. */
void hush_safety_observe(hush_safety *s, const int16_t *in, int n);

/* Limit one hop of output in place (n samples). Returns 1 when this hop tripped the stage. */
int hush_safety_limit(hush_safety *s, int16_t *out, int n);

/* 1 while the stage has tripped: the owner must not run the model. */
int hush_safety_tripped(const hush_safety *s);

void hush_safety_get_stats(const hush_safety *s, hush_safety_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* HUSH_SAFETY_H */
