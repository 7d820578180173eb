/* The fuzz targets' flash: the whole flash of the qemu-m4 layout as a RAM array, behind the
 * emulator's own hal_flash (firmware/hal/flash_emu/hal_flash_ram.c: the NOR rules), with
 * the firmware's promise checked: an erase or program outside what the guard allows (by
 * default the application and model slots, and appending to the security counter) aborts
 * (a finding).
 *
 * The array is exactly HUSH_FLASH_SIZE bytes, so AddressSanitizer reports any access past
 * the flash. fuzz_flash_reset() puts the bytes written since the last reset back to erased. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot_image.h"
#include "flash_layout.h"
#include "fuzz_flash_stub.h"
#include "hal_flash.h"
#include "hal_flash_ram.h"

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

/* Abort unless [offset, offset + len) lies in one application or model slot, or appends a
 * record to the security counter's sector (a program shorter than a sector: that sector is
 * never erased). */
static void slots_only(uint32_t offset, size_t len)
{
    if (offset >= HUSH_SECCNT_START && len < HUSH_SECCNT_SIZE &&
        offset - HUSH_SECCNT_START <= HUSH_SECCNT_SIZE - len) {
        return;
    }
    if (boot_writable_region(offset, (uint32_t)len) < 0) {
        abort();
    }
}

static fuzz_flash_guard guard = slots_only;

void fuzz_flash_set_guard(fuzz_flash_guard g)
{
    guard = g != NULL ? g : slots_only;
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

/* The first call powers the flash on, erased; later ones (an application's, after a reset)
 * find it as it is. */
int hal_flash_init(int load)
{
    static int powered;
    (void)load;
    if (!powered) {
        memset(flash, 0xFF, sizeof flash);
        dirty_from = HUSH_FLASH_SIZE;
        dirty_to = 0;
        powered = 1;
    }
    return HAL_FLASH_OK;
}

uint32_t hal_flash_ops(void)
{
    return ops;
}

uint8_t *hal_flash_ram_at(uint32_t offset)
{
    if (offset > HUSH_FLASH_SIZE) {
        abort(); /* one past the end at most, like any pointer into an array */
    }
    return flash + offset;
}

size_t hal_flash_ram_begin(uint32_t offset, size_t len)
{
    guard(offset, len);
    ops++;
    return len;
}

int hal_flash_ram_end(uint32_t offset, size_t done)
{
    touch(offset, done);
    return HAL_FLASH_OK;
}
