/*
 * hal_watchdog on the CMSDK APB watchdog (ARM DDI0479C; QEMU's cmsdk-apb-watchdog on the
 * MPS2 boards, clocked by SYSCLK, its interrupt wired to NMI).
 *
 * The counter runs down from LOAD; at zero it raises its interrupt and reloads; at zero again
 * with the interrupt still set and RESEN on, it resets the system. Writing INTCLR clears the
 * interrupt and reloads the counter (the feed). So a firmware that stops feeding gets NMI
 * after one time-out and the reset after two. The NMI handler tells a firmware that is
 * merely idle (asleep in WFI until the host sends something, which is healthy: feed and
 * return) from one that is stuck: it marks the record and resets the system at once (the
 * watchdog's own reset stays as the backstop, 171 s later, should that not happen).
 */
#include <stdint.h>

#include "cortex_m.h"
#include "hal_board.h"
#include "hal_watchdog.h"

#ifndef HAL_BOARD_WATCHDOG_BASE
#error "the board (hal_board.h) must give HAL_BOARD_WATCHDOG_BASE and HAL_BOARD_WATCHDOG_HZ"
#endif

/* Time-out before NMI. A hop has 8 ms of real time and costs ~0.12 M instructions on the
 * emulated M4; the slowest command (hashing a whole application slot) ~25 M, which QEMU
 * without -icount may stretch to ~0.2 s of host time. Under -icount shift=0, 500 ms = 500 M
 * instructions. */
#define HAL_WATCHDOG_TIMEOUT_MS 500u

/* While the firmware sleeps in WFI waiting for work, the count restarts from its maximum
 * (2^32 / 25 MHz = 171 s): QEMU 7.2 under -icount sleep=off was seen not to wake a WFI for
 * the watchdog's NMI when that was the next timer event (the count expired twice and reset
 * an idle board); with the longest count the SysTick wrap (0.67 s) always comes first. */
#define WDOG_LOAD_IDLE UINT32_MAX

#define WDOG_LOAD             CM_REG(HAL_BOARD_WATCHDOG_BASE + 0x000u)
#define WDOG_CTRL             CM_REG(HAL_BOARD_WATCHDOG_BASE + 0x008u)
#define WDOG_INTCLR           CM_REG(HAL_BOARD_WATCHDOG_BASE + 0x00Cu)
#define WDOG_RIS              CM_REG(HAL_BOARD_WATCHDOG_BASE + 0x010u)
#define WDOG_LOCK             CM_REG(HAL_BOARD_WATCHDOG_BASE + 0xC00u)
#define WDOG_CTRL_INTEN       (1u << 0)
#define WDOG_CTRL_RESEN       (1u << 1)
#define WDOG_UNLOCK_KEY       0x1ACCE551u /* any other value locks the registers */
#define SCB_AIRCR             CM_REG(0xE000ED0Cu)
#define SCB_AIRCR_SYSRESETREQ 0x05FA0004u /* VECTKEY | SYSRESETREQ */

void hal_nmi_isr(void);

/* LOAD value of the running time-out (hal_watchdog_start). */
static uint32_t s_load = HAL_BOARD_WATCHDOG_HZ / 1000u * HAL_WATCHDOG_TIMEOUT_MS;

static void unlocked_write(volatile uint32_t *reg, uint32_t value)
{
    WDOG_LOCK = WDOG_UNLOCK_KEY;
    *reg = value;
    WDOG_LOCK = 0u;
}

void hal_watchdog_start(uint32_t timeout_ms)
{
    const uint32_t ms = timeout_ms != 0u ? timeout_ms : HAL_WATCHDOG_TIMEOUT_MS;
    const uint32_t max_ms = UINT32_MAX / (HAL_BOARD_WATCHDOG_HZ / 1000u);
    s_load = HAL_BOARD_WATCHDOG_HZ / 1000u * (ms < max_ms ? ms : max_ms);
    unlocked_write(&WDOG_LOAD, s_load);
    unlocked_write(&WDOG_CTRL, WDOG_CTRL_INTEN | WDOG_CTRL_RESEN);
}

void hal_watchdog_feed(void)
{
    WDOG_LOCK = WDOG_UNLOCK_KEY;
    WDOG_LOAD = s_load; /* restarts the count (from the idle maximum too) */
    WDOG_INTCLR = 1u;
    WDOG_LOCK = 0u;
}

void hal_watchdog_idle(void)
{
    WDOG_LOCK = WDOG_UNLOCK_KEY;
    WDOG_LOAD = WDOG_LOAD_IDLE;
    WDOG_INTCLR = 1u;
    WDOG_LOCK = 0u;
}

int hal_watchdog_present(void)
{
    return 1;
}

int hal_watchdog_hw_reset_cause(void)
{
    /* The watchdog has no reset-cause flag: the NMI handler leaves one in the record. */
    return hal_watchdog_get_record()->tripped != 0;
}

void hal_nmi_isr(void)
{
    if ((WDOG_RIS & 1u) == 0u) {
        return; /* not the watchdog */
    }
    hal_watchdog_record *r = hal_watchdog_get_record();
    if (r->phase == HAL_WATCHDOG_PHASE_IDLE) {
        hal_watchdog_idle();
        return;
    }
    /* Stuck: keep the phase as the reason, reset now. The counter restarts from its maximum
     * first: the reset request takes a moment to act (QEMU lets the CPU run on), and
     * a second time-out then would reset the image that just booted once more. */
    r->tripped = 1;
    unlocked_write(&WDOG_LOAD, WDOG_LOAD_IDLE);
    __asm volatile("dsb" ::: "memory");
    SCB_AIRCR = SCB_AIRCR_SYSRESETREQ;
    for (;;) {
    }
}
