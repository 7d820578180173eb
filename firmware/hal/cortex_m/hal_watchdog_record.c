/* hal_watchdog_record: the watchdog's reset record in no-init RAM (see hal_watchdog.h). */
#include <string.h>

#include "hal_watchdog.h"

/* "WDOG": the record's words are valid (anything else after power-on: start afresh). */
#define RECORD_MAGIC 0x474F4457u

/* Top of RAM, outside every output section (sections.ld): kept across resets. */
extern hal_watchdog_record __hal_noinit_start__;

hal_watchdog_record *hal_watchdog_get_record(void)
{
    hal_watchdog_record *r = &__hal_noinit_start__;
    if (r->magic != RECORD_MAGIC) {
        memset(r, 0, sizeof *r);
        r->trial_region = HAL_WATCHDOG_NO_REGION;
        r->magic = RECORD_MAGIC;
    }
    return r;
}

int hal_watchdog_boot(void)
{
    hal_watchdog_record *r = hal_watchdog_get_record();
    const int by_watchdog = hal_watchdog_hw_reset_cause() != 0;
    r->last_boot = (uint8_t)by_watchdog;
    if (by_watchdog) {
        if (r->resets != UINT32_MAX) {
            r->resets++;
        }
        r->reason = r->phase; /* what the firmware said it was doing when it stopped */
    }
    r->tripped = 0;
    r->phase = HAL_WATCHDOG_PHASE_NONE;
    return by_watchdog;
}
