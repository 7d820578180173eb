/* hal_flash_ram: see hal_flash_ram.h. */
#include "hal_flash_ram.h"

#include <string.h>

#include "flash_layout.h"
#include "hal_flash.h"

int hal_flash_erase(uint32_t offset)
{
    if (offset % HUSH_FLASH_SECTOR != 0u) {
        return HAL_FLASH_E_ALIGN;
    }
    if (offset >= HUSH_FLASH_SIZE || offset < HUSH_REGION_BOOT_SIZE) {
        return HAL_FLASH_E_RANGE;
    }
    const size_t n = hal_flash_ram_begin(offset, HUSH_FLASH_SECTOR);
    memset(hal_flash_ram_at(offset), 0xFF, n);
    return hal_flash_ram_end(offset, n);
}

int hal_flash_program(uint32_t offset, const uint8_t *data, size_t len)
{
    if (offset % HUSH_FLASH_WRITE_ALIGN != 0u || len % HUSH_FLASH_WRITE_ALIGN != 0u) {
        return HAL_FLASH_E_ALIGN;
    }
    if (offset < HUSH_REGION_BOOT_SIZE || offset > HUSH_FLASH_SIZE ||
        len > HUSH_FLASH_SIZE - offset) {
        return HAL_FLASH_E_RANGE;
    }
    uint8_t *dst = hal_flash_ram_at(offset);
    for (size_t i = 0; i < len; ++i) {
        if (dst[i] != 0xFFu) {
            return HAL_FLASH_E_NOT_ERASED;
        }
    }
    const size_t n = hal_flash_ram_begin(offset, len);
    memcpy(dst, data, n);
    return hal_flash_ram_end(offset, n);
}

const uint8_t *hal_flash_ptr(uint32_t offset)
{
    return hal_flash_ram_at(offset);
}
