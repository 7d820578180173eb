/* The fuzz targets' RAM flash (fuzz_flash_stub.c, the backend of the emulator's
 * hal_flash_ram.c): what a harness may do besides the hal_flash calls the firmware makes. */
#ifndef FUZZ_FLASH_STUB_H
#define FUZZ_FLASH_STUB_H

#include <stddef.h>
#include <stdint.h>

/* Called before every erase or program lands, with its range: aborts (a finding) when the
 * firmware must not touch it. The default allows the application and model slots. */
typedef void (*fuzz_flash_guard)(uint32_t offset, size_t len);
void fuzz_flash_set_guard(fuzz_flash_guard guard);

/* Put every byte written since the last reset back to 0xFF (and the operation count to 0). */
void fuzz_flash_reset(void);

/* Place bytes anywhere in the flash, past the NOR rules (the harness sets up a device). */
void fuzz_flash_put(uint32_t offset, const uint8_t *data, size_t len);

/* The flash bytes at offset, writable by the harness. */
uint8_t *fuzz_flash_bytes(uint32_t offset);

#endif /* FUZZ_FLASH_STUB_H */
