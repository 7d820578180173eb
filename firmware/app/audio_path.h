/* audio_path: the main-loop side of the real-time audio path (hal_audio.h) and its commands.
 *
 * Each captured hop runs through the same hush_pipeline_process() that PROCESS uses, with the
 * same bypass and attenuation settings (SET applies between two hops), and is handed back
 * for playback; a hop that misses its playback slot is counted (deadline misses, worst
 * lateness), as are captured hops lost to overruns and the capture buffer level.
 *
 * Use from the main loop:
 *
 *     hush_audio_init(pipeline_or_null);
 *     for (;;) {
 *         size_t n = hush_audio_service(reply, sizeof reply);  // process ready hops
 *         if (n) hal_uart_write(reply, n);                      // a deferred AUDIO_START reply
 *         ... feed received bytes to hush_cmd_feed(), which passes opcodes 0x20-0x2F to
 *         hush_audio_cmd() ...
 *         sleep unless hal_uart_rx_available() || hush_audio_pending()
 *     }
 *
 * State is a single static instance: there is one codec.
 */
#ifndef HUSH_AUDIO_PATH_H
#define HUSH_AUDIO_PATH_H

#include <stddef.h>
#include <stdint.h>

#include "hush_pipeline.h"

/* pipeline: the loaded pipeline, or NULL when no model is loaded (AUDIO_START then answers
 * MODEL_NOT_LOADED). */
void hush_audio_init(hush_pipeline *pipeline);

/* 1 while a run is under way (codec running or captured hops still to process): PROCESS
 * and RESET are refused then, since they would share the pipeline. */
int hush_audio_busy(void);

/* 1 when hush_audio_service() has work now (a captured hop, or a deferred reply due). */
int hush_audio_pending(void);

/* Process every captured hop. Returns the length of a deferred AUDIO_START reply written to
 * reply (cap >= HUSH_CMD_REPLY_BYTES) when its run has just ended, else 0. */
size_t hush_audio_service(uint8_t *reply, size_t cap);

/* Execute an audio request (opcode 0x20-0x2F, payload of len bytes) and encode its reply in
 * reply. Returns the reply length, or 0 when the reply is deferred to hush_audio_service(). */
size_t hush_audio_cmd(uint8_t opcode, uint16_t seq, const uint8_t *payload, size_t len,
                      uint8_t *reply);

/* Fill the audio fields of a STATS reply payload. */
void hush_audio_put_stats(uint8_t *stats_payload);

#endif /* HUSH_AUDIO_PATH_H */
