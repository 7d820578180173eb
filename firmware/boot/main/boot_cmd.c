/* boot_cmd: the bootloader's command handler (see boot_cmd.h). */
#include "boot_cmd.h"

#include <stdalign.h>
#include <string.h>

#include "boot_flash_cmd.h"
#include "boot_identify.h"
#include "boot_image.h"
#include "boot_policy.h"
#include "boot_seccnt.h"
#include "boot_sig.h"
#include "flash_layout.h"
#include "hal_flash.h"
#include "hal_timer.h"
#include "hush_sha256.h"

struct boot_cmd_ctx {
    hush_frame_decoder *decoder;
    uint8_t reason;
    uint8_t reset;
    _Alignas(8) uint8_t decoder_mem[HUSH_FRAME_DECODER_MEM_BYTES];
};

_Static_assert(sizeof(struct boot_cmd_ctx) <= BOOT_CMD_MEM_BYTES, "BOOT_CMD_MEM_BYTES too small");
_Static_assert(HUSH_IDENTIFY_REPLY_SIZE + HUSH_FLASH_N_REGIONS * HUSH_SLOT_INFO_SIZE <=
                   HUSH_PROTO_MAX_PAYLOAD,
               "IDENTIFY reply exceeds the payload limit");

boot_cmd_ctx *boot_cmd_init(void *mem, size_t mem_size, uint8_t reason)
{
    if (mem == NULL || mem_size < sizeof(struct boot_cmd_ctx) ||
        (uintptr_t)mem % alignof(struct boot_cmd_ctx) != 0) {
        return NULL;
    }
    boot_cmd_ctx *ctx = (boot_cmd_ctx *)mem;
    memset(ctx, 0, sizeof *ctx);
    ctx->decoder = hush_frame_decoder_init(ctx->decoder_mem, sizeof ctx->decoder_mem);
    ctx->reason = reason;
    return ctx;
}

int boot_cmd_reset_requested(const boot_cmd_ctx *ctx)
{
    return ctx->reset;
}

static size_t reply_status(uint8_t *reply, uint8_t op, uint16_t seq, uint8_t status,
                           const char *detail)
{
    return boot_reply(reply, op, seq, status, detail);
}

/* "signature checked in N instructions" (or cycles): what one Ed25519 check of this image
 * costs, measured again here so the host can report it. */
static const char *sig_cost(char *buf, size_t cap, const boot_slot_info *info)
{
    static const char k_prefix[] = "signature checked in ";
    const hal_timer_mark_t start = hal_timer_start();
    (void)boot_sig_check(info->hash, info->keyhash, info->signature);
    uint32_t cost = hal_timer_elapsed(start);
    char digits[10];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + cost % 10u);
        cost /= 10u;
    } while (cost != 0u && n < sizeof digits);
    const char *unit = hal_timer_unit_name();
    if (sizeof k_prefix + n + 1u + strlen(unit) > cap) {
        return NULL;
    }
    size_t at = sizeof k_prefix - 1u;
    memcpy(buf, k_prefix, at);
    while (n != 0u) {
        buf[at++] = digits[--n];
    }
    buf[at++] = ' ';
    memcpy(buf + at, unit, strlen(unit) + 1u);
    return buf;
}

static size_t cmd_mark_pending(uint8_t *reply, uint8_t op, uint16_t seq, const uint8_t *in,
                               size_t len)
{
    if (len != HUSH_MARK_PENDING_REQUEST_SIZE) {
        return reply_status(reply, op, seq, HUSH_STATUS_BAD_LENGTH, NULL);
    }
    const unsigned region = in[HUSH_MARK_PENDING_REQUEST_REGION_OFFSET];
    if (region >= HUSH_FLASH_N_REGIONS || boot_regions[region].kind != HUSH_SLOT_KIND_APP) {
        return reply_status(reply, op, seq, HUSH_STATUS_BAD_ARGUMENT, "not an application slot");
    }
    boot_slot_info info;
    boot_slot_inspect(region, &info);
    if (info.state == HUSH_SLOT_EMPTY || info.state == HUSH_SLOT_INVALID) {
        return reply_status(reply, op, seq, info.verdict, NULL);
    }
    if (boot_policy_is_downgrade(region, &info)) {
        return reply_status(reply, op, seq, HUSH_STATUS_DOWNGRADE, NULL);
    }
    const int rc = boot_trailer_set_pending(region);
    if (rc != HAL_FLASH_OK || !boot_sig_keyed()) {
        return boot_reply_flash(reply, op, seq, rc);
    }
    char detail[64];
    return reply_status(reply, op, seq, HUSH_STATUS_OK, sig_cost(detail, sizeof detail, &info));
}

static size_t handle(boot_cmd_ctx *ctx, const uint8_t *frame, size_t len, uint8_t *reply)
{
    const uint8_t opcode = frame[HUSH_PROTO_HDR_OPCODE_OFFSET];
    const uint16_t seq = hush_frame_get_u16(frame + HUSH_PROTO_HDR_SEQ_OFFSET);
    const size_t payload_len = hush_frame_get_u16(frame + HUSH_PROTO_HDR_LENGTH_OFFSET);
    const uint8_t *in = frame + HUSH_PROTO_HEADER_SIZE;
    const uint8_t op = (uint8_t)(opcode | HUSH_PROTO_REPLY_FLAG);
    if (payload_len != len - HUSH_PROTO_HEADER_SIZE) {
        return reply_status(reply, op, seq, HUSH_STATUS_BAD_LENGTH, "header length != frame");
    }
    switch (opcode) {
    case HUSH_OP_IDENTIFY:
        return hush_frame_seal(reply, op, HUSH_STATUS_OK, seq,
                               boot_identify(hush_frame_payload(reply), HUSH_MODE_BOOTLOADER,
                                             ctx->reason, 0xFFu, BOOT_VERSION));
    case HUSH_OP_FLASH_ERASE:
    case HUSH_OP_FLASH_WRITE:
    case HUSH_OP_FLASH_HASH:
        return boot_flash_cmd(opcode, seq, in, payload_len, reply,
                              BOOT_WRITE_APP | BOOT_WRITE_MODEL, -1);
    case HUSH_OP_MARK_PENDING:
        return cmd_mark_pending(reply, op, seq, in, payload_len);
    case HUSH_OP_SECURITY_COUNTER:
        if (payload_len != 0) {
            return reply_status(reply, op, seq, HUSH_STATUS_BAD_LENGTH, NULL);
        }
        return hush_frame_seal(reply, op, HUSH_STATUS_OK, seq,
                               boot_seccnt_reply(hush_frame_payload(reply)));
    case HUSH_OP_BOOT:
        ctx->reset = 1;
        return reply_status(reply, op, seq, HUSH_STATUS_OK, NULL);
    default:
        return reply_status(reply, op, seq, HUSH_STATUS_UNKNOWN_OPCODE, "bootloader");
    }
}

size_t boot_cmd_feed(boot_cmd_ctx *ctx, uint8_t byte, uint8_t *reply, size_t cap)
{
    const int result = hush_frame_decoder_push(ctx->decoder, byte);
    if (result == HUSH_FRAME_PENDING || cap < BOOT_CMD_REPLY_BYTES) {
        return 0;
    }
    size_t len = 0;
    const uint8_t *frame = hush_frame_decoder_frame(ctx->decoder, &len);
    if (result == HUSH_FRAME_READY) {
        return handle(ctx, frame, len, reply);
    }
    if (result == HUSH_FRAME_ERR_CRC) {
        return reply_status(
            reply, (uint8_t)(frame[HUSH_PROTO_HDR_OPCODE_OFFSET] | HUSH_PROTO_REPLY_FLAG),
            hush_frame_get_u16(frame + HUSH_PROTO_HDR_SEQ_OFFSET), HUSH_STATUS_BAD_CRC, NULL);
    }
    const uint8_t status =
        result == HUSH_FRAME_ERR_TOO_LONG ? HUSH_STATUS_FRAME_TOO_LONG : HUSH_STATUS_BAD_FRAME;
    return reply_status(reply, HUSH_OP_NONE | HUSH_PROTO_REPLY_FLAG, 0, status, NULL);
}
