/* The audio path has its own hardware state (codec tapes, DMA); the command-layer fuzzer
 * answers its opcodes as a build without a codec would, and runs no hops outside PROCESS. */
#include <stddef.h>
#include <stdint.h>

#include "audio_path.h"
#include "hush_frame.h"

void hush_audio_init(hush_pipeline *pipeline)
{
    (void)pipeline;
}

int hush_audio_busy(void)
{
    return 0;
}

void hush_audio_put_stats(uint8_t *stats_payload)
{
    (void)stats_payload;
}

size_t hush_audio_cmd(uint8_t opcode, uint16_t seq, const uint8_t *payload, size_t len,
                      uint8_t *reply)
{
    (void)payload;
    (void)len;
    return hush_frame_seal(reply, (uint8_t)(opcode | HUSH_PROTO_REPLY_FLAG),
                           HUSH_STATUS_UNKNOWN_OPCODE, seq, 0);
}
