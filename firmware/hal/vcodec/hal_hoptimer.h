/*
 * The virtual codec's hop clock: a board timer that interrupts once per hop.
 *
 * Implemented per board (hal/cmsdk: CMSDK APB timer 0; hal/stm32f4: TIM2). Its interrupt
 * handler calls hal_vcodec_tick(). Private to the HAL.
 */
#ifndef HAL_HOPTIMER_H
#define HAL_HOPTIMER_H

#include <stdint.h>

/* Timer input clock, Hz (HAL_BOARD_HOPTIMER_HZ). */
uint32_t hal_hoptimer_hz(void);

/* Interrupt every period_ticks timer ticks from now on; the first one period_ticks from now. */
void hal_hoptimer_start(uint32_t period_ticks);

void hal_hoptimer_stop(void);

/* Ticks since the last period boundary (0 .. period_ticks - 1) and whether that boundary's
 * interrupt is still pending (not yet taken). Call with interrupts masked. */
uint32_t hal_hoptimer_phase(int *pending);

/* Called by the timer's interrupt handler once per period. */
void hal_vcodec_tick(void);

#endif /* HAL_HOPTIMER_H */
