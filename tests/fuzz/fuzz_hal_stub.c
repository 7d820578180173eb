/* The HAL functions the command layer and the bootloader call, for the host fuzz builds: a
 * fake timer that counts calls (deterministic costs), a zero stack probe and a watchdog that
 * never fires (a harness may say the last reset was the watchdog's: fuzz_watchdog_reset). */
#include <stdint.h>

#include "hal_sys.h"
#include "hal_timer.h"
#include "hal_watchdog.h"

static uint64_t ticks;

void hal_timer_init(void)
{
    ticks = 0;
}

hal_timer_mark_t hal_timer_start(void)
{
    return ticks++;
}

uint32_t hal_timer_elapsed(hal_timer_mark_t start)
{
    return (uint32_t)(++ticks - start);
}

hal_timer_unit_t hal_timer_unit(void)
{
    return HAL_TIMER_UNIT_INSTRUCTIONS;
}

const char *hal_timer_unit_name(void)
{
    return "calls";
}

uint32_t hal_sys_stack_used(void)
{
    return 0;
}

/* A watchdog that never fires; its record in ordinary memory. */
static hal_watchdog_record record = {.trial_region = HAL_WATCHDOG_NO_REGION};

hal_watchdog_record *hal_watchdog_get_record(void)
{
    return &record;
}

int fuzz_watchdog_reset;

int hal_watchdog_boot(void)
{
    return fuzz_watchdog_reset;
}

void hal_watchdog_start(uint32_t timeout_ms)
{
    (void)timeout_ms;
}

void hal_watchdog_feed(void)
{
}

void hal_watchdog_idle(void)
{
}
