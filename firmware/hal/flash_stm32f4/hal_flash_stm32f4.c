/*
 * hal_flash for the STM32F4 flash controller (RM0090, section 3: embedded flash interface).
 *
 * NOT YET RUN ON HARDWARE: written to the reference manual and compiled for Cortex-M4 by the
 * tests; no board target uses it yet (an STM32F4 flash layout with its non-uniform sectors
 * is still to be added to host_tools/flash_layout.py).
 *
 * Sectors of the 1 MB parts (STM32F405/407/415/417): 4 x 16 KB, 1 x 64 KB, 7 x 128 KB from
 * 0x08000000. Program with PSIZE x32 (2.7-3.6 V supply): one 32-bit word at a time. Each
 * operation: unlock (KEYR), wait !BSY, set the mode bits, start, wait !BSY, check the error
 * flags, lock again.
 */
#include <stdint.h>

#include "hal_flash.h"

#define FLASH_REG(off) (*(volatile uint32_t *)(0x40023C00u + (off)))
#define FLASH_KEYR     FLASH_REG(0x04u)
#define FLASH_SR       FLASH_REG(0x0Cu)
#define FLASH_CR       FLASH_REG(0x10u)
#define FLASH_KEY1     0x45670123u
#define FLASH_KEY2     0xCDEF89ABu
#define SR_BSY         (1u << 16)
#define SR_ERRORS      (0xF2u) /* PGSERR PGPERR PGAERR WRPERR OPERR */
#define CR_PG          (1u << 0)
#define CR_SER         (1u << 1)
#define CR_SNB_SHIFT   3u
#define CR_PSIZE_X32   (2u << 8)
#define CR_STRT        (1u << 16)
#define CR_LOCK        (1u << 31)

#define FLASH_BASE_ADDR 0x08000000u
#define FLASH_BYTES     0x00100000u
#define WORD_BYTES      4u

static const uint32_t k_sector_kb[] = {16, 16, 16, 16, 64, 128, 128, 128, 128, 128, 128, 128};
#define N_SECTORS (sizeof k_sector_kb / sizeof k_sector_kb[0])

static uint32_t s_ops;

/* Sector number starting exactly at offset, or -1. */
static int sector_at(uint32_t offset)
{
    uint32_t start = 0;
    for (unsigned i = 0; i < N_SECTORS; ++i) {
        if (start == offset) {
            return (int)i;
        }
        start += k_sector_kb[i] * 1024u;
    }
    return -1;
}

static void unlock(void)
{
    if (FLASH_CR & CR_LOCK) {
        FLASH_KEYR = FLASH_KEY1;
        FLASH_KEYR = FLASH_KEY2;
    }
}

static int finish(void)
{
    while (FLASH_SR & SR_BSY) {
    }
    const uint32_t errors = FLASH_SR & SR_ERRORS;
    FLASH_SR = errors; /* write 1 to clear */
    FLASH_CR = CR_LOCK;
    return errors ? HAL_FLASH_E_IO : HAL_FLASH_OK;
}

int hal_flash_init(int load)
{
    (void)load; /* memory mapped: nothing to bring in */
    return HAL_FLASH_OK;
}

int hal_flash_erase(uint32_t offset)
{
    const int sector = sector_at(offset);
    if (sector < 0) {
        return offset >= FLASH_BYTES ? HAL_FLASH_E_RANGE : HAL_FLASH_E_ALIGN;
    }
    s_ops++;
    while (FLASH_SR & SR_BSY) {
    }
    unlock();
    FLASH_CR = CR_SER | CR_PSIZE_X32 | ((uint32_t)sector << CR_SNB_SHIFT);
    FLASH_CR |= CR_STRT;
    return finish();
}

int hal_flash_program(uint32_t offset, const uint8_t *data, size_t len)
{
    if (offset % WORD_BYTES != 0u || len % WORD_BYTES != 0u) {
        return HAL_FLASH_E_ALIGN;
    }
    if (offset > FLASH_BYTES || len > FLASH_BYTES - offset) {
        return HAL_FLASH_E_RANGE;
    }
    const volatile uint8_t *dst = (const volatile uint8_t *)(FLASH_BASE_ADDR + offset);
    for (size_t i = 0; i < len; ++i) {
        if (dst[i] != 0xFFu) {
            return HAL_FLASH_E_NOT_ERASED;
        }
    }
    s_ops++;
    while (FLASH_SR & SR_BSY) {
    }
    unlock();
    FLASH_CR = CR_PG | CR_PSIZE_X32;
    for (size_t i = 0; i < len; i += WORD_BYTES) {
        const uint32_t word = (uint32_t)data[i] | ((uint32_t)data[i + 1] << 8) |
                              ((uint32_t)data[i + 2] << 16) | ((uint32_t)data[i + 3] << 24);
        *(volatile uint32_t *)(FLASH_BASE_ADDR + offset + i) = word;
        while (FLASH_SR & SR_BSY) {
        }
        if (FLASH_SR & SR_ERRORS) {
            break;
        }
    }
    return finish();
}

const uint8_t *hal_flash_ptr(uint32_t offset)
{
    return (const uint8_t *)(FLASH_BASE_ADDR + offset);
}

uint32_t hal_flash_ops(void)
{
    return s_ops;
}
