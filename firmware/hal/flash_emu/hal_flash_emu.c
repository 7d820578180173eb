/*
 * hal_flash on QEMU: NOR flash emulated in the code RAM, persisted in a host file.
 *
 * `hushkit emulate --flash FILE` starts QEMU with the file preloaded at HUSH_FLASH_BASE and
 * its name as the semihosting command line ("FILE" or "FILE cut=N"). The bootloader reloads
 * the file at every reset (a guest reset restores QEMU's preload, not what was written since)
 * and every erase/program is applied to memory and written through to the file, so the flash
 * survives emulator restarts.
 *
 * The NOR rules (erase by sector to 0xFF, program only on erased bytes, aligned to
 * HUSH_FLASH_WRITE_ALIGN) are hal_flash_ram.c's, shared with the host fuzz builds; this file
 * is its backend: where the image lies, the host file, the power cuts.
 *
 * Power cuts: with "cut=N", operation number N (counted from power-on across resets) is done
 * half-way (the first half of the sector or of the bytes) and the emulator then exits with
 * HAL_FLASH_POWER_CUT_EXIT, as if the supply had dropped in the middle of it.
 */
#include <stdint.h>
#include <string.h>

#include "flash_layout.h"
#include "hal_flash.h"
#include "hal_flash_ram.h"
#include "hal_sys.h"
#include "hush_mailbox.h"

/* Arm semihosting operations (trapped by BKPT 0xAB on M-profile). */
#define SH_SYS_OPEN        0x01u
#define SH_SYS_WRITE       0x05u
#define SH_SYS_READ        0x06u
#define SH_SYS_SEEK        0x0Au
#define SH_SYS_GET_CMDLINE 0x15u
#define SH_MODE_RB_PLUS    3u /* "r+b": read and write, keep contents */

#define HAL_FLASH_POWER_CUT_EXIT 86
#define CMDLINE_BYTES            256u

static int s_handle = -1;
static int s_cut; /* the operation under way is the one that loses power */

static int semihost(uint32_t op, void *arg)
{
    register uint32_t r0 __asm("r0") = op;
    register void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return (int)r0;
}

uint8_t *hal_flash_ram_at(uint32_t offset)
{
    return (uint8_t *)(uintptr_t)(HUSH_FLASH_BASE + offset);
}

static uint32_t parse_uint(const char *s)
{
    uint32_t v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10u + (uint32_t)(*s++ - '0');
    }
    return v;
}

static int store(uint32_t offset, size_t len)
{
    if (s_handle < 0) {
        return HAL_FLASH_E_IO;
    }
    uint32_t seek[2] = {(uint32_t)s_handle, offset};
    uint32_t write[3] = {(uint32_t)s_handle, (uint32_t)(uintptr_t)hal_flash_ram_at(offset),
                         (uint32_t)len};
    if (semihost(SH_SYS_SEEK, seek) != 0 || semihost(SH_SYS_WRITE, write) != 0) {
        return HAL_FLASH_E_IO;
    }
    return HAL_FLASH_OK;
}

int hal_flash_init(int load)
{
    static char cmdline[CMDLINE_BYTES];
    uint32_t args[2] = {(uint32_t)(uintptr_t)cmdline, sizeof cmdline - 1u};
    if (semihost(SH_SYS_GET_CMDLINE, args) != 0) {
        return HAL_FLASH_E_IO;
    }
    cmdline[args[1] < sizeof cmdline ? args[1] : sizeof cmdline - 1u] = '\0';
    char *space = strchr(cmdline, ' ');
    hush_mailbox *mb = hush_mailbox_get();
    if (space != NULL) {
        *space = '\0';
        const char *cut = strstr(space + 1, "cut=");
        if (cut != NULL) {
            mb->power_cut_at = parse_uint(cut + 4);
        }
    }
    uint32_t open[3] = {(uint32_t)(uintptr_t)cmdline, SH_MODE_RB_PLUS, (uint32_t)strlen(cmdline)};
    s_handle = semihost(SH_SYS_OPEN, open);
    if (s_handle < 0) {
        return HAL_FLASH_E_IO;
    }
    if (load) {
        /* Everything above the running bootloader: the file is the truth after a reset. */
        const uint32_t from = HUSH_REGION_BOOT_SIZE;
        uint32_t seek[2] = {(uint32_t)s_handle, from};
        uint32_t read[3] = {(uint32_t)s_handle, (uint32_t)(uintptr_t)hal_flash_ram_at(from),
                            HUSH_FLASH_SIZE - from};
        if (semihost(SH_SYS_SEEK, seek) != 0 || semihost(SH_SYS_READ, read) != 0) {
            return HAL_FLASH_E_IO;
        }
    }
    return HAL_FLASH_OK;
}

/* Count one operation; at the power cut, carry out only the first half of it. */
size_t hal_flash_ram_begin(uint32_t offset, size_t len)
{
    (void)offset;
    hush_mailbox *mb = hush_mailbox_get();
    mb->flash_ops++;
    s_cut = mb->power_cut_at != 0u && mb->flash_ops == mb->power_cut_at;
    return s_cut ? (len / 2u) & ~(size_t)(HUSH_FLASH_WRITE_ALIGN - 1u) : len;
}

int hal_flash_ram_end(uint32_t offset, size_t done)
{
    const int rc = store(offset, done);
    if (s_cut) {
        hal_sys_exit(HAL_FLASH_POWER_CUT_EXIT);
    }
    return rc;
}

uint32_t hal_flash_ops(void)
{
    return hush_mailbox_get()->flash_ops;
}
