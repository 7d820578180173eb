/* hal_watchdog for boards where hushkit drives no watchdog (see hal_watchdog.h). */
#include "hal_watchdog.h"

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

int hal_watchdog_present(void)
{
    return 0;
}

int hal_watchdog_hw_reset_cause(void)
{
    return 0;
}
