/* boot_cmd: the bootloader's side of the flash commands (IDENTIFY, FLASH_ERASE, FLASH_WRITE,
 * FLASH_HASH, MARK_PENDING, BOOT, SECURITY_COUNTER). Writes are accepted only inside an
 * application or model slot, never over the bootloader or the state region. */
#ifndef BOOT_CMD_H
#define BOOT_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "hush_frame.h"

#define BOOT_CMD_MEM_BYTES   (HUSH_FRAME_DECODER_MEM_BYTES + 64u)
#define BOOT_CMD_REPLY_BYTES HUSH_FRAME_BUFFER_SIZE
#define BOOT_VERSION         "hushboot-1"

typedef struct boot_cmd_ctx boot_cmd_ctx;

/* reason: enum hush_boot_reason, reported by IDENTIFY. NULL when mem_size is too small for the
 * context (BOOT_CMD_MEM_BYTES is enough) or mem is not 8-byte aligned. */
boot_cmd_ctx *boot_cmd_init(void *mem, size_t mem_size, uint8_t reason);

/* Feed one byte; returns the length of a reply written to reply (0: none yet). */
size_t boot_cmd_feed(boot_cmd_ctx *ctx, uint8_t byte, uint8_t *reply, size_t cap);

/* 1 once a BOOT command was answered: the caller resets after sending the reply. */
int boot_cmd_reset_requested(const boot_cmd_ctx *ctx);

#endif /* BOOT_CMD_H */
