/*
 * hal_flash_ram: hal_flash over a flash image held in RAM, with the NOR rules every
 * hal_flash implementation enforces (hal_flash.h): erase by sector to 0xFF, program only
 * erased bytes, both aligned, nothing below the bootloader's end or past the flash.
 *
 * hal_flash_ram.c implements hal_flash_erase, hal_flash_program and hal_flash_ptr; a backend
 * implements hal_flash_init, hal_flash_ops and the three hooks below. Backends: the
 * emulator's (hal_flash_emu.c: the image lives at HUSH_FLASH_BASE in QEMU's code RAM and
 * every operation is written through to a host file) and the host fuzz builds' (a RAM array
 * that checks where each operation lands: tests/fuzz/fuzz_flash_stub.c).
 */
#ifndef HAL_FLASH_RAM_H
#define HAL_FLASH_RAM_H

#include <stddef.h>
#include <stdint.h>

/* Address of flash offset `offset` (0 to HUSH_FLASH_SIZE). */
uint8_t *hal_flash_ram_at(uint32_t offset);

/* An erase or program of [offset, offset + len) passed the NOR checks and is about to change
 * RAM: returns how many of its bytes to carry out (len, or fewer when power is cut). */
size_t hal_flash_ram_begin(uint32_t offset, size_t len);

/* The first `done` bytes of the operation begun at offset are in RAM: persist them; returns
 * a hal_flash status. */
int hal_flash_ram_end(uint32_t offset, size_t done);

#endif /* HAL_FLASH_RAM_H */
