/* FULLY_CONNECTED on the Cortex-M DSP extension (SXTB16 + SMLAD, two MACs per instruction):
 * the optimised variant of hush_kernels_ref.c's portable kernel, with the same results bit for
 * bit (the integer sums are exact, so their order does not matter; the requantization is the
 * shared one of hush_kern_private.h). Compiled in when the CPU flags enable the extension
 * (__ARM_FEATURE_DSP: Cortex-M4, M7, M33, M55); empty otherwise.
 */
#include <string.h>

#include "hush_kern_private.h"

#if HUSH_KERN_DSP
/* SXTB16 with the operand rotated by 8: lanes 1 and 3 of four packed int8, sign-extended. GCC
 * does not fold a C rotate into the instruction, hence the asm. */
static int32_t sxtb16_ror8(uint32_t v)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}

static uint32_t load_u32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v); /* a single LDR: Cortex-M4/M7/M55 allow unaligned word loads */
    return v;
}

/* Widen x to int16 so that word 2g holds (x[4g], x[4g+2]) and word 2g+1 (x[4g+1], x[4g+3]):
 * the lanes SXTB16(w) and SXTB16(w ROR 8) give for four packed weights. */
static void fc_widen_input(const int8_t *x, int32_t depth, int16_t *s)
{
    const int32_t groups = depth >> 2;
    for (int32_t g = 0; g < groups; ++g) {
        s[4 * g + 0] = x[4 * g + 0];
        s[4 * g + 1] = x[4 * g + 2];
        s[4 * g + 2] = x[4 * g + 1];
        s[4 * g + 3] = x[4 * g + 3];
    }
}

/* acc += w[0..3] . x[0..3] with four packed weights and two widened input words. */
static int32_t mac4(int32_t acc, uint32_t w, int32_t xa, int32_t xb)
{
    acc = __smlad(__sxtb16((int32_t)w), xa, acc);
    return __smlad(sxtb16_ror8(w), xb, acc);
}

/* Four weights of one row against the input words xa, xb: a post-incremented (unaligned) load,
 * two SXTB16 and two SMLAD. */
#define FC_ROW(acc, ptr)                          \
    "ldr %[w], [%[" ptr "]], #4\n"                \
    "sxtb16 %[t], %[w]\n"                         \
    "smlad %[" acc "], %[t], %[xa], %[" acc "]\n" \
    "sxtb16 %[t], %[w], ror #8\n"                 \
    "smlad %[" acc "], %[t], %[xb], %[" acc "]\n"

/* Four inputs for four rows: one LDRD of widened input, 21 instructions per 16 MACs. */
#define FC_STEP4                                                                                \
    "ldrd %[xa], %[xb], [%[px]], #8\n" FC_ROW("a0", "p0") FC_ROW("a1", "p1") FC_ROW("a2", "p2") \
        FC_ROW("a3", "p3")

/* Four rows share each widened input load. The cost that matters is instructions, so the loops
 * are written out: 16 inputs per inner iteration, 4 x 21 instructions plus 3 for the loop
 * (its end is read from the stack: all 14 allocatable registers but one are in use), 1.36 per
 * MAC against 1.75 for a compiled two-row loop. The loop over blocks of four rows is written
 * out too: a block's rows start `tail` bytes past where the previous block's last row pointer
 * stopped, and the block loop's values are read from the stack, about 18 instructions per
 * block around its inner loop. Covers inputs [0, depth & ~15) of rows [0, 4 blocks); needs
 * depth >= 16. The integer sum is exact, so the order of the terms does not change it. */
static void fc_blocks_16(const int8_t *w0, int32_t depth, const int16_t *s, int32_t *acc,
                         int32_t blocks)
{
    const int16_t *const s0 = s;
    const int16_t *const end = s + (depth & ~15);
    const int32_t tail = depth & 15;
    int32_t *accp = acc;
    int32_t *const acc_end = acc + 4 * blocks;
    const int8_t *p3 = w0 - tail;
    const int8_t *p0, *p1, *p2;
    const int16_t *px;
    int32_t a0, a1, a2, a3;
    uint32_t xa, xb, w, t;
    __asm__(
        "2:\n"
        "ldr %[t], %[accp]\n"
        "ldrd %[a0], %[a1], [%[t]]\n"
        "ldrd %[a2], %[a3], [%[t], #8]\n"
        "ldr %[t], %[tail]\n"
        "add %[p0], %[p3], %[t]\n"
        "ldr %[t], %[depth]\n"
        "add %[p1], %[p0], %[t]\n"
        "add %[p2], %[p1], %[t]\n"
        "add %[p3], %[p2], %[t]\n"
        "ldr %[px], %[s0]\n"
        "1:\n" FC_STEP4 FC_STEP4 FC_STEP4 FC_STEP4 "ldr %[t], %[end]\n"
        "cmp %[px], %[t]\n"
        "blo 1b\n"
        "ldr %[t], %[accp]\n"
        "strd %[a0], %[a1], [%[t]]\n"
        "strd %[a2], %[a3], [%[t], #8]\n"
        "add %[t], %[t], #16\n"
        "str %[t], %[accp]\n"
        "ldr %[xa], %[acc_end]\n"
        "cmp %[t], %[xa]\n"
        "blo 2b\n"
        : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [p0] "=&r"(p0),
          [p1] "=&r"(p1), [p2] "=&r"(p2), [p3] "+r"(p3), [px] "=&r"(px), [xa] "=&r"(xa),
          [xb] "=&r"(xb), [w] "=&r"(w), [t] "=&r"(t), [accp] "+m"(accp)
        : [end] "m"(end), [s0] "m"(s0), [depth] "m"(depth), [tail] "m"(tail), [acc_end] "m"(acc_end)
        : "cc", "memory");
}

/* acc += row . x for a row outside the blocks of four, in groups of 4 then one by one. */
static void fc_row(const int8_t *w, const int8_t *x, const int16_t *s, int32_t depth, int32_t *acc)
{
    const int32_t groups_end = depth & ~3;
    int32_t a = *acc;
    int32_t d = 0;
    for (; d < groups_end; d += 4) {
        a = mac4(a, load_u32(w + d), (int32_t)load_u32(s + d), (int32_t)load_u32(s + d + 2));
    }
    for (; d < depth; ++d) {
        a += w[d] * x[d];
    }
    *acc = a;
}

/* The inputs [from, depth) left over by fc_blocks_16 (fewer than 16), for the same four rows in
 * one pass, so each input is read once and there is no call per row. */
static void fc_4rows_tail(const int8_t *w0, int32_t depth, const int8_t *x, int32_t from,
                          int32_t *acc)
{
    const int8_t *w1 = w0 + depth;
    const int8_t *w2 = w1 + depth;
    const int8_t *w3 = w2 + depth;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    for (int32_t d = from; d < depth; ++d) {
        const int32_t xd = x[d];
        a0 += w0[d] * xd;
        a1 += w1[d] * xd;
        a2 += w2[d] * xd;
        a3 += w3[d] * xd;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

static void fc_accumulate(const hush_kern_fc *p, const int8_t *x, const int16_t *s, int32_t *acc)
{
    const int32_t depth = p->depth;
    const int32_t done = depth & ~15;
    int32_t r = 0;
    if (done > 0 && p->rows >= 4) {
        r = p->rows & ~3;
        fc_blocks_16(p->weights, depth, s, acc, r >> 2);
        for (int32_t k = 0; done < depth && k < r; k += 4) {
            fc_4rows_tail(p->weights + (size_t)k * (size_t)depth, depth, x, done, &acc[k]);
        }
    }
    for (; r < p->rows; ++r) {
        fc_row(p->weights + (size_t)r * (size_t)depth, x, s, depth, &acc[r]);
    }
}

void hush_kern_fc_s8(const hush_kern_fc *p, const int8_t *in, int8_t *out, int16_t *scratch,
                     int widened)
{
    int32_t *acc = (int32_t *)(void *)((uint8_t *)scratch + fc_input_bytes(p->depth));
    for (int32_t b = 0; b < p->batches; ++b) {
        const int8_t *x = in + (size_t)b * (size_t)p->depth;
        memcpy(acc, p->row_const, (size_t)p->rows * sizeof(int32_t));
        if (!widened || p->batches != 1) {
            fc_widen_input(x, p->depth, scratch);
        }
        fc_accumulate(p, x, scratch, acc);
        fc_requant(p, acc, out + (size_t)b * (size_t)p->rows);
    }
}
#endif /* HUSH_KERN_DSP */
