/*
 * hal_timer: cost counter for one hop of processing.
 *
 * Two sources, chosen once by hal_timer_init():
 *  - DWT cycle counter, on real hardware: elapsed values are CPU cycles.
 *  - SysTick, when the DWT counter does not run (QEMU: it reads 0). SysTick runs at the
 *    board's CPU clock (HAL_BOARD_CPU_HZ). Under QEMU `-icount shift=0,align=off,sleep=off`
 *    one guest instruction advances virtual time by exactly 1 ns, so
 *        instructions = ticks * 1e9 / HAL_BOARD_CPU_HZ
 *    (25 MHz on mps2: 1 tick = 40 instructions; 32 MHz on mps3-an547: 1 tick = 31.25).
 *    Elapsed values are then INSTRUCTIONS, resolution one tick. hal_timer_start() waits for
 *    the next tick edge (at most one tick, not counted), so a span of fixed length reads the
 *    same count run after run unless it ends within ~3 instructions of a tick edge.
 *    Instructions are not cycles: a Cortex-M4 spends roughly 1.1-1.6 cycles per instruction
 *    on DSP code; calibrate the factor on hardware with the DWT source.
 *
 * SysTick is extended to 64 bits by counting its wraps (every 2^24 ticks, 0.67 s at 25 MHz)
 * in its interrupt: call hal_timer_start/elapsed with interrupts enabled. Interrupt handlers
 * that run during a measured span (UART receive: ~30 instructions a byte) are included.
 */
#ifndef HAL_TIMER_H
#define HAL_TIMER_H

#include <stdint.h>

typedef enum {
    HAL_TIMER_UNIT_INSTRUCTIONS = 0, /* SysTick under QEMU -icount shift=0 */
    HAL_TIMER_UNIT_CYCLES = 1,       /* DWT CYCCNT on hardware */
} hal_timer_unit_t;

typedef uint64_t hal_timer_mark_t;

/* Detect the DWT counter, start SysTick free-running. Call once at boot. */
void hal_timer_init(void);

/* Timestamp to pass to hal_timer_elapsed(). */
hal_timer_mark_t hal_timer_start(void);

/* Cost since `start` in hal_timer_unit() units; saturates at UINT32_MAX. */
uint32_t hal_timer_elapsed(hal_timer_mark_t start);

hal_timer_unit_t hal_timer_unit(void);

/* "instructions" or "cycles". */
const char *hal_timer_unit_name(void);

#endif /* HAL_TIMER_H */
