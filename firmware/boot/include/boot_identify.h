/* boot_identify: the IDENTIFY reply, shared by the bootloader and the application. */
#ifndef BOOT_IDENTIFY_H
#define BOOT_IDENTIFY_H

#include <stddef.h>
#include <stdint.h>

/* Write the IDENTIFY payload (IDENTIFY_REPLY, then one SLOT_INFO per region) to out, which
 * holds at least HUSH_IDENTIFY_REPLY_SIZE + HUSH_FLASH_N_REGIONS * HUSH_SLOT_INFO_SIZE bytes.
 * mode: enum hush_boot_mode; reason: enum hush_boot_reason; running: region index or 0xFF.
 * Returns the payload length. */
size_t boot_identify(uint8_t *out, uint8_t mode, uint8_t reason, uint8_t running,
                     const char *version);

#endif /* BOOT_IDENTIFY_H */
