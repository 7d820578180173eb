/* app_model: models pushed into the model slots (`hushkit model push`), slot builds only.
 *
 * A pushed model is an MCUboot image of the .tflite file (imgtool, like the application) in
 * one of the two model slots. MODEL_ACTIVATE validates it on the device (image hash, then a
 * full pipeline set-up on spare state memory: flatbuffer schema, supported int8 operators,
 * tensor shapes against the firmware's DSP configuration, arena size) and only then switches
 * the command layer and the audio path to it, between two hops; anything invalid leaves the
 * running model in place. The model in use is recorded in the slots' trailers (magic, then
 * the other slot's trailer erased, then image_ok), so a power cut at any point restarts with
 * the old model or the new one; at boot a recorded model that no longer sets up falls back
 * to the model compiled in. */
#ifndef APP_MODEL_H
#define APP_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "commands.h"
#include "hush_pipeline.h"

/* Pipeline state, for the running model and for the spare one a push switches to: its size
 * depends only on the core's compile-time limits (16452 bytes on Cortex-M: the engine struct
 * is 10644 of them, 48 per tensor slot). Checked against hush_pipeline_get_size() at boot and
 * before a switch; raise it if that check fails after a core change. A 64-bit host build of
 * the application (the command fuzzer) needs more (pointers) and gives its own. */
#ifndef PIPELINE_MEM_BYTES
#define PIPELINE_MEM_BYTES 16512u
#endif

#define APP_MODEL_SHA_HEX 65u /* 64 hex digits + NUL */

/* At boot: replace *model / *len with the recorded pushed model when there is one (and write
 * its SHA-256 to sha_hex). Returns its region index, or -1 (keep the compiled-in model). */
int app_model_boot_choice(const uint8_t **model, size_t *len, char sha_hex[APP_MODEL_SHA_HEX]);

/* After set-up: the buffers the running pipeline lives in (kept for the next switch), the
 * command layer to switch, the info whose model_sha256 (sha_hex) follows the model, and the
 * region of the model in use (-1: compiled in). */
void app_model_attach(hush_cmd_ctx *cmd, uint8_t *pipeline_mem, size_t pipeline_bytes,
                      uint8_t *arena, size_t arena_bytes, char *sha_hex, int region);

/* Region index of the model in use, or -1. */
int app_model_in_use(void);

/* MODEL_ACTIVATE for `region`: returns a protocol status; *detail explains a refusal. */
uint8_t app_model_activate(unsigned region, const char **detail);

#endif /* APP_MODEL_H */
