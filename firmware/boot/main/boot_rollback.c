/* boot_rollback: see boot_rollback.h. */
#include "boot_rollback.h"

#include "boot_image.h"
#include "flash_layout.h"
#include "hal_flash.h"
#include "hal_watchdog.h"

void boot_rollback_check(void)
{
    hal_watchdog_record *r = hal_watchdog_get_record();
    const int by_watchdog = hal_watchdog_boot();
    const unsigned trial = r->trial_region;
    if (by_watchdog && trial < HUSH_FLASH_N_REGIONS &&
        boot_regions[trial].kind == HUSH_SLOT_KIND_APP &&
        hal_flash_erase(boot_regions[trial].start) == HAL_FLASH_OK && r->rollbacks != UINT8_MAX) {
        r->rollbacks++;
    }
    r->trial_region = HAL_WATCHDOG_NO_REGION;
    for (unsigned i = 0; i < HUSH_FLASH_N_REGIONS; ++i) {
        if (boot_regions[i].kind != HUSH_SLOT_KIND_APP) {
            continue;
        }
        boot_slot_info info;
        boot_slot_inspect(i, &info);
        if (info.state == HUSH_SLOT_PENDING) {
            r->trial_region = (uint8_t)i;
            break;
        }
    }
}
