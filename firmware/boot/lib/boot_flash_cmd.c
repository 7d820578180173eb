/* boot_flash_cmd: FLASH_ERASE, FLASH_WRITE and FLASH_HASH, for the bootloader (application
 * and model slots) and the application (model slots other than the one in use). */
#include "boot_flash_cmd.h"

#include <string.h>

#include "boot_image.h"
#include "flash_layout.h"
#include "hal_flash.h"
#include "hush_sha256.h"

static uint8_t flash_status(int rc);
static const char *flash_detail(int rc);

/* 0 when [offset, offset + len) lies in one allowed slot that is not `busy`, else the reply. */
static size_t check_region(uint8_t *reply, uint8_t op, uint16_t seq, uint32_t offset, uint32_t len,
                           unsigned allow, int busy)
{
    const int region = len == 0 ? -1 : boot_writable_region(offset, len);
    const unsigned kind = region < 0 ? 0u : boot_regions[region].kind;
    const unsigned bit = kind == HUSH_SLOT_KIND_APP     ? BOOT_WRITE_APP
                         : kind == HUSH_SLOT_KIND_MODEL ? BOOT_WRITE_MODEL
                                                        : 0u;
    if (region < 0 || !(allow & bit)) {
        return boot_reply(reply, op, seq, HUSH_STATUS_OUTSIDE_SLOTS, NULL);
    }
    if (region == busy) {
        return boot_reply(reply, op, seq, HUSH_STATUS_SLOT_IN_USE, NULL);
    }
    return 0;
}

size_t boot_reply(uint8_t *reply, uint8_t op, uint16_t seq, uint8_t status, const char *detail)
{
    size_t n = 0;
    if (detail != NULL) {
        n = strlen(detail);
        memcpy(hush_frame_payload(reply), detail, n);
    }
    return hush_frame_seal(reply, op, status, seq, n);
}

size_t boot_reply_flash(uint8_t *reply, uint8_t op, uint16_t seq, int rc)
{
    return boot_reply(reply, op, seq, flash_status(rc), flash_detail(rc));
}

static uint8_t flash_status(int rc)
{
    switch (rc) {
    case HAL_FLASH_OK:
        return HUSH_STATUS_OK;
    case HAL_FLASH_E_ALIGN:
        return HUSH_STATUS_NOT_ALIGNED;
    case HAL_FLASH_E_RANGE:
        return HUSH_STATUS_OUTSIDE_SLOTS;
    default:
        return HUSH_STATUS_FLASH_FAILED;
    }
}

static const char *flash_detail(int rc)
{
    return rc == HAL_FLASH_E_NOT_ERASED ? "program over unerased flash"
           : rc == HAL_FLASH_E_IO       ? "flash I/O error"
                                        : NULL;
}

static size_t cmd_erase(uint8_t *reply, uint8_t op, uint16_t seq, const uint8_t *in, size_t len,
                        unsigned allow, int busy)
{
    if (len != HUSH_FLASH_RANGE_SIZE) {
        return boot_reply(reply, op, seq, HUSH_STATUS_BAD_LENGTH, NULL);
    }
    const uint32_t offset = hush_frame_get_u32(in + HUSH_FLASH_RANGE_OFFSET_OFFSET);
    const uint32_t length = hush_frame_get_u32(in + HUSH_FLASH_RANGE_LENGTH_OFFSET);
    if (offset % HUSH_FLASH_SECTOR != 0u || length % HUSH_FLASH_SECTOR != 0u) {
        return boot_reply(reply, op, seq, HUSH_STATUS_NOT_ALIGNED, NULL);
    }
    const size_t refused = check_region(reply, op, seq, offset, length, allow, busy);
    if (refused != 0) {
        return refused;
    }
    for (uint32_t s = offset; s < offset + length; s += HUSH_FLASH_SECTOR) {
        const int rc = hal_flash_erase(s);
        if (rc != HAL_FLASH_OK) {
            return boot_reply(reply, op, seq, flash_status(rc), flash_detail(rc));
        }
    }
    return boot_reply(reply, op, seq, HUSH_STATUS_OK, NULL);
}

static size_t cmd_write(uint8_t *reply, uint8_t op, uint16_t seq, const uint8_t *in, size_t len,
                        unsigned allow, int busy)
{
    if (len < HUSH_FLASH_WRITE_REQUEST_SIZE) {
        return boot_reply(reply, op, seq, HUSH_STATUS_BAD_LENGTH, NULL);
    }
    const uint32_t offset = hush_frame_get_u32(in + HUSH_FLASH_WRITE_REQUEST_OFFSET_OFFSET);
    const uint32_t n = (uint32_t)(len - HUSH_FLASH_WRITE_REQUEST_SIZE);
    if (offset % HUSH_FLASH_WRITE_ALIGN != 0u || n % HUSH_FLASH_WRITE_ALIGN != 0u) {
        return boot_reply(reply, op, seq, HUSH_STATUS_NOT_ALIGNED, NULL);
    }
    const size_t refused = check_region(reply, op, seq, offset, n, allow, busy);
    if (refused != 0) {
        return refused;
    }
    const int rc = hal_flash_program(offset, in + HUSH_FLASH_WRITE_REQUEST_SIZE, n);
    return boot_reply(reply, op, seq, flash_status(rc), flash_detail(rc));
}

static size_t cmd_hash(uint8_t *reply, uint8_t op, uint16_t seq, const uint8_t *in, size_t len)
{
    if (len != HUSH_FLASH_RANGE_SIZE) {
        return boot_reply(reply, op, seq, HUSH_STATUS_BAD_LENGTH, NULL);
    }
    const uint32_t offset = hush_frame_get_u32(in + HUSH_FLASH_RANGE_OFFSET_OFFSET);
    const uint32_t length = hush_frame_get_u32(in + HUSH_FLASH_RANGE_LENGTH_OFFSET);
    if (offset > HUSH_FLASH_SIZE || length > HUSH_FLASH_SIZE - offset) {
        return boot_reply(reply, op, seq, HUSH_STATUS_BAD_ARGUMENT, "range outside flash");
    }
    uint8_t *out = hush_frame_payload(reply);
    hush_sha256(hal_flash_ptr(offset), length, out + HUSH_FLASH_HASH_REPLY_SHA256_OFFSET);
    return hush_frame_seal(reply, op, HUSH_STATUS_OK, seq, HUSH_FLASH_HASH_REPLY_SIZE);
}

size_t boot_flash_cmd(uint8_t opcode, uint16_t seq, const uint8_t *in, size_t len, uint8_t *reply,
                      unsigned allow, int busy)
{
    const uint8_t op = (uint8_t)(opcode | HUSH_PROTO_REPLY_FLAG);
    switch (opcode) {
    case HUSH_OP_FLASH_ERASE:
        return cmd_erase(reply, op, seq, in, len, allow, busy);
    case HUSH_OP_FLASH_WRITE:
        return cmd_write(reply, op, seq, in, len, allow, busy);
    case HUSH_OP_FLASH_HASH:
        return cmd_hash(reply, op, seq, in, len);
    default:
        return 0;
    }
}
