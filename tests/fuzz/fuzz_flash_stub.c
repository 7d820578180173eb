/* hal_flash for the bootloader fuzz target: the whole flash of the qemu-m4 layout as a RAM
 * array, with the NOR rules hal_flash_emu.c enforces (erase by sector to 0xFF, program only
 * erased bytes, aligned), and the bootloader's promise checked: nothing it does may erase or
 * program outside an application or model slot, so such an operation aborts (a finding).
 *
 * The array is exactly HUSH_FLASH_SIZE bytes, so AddressSanitizer reports any read past the
 * flash (hal_flash_ptr may point one past its end, never further). fuzz_flash_reset() puts
 * the bytes written since the last reset back to erased. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot_image.h"
#include "flash_layout.h"
#include "fuzz_flash_stub.h"
#include "hal_flash.h"

static uint8_t flash[HUSH_FLASH_SIZE];
static uint32_t dirty_from = HUSH_FLASH_SIZE, dirty_to;
static uint32_t ops;

static void touch(uint32_t offset, size_t len)
{
    if (offset < dirty_from) {
        dirty_from = offset;
    }
    if (offset + len > dirty_to) {
        dirty_to = (uint32_t)(offset + len);
    }
}

/* Abort unless [offset, offset + len) lies in one application or model slot. */
static void check_slot(uint32_t offset, size_t len)
{
    if (boot_writable_region(offset, (uint32_t)len) < 0) {
        abort();
    }
}

void fuzz_flash_reset(void)
{
    if (dirty_to > dirty_from) {
        memset(flash + dirty_from, 0xFF, dirty_to - dirty_from);
    }
    dirty_from = HUSH_FLASH_SIZE;
    dirty_to = 0;
    ops = 0;
}

void fuzz_flash_put(uint32_t offset, const uint8_t *data, size_t len)
{
    if (offset > HUSH_FLASH_SIZE || len > HUSH_FLASH_SIZE - offset) {
        abort();
    }
    memcpy(flash + offset, data, len);
    touch(offset, len);
}

uint8_t *fuzz_flash_bytes(uint32_t offset)
{
    return flash + offset;
}

int hal_flash_init(int load)
{
    (void)load;
    memset(flash, 0xFF, sizeof flash);
    dirty_from = HUSH_FLASH_SIZE;
    dirty_to = 0;
    return HAL_FLASH_OK;
}

int hal_flash_erase(uint32_t offset)
{
    if (offset % HUSH_FLASH_SECTOR != 0u) {
        return HAL_FLASH_E_ALIGN;
    }
    if (offset >= HUSH_FLASH_SIZE || offset < HUSH_REGION_BOOT_SIZE) {
        return HAL_FLASH_E_RANGE;
    }
    check_slot(offset, HUSH_FLASH_SECTOR);
    ops++;
    memset(flash + offset, 0xFF, HUSH_FLASH_SECTOR);
    touch(offset, HUSH_FLASH_SECTOR);
    return HAL_FLASH_OK;
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
    check_slot(offset, len);
    for (size_t i = 0; i < len; ++i) {
        if (flash[offset + i] != 0xFFu) {
            return HAL_FLASH_E_NOT_ERASED;
        }
    }
    ops++;
    memcpy(flash + offset, data, len);
    touch(offset, len);
    return HAL_FLASH_OK;
}

const uint8_t *hal_flash_ptr(uint32_t offset)
{
    if (offset > HUSH_FLASH_SIZE) {
        abort();
    }
    return flash + offset;
}

uint32_t hal_flash_ops(void)
{
    return ops;
}
