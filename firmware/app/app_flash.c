/* app_flash: see app_flash.h. */
#include "app_flash.h"

#include <string.h>

#include "hal_uart.h"
#include "hush_frame.h"

#include "app_model.h"

#ifdef HUSH_IMAGE_SLOT
#include "boot_flash_cmd.h"
#include "boot_identify.h"
#include "boot_image.h"
#include "boot_seccnt.h"
#include "flash_layout.h"
#include "hal_flash.h"
#include "hush_mailbox.h"

#define REGION_OF_SLOT(n) ((n) == 0 ? HUSH_REGION_APP0_INDEX : HUSH_REGION_APP1_INDEX)
static int s_flash_ok;

void app_flash_start(int self_check_ok)
{
    s_flash_ok = hal_flash_init(0) == HAL_FLASH_OK;
    if (s_flash_ok && self_check_ok) {
        (void)boot_confirm(REGION_OF_SLOT(HUSH_IMAGE_SLOT));
    }
}
#else
void app_flash_start(int self_check_ok)
{
    (void)self_check_ok;
}
#endif

static size_t reply_status(uint8_t *reply, uint8_t op, uint16_t seq, uint8_t status)
{
    return hush_frame_seal(reply, op, status, seq, 0);
}

size_t app_flash_handle(uint8_t opcode, uint16_t seq, const uint8_t *payload, size_t len,
                        uint8_t *reply)
{
    const uint8_t op = (uint8_t)(opcode | HUSH_PROTO_REPLY_FLAG);
    switch (opcode) {
    case HUSH_OP_IDENTIFY: {
        if (len != 0) {
            return reply_status(reply, op, seq, HUSH_STATUS_BAD_LENGTH);
        }
        uint8_t *out = hush_frame_payload(reply);
#ifdef HUSH_IMAGE_SLOT
        const size_t n = boot_identify(out, HUSH_MODE_APPLICATION, HUSH_REASON_NONE,
                                       (uint8_t)REGION_OF_SLOT(HUSH_IMAGE_SLOT), "");
#else
        memset(out, 0, HUSH_IDENTIFY_REPLY_SIZE);
        out[HUSH_IDENTIFY_REPLY_RUNNING_SLOT_OFFSET] = 0xFFu;
        memcpy(out + HUSH_IDENTIFY_REPLY_TARGET_OFFSET, HUSH_TARGET,
               strlen(HUSH_TARGET) < HUSH_IDENTIFY_REPLY_TARGET_BYTES
                   ? strlen(HUSH_TARGET)
                   : HUSH_IDENTIFY_REPLY_TARGET_BYTES);
        const size_t n = HUSH_IDENTIFY_REPLY_SIZE;
#endif
        return hush_frame_seal(reply, op, HUSH_STATUS_OK, seq, n);
    }
    case HUSH_OP_ENTER_BOOTLOADER: {
#ifdef HUSH_IMAGE_SLOT
        hush_mailbox_get()->request = HUSH_MAILBOX_REQUEST_BOOTLOADER;
        const size_t n = reply_status(reply, op, seq, HUSH_STATUS_OK);
        hal_uart_write(reply, n);
        boot_system_reset();
#else
        return reply_status(reply, op, seq, HUSH_STATUS_NO_BOOTLOADER);
#endif
    }
    case HUSH_OP_FLASH_ERASE:
    case HUSH_OP_FLASH_WRITE:
    case HUSH_OP_FLASH_HASH:
#ifdef HUSH_IMAGE_SLOT
        /* A running application writes model slots only, never the model in use. */
        return boot_flash_cmd(opcode, seq, payload, len, reply, BOOT_WRITE_MODEL,
                              app_model_in_use());
#else
        return reply_status(reply, op, seq, HUSH_STATUS_NOT_IN_BOOTLOADER);
#endif
    case HUSH_OP_MODEL_ACTIVATE: {
        if (len != HUSH_MODEL_ACTIVATE_REQUEST_SIZE) {
            return reply_status(reply, op, seq, HUSH_STATUS_BAD_LENGTH);
        }
        const char *detail = NULL;
        const uint8_t status =
            app_model_activate(payload[HUSH_MODEL_ACTIVATE_REQUEST_REGION_OFFSET], &detail);
        size_t n = 0;
        if (detail != NULL) {
            n = strlen(detail);
            memcpy(hush_frame_payload(reply), detail, n);
        }
        return hush_frame_seal(reply, op, status, seq, n);
    }
    case HUSH_OP_SECURITY_COUNTER:
#ifdef HUSH_IMAGE_SLOT
        if (len != 0) {
            return reply_status(reply, op, seq, HUSH_STATUS_BAD_LENGTH);
        }
        return hush_frame_seal(reply, op, HUSH_STATUS_OK, seq,
                               boot_seccnt_reply(hush_frame_payload(reply)));
#else
        return reply_status(reply, op, seq, HUSH_STATUS_NO_BOOTLOADER);
#endif
    case HUSH_OP_MARK_PENDING:
    case HUSH_OP_BOOT:
        return reply_status(reply, op, seq, HUSH_STATUS_NOT_IN_BOOTLOADER);
    default:
        return reply_status(reply, op, seq, HUSH_STATUS_UNKNOWN_OPCODE);
    }
}
