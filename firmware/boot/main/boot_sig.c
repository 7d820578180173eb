/* boot_sig in the bootloader: the Ed25519 check with the built-in key, the service table and
 * the downgrade rule (see boot_sig.h, boot_policy.h).
 *
 * Built with HUSH_BOOT_KEYED (hushkit build --sign-key) the public key comes from the
 * generated hush_boot_key.h, and verification (RFC 8032 section 5.1.7, for a 32-byte
 * message M = the image's SHA-256) is: k = SHA-512(R || A || M) reduced mod L, then
 * [S]B == R + [k]A with S < L; SHA-512 is libsodium's, the group arithmetic Monocypher's
 * (firmware/third_party/). Without it every hash-valid image passes, as before. */
#include "boot_sig.h"

#include <string.h>

#include "boot_policy.h"
#include "hush_protocol.h"

#ifdef HUSH_BOOT_KEYED
#include "crypto_hash_sha512.h"
#include "hush_boot_key.h"
#include "monocypher.h"
#include "utils.h"

#define ED25519_KEY_BYTES 32u
#define ED25519_SIG_BYTES 64u

/* libsodium's SHA-512 wipes its state with this (libsodium's utils.c is not vendored). */
void sodium_memzero(void *const pnt, const size_t len)
{
    volatile unsigned char *p = (volatile unsigned char *)pnt;
    for (size_t i = 0; i < len; ++i) {
        p[i] = 0u;
    }
}

static const uint8_t k_public_key[ED25519_KEY_BYTES] = HUSH_BOOT_KEY_ED25519;
static const uint8_t k_key_hash[HUSH_SHA256_BYTES] = HUSH_BOOT_KEY_SHA256;

static int ed25519_verify(const uint8_t sig[ED25519_SIG_BYTES], const uint8_t msg[32])
{
    uint8_t ram[ED25519_SIG_BYTES / 2u + ED25519_KEY_BYTES + HUSH_SHA256_BYTES]; /* R||A||M */
    uint8_t h[crypto_hash_sha512_BYTES];
    uint8_t k[32];
    memcpy(ram, sig, ED25519_SIG_BYTES / 2u);
    memcpy(ram + ED25519_SIG_BYTES / 2u, k_public_key, ED25519_KEY_BYTES);
    memcpy(ram + ED25519_SIG_BYTES / 2u + ED25519_KEY_BYTES, msg, HUSH_SHA256_BYTES);
    crypto_hash_sha512(h, ram, sizeof ram);
    crypto_eddsa_reduce(k, h);
    return crypto_eddsa_check_equation(sig, k_public_key, k) == 0;
}

static uint8_t check(const uint8_t digest[HUSH_SHA256_BYTES], const uint8_t *keyhash,
                     const uint8_t *signature)
{
    if (signature == NULL) {
        return HUSH_STATUS_IMAGE_UNSIGNED;
    }
    if (keyhash != NULL && memcmp(keyhash, k_key_hash, HUSH_SHA256_BYTES) != 0) {
        return HUSH_STATUS_WRONG_KEY;
    }
    return ed25519_verify(signature, digest) ? HUSH_STATUS_OK : HUSH_STATUS_BAD_SIGNATURE;
}
#define KEYED 1u
#else
static uint8_t check(const uint8_t digest[HUSH_SHA256_BYTES], const uint8_t *keyhash,
                     const uint8_t *signature)
{
    (void)digest;
    (void)keyhash;
    (void)signature;
    return HUSH_STATUS_OK;
}
#define KEYED 0u
#endif

__attribute__((section(".boot_api"), used)) const boot_api boot_api_table = {
    .magic = BOOT_API_MAGIC,
    .version = BOOT_API_VERSION,
    .keyed = KEYED,
    .check = check,
};

uint8_t boot_sig_check(const uint8_t digest[HUSH_SHA256_BYTES], const uint8_t *keyhash,
                       const uint8_t *signature)
{
    return check(digest, keyhash, signature);
}

int boot_sig_keyed(void)
{
    return KEYED != 0u;
}

/* <0, 0, >0 as a is older, the same as, newer than b by major.minor.revision (the build
 * number does not order images, as in MCUboot). */
static int compare(const boot_slot_info *a, const boot_slot_info *b)
{
    if (a->ver_major != b->ver_major) {
        return a->ver_major < b->ver_major ? -1 : 1;
    }
    if (a->ver_minor != b->ver_minor) {
        return a->ver_minor < b->ver_minor ? -1 : 1;
    }
    if (a->ver_revision != b->ver_revision) {
        return a->ver_revision < b->ver_revision ? -1 : 1;
    }
    return 0;
}

int boot_policy_is_downgrade(unsigned index, const boot_slot_info *info)
{
    if (!KEYED) {
        return 0;
    }
    for (unsigned i = 0; i < HUSH_FLASH_N_REGIONS; ++i) {
        if (i == index || boot_regions[i].kind != boot_regions[index].kind) {
            continue;
        }
        boot_slot_info other;
        boot_slot_inspect(i, &other);
        if (other.state < HUSH_SLOT_VALID) {
            continue; /* empty, or fails its checks: nothing to protect */
        }
        if (compare(info, &other) < 0 || info->security_counter < other.security_counter) {
            return 1;
        }
    }
    return 0;
}
