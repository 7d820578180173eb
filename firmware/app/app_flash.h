/* app_flash: the application's part of flashing.
 *
 * Built for a slot (HUSH_IMAGE_SLOT defined, an `app_slot<N>.ld` build started by hushkit's
 * bootloader) it answers IDENTIFY as the application, reboots into the bootloader on
 * ENTER_BOOTLOADER, and confirms its own slot once its self-check passed. Built to run on
 * its own (linked at the boot address) it answers IDENTIFY without slots and refuses
 * ENTER_BOOTLOADER with NO_BOOTLOADER. */
#ifndef APP_FLASH_H
#define APP_FLASH_H

#include <stddef.h>
#include <stdint.h>

/* Call once at start-up, after the pipeline was set up; self_check_ok: the pipeline
 * initialised and the model is valid. Confirms the running slot when it is on trial. */
void app_flash_start(int self_check_ok);

/* Handle a flash opcode (0x10-0x1F) for the command layer: writes the reply to reply (a
 * HUSH_FRAME_BUFFER_SIZE buffer) and returns its length; UNKNOWN_OPCODE for anything else.
 * ENTER_BOOTLOADER sends its reply itself and resets. */
size_t app_flash_handle(uint8_t opcode, uint16_t seq, const uint8_t *payload, size_t len,
                        uint8_t *reply);

#endif /* APP_FLASH_H */
