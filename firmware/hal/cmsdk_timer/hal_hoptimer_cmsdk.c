/*
 * Hop clock on the Arm CMSDK APB timer (TIMER0 of the MPS2/MPS3 FPGA images).
 * Registers: CTRL +0x00 (bit0 enable, bit3 interrupt enable), VALUE +0x04 (counts down),
 * RELOAD +0x08, INTSTATUS/INTCLEAR +0x0C (bit0). It counts down from RELOAD to 0 at the APB
 * clock and interrupts on reaching 0, so a period of N ticks needs RELOAD = N - 1.
 */
#include <stdint.h>

#include "cortex_m.h"
#include "hal_board.h"
#include "hal_hoptimer.h"

#define TIMER_CTRL   CM_REG(HAL_BOARD_HOPTIMER_BASE + 0x00u)
#define TIMER_VALUE  CM_REG(HAL_BOARD_HOPTIMER_BASE + 0x04u)
#define TIMER_RELOAD CM_REG(HAL_BOARD_HOPTIMER_BASE + 0x08u)
#define TIMER_INT    CM_REG(HAL_BOARD_HOPTIMER_BASE + 0x0Cu)

#define TIMER_CTRL_ENABLE (1u << 0)
#define TIMER_CTRL_IRQ_EN (1u << 3)
#define TIMER_INT_PENDING (1u << 0)
/* Above the UART receive interrupt: a late hop tick would shift the whole audio clock. */
#define HOPTIMER_IRQ_PRIORITY 0x40u

static uint32_t s_reload;

void hal_hoptimer_isr(void);

void hal_hoptimer_isr(void)
{
    TIMER_INT = TIMER_INT_PENDING;
    hal_vcodec_tick();
}

uint32_t hal_hoptimer_hz(void)
{
    return HAL_BOARD_HOPTIMER_HZ;
}

void hal_hoptimer_start(uint32_t period_ticks)
{
    s_reload = period_ticks - 1u;
    TIMER_CTRL = 0;
    TIMER_INT = TIMER_INT_PENDING;
    TIMER_RELOAD = s_reload;
    TIMER_VALUE = s_reload;
    cm_nvic_enable(HAL_BOARD_HOPTIMER_IRQ, HOPTIMER_IRQ_PRIORITY);
    TIMER_CTRL = TIMER_CTRL_ENABLE | TIMER_CTRL_IRQ_EN;
}

void hal_hoptimer_stop(void)
{
    TIMER_CTRL = 0;
    TIMER_INT = TIMER_INT_PENDING;
}

uint32_t hal_hoptimer_phase(int *pending)
{
    uint32_t before = TIMER_INT & TIMER_INT_PENDING;
    uint32_t value = TIMER_VALUE;
    uint32_t after = TIMER_INT & TIMER_INT_PENDING;
    if (before != after) {
        value = TIMER_VALUE; /* wrapped between the reads: the value after the wrap */
    }
    *pending = after != 0u;
    return s_reload - (value > s_reload ? s_reload : value);
}
