/* boot_rollback: roll back a trial image that the watchdog had to reset.
 *
 * MCUboot's revert covers an image that never confirms itself. An image can also confirm
 * (its self-check passes at start-up) and then hang: this covers that case for the first run
 * of a new image, its trial run (from the boot that took it PENDING up to the next reset).
 * When that run ends in a watchdog reset, the image's header sector is erased, so it never
 * boots again, and the bootloader falls back to the previous image (VALID: the new image's
 * confirm only dropped its trailer). The watchdog's reset record (hal_watchdog.h) carries
 * the trial region across the reset and counts the rollback. */
#ifndef BOOT_ROLLBACK_H
#define BOOT_ROLLBACK_H

/* Call once per reset, before the slot is chosen (with the flash up): takes the reset cause,
 * rolls back the trial image when the watchdog reset it, and notes the PENDING application
 * slot (if any) as the trial of the run that follows. */
void boot_rollback_check(void);

#endif /* BOOT_ROLLBACK_H */
