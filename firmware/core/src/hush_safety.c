/* The output safety stage: see hush_safety.h. */
#include "hush_safety.h"

#include <string.h>

void hush_safety_init(hush_safety *s)
{
    memset(s, 0, sizeof *s);
}

void hush_safety_reset(hush_safety *s)
{
    const uint32_t trips = s->trips;
    memset(s, 0, sizeof *s);
    s->trips = trips;
}

void hush_safety_observe(hush_safety *s, const int16_t *in, int n)
{
    int32_t peak = 0;
    for (int i = 0; i < n; i++) {
        const int32_t v = in[i] < 0 ? -(int32_t)in[i] : (int32_t)in[i];
        peak = v > peak ? v : peak;
    }
    s->peak[s->next] = peak;
    s->next = (s->next + 1) % HUSH_SAFETY_HOLD_HOPS;
}

static int32_t ceiling(const hush_safety *s)
{
    int32_t peak = 0;
    for (int i = 0; i < HUSH_SAFETY_HOLD_HOPS; i++) {
        peak = s->peak[i] > peak ? s->peak[i] : peak;
    }
    /* peak <= 32768, so this stays far below INT32_MAX. */
    return HUSH_SAFETY_HEADROOM * peak + HUSH_SAFETY_FLOOR;
}

int hush_safety_limit(hush_safety *s, int16_t *out, int n)
{
    const int32_t hi = ceiling(s);
    int limited = 0;
    if (hi < 32767) {
        const int16_t top = (int16_t)hi;
        for (int i = 0; i < n; i++) {
            if (out[i] > top) {
                out[i] = top;
                limited++;
            } else if (out[i] < -top) {
                out[i] = (int16_t)-top;
                limited++;
            }
        }
    }
    s->limited_samples += (uint32_t)limited;
    s->limited_run = limited ? s->limited_run + 1 : 0;
    if (!s->tripped && s->limited_run >= HUSH_SAFETY_TRIP_HOPS) {
        s->tripped = 1;
        s->trips++;
        return 1;
    }
    return 0;
}

int hush_safety_tripped(const hush_safety *s)
{
    return s->tripped;
}

void hush_safety_get_stats(const hush_safety *s, hush_safety_stats *stats)
{
    stats->limited_samples = s->limited_samples;
    stats->trips = s->trips;
    stats->tripped = s->tripped;
}
