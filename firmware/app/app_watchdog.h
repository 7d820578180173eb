/* app_watchdog: the watchdog in the application (hal_watchdog.h does the board's part).
 *
 * The main loop feeds the watchdog every pass and says what it is doing; each hop feeds it
 * too. A firmware stuck for the board's time-out (500 ms on the MPS2 boards; a hop takes
 * about 0.1 ms of it) is reset; it then starts with the model bypassed (SET bypass=0 turns it
 * back on) and STATS reports the reset count and what was running when it hung.
 *
 * A pending (test-boot) image that trips the watchdog in its trial run is rolled back by the
 * bootloader (boot/main/boot_rollback.h).
 *
 * Test builds (HUSH_TEST_HOOKS defined; never a release build) also answer FAULT, which
 * makes the next PROCESS hop hang; release builds answer it UNKNOWN_OPCODE. */
#ifndef APP_WATCHDOG_H
#define APP_WATCHDOG_H

#include <stddef.h>
#include <stdint.h>

#include "hal_watchdog.h"
#include "hush_protocol.h"

_Static_assert(HUSH_WDT_PHASE_IDLE == HAL_WATCHDOG_PHASE_IDLE, "phase values drifted");
_Static_assert(HUSH_WDT_PHASE_NONE == HAL_WATCHDOG_PHASE_NONE, "phase values drifted");

/* Take this boot's reset cause (from the bootloader, in a slot build) and start the
 * watchdog. Returns 1 when the watchdog reset the device: start in bypass. */
int app_watchdog_start(void);

/* Feed and say what runs from now on (a HUSH_WDT_PHASE_*). */
static inline void app_watchdog_enter(uint8_t phase)
{
    if (phase == HUSH_WDT_PHASE_IDLE) {
        hal_watchdog_idle();
    } else {
        hal_watchdog_feed();
    }
    hal_watchdog_set_phase(phase);
}

/* Called at the start of every PROCESS hop: a FAULT-armed test build hangs here. */
void app_watchdog_hop_hook(void);

/* Write the watchdog fields of a STATS reply payload (out: the payload start). */
void app_watchdog_put_stats(uint8_t *out);

/* FAULT (0x31): the encoded reply. */
size_t app_watchdog_fault_cmd(uint16_t seq, const uint8_t *payload, size_t len, uint8_t *reply);

#endif /* APP_WATCHDOG_H */
