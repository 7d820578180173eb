/* libFuzzer target: the bootloader's command handler and its MCUboot image checks (header,
 * TLV walk, lengths, offsets, target, address, SHA-256, Ed25519 signature with a built-in
 * test key, downgrade rule, trailer states, watchdog rollback) against a RAM flash.
 *
 * The first input byte picks how the rest is used (low two bits):
 *   0: raw link bytes fed to boot_cmd_feed (framing, CRC, resync, error replies);
 *   1: a list of requests [opcode, length_lo, length_hi, payload...] that the harness frames
 *      with a valid CRC (FLASH_ERASE / FLASH_WRITE an image, MARK_PENDING, IDENTIFY, BOOT...);
 *   2: an image placed straight into a slot: the next byte says which slot and what else
 *      (trailer state, a copy in the sibling slot, a watchdog reset), the rest is the image;
 *   3: the same with the image's SHA-256 TLV recomputed by the harness, so mutations of the
 *      header, body and protected TLVs get past the hash to the checks behind it.
 * Bit 2 of the first byte (modes 0 and 1) says the next reset is the watchdog's.
 *
 * Every input then runs what a reset does (watchdog rollback, boot-once flag, an application
 * confirming itself). Checked: every reply is one well-formed frame; nothing is erased or
 * programmed outside an application or model slot (fuzz_flash_stub.c); the security counter
 * never falls across a reset; an image the
 * bootloader accepts lies inside its slot, with its header, body and TLVs in order. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot_cmd.h"
#include "boot_image.h"
#include "boot_rollback.h"
#include "boot_seccnt.h"
#include "flash_layout.h"
#include "fuzz_flash_stub.h"
#include "hal_flash.h"
#include "hal_watchdog.h"
#include "hush_frame.h"
#include "hush_sha256.h"
#include "fuzz_reply.h"

extern int fuzz_watchdog_reset; /* fuzz_hal_stub.c */

static _Alignas(8) uint8_t cmd_mem[BOOT_CMD_MEM_BYTES];
static uint8_t reply[BOOT_CMD_REPLY_BYTES];
static uint8_t request[HUSH_FRAME_BUFFER_SIZE];
static boot_cmd_ctx *ctx;
static uint16_t seq;

#define TRAILER_NONE      0u
#define TRAILER_PENDING   1u
#define TRAILER_TESTING   2u
#define TRAILER_CONFIRMED 3u

/* What an accepted image must satisfy; abort() otherwise. */
static void check_slot(unsigned index)
{
    boot_slot_info info;
    boot_slot_inspect(index, &info);
    const boot_region *r = &boot_regions[index];
    if (info.state > HUSH_SLOT_CONFIRMED) {
        abort();
    }
    if (info.state == HUSH_SLOT_INVALID && info.verdict == HUSH_STATUS_OK) {
        abort();
    }
    if (info.state < HUSH_SLOT_VALID) {
        return;
    }
    const uintptr_t start = (uintptr_t)hal_flash_ptr(r->start);
    const uintptr_t end = start + info.image_size;
    if (info.verdict != HUSH_STATUS_OK || info.image_size > r->size - HUSH_FLASH_SECTOR ||
        info.body_offset < 32u || info.body_offset > info.image_size ||
        info.body_size > info.image_size - info.body_offset) {
        abort();
    }
    if (info.keyhash != NULL &&
        ((uintptr_t)info.keyhash < start || (uintptr_t)info.keyhash + HUSH_SHA256_BYTES > end)) {
        abort();
    }
    if (info.signature != NULL &&
        ((uintptr_t)info.signature < start || (uintptr_t)info.signature + 64u > end)) {
        abort();
    }
}

/* A reset: the watchdog rollback, the boot-once flag of a pending slot, and the application
 * of a slot on trial confirming itself. */
static void reset_device(void)
{
    const uint32_t counter = boot_seccnt_value();
    boot_rollback_check();
    fuzz_watchdog_reset = 0;
    for (unsigned i = 0; i < HUSH_FLASH_N_REGIONS; ++i) {
        if (boot_regions[i].kind != HUSH_SLOT_KIND_APP &&
            boot_regions[i].kind != HUSH_SLOT_KIND_MODEL) {
            continue;
        }
        check_slot(i);
        boot_slot_info info;
        boot_slot_inspect(i, &info);
        if (info.state == HUSH_SLOT_PENDING && boot_regions[i].kind == HUSH_SLOT_KIND_APP) {
            (void)boot_trailer_set_copy_done(i);
        } else if (info.state == HUSH_SLOT_TESTING) {
            (void)boot_confirm(i);
        }
        check_slot(i);
    }
    if (boot_seccnt_value() < counter) {
        abort(); /* the security counter only grows */
    }
    /* Memory that is too small or not 8-byte aligned is refused. */
    if (boot_cmd_init(cmd_mem, 8, HUSH_REASON_REQUESTED) != NULL ||
        boot_cmd_init(cmd_mem + 4, sizeof cmd_mem - 4, HUSH_REASON_REQUESTED) != NULL) {
        abort();
    }
    ctx = boot_cmd_init(cmd_mem, sizeof cmd_mem, HUSH_REASON_REQUESTED);
}

static void feed(const uint8_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fuzz_check_reply(reply, sizeof reply, boot_cmd_feed(ctx, bytes[i], reply, sizeof reply));
        if (boot_cmd_reset_requested(ctx)) {
            reset_device();
        }
    }
}

static void send(uint8_t opcode, const uint8_t *payload, size_t len)
{
    static const uint8_t none[1];
    if (len == 0) {
        payload = none; /* never a NULL source, even for 0 bytes */
    }
    const size_t n = hush_frame_encode(opcode, 0, seq++, payload, len, request, sizeof request);
    feed(request, n);
}

/* The image's own SHA-256 TLV made to match its header + body + protected TLVs, where the
 * header's sizes point at a TLV area that holds one. */
static void rehash(const boot_region *r, size_t placed)
{
    uint8_t *img = fuzz_flash_bytes(r->start);
    const uint32_t hdr = (uint32_t)(img[8] | img[9] << 8);
    const uint32_t prot = (uint32_t)(img[10] | img[11] << 8);
    const uint32_t body = (uint32_t)img[12] | (uint32_t)img[13] << 8 | (uint32_t)img[14] << 16 |
                          (uint32_t)img[15] << 24;
    if (hdr > placed || body > placed - hdr || prot > placed - hdr - body) {
        return;
    }
    const uint32_t off = hdr + body + prot;
    if (placed - off < 4u || (img[off] | img[off + 1] << 8) != HUSH_IMAGE_TLV_INFO_MAGIC) {
        return;
    }
    uint32_t at = off + 4u;
    while (placed - at >= 4u) {
        const uint32_t type = (uint32_t)(img[at] | img[at + 1] << 8);
        const uint32_t len = (uint32_t)(img[at + 2] | img[at + 3] << 8);
        at += 4u;
        if (len > placed - at) {
            return;
        }
        if (type == HUSH_IMAGE_TLV_SHA256 && len == HUSH_SHA256_BYTES) {
            hush_sha256(img, off, img + at);
            return;
        }
        at += len;
    }
}

static void set_trailer(unsigned index, unsigned trailer)
{
    if (trailer == TRAILER_NONE) {
        return;
    }
    (void)boot_trailer_set_pending(index);
    if (trailer == TRAILER_TESTING || trailer == TRAILER_CONFIRMED) {
        (void)boot_trailer_set_copy_done(index);
    }
    if (trailer == TRAILER_CONFIRMED) {
        (void)boot_trailer_set_image_ok(index);
    }
}

static void image_mode(const uint8_t *data, size_t size, int fix_hash)
{
    if (size < 1) {
        return;
    }
    const unsigned setup = data[0];
    const unsigned index = HUSH_REGION_APP0_INDEX + (setup & 3u); /* app0, app1, model0, model1 */
    const boot_region *r = &boot_regions[index];
    size_t n = size - 1;
    if (n > r->size - HUSH_FLASH_SECTOR) {
        n = r->size - HUSH_FLASH_SECTOR;
    }
    fuzz_flash_put(r->start, data + 1, n);
    if (fix_hash) {
        rehash(r, n);
    }
    set_trailer(index, (setup >> 2) & 3u);
    if (setup & 0x10u) {
        /* The same image in the sibling slot: the downgrade rule compares the two. */
        const boot_region *sibling = &boot_regions[index ^ 1u];
        fuzz_flash_put(sibling->start, hal_flash_ptr(r->start), n);
    }
    fuzz_watchdog_reset = (setup & 0x20u) != 0;
    if (setup & 0x40u) {
        hal_watchdog_get_record()->trial_region = (uint8_t)index;
    }
    check_slot(index);

    send(HUSH_OP_IDENTIFY, NULL, 0);
    uint8_t mark[HUSH_MARK_PENDING_REQUEST_SIZE] = {(uint8_t)index};
    send(HUSH_OP_MARK_PENDING, mark, sizeof mark);
    uint8_t range[HUSH_FLASH_RANGE_SIZE];
    hush_frame_put_u32(range + HUSH_FLASH_RANGE_OFFSET_OFFSET, r->start);
    hush_frame_put_u32(range + HUSH_FLASH_RANGE_LENGTH_OFFSET, (uint32_t)n);
    send(HUSH_OP_FLASH_HASH, range, sizeof range);
}

static void request_mode(const uint8_t *data, size_t size)
{
    size_t at = 0;
    while (at + 3 <= size) {
        const uint8_t opcode = data[at];
        size_t len = (size_t)(data[at + 1] | data[at + 2] << 8);
        at += 3;
        if (len > size - at) {
            len = size - at;
        }
        if (len > HUSH_PROTO_MAX_PAYLOAD) {
            len = HUSH_PROTO_MAX_PAYLOAD;
        }
        send(opcode, data + at, len);
        at += len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        hal_flash_init(1);
        ready = 1;
    }
    if (size == 0) {
        return 0;
    }
    /* Each input starts from an erased device, so a finding reproduces from its input. */
    fuzz_flash_reset();
    hal_watchdog_record *record = hal_watchdog_get_record();
    record->trial_region = HAL_WATCHDOG_NO_REGION;
    record->rollbacks = 0;
    ctx = boot_cmd_init(cmd_mem, sizeof cmd_mem, HUSH_REASON_NO_IMAGE);
    seq = 0;
    fuzz_watchdog_reset = (data[0] & 4u) != 0;
    switch (data[0] & 3u) {
    case 0:
        feed(data + 1, size - 1);
        break;
    case 1:
        request_mode(data + 1, size - 1);
        break;
    default:
        image_mode(data + 1, size - 1, (data[0] & 3u) == 3u);
        break;
    }
    reset_device();
    return 0;
}
