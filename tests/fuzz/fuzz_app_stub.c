/* The audio path and the flash commands have their own hardware state (codec tapes, flash
 * slots); the command-layer fuzzer answers their opcodes as a build without them would. */
#include <stddef.h>
#include <stdint.h>

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
