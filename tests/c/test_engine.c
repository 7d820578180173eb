/* Host unit tests of the int8 engine: fixed-point primitives, model validation, arena checks.
 * Bit-exactness against TFLite Micro is tested from Python (tests/test_engine.py). */
#include <stdio.h>
#include <string.h>

#include "engine_fixture.h"
#include "hush_engine.h"
#include "hush_kernels.h"

static int failures;

#define CHECK(cond)                                                \
    do {                                                           \
        if (!(cond)) {                                             \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            ++failures;                                            \
        }                                                          \
    } while (0)

static _Alignas(8) uint8_t engine_mem[1 << 16];
static _Alignas(16) uint8_t arena[1 << 16];
static uint8_t model_copy[sizeof engine_fixture];

static void test_fixed_point(void)
{
    /* The one overflow case of the doubling high multiply saturates. */
    CHECK(hush_kern_srdhm(INT32_MIN, INT32_MIN) == INT32_MAX);
    CHECK(hush_kern_srdhm(1 << 30, 1 << 30) == 1 << 29); /* 0.5 * 0.5 = 0.25 */
    CHECK(hush_kern_srdhm(-(1 << 30), 1 << 30) == -(1 << 29));
    /* Rounding of the high half: 1 * 2^30 * 2 / 2^32 = 0.5 rounds away from zero. */
    CHECK(hush_kern_srdhm(1, 1 << 30) == 1);
    CHECK(hush_kern_srdhm(-1, 1 << 30) == 0); /* -0.5: the nudge makes negative ties go up */
    /* Rounding divide by 2^n: ties away from zero, both signs. */
    CHECK(hush_kern_rdbpot(5, 1) == 3);
    CHECK(hush_kern_rdbpot(-5, 1) == -3);
    CHECK(hush_kern_rdbpot(-6, 2) == -2);
    CHECK(hush_kern_rdbpot(6, 2) == 2);
    CHECK(hush_kern_rdbpot(7, 0) == 7);
    /* 0.5 * 2^1: the left shift is applied before the multiply. */
    CHECK(hush_kern_mul_by_qm(1000, 1 << 30, 1) == 1000);
    CHECK(hush_kern_mul_by_qm(1000, 1 << 30, -3) == 63); /* 1000 / 16 = 62.5 -> 63 */
    CHECK(hush_kern_mul_by_qm(-1000, 1 << 30, -3) == -63);

    int32_t m = 0;
    int s = 0;
    hush_kern_quantize_multiplier(0.0, &m, &s);
    CHECK(m == 0 && s == 0);
    hush_kern_quantize_multiplier(0.5, &m, &s);
    CHECK(m == (1 << 30) && s == 0);
    hush_kern_quantize_multiplier(1.0, &m, &s);
    CHECK(m == (1 << 30) && s == 1);
    /* Just below 1: the mantissa rounds up to 2^31 and is renormalised. */
    hush_kern_quantize_multiplier(1.0 - 1e-12, &m, &s);
    CHECK(m == (1 << 30) && s == 1);
    hush_kern_quantize_multiplier(1e-12, &m, &s); /* below 2^-31 of range: flushed to zero */
    CHECK(m == 0 && s == 0);

    /* logistic(0) = 0.5 and tanh(0) = 0 exactly; symmetric around 0. */
    CHECK(hush_kern_logistic_q4(0) == 1 << 30);
    CHECK(hush_kern_tanh_q4(0) == 0);
    const int32_t one_q4 = 1 << 27;
    CHECK(hush_kern_tanh_q4(one_q4) == -hush_kern_tanh_q4(-one_q4));
    const int32_t lp = hush_kern_logistic_q4(one_q4);
    const int32_t ln = hush_kern_logistic_q4(-one_q4);
    CHECK(lp + ln == INT32_MAX); /* sigmoid(x) + sigmoid(-x) = 1 */
    /* sigmoid(1) = 0.7310586, tanh(1) = 0.7615942, within 1e-6 */
    CHECK((double)lp / 2147483648.0 > 0.731058 && (double)lp / 2147483648.0 < 0.731060);
    const double t1 = (double)hush_kern_tanh_q4(one_q4) / 2147483648.0;
    CHECK(t1 > 0.761593 && t1 < 0.761595);
}

static void test_activation_range(void)
{
    int32_t lo = 0;
    int32_t hi = 0;
    CHECK(hush_kern_activation_range(0, 0.1f, 3, &lo, &hi) == 0 && lo == -128 && hi == 127);
    CHECK(hush_kern_activation_range(1, 0.1f, 3, &lo, &hi) == 0 && lo == 3 && hi == 127);
    CHECK(hush_kern_activation_range(3, 0.1f, -10, &lo, &hi) == 0 && lo == -10 && hi == 50);
    CHECK(hush_kern_activation_range(4, 0.1f, 0, &lo, &hi) == -1); /* fused TANH */
}

static hush_engine *engine(void)
{
    return (hush_engine *)(void *)engine_mem;
}

static void test_valid_model(void)
{
    CHECK(hush_engine_get_size() <= sizeof engine_mem);
    hush_engine *e = engine();
    hush_status_t s = hush_engine_init(e, sizeof engine_mem, engine_fixture, sizeof engine_fixture,
                                       arena, sizeof arena);
    CHECK(s == HUSH_OK);
    if (s != HUSH_OK) {
        printf("  init: %s\n", hush_status_str(s));
        return;
    }
    const size_t used = hush_engine_arena_used(e);
    CHECK(used > 0 && used <= sizeof arena);
    CHECK(hush_engine_num_inputs(e) == 1 && hush_engine_num_outputs(e) == 1);
    CHECK(hush_engine_find_input(e, "features") == 0);
    CHECK(hush_engine_find_input(e, "no_such_tensor") == -1);
    hush_tensor_info in_info;
    hush_tensor_info out_info;
    int8_t *in = hush_engine_input(e, 0, &in_info);
    int8_t *out = hush_engine_output(e, 0, &out_info);
    CHECK(in != NULL && out != NULL && in_info.type == 9 && out_info.type == 9);
    CHECK(hush_engine_input(e, 1, NULL) == NULL);
    if (in == NULL || out == NULL) {
        return;
    }
    for (int32_t i = 0; i < in_info.num_elements; ++i) {
        in[i] = (int8_t)(i * 37 - 100);
    }
    CHECK(hush_engine_invoke(e) == HUSH_OK);
    int8_t first[256];
    const int32_t n_out = out_info.num_elements;
    CHECK(n_out > 0 && n_out <= 256);
    memcpy(first, out, (size_t)n_out);
    /* RELU output: nothing below the output zero point. */
    for (int32_t i = 0; i < n_out; ++i) {
        CHECK(out[i] >= out_info.zero_point);
    }
    /* Same input, same output: no hidden state in a feed-forward model. */
    CHECK(hush_engine_invoke(e) == HUSH_OK);
    CHECK(memcmp(first, out, (size_t)n_out) == 0);

    /* The measured size is exact: one byte less fails, the exact size works at any offset. */
    CHECK(hush_engine_init(e, sizeof engine_mem, engine_fixture, sizeof engine_fixture, arena,
                           used - 1) == HUSH_E_ARENA);
    CHECK(hush_engine_arena_used(e) == used); /* still reports the need */
    CHECK(hush_engine_init(e, sizeof engine_mem, engine_fixture, sizeof engine_fixture, arena,
                           used) == HUSH_OK);
    CHECK(hush_engine_init(e, sizeof engine_mem, engine_fixture, sizeof engine_fixture, arena + 3,
                           used + 8) == HUSH_OK);
    CHECK(hush_engine_init(e, sizeof engine_mem, engine_fixture, sizeof engine_fixture, NULL, 0) ==
          HUSH_E_ARENA);
}

static void test_corrupt_models(void)
{
    hush_engine *e = engine();
    CHECK(hush_engine_init(e, sizeof engine_mem, NULL, 0, arena, sizeof arena) == HUSH_E_MODEL);
    static const uint8_t junk[64] = {1, 2, 3, 4, 5, 6, 7, 8};
    CHECK(hush_engine_init(e, sizeof engine_mem, junk, sizeof junk, arena, sizeof arena) ==
          HUSH_E_MODEL);
    /* Every truncation is rejected, never read past. */
    int truncated_ok = 0;
    for (size_t n = 0; n < sizeof engine_fixture; ++n) {
        memcpy(model_copy, engine_fixture, n);
        if (hush_engine_init(e, sizeof engine_mem, model_copy, n, arena, sizeof arena) == HUSH_OK) {
            ++truncated_ok;
        }
    }
    CHECK(truncated_ok == 0);
    /* Byte corruption anywhere: init may succeed (a changed weight is still a model) but must
     * not crash, and a model that passes init must run. Deterministic LCG positions. */
    uint32_t lcg = 12345u;
    int accepted = 0;
    for (int trial = 0; trial < 4000; ++trial) {
        memcpy(model_copy, engine_fixture, sizeof engine_fixture);
        for (int k = 0; k < 3; ++k) {
            lcg = lcg * 1664525u + 1013904223u;
            model_copy[(lcg >> 8) % sizeof engine_fixture] ^= (uint8_t)(1u << ((lcg >> 4) & 7u));
        }
        if (hush_engine_init(e, sizeof engine_mem, model_copy, sizeof model_copy, arena,
                             sizeof arena) == HUSH_OK) {
            CHECK(hush_engine_invoke(e) == HUSH_OK);
            ++accepted;
        }
    }
    CHECK(accepted > 0 && accepted < 4000);
    /* The status strings are all distinct and non-empty. */
    for (int s = HUSH_OK; s <= HUSH_E_MEMORY; ++s) {
        CHECK(strlen(hush_status_str((hush_status_t)s)) > 0);
    }
}

/* xorshift32: a fixed, portable sequence so a failure reproduces. */
static uint32_t next_random(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

/* The kernels' fast requantization against the exact reference inside the bounds the kernels
 * prove before taking it: |x| < 2^30, shift in [-30, -1], any non-negative multiplier. Edge
 * values (bounds, ties, zero) are mixed in with uniform ones. */
static void test_fast_requant(void)
{
    static const int32_t edge_x[] = {0,       1,         -1, 2, -2, (1 << 30) - 1, -((1 << 30) - 1),
                                     1 << 29, -(1 << 29)};
    static const int32_t edge_m[] = {0, 1, 1 << 30, INT32_MAX, (1 << 30) + 1};
    uint32_t state = 0x9e3779b9u;
    int32_t mismatches = 0;
    int32_t checked = 0;
    for (int32_t i = 0; i < 400000; ++i) {
        const uint32_t r = next_random(&state);
        int32_t x = (int32_t)(next_random(&state) % ((1u << 31) - 1u)) - ((1 << 30) - 1);
        int32_t m = (int32_t)(next_random(&state) >> 1);
        if ((r & 7u) == 0) {
            x = edge_x[(r >> 3) % (sizeof edge_x / sizeof edge_x[0])];
        } else if ((r & 7u) == 1) {
            x = (int32_t)(x >> (r >> 27)); /* small magnitudes, where ties are common */
        }
        if ((r & 0x300u) == 0) {
            m = edge_m[(r >> 10) % (sizeof edge_m / sizeof edge_m[0])];
        }
        const int shift = -1 - (int)((r >> 12) % 30u);
        if (hush_kern_mul_by_qm_fast(x, m, shift) != hush_kern_mul_by_qm(x, m, shift)) {
            if (mismatches < 5) {
                printf("fast requantize differs: x %ld m %ld shift %d\n", (long)x, (long)m, shift);
            }
            ++mismatches;
        }
        ++checked;
    }
    CHECK(checked == 400000);
    CHECK(mismatches == 0);
}

/* Engine memory one byte short, or not aligned for a pointer, is refused before anything is
 * written to it; the exact size at an aligned address is accepted. */
static void test_state_memory_checked(void)
{
    static uint8_t arena[1 << 16];
    const size_t need = hush_engine_get_size();
    CHECK(need <= sizeof engine_mem - 8);
    memset(engine_mem, 0xA5, sizeof engine_mem);
    CHECK(hush_engine_init(engine(), need - 1, engine_fixture, sizeof engine_fixture, arena,
                           sizeof arena) == HUSH_E_MEMORY);
    CHECK(engine_mem[0] == 0xA5);
    hush_engine *shifted = (hush_engine *)(void *)(engine_mem + 1);
    CHECK(hush_engine_init(shifted, need, engine_fixture, sizeof engine_fixture, arena,
                           sizeof arena) == HUSH_E_MEMORY);
    CHECK(engine_mem[1] == 0xA5);
    CHECK(hush_engine_init(NULL, need, engine_fixture, sizeof engine_fixture, arena,
                           sizeof arena) == HUSH_E_MEMORY);
    CHECK(hush_engine_init(engine(), need, engine_fixture, sizeof engine_fixture, arena,
                           sizeof arena) == HUSH_OK);
}

/* The registry lists each operator once, with a name, and nothing past its end. */
static void test_op_registry(void)
{
    const int n = hush_engine_op_count();
    CHECK(n > 0);
    for (int i = 0; i < n; ++i) {
        CHECK(hush_engine_op_name(i) != NULL && hush_engine_op_code(i) >= 0);
        for (int k = 0; k < i; ++k) {
            CHECK(hush_engine_op_code(k) != hush_engine_op_code(i));
            CHECK(strcmp(hush_engine_op_name(k), hush_engine_op_name(i)) != 0);
        }
    }
    CHECK(hush_engine_op_name(n) == NULL && hush_engine_op_code(n) == -1);
    CHECK(hush_engine_op_name(-1) == NULL && hush_engine_op_code(-1) == -1);
}

int main(void)
{
    test_fixed_point();
    test_state_memory_checked();
    test_op_registry();
    test_fast_requant();
    test_activation_range();
    test_valid_model();
    test_corrupt_models();
    printf("%s: test_engine (%s)\n", failures ? "FAIL" : "PASS", ENGINE_FIXTURE_NAME);
    return failures ? 1 : 0;
}
