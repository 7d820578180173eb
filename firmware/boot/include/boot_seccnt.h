/* boot_seccnt: the device's security counter, a write-once (monotonic) anti-rollback floor.
 *
 * In the spirit of MCUboot's hardware security counter (MCUBOOT_HW_ROLLBACK_PROT): a keyed
 * bootloader refuses an application image whose protected IMAGE_TLV_SEC_CNT is below the
 * stored counter, whatever the other slot holds, so an old, validly signed image can never
 * run again once a newer one was confirmed, not even after the newer slot is erased.
 *
 * Storage (flash_layout.h: HUSH_SECCNT_START, one sector of the state region): append-only
 * records {HUSH_SECCNT_MAGIC, value, ~value, ~HUSH_SECCNT_MAGIC} (u32 LE, 16 bytes), each
 * programmed once into erased flash; the sector is never erased. The counter is the largest
 * value among the records that read back whole. NOR programming only clears bits, so a record
 * torn by a power cut has some of its bits still set: it fails a complement check and counts
 * for nothing, and the next raise appends after it. The counter can only grow.
 *
 * It is raised only when an image is confirmed: by boot_confirm (the application passed its
 * self-check) and again by the bootloader whenever it starts a CONFIRMED image (which covers a
 * power cut between setting image_ok and the raise). Model images are not covered. Without a
 * key built into the bootloader the counter is neither raised nor enforced. */
#ifndef BOOT_SECCNT_H
#define BOOT_SECCNT_H

#include <stddef.h>
#include <stdint.h>

#define BOOT_SECCNT_E_FULL (-16) /* every record of the sector is used: the raise is lost */

typedef struct {
    uint32_t value;    /* the stored counter, 0 on a fresh device */
    uint16_t records;  /* records not erased (whole or torn) */
    uint16_t capacity; /* records the sector holds */
} boot_seccnt_state;

void boot_seccnt_read(boot_seccnt_state *out);

/* The stored counter. */
uint32_t boot_seccnt_value(void);

/* Make the stored counter at least `value` (one record programmed when it is lower).
 * Returns a hal_flash status, or BOOT_SECCNT_E_FULL. */
int boot_seccnt_raise(uint32_t value);

/* Write the SECURITY_COUNTER reply payload (HUSH_SECURITY_COUNTER_REPLY_SIZE bytes) to out;
 * returns its length. */
size_t boot_seccnt_reply(uint8_t *out);

#endif /* BOOT_SECCNT_H */
