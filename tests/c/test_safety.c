/* Unit tests of the output safety stage: normal audio passes untouched, a runaway output is
 * held to the ceiling, a persistent one trips the stage, and reset re-arms it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hush_safety.h"

static int failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

#define HOP 128

static void fill(int16_t *x, int16_t value)
{
    for (int i = 0; i < HOP; i++) {
        x[i] = (int16_t)((i & 1) ? value : -value);
    }
}

/* One hop through the stage: observe `in_level`, limit an output of `out_level`. */
static int hop(hush_safety *s, int16_t in_level, int16_t out_level, int16_t *out)
{
    int16_t in[HOP];
    fill(in, in_level);
    hush_safety_observe(s, in, HOP);
    fill(out, out_level);
    return hush_safety_limit(s, out, HOP);
}

static void test_normal_audio_is_untouched(void)
{
    hush_safety s;
    hush_safety_init(&s);
    int16_t out[HOP];
    int16_t want[HOP];
    for (int h = 0; h < 100; h++) {
        /* up to the ceiling exactly: 4 x 1000 + 256 */
        const int16_t level = (int16_t)(h % 2 ? 4256 : 900);
        CHECK(hop(&s, 1000, level, out) == 0);
        fill(want, level);
        CHECK(memcmp(out, want, sizeof out) == 0);
    }
    /* silence in, rounding noise out */
    for (int h = 0; h < 10; h++) {
        CHECK(hop(&s, 0, 3, out) == 0);
    }
    /* full-scale input leaves no room for a ceiling below full scale */
    CHECK(hop(&s, 32767, 32767, out) == 0);
    CHECK(out[0] == -32767 && out[1] == 32767);
    hush_safety_stats st;
    hush_safety_get_stats(&s, &st);
    CHECK(st.limited_samples == 0 && st.trips == 0 && st.tripped == 0);
}

static void test_runaway_output_is_limited_then_trips(void)
{
    hush_safety s;
    hush_safety_init(&s);
    int16_t out[HOP];
    for (int h = 0; h < HUSH_SAFETY_HOLD_HOPS; h++) {
        CHECK(hop(&s, 1000, 1000, out) == 0); /* history filled with a quiet input */
    }
    for (int h = 1; h < HUSH_SAFETY_TRIP_HOPS; h++) {
        CHECK(hop(&s, 1000, 32767, out) == 0);
        for (int i = 0; i < HOP; i++) {
            CHECK(out[i] == 4256 || out[i] == -4256);
        }
        CHECK(!hush_safety_tripped(&s));
    }
    CHECK(hop(&s, 1000, -32767, out) == 1); /* the TRIP_HOPS-th limited hop in a row */
    CHECK(hush_safety_tripped(&s));
    CHECK(hop(&s, 1000, 32767, out) == 0); /* tripped once, reported once */
    CHECK(out[0] == -4256 && out[1] == 4256);
    hush_safety_stats st;
    hush_safety_get_stats(&s, &st);
    CHECK(st.trips == 1 && st.tripped == 1);
    CHECK(st.limited_samples == (uint32_t)(HUSH_SAFETY_TRIP_HOPS + 1) * HOP);

    hush_safety_reset(&s);
    hush_safety_get_stats(&s, &st);
    CHECK(st.trips == 1 && st.tripped == 0 && st.limited_samples == 0);
}

static void test_isolated_peaks_do_not_trip(void)
{
    hush_safety s;
    hush_safety_init(&s);
    int16_t out[HOP];
    for (int h = 0; h < 50; h++) {
        /* one limited hop in every TRIP_HOPS: limited, never tripped */
        const int16_t level = (int16_t)(h % HUSH_SAFETY_TRIP_HOPS == 0 ? 30000 : 100);
        CHECK(hop(&s, 100, level, out) == 0);
    }
    CHECK(!hush_safety_tripped(&s));
}

static void test_ceiling_follows_the_input_history(void)
{
    hush_safety s;
    hush_safety_init(&s);
    int16_t out[HOP];
    CHECK(hop(&s, 8000, 8000, out) == 0);
    /* a loud hop still within the held span raises the ceiling for the quiet hops after it */
    for (int h = 1; h < HUSH_SAFETY_HOLD_HOPS; h++) {
        CHECK(hop(&s, 10, 8000, out) == 0);
        CHECK(out[0] == -8000);
    }
    CHECK(hop(&s, 10, 8000, out) == 0); /* the loud hop has left the span */
    CHECK(out[0] == -(4 * 10 + HUSH_SAFETY_FLOOR));
}

int main(void)
{
    test_normal_audio_is_untouched();
    test_runaway_output_is_limited_then_trips();
    test_isolated_peaks_do_not_trip();
    test_ceiling_follows_the_input_history();
    if (failures) {
        fprintf(stderr, "test_safety: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_safety: ok\n");
    return 0;
}
