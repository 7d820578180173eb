/* boot_image: image verification and trailer states (see boot_image.h); portable C, also
 * built on the host for the fuzz target (the Cortex-M jump and reset are in boot_jump.c). */
#include "boot_image.h"

#include <string.h>

#include "boot_seccnt.h"
#include "boot_sig.h"
#include "hal_flash.h"
#include "hush_protocol.h"

#define HDR_MAGIC            0u
#define HDR_LOAD_ADDR        4u
#define HDR_HDR_SIZE         8u
#define HDR_PROTECT_TLV_SIZE 10u
#define HDR_IMG_SIZE         12u
#define HDR_FLAGS            16u
#define HDR_VER              20u
#define HDR_BYTES            32u
#define TLV_INFO_BYTES       4u
#define TLV_HDR_BYTES        4u

#define TRAILER_MAGIC_BYTES 16u
#define TRAILER_IMAGE_OK    (TRAILER_MAGIC_BYTES + HUSH_TRAILER_MAX_ALIGN)
#define TRAILER_COPY_DONE   (TRAILER_MAGIC_BYTES + 2u * HUSH_TRAILER_MAX_ALIGN)

const boot_region boot_regions[HUSH_FLASH_N_REGIONS] = {HUSH_FLASH_REGIONS};

static const uint8_t k_trailer_magic[TRAILER_MAGIC_BYTES] = HUSH_TRAILER_MAGIC;

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Walk a TLV area at `area` (info header first) of the given magic, within `limit` bytes;
 * point *out at the value of the first TLV `type` that is exactly `want` bytes long (NULL when
 * there is none). Returns the area's total size, or 0 when it is malformed. */
static uint32_t tlv_find(const uint8_t *area, uint32_t limit, uint16_t magic, uint16_t type,
                         uint32_t want, const uint8_t **out)
{
    *out = NULL;
    if (limit < TLV_INFO_BYTES || get16(area) != magic) {
        return 0;
    }
    const uint32_t total = get16(area + 2);
    if (total < TLV_INFO_BYTES || total > limit) {
        return 0;
    }
    uint32_t off = TLV_INFO_BYTES;
    while (off + TLV_HDR_BYTES <= total) {
        const uint16_t t = get16(area + off);
        const uint32_t len = get16(area + off + 2);
        off += TLV_HDR_BYTES;
        if (len > total - off) {
            return 0;
        }
        if (t == type && len == want && *out == NULL) {
            *out = area + off;
        }
        off += len;
    }
    return off == total ? total : 0;
}

static int erased(const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; ++i) {
        if (p[i] != 0xFFu) {
            return 0;
        }
    }
    return 1;
}

/* Verify header, target, address, hash and signature; 1 when the image is good. */
static int verify(const boot_region *r, const uint8_t *img, boot_slot_info *out)
{
    const uint32_t hdr_size = get16(img + HDR_HDR_SIZE);
    const uint32_t prot_size = get16(img + HDR_PROTECT_TLV_SIZE);
    const uint32_t body_size = get32(img + HDR_IMG_SIZE);
    const uint32_t max = r->size - HUSH_FLASH_SECTOR; /* the last sector is the trailer's */
    out->verdict = HUSH_STATUS_BAD_IMAGE;
    if (hdr_size < HDR_BYTES || hdr_size > max || body_size > max - hdr_size) {
        return 0;
    }
    out->body_offset = hdr_size;
    out->body_size = body_size;
    out->ver_major = img[HDR_VER];
    out->ver_minor = img[HDR_VER + 1];
    out->ver_revision = get16(img + HDR_VER + 2);
    out->ver_build = get32(img + HDR_VER + 4);
    uint32_t off = hdr_size + body_size;
    const uint8_t *target = NULL;
    if (prot_size != 0) {
        const uint8_t *counter = NULL;
        if (tlv_find(img + off, max - off, HUSH_IMAGE_TLV_PROT_INFO_MAGIC, HUSH_IMAGE_TLV_TARGET,
                     sizeof HUSH_FLASH_TARGET - 1u, &target) != prot_size ||
            tlv_find(img + off, max - off, HUSH_IMAGE_TLV_PROT_INFO_MAGIC, HUSH_IMAGE_TLV_SEC_CNT,
                     4u, &counter) != prot_size) {
            return 0;
        }
        out->security_counter = counter != NULL ? get32(counter) : 0u;
        off += prot_size;
    }
    const uint8_t *hash = NULL;
    const uint32_t tlv_size = tlv_find(img + off, max - off, HUSH_IMAGE_TLV_INFO_MAGIC,
                                       HUSH_IMAGE_TLV_SHA256, HUSH_SHA256_BYTES, &hash);
    if (tlv_size == 0 || hash == NULL) {
        return 0;
    }
    memcpy(out->hash, hash, HUSH_SHA256_BYTES);
    (void)tlv_find(img + off, tlv_size, HUSH_IMAGE_TLV_INFO_MAGIC, HUSH_IMAGE_TLV_KEYHASH,
                   HUSH_SHA256_BYTES, &out->keyhash);
    (void)tlv_find(img + off, tlv_size, HUSH_IMAGE_TLV_INFO_MAGIC, HUSH_IMAGE_TLV_ED25519, 64u,
                   &out->signature);
    out->image_size = off + tlv_size;
    if (r->kind == HUSH_SLOT_KIND_APP) {
        /* An application runs in place: built for this slot and for this target. */
        const uint32_t flags = get32(img + HDR_FLAGS);
        if (!(flags & HUSH_IMAGE_F_ROM_FIXED) ||
            get32(img + HDR_LOAD_ADDR) != HUSH_FLASH_BASE + r->start || target == NULL ||
            memcmp(target, HUSH_FLASH_TARGET, sizeof HUSH_FLASH_TARGET - 1u) != 0) {
            return 0;
        }
    }
    uint8_t digest[HUSH_SHA256_BYTES];
    hush_sha256(img, off, digest);
    if (memcmp(digest, out->hash, HUSH_SHA256_BYTES) != 0) {
        return 0;
    }
    out->verdict = boot_sig_check(digest, out->keyhash, out->signature);
    if (out->verdict == HUSH_STATUS_OK && r->kind == HUSH_SLOT_KIND_APP && boot_sig_keyed() &&
        out->security_counter < boot_seccnt_value()) {
        /* Older than an image this device already confirmed: never runs again. */
        out->verdict = HUSH_STATUS_DOWNGRADE;
    }
    return out->verdict == HUSH_STATUS_OK;
}

void boot_slot_inspect(unsigned index, boot_slot_info *out)
{
    memset(out, 0, sizeof *out);
    const boot_region *r = &boot_regions[index];
    const uint8_t *img = hal_flash_ptr(r->start);
    if (get32(img + HDR_MAGIC) != HUSH_IMAGE_MAGIC) {
        out->state = HUSH_SLOT_EMPTY;
        out->verdict = HUSH_STATUS_BAD_IMAGE;
        return;
    }
    if (!verify(r, img, out)) {
        out->state = HUSH_SLOT_INVALID;
        return;
    }
    const uint8_t *end = hal_flash_ptr(r->start + r->size);
    if (memcmp(end - TRAILER_MAGIC_BYTES, k_trailer_magic, TRAILER_MAGIC_BYTES) != 0) {
        out->state = HUSH_SLOT_VALID;
    } else if (*(end - TRAILER_IMAGE_OK) == HUSH_TRAILER_FLAG_SET) {
        out->state = HUSH_SLOT_CONFIRMED;
    } else if (*(end - TRAILER_COPY_DONE) == HUSH_TRAILER_FLAG_SET) {
        out->state = HUSH_SLOT_TESTING;
    } else {
        out->state = HUSH_SLOT_PENDING;
    }
}

static uint32_t trailer_sector(unsigned index)
{
    return boot_regions[index].start + boot_regions[index].size - HUSH_FLASH_SECTOR;
}

int boot_trailer_erase(unsigned index)
{
    return hal_flash_erase(trailer_sector(index));
}

static int set_flag(unsigned index, uint32_t from_end)
{
    uint8_t unit[HUSH_TRAILER_MAX_ALIGN];
    memset(unit, 0xFF, sizeof unit);
    unit[0] = HUSH_TRAILER_FLAG_SET;
    const boot_region *r = &boot_regions[index];
    return hal_flash_program(r->start + r->size - from_end, unit, sizeof unit);
}

int boot_trailer_set_pending(unsigned index)
{
    const uint32_t sector = trailer_sector(index);
    if (!erased(hal_flash_ptr(sector), HUSH_FLASH_SECTOR)) {
        const int rc = hal_flash_erase(sector);
        if (rc != HAL_FLASH_OK) {
            return rc;
        }
    }
    const boot_region *r = &boot_regions[index];
    return hal_flash_program(r->start + r->size - TRAILER_MAGIC_BYTES, k_trailer_magic,
                             TRAILER_MAGIC_BYTES);
}

int boot_trailer_set_copy_done(unsigned index)
{
    return set_flag(index, TRAILER_COPY_DONE);
}

int boot_trailer_set_image_ok(unsigned index)
{
    return set_flag(index, TRAILER_IMAGE_OK);
}

int boot_writable_region(uint32_t offset, uint32_t len)
{
    for (unsigned i = 0; i < HUSH_FLASH_N_REGIONS; ++i) {
        const boot_region *r = &boot_regions[i];
        if (r->kind != HUSH_SLOT_KIND_APP && r->kind != HUSH_SLOT_KIND_MODEL) {
            continue;
        }
        if (offset >= r->start && offset - r->start < r->size &&
            len <= r->size - (offset - r->start)) {
            return (int)i;
        }
    }
    return -1;
}

int boot_confirm(unsigned index)
{
    boot_slot_info info;
    boot_slot_inspect(index, &info);
    if (info.state != HUSH_SLOT_TESTING) {
        return HAL_FLASH_OK;
    }
    for (unsigned i = 0; i < HUSH_FLASH_N_REGIONS; ++i) {
        if (i == index || boot_regions[i].kind != HUSH_SLOT_KIND_APP) {
            continue;
        }
        const uint32_t sector = trailer_sector(i);
        if (!erased(hal_flash_ptr(sector), HUSH_FLASH_SECTOR)) {
            const int rc = hal_flash_erase(sector);
            if (rc != HAL_FLASH_OK) {
                return rc;
            }
        }
    }
    const int rc = boot_trailer_set_image_ok(index);
    if (rc != HAL_FLASH_OK || !boot_sig_keyed()) {
        return rc;
    }
    return boot_seccnt_raise(info.security_counter);
}
