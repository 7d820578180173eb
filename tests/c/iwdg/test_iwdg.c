/*
 * Host test of the STM32F4 independent-watchdog driver (firmware/hal/stm32f4_watchdog) and
 * the reset record above it, against a model of the IWDG and RCC_CSR (RM0090 section 17 and
 * 7.3.21), the part of the hardware QEMU does not emulate:
 *   - KR: 0x5555 unlocks PR and RLR, any other key locks them again; 0xCCCC starts the
 *     counter (it cannot be stopped); 0xAAAA reloads it from RLR.
 *   - PR / RLR: a write while locked, or while the previous update is still crossing into the
 *     LSI domain (SR PVU / RVU set), is ignored; an accepted one keeps SR busy for a few
 *     reads.
 *   - the counter runs down one step per 2^PR * 4 LSI cycles; at zero the chip resets, sets
 *     RCC_CSR.IWDGRSTF and the IWDG keeps running with the same PR and RLR.
 *   - RCC_CSR: writing RMVF clears the reset flags.
 * Exit status 0 when every check passed; the failed check otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_watchdog.h"
#include "cortex_m.h"
#include "hal_watchdog.h"
#include "hush_frame.h"

#define IWDG_KR     0x40003000u
#define IWDG_PR     0x40003004u
#define IWDG_RLR    0x40003008u
#define IWDG_SR     0x4000300Cu
#define RCC_CSR     0x40023874u
#define CSR_RMVF    (1u << 24)
#define CSR_PINRST  (1u << 26)
#define CSR_PORRST  (1u << 27)
#define CSR_IWDGRST (1u << 29)
#define CSR_FLAGS   0xFE000000u /* bits 25-31: the reset flags */
#define SR_PVU      1u
#define SR_RVU      2u
#define BUSY_READS  4u          /* SR reads an accepted PR / RLR update stays busy for */
#define UNWRITTEN   0xDEC0ADDEu /* a write-only register between two writes */

static struct {
    uint32_t pr, rlr, sr, csr;
    uint32_t pr_busy, rlr_busy; /* SR reads left until PVU / RVU clear */
    int unlocked, running;
    int32_t counter;
    uint32_t keys[16];
    unsigned n_keys;
    unsigned ignored; /* PR / RLR writes the hardware dropped */
    unsigned resets;
} hw;

/* The access under way: the driver reads and writes `cell`; the model applies it at the next
 * access (or fake_mmio_settle). */
static volatile uint32_t cell;
static uint32_t cell_addr; /* 0: none */
static uint32_t cell_before;
static int failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

static void power_on(uint32_t csr)
{
    memset(&hw, 0, sizeof hw);
    hw.rlr = 0xFFFu; /* reset value */
    hw.csr = csr;
    cell_addr = 0;
}

static void key(uint32_t k)
{
    if (hw.n_keys < sizeof hw.keys / sizeof hw.keys[0]) {
        hw.keys[hw.n_keys++] = k;
    }
    hw.unlocked = k == 0x5555u;
    if (k == 0xCCCCu) {
        hw.running = 1;
    }
    if (k == 0xAAAAu || k == 0xCCCCu) {
        hw.counter = (int32_t)hw.rlr;
    }
}

/* A write to PR or RLR: taken only unlocked and when that register is not mid-update. */
static void update(uint32_t *reg, uint32_t *busy, uint32_t sr_bit, uint32_t value)
{
    if (!hw.unlocked || *busy != 0u) {
        hw.ignored++;
        return;
    }
    *reg = value;
    *busy = BUSY_READS;
    hw.sr |= sr_bit;
}

void fake_mmio_settle(void)
{
    const uint32_t addr = cell_addr;
    const uint32_t v = cell;
    cell_addr = 0;
    switch (addr) {
    case IWDG_KR:
        if (v != UNWRITTEN) {
            key(v & 0xFFFFu);
        }
        break;
    case IWDG_PR:
        if (v != UNWRITTEN) {
            update(&hw.pr, &hw.pr_busy, SR_PVU, v & 7u);
        }
        break;
    case IWDG_RLR:
        if (v != UNWRITTEN) {
            update(&hw.rlr, &hw.rlr_busy, SR_RVU, v & 0xFFFu);
        }
        break;
    case IWDG_SR:
        CHECK(v == cell_before); /* read-only */
        break;
    case RCC_CSR:
        if (v & CSR_RMVF) {
            hw.csr = v & ~(CSR_RMVF | CSR_FLAGS);
        } else {
            CHECK(v == cell_before); /* only RMVF is ever written */
        }
        break;
    default:
        break;
    }
}

volatile uint32_t *fake_mmio(uint32_t addr)
{
    fake_mmio_settle();
    switch (addr) {
    case IWDG_KR:
    case IWDG_PR:
    case IWDG_RLR:
        cell = UNWRITTEN; /* the driver only writes these */
        break;
    case IWDG_SR:
        /* Each read lets an update under way progress. */
        hw.pr_busy -= hw.pr_busy != 0u;
        hw.rlr_busy -= hw.rlr_busy != 0u;
        hw.sr = (hw.pr_busy != 0u ? SR_PVU : 0u) | (hw.rlr_busy != 0u ? SR_RVU : 0u);
        cell = hw.sr;
        break;
    case RCC_CSR:
        cell = hw.csr;
        break;
    default:
        fprintf(stderr, "unexpected register 0x%08x\n", (unsigned)addr);
        exit(2);
    }
    cell_addr = addr;
    cell_before = cell;
    return &cell;
}

/* LSI time passes: `steps` counter decrements. At zero the chip resets. */
static int run_lsi(int32_t steps)
{
    if (!hw.running) {
        return 0;
    }
    hw.counter -= steps;
    if (hw.counter > 0) {
        return 0;
    }
    hw.resets++;
    hw.csr |= CSR_IWDGRST | CSR_PINRST; /* the IWDG drives NRST */
    hw.counter = (int32_t)hw.rlr;       /* and keeps running after the reset */
    hw.unlocked = 0;
    return 1;
}

/* The record in no-init RAM (the linker script's __hal_noinit_start__ on the board). */
hal_watchdog_record __hal_noinit_start__;

static void test_start_sequence(void)
{
    power_on(CSR_PORRST | CSR_PINRST);
    hal_watchdog_start(0);
    fake_mmio_settle();
    CHECK(hw.running);
    CHECK(hw.ignored == 0u);
    CHECK(hw.pr == 3u);    /* LSI / 32: about one count per ms */
    CHECK(hw.rlr == 500u); /* 500 ms */
    CHECK(hw.n_keys == 3u && hw.keys[0] == 0xCCCCu && hw.keys[1] == 0x5555u &&
          hw.keys[2] == 0xAAAAu);
    CHECK(hw.sr == 0u);       /* the feed came after the update landed */
    CHECK(hw.counter == 500); /* reloaded with the new value */
    CHECK(!hw.unlocked);      /* the feed locked PR and RLR again */
    CHECK(hal_watchdog_present() == 1);
}

static void test_restart_while_busy(void)
{
    /* An earlier start (the bootloader's, or the one just before) still crossing to LSI. */
    power_on(0);
    hal_watchdog_start(0);
    fake_mmio_settle();
    hw.pr_busy = hw.rlr_busy = BUSY_READS;
    hw.sr = SR_PVU | SR_RVU;
    hw.n_keys = 0;
    hal_watchdog_start(40u);
    fake_mmio_settle();
    CHECK(hw.ignored == 0u);
    CHECK(hw.rlr == 40u);
    CHECK(hw.counter == 40);
}

static void test_timeout_range(void)
{
    power_on(0);
    hal_watchdog_start(100000u);
    fake_mmio_settle();
    CHECK(hw.rlr == 0xFFFu); /* the 12-bit reload's longest: about 4 s */
    hal_watchdog_start(1u);
    fake_mmio_settle();
    CHECK(hw.rlr == 1u);
    CHECK(hw.ignored == 0u);
}

static void test_feed_keeps_it_alive(void)
{
    power_on(0);
    hal_watchdog_start(0);
    for (int i = 0; i < 20; ++i) {
        CHECK(run_lsi(400) == 0); /* 400 ms between feeds: under the 500 ms */
        if (i % 2) {
            hal_watchdog_feed();
        } else {
            hal_watchdog_idle();
        }
        fake_mmio_settle();
        CHECK(hw.counter == 500);
    }
    CHECK(hw.resets == 0u);
}

static void test_reset_cause(void)
{
    power_on(CSR_PORRST | CSR_PINRST);
    CHECK(hal_watchdog_hw_reset_cause() == 0);
    fake_mmio_settle();
    CHECK((hw.csr & CSR_FLAGS) == 0u); /* flags cleared for the next reset */
    power_on(CSR_IWDGRST | CSR_PINRST);
    CHECK(hal_watchdog_hw_reset_cause() == 1);
    fake_mmio_settle();
    CHECK((hw.csr & CSR_FLAGS) == 0u);
    CHECK(hal_watchdog_hw_reset_cause() == 0); /* a later reset by the pin is not the IWDG's */
}

/* The whole story on the model: boot, a hop that hangs, the IWDG reset, the next boot says
 * so in STATS (app_watchdog.c over hal_watchdog_record.c and this driver). */
static void test_hang_is_reported_in_stats(void)
{
    memset(&__hal_noinit_start__, 0, sizeof __hal_noinit_start__); /* power-on RAM */
    power_on(CSR_PORRST | CSR_PINRST);
    CHECK(app_watchdog_start() == 0);
    app_watchdog_enter(HUSH_WDT_PHASE_LOOP);
    CHECK(run_lsi(300) == 0);
    app_watchdog_enter(HUSH_WDT_PHASE_HOP); /* a hop starts and never returns */
    fake_mmio_settle();
    CHECK(run_lsi(499) == 0);
    CHECK(run_lsi(1) == 1);
    /* Reset: RAM above the sections survives; the firmware starts again. */
    CHECK(app_watchdog_start() == 1);
    fake_mmio_settle();
    uint8_t stats[HUSH_STATS_REPLY_SIZE];
    memset(stats, 0xEE, sizeof stats);
    app_watchdog_put_stats(stats);
    CHECK(hush_frame_get_u32(stats + HUSH_STATS_REPLY_WATCHDOG_RESETS_OFFSET) == 1u);
    CHECK(stats[HUSH_STATS_REPLY_WATCHDOG_REASON_OFFSET] == HUSH_WDT_PHASE_HOP);
    CHECK(stats[HUSH_STATS_REPLY_WATCHDOG_LAST_BOOT_OFFSET] == 1u);
    CHECK(hw.rlr == 500u && hw.ignored == 0u);
    /* A pin reset after that: counted as no watchdog reset, the count stays. */
    hw.csr |= CSR_PINRST;
    CHECK(app_watchdog_start() == 0);
    fake_mmio_settle();
    app_watchdog_put_stats(stats);
    CHECK(hush_frame_get_u32(stats + HUSH_STATS_REPLY_WATCHDOG_RESETS_OFFSET) == 1u);
    CHECK(stats[HUSH_STATS_REPLY_WATCHDOG_LAST_BOOT_OFFSET] == 0u);
}

int main(void)
{
    test_start_sequence();
    test_restart_while_busy();
    test_timeout_range();
    test_feed_keeps_it_alive();
    test_reset_cause();
    test_hang_is_reported_in_stats();
    if (failures != 0) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("iwdg: all checks passed\n");
    return 0;
}
