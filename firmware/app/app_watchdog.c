/* app_watchdog: see app_watchdog.h. */
#include "app_watchdog.h"

#include "hush_frame.h"

#ifdef HUSH_TEST_HOOKS
static volatile uint8_t s_fault = HUSH_FAULT_NONE;
static uint16_t s_fault_timeout_ms;
#endif

int app_watchdog_start(void)
{
#ifdef HUSH_IMAGE_SLOT
    /* Started by the bootloader, which took the reset cause (hal_watchdog_boot). */
    const int by_watchdog = hal_watchdog_get_record()->last_boot != 0;
#else
    const int by_watchdog = hal_watchdog_boot();
#endif
    app_watchdog_enter(HUSH_WDT_PHASE_LOOP);
    hal_watchdog_start(0u);
    return by_watchdog;
}

void app_watchdog_hop_hook(void)
{
#ifdef HUSH_TEST_HOOKS
    if (s_fault == HUSH_FAULT_HANG_HOP) {
        /* A shorter time-out keeps the test quick: QEMU spins ~1 G instructions a second. */
        hal_watchdog_start(s_fault_timeout_ms);
        for (;;) {
            /* A hop that never returns and never feeds the watchdog. */
        }
    }
#endif
}

void app_watchdog_put_stats(uint8_t *out)
{
    const hal_watchdog_record *r = hal_watchdog_get_record();
    hush_frame_put_u32(out + HUSH_STATS_REPLY_WATCHDOG_RESETS_OFFSET, r->resets);
    out[HUSH_STATS_REPLY_WATCHDOG_REASON_OFFSET] = r->reason;
    out[HUSH_STATS_REPLY_WATCHDOG_ROLLBACKS_OFFSET] = r->rollbacks;
    out[HUSH_STATS_REPLY_WATCHDOG_LAST_BOOT_OFFSET] = r->last_boot;
}

size_t app_watchdog_fault_cmd(uint16_t seq, const uint8_t *payload, size_t len, uint8_t *reply)
{
    const uint8_t op = HUSH_OP_FAULT | HUSH_PROTO_REPLY_FLAG;
#ifdef HUSH_TEST_HOOKS
    if (len != HUSH_FAULT_REQUEST_SIZE) {
        return hush_frame_seal(reply, op, HUSH_STATUS_BAD_LENGTH, seq, 0);
    }
    const uint8_t kind = payload[HUSH_FAULT_REQUEST_KIND_OFFSET];
    if (kind != HUSH_FAULT_NONE && kind != HUSH_FAULT_HANG_HOP) {
        return hush_frame_seal(reply, op, HUSH_STATUS_BAD_ARGUMENT, seq, 0);
    }
    s_fault_timeout_ms = hush_frame_get_u16(payload + HUSH_FAULT_REQUEST_TIMEOUT_MS_OFFSET);
    s_fault = kind;
    return hush_frame_seal(reply, op, HUSH_STATUS_OK, seq, 0);
#else
    (void)payload;
    (void)len;
    return hush_frame_seal(reply, op, HUSH_STATUS_UNKNOWN_OPCODE, seq, 0);
#endif
}
