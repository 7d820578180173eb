/* boot_sig: Ed25519 image signatures and downgrade protection (MCUboot's TLVs).
 *
 * A signed image (imgtool sign --key KEY.pem, Ed25519) carries IMAGE_TLV_KEYHASH (SHA-256 of
 * the signer's DER SubjectPublicKeyInfo) and IMAGE_TLV_ED25519 (the signature of the 32-byte
 * SHA-256 of header + body + protected TLVs) in its TLV area, and optionally a protected
 * IMAGE_TLV_SEC_CNT. boot_image.c finds them (bounds-checked); the check itself lives in the
 * bootloader only (firmware/boot/main/boot_sig.c, with the vendored Ed25519 code and the
 * public key), and an application reaches it through the service table at
 * HUSH_BOOT_API_ADDR, so the key and the crypto code exist once, in the bootloader.
 *
 * A bootloader built without a key accepts every image whose SHA-256 matches (as before
 * signatures existed) and refuses no downgrade. */
#ifndef BOOT_SIG_H
#define BOOT_SIG_H

#include <stdint.h>

#include "boot_image.h"

#define BOOT_API_MAGIC   0x49504142u /* "BAPI" */
#define BOOT_API_VERSION 1u

/* The bootloader's services, at HUSH_BOOT_API_ADDR. `check` runs on the caller's stack and
 * touches no RAM of the bootloader (its .data/.bss belong to the application once it runs). */
typedef struct {
    uint32_t magic;   /* BOOT_API_MAGIC */
    uint32_t version; /* BOOT_API_VERSION */
    uint32_t keyed;   /* 1: images must be signed with the built-in key */
    uint8_t (*check)(const uint8_t digest[HUSH_SHA256_BYTES], const uint8_t *keyhash,
                     const uint8_t *signature);
} boot_api;

_Static_assert(sizeof(boot_api) <= HUSH_BOOT_API_SIZE, "boot_api outgrew its flash");

/* HUSH_STATUS_OK when no key is built in or the image's signature of `digest` verifies with
 * it; else HUSH_STATUS_IMAGE_UNSIGNED (no signature), HUSH_STATUS_WRONG_KEY (key hash of
 * another key) or HUSH_STATUS_BAD_SIGNATURE. keyhash (32 bytes) and signature (64 bytes) are
 * the TLV values, NULL when absent. */
uint8_t boot_sig_check(const uint8_t digest[HUSH_SHA256_BYTES], const uint8_t *keyhash,
                       const uint8_t *signature);

/* 1 when images must be signed (a key is built into the bootloader). */
int boot_sig_keyed(void);

#endif /* BOOT_SIG_H */
