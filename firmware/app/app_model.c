/* app_model: see app_model.h. */
#include "app_model.h"

#ifdef HUSH_IMAGE_SLOT
#include <string.h>

#include "audio_path.h"
#include "boot_image.h"
#include "hal_flash.h"
#include "hush_model_config.h"

/* Spare state for validating and then running a pushed model: the same sizes as the primary
 * pipeline in main.c (PIPELINE_MEM_BYTES; the arena of the compiled-in model, which a pushed
 * model must fit). */

static _Alignas(16) uint8_t s_spare_pipeline[PIPELINE_MEM_BYTES];
static _Alignas(16) uint8_t s_spare_arena[HUSH_ARENA_BYTES];

static struct {
    hush_cmd_ctx *cmd;
    uint8_t *mem[2];
    size_t mem_bytes[2];
    uint8_t *arena[2];
    size_t arena_bytes[2];
    unsigned active; /* which of the two buffer sets runs */
    char *sha_hex;
    int region;
} s_model = {.region = -1};

static void to_hex(const uint8_t *digest, char *out)
{
    static const char k_hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < HUSH_SHA256_BYTES; ++i) {
        out[2 * i] = k_hex[digest[i] >> 4];
        out[2 * i + 1] = k_hex[digest[i] & 0xFu];
    }
    out[2 * HUSH_SHA256_BYTES] = '\0';
}

/* Body of a verified model image in `region`, or NULL. */
static const uint8_t *model_body(unsigned region, size_t *len, boot_slot_info *info)
{
    boot_slot_inspect(region, info);
    if (info->state == HUSH_SLOT_EMPTY || info->state == HUSH_SLOT_INVALID) {
        return NULL;
    }
    *len = info->body_size;
    return hal_flash_ptr(boot_regions[region].start + info->body_offset);
}

int app_model_boot_choice(const uint8_t **model, size_t *len, char sha_hex[APP_MODEL_SHA_HEX])
{
    if (hal_flash_init(0) != HAL_FLASH_OK) {
        return -1;
    }
    int pick = -1;
    uint8_t pick_state = HUSH_SLOT_EMPTY;
    for (unsigned i = 0; i < HUSH_FLASH_N_REGIONS; ++i) {
        boot_slot_info info;
        size_t n;
        if (boot_regions[i].kind != HUSH_SLOT_KIND_MODEL || model_body(i, &n, &info) == NULL) {
            continue;
        }
        /* Confirmed wins; a pending one (cut before image_ok, after the other's trailer was
         * erased) was already validated and is the newest. */
        if (info.state == HUSH_SLOT_CONFIRMED ||
            (info.state == HUSH_SLOT_PENDING && pick_state != HUSH_SLOT_CONFIRMED)) {
            pick = (int)i;
            pick_state = info.state;
        }
    }
    if (pick < 0) {
        return -1;
    }
    boot_slot_info info;
    *model = model_body((unsigned)pick, len, &info);
    uint8_t digest[HUSH_SHA256_BYTES];
    hush_sha256(*model, *len, digest);
    to_hex(digest, sha_hex);
    return pick;
}

void app_model_attach(hush_cmd_ctx *cmd, uint8_t *pipeline_mem, size_t pipeline_bytes,
                      uint8_t *arena, size_t arena_bytes, char *sha_hex, int region)
{
    s_model.cmd = cmd;
    s_model.mem[0] = pipeline_mem;
    s_model.mem_bytes[0] = pipeline_bytes;
    s_model.arena[0] = arena;
    s_model.arena_bytes[0] = arena_bytes;
    s_model.mem[1] = s_spare_pipeline;
    s_model.mem_bytes[1] = sizeof s_spare_pipeline;
    s_model.arena[1] = s_spare_arena;
    s_model.arena_bytes[1] = sizeof s_spare_arena;
    s_model.active = 0;
    s_model.sha_hex = sha_hex;
    s_model.region = region;
}

int app_model_in_use(void)
{
    return s_model.region;
}

/* Record `region` as the model in use: magic, other model trailers erased, image_ok. */
static int record(unsigned region)
{
    int rc = boot_trailer_set_pending(region);
    for (unsigned i = 0; rc == HAL_FLASH_OK && i < HUSH_FLASH_N_REGIONS; ++i) {
        if (i != region && boot_regions[i].kind == HUSH_SLOT_KIND_MODEL) {
            boot_slot_info info;
            boot_slot_inspect(i, &info);
            if (info.state >= HUSH_SLOT_PENDING) {
                rc = boot_trailer_erase(i);
            }
        }
    }
    return rc == HAL_FLASH_OK ? boot_trailer_set_image_ok(region) : rc;
}

uint8_t app_model_activate(unsigned region, const char **detail)
{
    *detail = NULL;
    if (s_model.cmd == NULL || region >= HUSH_FLASH_N_REGIONS ||
        boot_regions[region].kind != HUSH_SLOT_KIND_MODEL) {
        *detail = "not a model slot";
        return HUSH_STATUS_BAD_ARGUMENT;
    }
    if ((int)region == s_model.region) {
        return HUSH_STATUS_OK; /* already running it */
    }
    if (hush_audio_busy()) {
        return HUSH_STATUS_AUDIO_BUSY;
    }
    boot_slot_info info;
    size_t len = 0;
    const uint8_t *body = model_body(region, &len, &info);
    if (body == NULL) {
        if (info.verdict != HUSH_STATUS_BAD_IMAGE) {
            return info.verdict; /* the bootloader's key refuses it (boot_sig.h) */
        }
        *detail = info.state == HUSH_SLOT_EMPTY ? "no model image in the slot"
                                                : "model image hash mismatch";
        return HUSH_STATUS_MODEL_INVALID;
    }
    const unsigned spare = s_model.active ^ 1u;
    if (hush_pipeline_get_size() > s_model.mem_bytes[spare]) {
        *detail = "pipeline storage too small";
        return HUSH_STATUS_MODEL_INVALID;
    }
    hush_pipeline *next = (hush_pipeline *)s_model.mem[spare];
    const int rc = hush_pipeline_init(next, s_model.mem_bytes[spare], HUSH_N_FFT, body, len,
                                      s_model.arena[spare], s_model.arena_bytes[spare]);
    if (rc != HUSH_PIPELINE_OK) {
        *detail = hush_pipeline_error_str(rc);
        return HUSH_STATUS_MODEL_INVALID;
    }
    if (record(region) != HAL_FLASH_OK) {
        *detail = "could not record the model in flash";
        return HUSH_STATUS_FLASH_FAILED;
    }
    hush_cmd_set_pipeline(s_model.cmd, next, HUSH_PIPELINE_OK);
    hush_audio_init(next);
    s_model.active = spare;
    s_model.region = (int)region;
    uint8_t digest[HUSH_SHA256_BYTES];
    hush_sha256(body, len, digest);
    to_hex(digest, s_model.sha_hex);
    return HUSH_STATUS_OK;
}
#else
int app_model_boot_choice(const uint8_t **model, size_t *len, char sha_hex[APP_MODEL_SHA_HEX])
{
    (void)model;
    (void)len;
    (void)sha_hex;
    return -1;
}

void app_model_attach(hush_cmd_ctx *cmd, uint8_t *pipeline_mem, size_t pipeline_bytes,
                      uint8_t *arena, size_t arena_bytes, char *sha_hex, int region)
{
    (void)cmd;
    (void)pipeline_mem;
    (void)pipeline_bytes;
    (void)arena;
    (void)arena_bytes;
    (void)sha_hex;
    (void)region;
}

int app_model_in_use(void)
{
    return -1;
}

uint8_t app_model_activate(unsigned region, const char **detail)
{
    (void)region;
    *detail = "this firmware has no model slots";
    return HUSH_STATUS_NO_BOOTLOADER;
}
#endif
