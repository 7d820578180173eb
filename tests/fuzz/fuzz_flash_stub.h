/* The bootloader fuzz target's RAM flash (fuzz_flash_stub.c): what the harness may do
 * besides the hal_flash calls the bootloader makes. */
#ifndef FUZZ_FLASH_STUB_H
#define FUZZ_FLASH_STUB_H

#include <stddef.h>
#include <stdint.h>

/* Put every byte written since the last reset back to 0xFF (and the operation count to 0). */
void fuzz_flash_reset(void);

/* Place bytes anywhere in the flash, past the NOR rules (the harness sets up a device). */
void fuzz_flash_put(uint32_t offset, const uint8_t *data, size_t len);

/* The flash bytes at offset, writable by the harness. */
uint8_t *fuzz_flash_bytes(uint32_t offset);

#endif /* FUZZ_FLASH_STUB_H */
