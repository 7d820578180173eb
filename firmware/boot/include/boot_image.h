/* boot_image: MCUboot images in the flash slots, and their trailer states.
 *
 * Image (docs.mcuboot.com/design): a 32-byte header (padded to ih_hdr_size), the body, an
 * optional protected TLV area, then the TLV area holding the SHA-256 of header + body +
 * protected TLVs. hushkit images also carry a protected TLV (HUSH_IMAGE_TLV_TARGET) naming
 * the build target, and application images are built for their slot (IMAGE_F_ROM_FIXED,
 * ih_load_addr = the slot's address: they run in place, MCUboot's direct-xip).
 *
 * Trailer (last bytes of the slot, imgtool's layout for max_align 8): magic in the last 16
 * bytes, image_ok 8 bytes before it, copy_done 8 before that. Direct-xip with revert:
 * magic = pending, + copy_done = booted once (testing), + image_ok = confirmed. */
#ifndef BOOT_IMAGE_H
#define BOOT_IMAGE_H

#include <stdint.h>

#include "flash_layout.h"
#include "hush_sha256.h"

typedef struct {
    uint8_t kind;   /* enum hush_slot_kind */
    uint32_t start; /* offset from HUSH_FLASH_BASE */
    uint32_t size;
} boot_region;

typedef struct {
    uint8_t state;        /* enum hush_slot_state */
    uint32_t image_size;  /* header + body + TLVs */
    uint32_t body_offset; /* from the slot start: ih_hdr_size */
    uint32_t body_size;   /* ih_img_size */
    uint8_t ver_major, ver_minor;
    uint16_t ver_revision;
    uint32_t ver_build;
    uint8_t hash[HUSH_SHA256_BYTES];
    uint8_t verdict;           /* HUSH_STATUS_OK, or why the image does not verify */
    uint32_t security_counter; /* protected IMAGE_TLV_SEC_CNT, 0 when absent */
    const uint8_t *keyhash;    /* IMAGE_TLV_KEYHASH value in flash (32 bytes), or NULL */
    const uint8_t *signature;  /* IMAGE_TLV_ED25519 value in flash (64 bytes), or NULL */
} boot_slot_info;

extern const boot_region boot_regions[HUSH_FLASH_N_REGIONS];

/* Verify the image in region `index` (header, target, address, SHA-256 and, when the
 * bootloader has a key, its signature: boot_sig.h, and for an application its security
 * counter against the stored one: boot_seccnt.h) and read its trailer: fills *out (state
 * EMPTY, INVALID, VALID, PENDING, TESTING or CONFIRMED; verdict says why INVALID). */
void boot_slot_inspect(unsigned index, boot_slot_info *out);

/* Trailer writes. Each returns a hal_flash status. */
int boot_trailer_set_pending(unsigned index); /* write the magic (erasing the trailer first) */
int boot_trailer_set_copy_done(unsigned index);
int boot_trailer_set_image_ok(unsigned index);
int boot_trailer_erase(unsigned index); /* drop magic and flags */

/* The region index holding [offset, offset + len) among the writable (app and model) slots,
 * or -1. */
int boot_writable_region(uint32_t offset, uint32_t len);

/* The application confirms the slot it runs from: erase the other application slot's trailer
 * (so it can never win over this one), set image_ok and, with a keyed bootloader, raise the
 * security counter to the image's (boot_seccnt.h). No-op unless TESTING. */
int boot_confirm(unsigned index);

/* Start the application of region `index`: VTOR, MSP, reset handler. Does not return. */
void boot_jump(unsigned index) __attribute__((noreturn));

/* Reset the system (SYSRESETREQ). Does not return. */
void boot_system_reset(void) __attribute__((noreturn));

#endif /* BOOT_IMAGE_H */
