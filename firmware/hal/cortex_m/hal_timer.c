#include "hal_timer.h"

#include <stdint.h>

#include "cortex_m.h"
#include "hal_board.h"

/* Busy-wait long enough for a running DWT counter to move (instructions). */
#define DWT_PROBE_SPINS 64u
#define NS_PER_S        1000000000ull

static hal_timer_unit_t s_unit;
static volatile uint32_t s_systick_wraps;

void hal_systick_isr(void)
{
    ++s_systick_wraps;
}

static int dwt_cycle_counter_runs(void)
{
    CM_SCB_DEMCR |= CM_DEMCR_TRCENA;
    CM_DWT_LAR = CM_DWT_LAR_UNLOCK;
    CM_DWT_CYCCNT = 0;
    CM_DWT_CTRL |= CM_DWT_CTRL_CYCCNTENA;
    for (volatile uint32_t i = 0; i < DWT_PROBE_SPINS; ++i) {
    }
    return CM_DWT_CYCCNT != 0;
}

void hal_timer_init(void)
{
    s_unit = dwt_cycle_counter_runs() ? HAL_TIMER_UNIT_CYCLES : HAL_TIMER_UNIT_INSTRUCTIONS;

    /* SysTick free-running at the CPU clock over its full 24-bit range, lowest priority. */
    CM_SCB_SHPR3 = (CM_SCB_SHPR3 & 0x00FFFFFFu) | (0xFFu << 24);
    CM_SYST_CSR = 0;
    CM_SYST_RVR = CM_SYST_MAX_RELOAD;
    CM_SYST_CVR = 0;
    CM_SYST_CSR = CM_SYST_CSR_CLKSOURCE_CPU | CM_SYST_CSR_TICKINT | CM_SYST_CSR_ENABLE;
}

/* SysTick ticks since init, 64-bit: re-read if a wrap was counted in between. */
static uint64_t systick_ticks(void)
{
    uint32_t wraps;
    uint32_t value;
    do {
        wraps = s_systick_wraps;
        value = CM_SYST_CVR;
    } while (wraps != s_systick_wraps);
    return (uint64_t)wraps * (CM_SYST_MAX_RELOAD + 1u) + (CM_SYST_MAX_RELOAD - value);
}

hal_timer_mark_t hal_timer_start(void)
{
    if (s_unit == HAL_TIMER_UNIT_CYCLES) {
        return CM_DWT_CYCCNT;
    }
    /* Start on a tick edge (detected within one 3-instruction poll), so a span of fixed
     * instruction count reads the same tick count whatever the phase it started at; the
     * wait (at most one tick) is outside the measured span. */
    const uint32_t value = CM_SYST_CVR;
    while (CM_SYST_CVR == value) {
    }
    return systick_ticks();
}

uint32_t hal_timer_elapsed(hal_timer_mark_t start)
{
    if (s_unit == HAL_TIMER_UNIT_CYCLES) {
        return CM_DWT_CYCCNT - (uint32_t)start;
    }
    /* 1 instruction = 1 ns of virtual time under -icount shift=0. */
    uint64_t instructions = (systick_ticks() - start) * NS_PER_S / HAL_BOARD_CPU_HZ;
    return instructions > UINT32_MAX ? UINT32_MAX : (uint32_t)instructions;
}

hal_timer_unit_t hal_timer_unit(void)
{
    return s_unit;
}

const char *hal_timer_unit_name(void)
{
    return s_unit == HAL_TIMER_UNIT_CYCLES ? "cycles" : "instructions";
}
