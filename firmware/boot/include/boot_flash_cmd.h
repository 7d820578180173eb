/* boot_flash_cmd: the flash range commands, shared by the bootloader and the application. */
#ifndef BOOT_FLASH_CMD_H
#define BOOT_FLASH_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "hush_frame.h"

#define BOOT_WRITE_APP   0x1u /* application slots may be erased and written */
#define BOOT_WRITE_MODEL 0x2u /* model slots may be erased and written */

/* Handle FLASH_ERASE, FLASH_WRITE or FLASH_HASH (payload `in`, `len` bytes): writes the reply
 * to `reply` (HUSH_FRAME_BUFFER_SIZE bytes) and returns its length; 0 for other opcodes.
 * Erase and write go only to slots of the kinds in `allow`, never to region `busy` (-1:
 * none), never over the bootloader or the state region. */
size_t boot_flash_cmd(uint8_t opcode, uint16_t seq, const uint8_t *in, size_t len, uint8_t *reply,
                      unsigned allow, int busy);

/* A reply frame with a status and an optional ASCII detail. */
size_t boot_reply(uint8_t *reply, uint8_t op, uint16_t seq, uint8_t status, const char *detail);

/* A reply for a hal_flash status. */
size_t boot_reply_flash(uint8_t *reply, uint8_t op, uint16_t seq, int rc);

#endif /* BOOT_FLASH_CMD_H */
