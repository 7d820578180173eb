/* The HAL functions the command layer calls, for the host fuzz builds: a fake timer that
 * counts calls (deterministic costs) and a zero stack probe. */
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

int hal_watchdog_boot(void)
{
    return 0;
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

/* The audio path and the flash commands have their own hardware state (codec tapes, flash
 * slots); the command-layer fuzzer answers their opcodes as a build without them would. */
#include "app_flash.h"
#include "audio_path.h"
#include "hush_frame.h"

int hush_audio_busy(void)
{
    return 0;
}

void hush_audio_put_stats(uint8_t *stats_payload)
{
    (void)stats_payload;
}

static size_t unknown(uint8_t opcode, uint16_t seq, uint8_t *reply)
{
    return hush_frame_seal(reply, (uint8_t)(opcode | HUSH_PROTO_REPLY_FLAG),
                           HUSH_STATUS_UNKNOWN_OPCODE, seq, 0);
}

size_t hush_audio_cmd(uint8_t opcode, uint16_t seq, const uint8_t *payload, size_t len,
                      uint8_t *reply)
{
    (void)payload;
    (void)len;
    return unknown(opcode, seq, reply);
}

size_t app_flash_handle(uint8_t opcode, uint16_t seq, const uint8_t *payload, size_t len,
                        uint8_t *reply)
{
    (void)payload;
    (void)len;
    return unknown(opcode, seq, reply);
}
