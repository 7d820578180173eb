/* Host harness for boot_seccnt.c (run by tests/test_seccnt.py): the security counter on a
 * RAM flash with NOR rules (erase to 0xFF by sector, program only clears bits, only over
 * erased bytes), and power cuts in the middle of a record's programming.
 *
 * A cut keeps an arbitrary subset of the record's cleared bits (NOR cells program
 * independently): every byte prefix, then random subsets. After each cut the counter must
 * read either the old or, only when the whole record landed, the new value, never less than
 * the old; the next raise must then succeed. Prints one line per group of cases and exits
 * non-zero at the first failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot_seccnt.h"
#include "flash_layout.h"
#include "hal_flash.h"
#include "hush_protocol.h"

static uint8_t flash[HUSH_FLASH_SIZE];
static uint32_t ops;
static int cut_pending;      /* the next program is torn */
static uint8_t cut_mask[64]; /* per byte: which of the bits to clear actually clear */

int boot_sig_keyed(void)
{
    return 1;
}

int hal_flash_init(int load)
{
    (void)load;
    memset(flash, 0xFF, sizeof flash);
    return HAL_FLASH_OK;
}

int hal_flash_erase(uint32_t offset)
{
    if (offset % HUSH_FLASH_SECTOR != 0u || offset >= HUSH_FLASH_SIZE) {
        return HAL_FLASH_E_ALIGN;
    }
    if (offset == HUSH_SECCNT_START) {
        fprintf(stderr, "FAIL: the counter sector was erased\n");
        exit(1);
    }
    ops++;
    memset(flash + offset, 0xFF, HUSH_FLASH_SECTOR);
    return HAL_FLASH_OK;
}

int hal_flash_program(uint32_t offset, const uint8_t *data, size_t len)
{
    if (offset % HUSH_FLASH_WRITE_ALIGN != 0u || len % HUSH_FLASH_WRITE_ALIGN != 0u) {
        return HAL_FLASH_E_ALIGN;
    }
    if (offset > HUSH_FLASH_SIZE || len > HUSH_FLASH_SIZE - offset) {
        return HAL_FLASH_E_RANGE;
    }
    for (size_t i = 0; i < len; ++i) {
        if (flash[offset + i] != 0xFFu) {
            return HAL_FLASH_E_NOT_ERASED;
        }
    }
    ops++;
    for (size_t i = 0; i < len; ++i) {
        const uint8_t clear = (uint8_t)~data[i]; /* bits the program takes to 0 */
        const uint8_t done = cut_pending && i < sizeof cut_mask ? clear & cut_mask[i] : clear;
        flash[offset + i] = (uint8_t)~done;
    }
    if (cut_pending) {
        cut_pending = 0;
        return HAL_FLASH_E_IO; /* the supply dropped: whatever landed stays */
    }
    return HAL_FLASH_OK;
}

const uint8_t *hal_flash_ptr(uint32_t offset)
{
    return flash + offset;
}

uint32_t hal_flash_ops(void)
{
    return ops;
}

static int failures;

static void expect(int ok, const char *what, unsigned a, unsigned b)
{
    if (!ok) {
        fprintf(stderr, "FAIL: %s (%u, %u)\n", what, a, b);
        failures++;
    }
}

static uint32_t rng_state = 12345u;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* One torn raise from `from` to `to` with cut_mask set; checks what reads back after it. */
static void torn_case(uint32_t from, uint32_t to)
{
    hal_flash_init(1);
    expect(boot_seccnt_raise(from) == HAL_FLASH_OK, "setup raise", from, 0);
    cut_pending = 1;
    (void)boot_seccnt_raise(to);
    const uint32_t after = boot_seccnt_value();
    expect(after >= from, "torn write lowered the counter", after, from);
    expect(after == from || after == to, "torn write made up a value", after, to);
    /* The record counts exactly when every bit it had to clear did clear. */
    const uint32_t words[4] = {HUSH_SECCNT_MAGIC, to, ~to, ~HUSH_SECCNT_MAGIC};
    int whole = 1;
    for (unsigned i = 0; i < HUSH_SECCNT_RECORD_SIZE; ++i) {
        const uint8_t clear = (uint8_t) ~(uint8_t)(words[i / 4u] >> (8u * (i % 4u)));
        whole &= (clear & cut_mask[i]) == clear;
    }
    expect((after == to) == whole, "torn record counted (or a whole one lost)", after, to);
    expect(boot_seccnt_raise(to) == HAL_FLASH_OK && boot_seccnt_value() == to,
           "raise after a torn write", boot_seccnt_value(), to);
}

int main(void)
{
    /* 1. Fresh device: 0; raises only go up; lower or equal raises write nothing. */
    hal_flash_init(1);
    expect(boot_seccnt_value() == 0u, "fresh counter", boot_seccnt_value(), 0u);
    const uint32_t steps[] = {3u, 1u, 3u, 7u, 0u, 4000000000u, 5u};
    uint32_t highest = 0;
    for (unsigned i = 0; i < sizeof steps / sizeof steps[0]; ++i) {
        const uint32_t before_ops = ops;
        expect(boot_seccnt_raise(steps[i]) == HAL_FLASH_OK, "raise", steps[i], 0);
        const int writes = steps[i] > highest;
        highest = steps[i] > highest ? steps[i] : highest;
        expect(boot_seccnt_value() == highest, "monotonic value", boot_seccnt_value(), highest);
        expect((ops - before_ops) == (uint32_t)writes, "one program per real raise", ops,
               before_ops);
    }
    boot_seccnt_state s;
    boot_seccnt_read(&s);
    expect(s.records == 3u, "records used", s.records, 3u);
    printf("monotonic: %u raises, counter %u, %u records\n",
           (unsigned)(sizeof steps / sizeof steps[0]), (unsigned)highest, s.records);

    /* 2. A full sector refuses further raises and keeps its value. */
    hal_flash_init(1);
    for (uint32_t v = 1; v <= s.capacity; ++v) {
        expect(boot_seccnt_raise(v) == HAL_FLASH_OK, "fill", v, 0);
    }
    expect(boot_seccnt_raise(s.capacity + 1u) == BOOT_SECCNT_E_FULL, "full", s.capacity, 0);
    expect(boot_seccnt_value() == s.capacity, "full keeps value", boot_seccnt_value(), 0);
    printf("capacity: %u raises, then BOOT_SECCNT_E_FULL\n", s.capacity);

    /* 3. Torn records: every byte prefix, then random subsets of the bits to clear. */
    unsigned cases = 0;
    for (unsigned prefix = 0; prefix <= HUSH_SECCNT_RECORD_SIZE; ++prefix) {
        for (unsigned i = 0; i < sizeof cut_mask; ++i) {
            cut_mask[i] = i < prefix ? 0xFFu : 0x00u;
        }
        torn_case(5u, 9u);
        torn_case(0x12345678u, 0x92345679u);
        cases += 2;
    }
    for (unsigned n = 0; n < 20000u; ++n) {
        for (unsigned i = 0; i < sizeof cut_mask; ++i) {
            cut_mask[i] = (uint8_t)rng();
        }
        const uint32_t from = rng() >> 1;
        torn_case(from, from + 1u + (rng() >> 2));
        cases++;
    }
    /* A torn record never becomes valid by itself, and the data beside it is kept: two cuts
     * in a row, then a clean raise. */
    hal_flash_init(1);
    (void)boot_seccnt_raise(10u);
    for (unsigned k = 0; k < 2; ++k) {
        memset(cut_mask, 0x0F, sizeof cut_mask);
        cut_pending = 1;
        (void)boot_seccnt_raise(20u + k);
        expect(boot_seccnt_value() == 10u, "double cut", boot_seccnt_value(), 10u);
    }
    expect(boot_seccnt_raise(30u) == HAL_FLASH_OK && boot_seccnt_value() == 30u, "after cuts",
           boot_seccnt_value(), 30u);
    boot_seccnt_read(&s);
    expect(s.records == 4u, "torn records are skipped, not reused", s.records, 4u);
    cases++;
    printf("torn writes: %u cases, counter never lowered\n", cases);

    /* 4. The SECURITY_COUNTER reply carries what is stored. */
    uint8_t out[HUSH_SECURITY_COUNTER_REPLY_SIZE];
    expect(boot_seccnt_reply(out) == sizeof out && out[0] == 30u && out[4] == 4u &&
               out[HUSH_SECURITY_COUNTER_REPLY_KEYED_OFFSET] == 1u,
           "reply", out[0], out[4]);
    if (failures != 0) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("ok\n");
    return 0;
}
