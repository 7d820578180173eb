/*
 * hal_watchdog on the STM32F4 independent watchdog (IWDG, RM0090 / RM0383 section 17),
 * clocked by the LSI RC oscillator (32 kHz nominal, 17-47 kHz over parts and temperature).
 *
 * Once started the IWDG cannot be stopped and keeps running through a reset, so whatever
 * runs next must feed it too. It has no early-warning interrupt: the reset cause is RCC_CSR's
 * IWDGRSTF and the reason is the phase the record held when it fired.
 *
 * Builds for the STM32 boards; not run on hardware yet, and QEMU's netduinoplus2 does not
 * emulate the IWDG (its registers read 0, writes are ignored), so there it never fires. The
 * register sequence is tested on the host against a model of the IWDG and RCC_CSR
 * (tests/c/iwdg/, tests/test_watchdog_iwdg.py).
 */
#include <stdint.h>

#include "cortex_m.h"
#include "hal_watchdog.h"

/* 500 ms nominal (270-1200 ms with the LSI's spread): the idle main loop wakes at least at
 * every SysTick wrap (2^24 cycles: 100 ms at 168 MHz, 175 ms at 96 MHz) and feeds. */
#define HAL_WATCHDOG_TIMEOUT_MS 500u

#define IWDG_BASE       0x40003000u
#define IWDG_KR         CM_REG(IWDG_BASE + 0x00u)
#define IWDG_PR         CM_REG(IWDG_BASE + 0x04u)
#define IWDG_RLR        CM_REG(IWDG_BASE + 0x08u)
#define IWDG_SR         CM_REG(IWDG_BASE + 0x0Cu)
#define IWDG_KEY_START  0xCCCCu
#define IWDG_KEY_UNLOCK 0x5555u /* write access to PR and RLR */
#define IWDG_KEY_FEED   0xAAAAu
#define IWDG_PR_DIV32   3u      /* 32 kHz / 32 = 1 kHz: one count per ms */
#define IWDG_RLR_MAX    4095u   /* 12-bit reload */
#define IWDG_SR_BUSY    0x3u    /* PVU | RVU: a PR or RLR update still crossing to LSI */
#define IWDG_BUSY_POLLS 100000u /* the update takes ~5 LSI periods: bounded wait */

#define RCC_CSR          CM_REG(0x40023800u + 0x74u)
#define RCC_CSR_RMVF     (1u << 24)
#define RCC_CSR_IWDGRSTF (1u << 29)

/* PR and RLR take a write only once the previous update has crossed into the LSI domain
 * (SR's PVU / RVU clear): a write while it is under way is ignored. */
static void wait_not_busy(void)
{
    for (uint32_t i = 0; i < IWDG_BUSY_POLLS && (IWDG_SR & IWDG_SR_BUSY) != 0u; ++i) {
    }
}

/* Start (0xCCCC also forces the LSI on), then unlock PR and RLR (any key but 0x5555 locks
 * them again, 0xCCCC included), set the time-out, and reload the counter with it once the
 * update has landed. Called again (the bootloader's IWDG is already running, or a test build
 * shortens the time-out) it waits for an update still in flight before writing. */
void hal_watchdog_start(uint32_t timeout_ms)
{
    const uint32_t ms = timeout_ms != 0u ? timeout_ms : HAL_WATCHDOG_TIMEOUT_MS;
    IWDG_KR = IWDG_KEY_START;
    wait_not_busy();
    IWDG_KR = IWDG_KEY_UNLOCK;
    IWDG_PR = IWDG_PR_DIV32;
    IWDG_RLR = ms < IWDG_RLR_MAX ? ms : IWDG_RLR_MAX;
    wait_not_busy();
    IWDG_KR = IWDG_KEY_FEED;
}

void hal_watchdog_feed(void)
{
    IWDG_KR = IWDG_KEY_FEED;
}

void hal_watchdog_idle(void)
{
    IWDG_KR = IWDG_KEY_FEED; /* no longer count while asleep: the SysTick wrap wakes the loop */
}

int hal_watchdog_present(void)
{
    return 1;
}

int hal_watchdog_hw_reset_cause(void)
{
    const int by_watchdog = (RCC_CSR & RCC_CSR_IWDGRSTF) != 0u;
    RCC_CSR |= RCC_CSR_RMVF; /* clear the reset flags for the next reset */
    return by_watchdog;
}
