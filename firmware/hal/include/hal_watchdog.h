/*
 * hal_watchdog: the board's watchdog, and a record of its resets that survives them.
 *
 * Backends (the build picks one per board):
 *  - hal/cmsdk_watchdog: the CMSDK APB watchdog of the MPS2 boards (QEMU's mps2-an386 and
 *    mps2-an500 emulate it). Its first time-out raises NMI: the handler feeds it when the
 *    firmware is idle (waiting for work is healthy) and otherwise marks the record and
 *    resets the system.
 *  - hal/stm32f4_watchdog: the STM32F4 independent watchdog (IWDG, LSI clock); the reset
 *    cause comes from RCC_CSR. Built for the STM32 boards; QEMU's netduinoplus2 does not
 *    emulate the IWDG (its registers read 0), so it is not exercised there.
 *  - hal/watchdog_none: boards without one here (mps2-an505, mps3-an547): every call is a
 *    no-op and hal_watchdog_present() is 0.
 *
 * The record lives in a few words at the top of RAM that no section covers (the linker
 * script's __hal_noinit_start__), so neither start-up code nor QEMU's reset clears it; it
 * is valid from the first hal_watchdog_get_record() after power-on (a bad magic: zeroed).
 * The bootloader and the applications it starts share it (same RAM map).
 *
 * The firmware says what it is doing (hal_watchdog_set_phase) so a reset can say what hung;
 * phase values are the protocol's WatchdogPhase, HAL_WATCHDOG_PHASE_IDLE being "waiting".
 */
#ifndef HAL_WATCHDOG_H
#define HAL_WATCHDOG_H

#include <stdint.h>

#define HAL_WATCHDOG_PHASE_NONE   0u
#define HAL_WATCHDOG_PHASE_IDLE   1u
#define HAL_WATCHDOG_NO_REGION    0xFFu
#define HAL_WATCHDOG_RECORD_BYTES 32u /* HAL_NOINIT_SIZE in sections.ld */

typedef struct {
    uint32_t magic;
    uint32_t resets;          /* watchdog resets since power-on */
    uint8_t reason;           /* phase the last watchdog reset interrupted */
    uint8_t rollbacks;        /* trial images the bootloader rolled back after one */
    uint8_t last_boot;        /* 1: the latest reset was the watchdog's */
    uint8_t trial_region;     /* bootloader: application region on trial, HAL_WATCHDOG_NO_REGION */
    volatile uint8_t phase;   /* what the firmware is doing now */
    volatile uint8_t tripped; /* set when the watchdog fired and the reset is on its way */
    uint8_t reserved[6];
} hal_watchdog_record;

_Static_assert(sizeof(hal_watchdog_record) <= HAL_WATCHDOG_RECORD_BYTES,
               "watchdog record outgrew its no-init RAM");

/* The record (initialised on the first call after power-on). */
hal_watchdog_record *hal_watchdog_get_record(void);

/* Call once per reset, by the first image that runs after it (the bootloader, or an
 * application that runs on its own): takes the reset cause, counts a watchdog reset and its
 * reason in the record. Returns 1 when the watchdog caused this reset. */
int hal_watchdog_boot(void);

/* Start the watchdog, or change its time-out: timeout_ms without a feed trips it; 0 = the
 * backend's own (HAL_WATCHDOG_TIMEOUT_MS there). */
void hal_watchdog_start(uint32_t timeout_ms);

/* Restart the time-out. */
void hal_watchdog_feed(void);

/* Feed before sleeping until the next interrupt: a board may give a sleeping firmware a longer
 * time-out (the CMSDK backend does) until the next hal_watchdog_feed(). */
void hal_watchdog_idle(void);

/* 1 when this board has a watchdog hushkit drives. */
int hal_watchdog_present(void);

static inline void hal_watchdog_set_phase(uint8_t phase)
{
    hal_watchdog_get_record()->phase = phase;
}

/* Backend, for hal_watchdog_boot(): 1 when the hardware says the watchdog reset the chip
 * (clears that flag). */
int hal_watchdog_hw_reset_cause(void);

#endif /* HAL_WATCHDOG_H */
