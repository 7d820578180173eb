/*
 * hal_flash: the board's NOR flash (sector erase, program, memory-mapped read).
 *
 * Offsets count from HUSH_FLASH_BASE; geometry (HUSH_FLASH_SIZE, HUSH_FLASH_SECTOR,
 * HUSH_FLASH_WRITE_ALIGN) comes from the target's generated flash_layout.h. NOR semantics,
 * enforced by every implementation: erase sets a whole sector to 0xFF; program only clears
 * bits and is refused (HAL_FLASH_E_NOT_ERASED) on bytes that are not erased.
 *
 * Implementations: firmware/hal/flash_emu (QEMU: flash kept in the code RAM and written
 * through to a host file with semihosting, so it survives emulator restarts) and
 * firmware/hal/flash_stm32f4 (the STM32F4 flash controller).
 */
#ifndef HAL_FLASH_H
#define HAL_FLASH_H

#include <stddef.h>
#include <stdint.h>

enum hal_flash_status {
    HAL_FLASH_OK = 0,
    HAL_FLASH_E_ALIGN = -1,      /* offset or length not on the erase/program unit */
    HAL_FLASH_E_RANGE = -2,      /* outside the flash */
    HAL_FLASH_E_NOT_ERASED = -3, /* program over bytes that are not 0xFF */
    HAL_FLASH_E_IO = -4,         /* the controller (or the host file) reported an error */
};

/* Make the flash usable. load != 0 (the bootloader, once per reset): bring the contents in
 * from the backing store where the board has one (the emulator's host file). */
int hal_flash_init(int load);

/* Erase the sector starting at offset (sector aligned) to 0xFF. */
int hal_flash_erase(uint32_t offset);

/* Program len bytes (offset and len multiples of HUSH_FLASH_WRITE_ALIGN) over erased flash. */
int hal_flash_program(uint32_t offset, const uint8_t *data, size_t len);

/* Read access: the flash is memory mapped. */
const uint8_t *hal_flash_ptr(uint32_t offset);

/* Erase and program operations since power-on (kept across resets). */
uint32_t hal_flash_ops(void);

#endif /* HAL_FLASH_H */
