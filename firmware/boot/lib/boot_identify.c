#include "boot_identify.h"

#include <string.h>

#include "boot_image.h"
#include "hal_flash.h"
#include "hush_frame.h"

static void put_text(uint8_t *dst, size_t field, const char *text)
{
    memset(dst, 0, field);
    const size_t n = strlen(text);
    memcpy(dst, text, n < field ? n : field);
}

size_t boot_identify(uint8_t *out, uint8_t mode, uint8_t reason, uint8_t running,
                     const char *version)
{
    memset(out, 0, HUSH_IDENTIFY_REPLY_SIZE);
    out[HUSH_IDENTIFY_REPLY_MODE_OFFSET] = mode;
    out[HUSH_IDENTIFY_REPLY_REASON_OFFSET] = reason;
    out[HUSH_IDENTIFY_REPLY_N_REGIONS_OFFSET] = (uint8_t)HUSH_FLASH_N_REGIONS;
    out[HUSH_IDENTIFY_REPLY_RUNNING_SLOT_OFFSET] = running;
    put_text(out + HUSH_IDENTIFY_REPLY_BOOT_VERSION_OFFSET, HUSH_IDENTIFY_REPLY_BOOT_VERSION_BYTES,
             version);
    put_text(out + HUSH_IDENTIFY_REPLY_TARGET_OFFSET, HUSH_IDENTIFY_REPLY_TARGET_BYTES,
             HUSH_FLASH_TARGET);
    hush_frame_put_u32(out + HUSH_IDENTIFY_REPLY_FLASH_BASE_OFFSET, HUSH_FLASH_BASE);
    hush_frame_put_u32(out + HUSH_IDENTIFY_REPLY_FLASH_SIZE_OFFSET, HUSH_FLASH_SIZE);
    hush_frame_put_u32(out + HUSH_IDENTIFY_REPLY_SECTOR_SIZE_OFFSET, HUSH_FLASH_SECTOR);
    hush_frame_put_u32(out + HUSH_IDENTIFY_REPLY_WRITE_ALIGN_OFFSET, HUSH_FLASH_WRITE_ALIGN);
    hush_frame_put_u32(out + HUSH_IDENTIFY_REPLY_FLASH_OPS_OFFSET, hal_flash_ops());
    uint8_t *rec = out + HUSH_IDENTIFY_REPLY_SIZE;
    for (unsigned i = 0; i < HUSH_FLASH_N_REGIONS; ++i, rec += HUSH_SLOT_INFO_SIZE) {
        const boot_region *r = &boot_regions[i];
        boot_slot_info info = {0};
        if (r->kind == HUSH_SLOT_KIND_APP || r->kind == HUSH_SLOT_KIND_MODEL) {
            boot_slot_inspect(i, &info);
        }
        memset(rec, 0, HUSH_SLOT_INFO_SIZE);
        rec[HUSH_SLOT_INFO_KIND_OFFSET] = r->kind;
        rec[HUSH_SLOT_INFO_STATE_OFFSET] = info.state;
        hush_frame_put_u32(rec + HUSH_SLOT_INFO_START_OFFSET, r->start);
        hush_frame_put_u32(rec + HUSH_SLOT_INFO_SIZE_OFFSET, r->size);
        hush_frame_put_u32(rec + HUSH_SLOT_INFO_IMAGE_SIZE_OFFSET, info.image_size);
        rec[HUSH_SLOT_INFO_VER_MAJOR_OFFSET] = info.ver_major;
        rec[HUSH_SLOT_INFO_VER_MINOR_OFFSET] = info.ver_minor;
        hush_frame_put_u16(rec + HUSH_SLOT_INFO_VER_REVISION_OFFSET, info.ver_revision);
        hush_frame_put_u32(rec + HUSH_SLOT_INFO_VER_BUILD_OFFSET, info.ver_build);
        memcpy(rec + HUSH_SLOT_INFO_IMAGE_HASH_OFFSET, info.hash, HUSH_SHA256_BYTES);
    }
    return HUSH_IDENTIFY_REPLY_SIZE + HUSH_FLASH_N_REGIONS * HUSH_SLOT_INFO_SIZE;
}
