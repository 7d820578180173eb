/* hush_frame: CRC32, COBS and the byte-at-a-time frame decoder (see hush_frame.h). */
#include "hush_frame.h"

#include <stdalign.h>
#include <stdint.h>
#include <string.h>

/* CRC32 IEEE, reflected polynomial 0xEDB88320, four bits per lookup: a 64-byte table instead of
 * the usual 1 KB, about 2x slower than a byte table and still far faster than the UART. */
static const uint32_t crc_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
    0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
    0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

uint32_t hush_frame_crc32(uint32_t crc, const uint8_t *data, size_t len)
{
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        crc = (crc >> 4) ^ crc_nibble[crc & 0x0Fu];
        crc = (crc >> 4) ^ crc_nibble[crc & 0x0Fu];
    }
    return ~crc;
}

size_t hush_frame_cobs_encode(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    /* Each block is a code byte (1 + its data bytes) then up to 254 non-zero data bytes; a
     * zero in the input ends a block. The code byte is written when its block closes. */
    size_t code_pos = 0;
    size_t w = 1;
    uint8_t code = 1;
    if (cap == 0) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        const uint8_t b = in[i];
        if (b != 0) {
            if (w >= cap) {
                return 0;
            }
            out[w++] = b;
            code++;
        }
        if (b == 0 || code == 0xFFu) {
            if (w >= cap) {
                return 0;
            }
            out[code_pos] = code;
            code_pos = w++;
            code = 1;
        }
    }
    out[code_pos] = code;
    return w;
}

size_t hush_frame_cobs_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    size_t i = 0;
    size_t w = 0;
    while (i < len) {
        const uint8_t code = in[i++];
        if (code == 0) {
            return SIZE_MAX;
        }
        for (uint8_t k = 1; k < code; k++) {
            if (i >= len || in[i] == 0 || w >= cap) {
                return SIZE_MAX;
            }
            out[w++] = in[i++];
        }
        if (code != 0xFFu && i < len) {
            if (w >= cap) {
                return SIZE_MAX;
            }
            out[w++] = 0;
        }
    }
    return w;
}

size_t hush_frame_encode(uint8_t opcode, uint8_t status, uint16_t seq, const uint8_t *payload,
                         size_t payload_len, uint8_t *out, size_t cap)
{
    if (payload_len > HUSH_PROTO_MAX_PAYLOAD) {
        return 0;
    }
    const size_t body_len = HUSH_PROTO_HEADER_SIZE + payload_len;
    const size_t raw_len = body_len + HUSH_PROTO_CRC_SIZE;
    /* Assemble the raw frame just far enough into out that encoding it in place never
     * overtakes the bytes still to be read; +1 for the delimiter. */
    const size_t offset = HUSH_FRAME_COBS_OVERHEAD(raw_len);
    if (cap < offset + raw_len + 1u) {
        return 0;
    }
    uint8_t *raw = out + offset;
    if (payload_len > 0) {
        memmove(raw + HUSH_PROTO_HEADER_SIZE, payload, payload_len);
    }
    raw[HUSH_PROTO_HDR_OPCODE_OFFSET] = opcode;
    raw[HUSH_PROTO_HDR_STATUS_OFFSET] = status;
    hush_frame_put_u16(raw + HUSH_PROTO_HDR_SEQ_OFFSET, seq);
    hush_frame_put_u16(raw + HUSH_PROTO_HDR_LENGTH_OFFSET, (uint16_t)payload_len);
    hush_frame_put_u32(raw + body_len, hush_frame_crc32(0, raw, body_len));
    const size_t n = hush_frame_cobs_encode(raw, raw_len, out, cap - 1u);
    if (n == 0) {
        return 0;
    }
    out[n] = 0;
    return n + 1u;
}

size_t hush_frame_seal(uint8_t *buf, uint8_t opcode, uint8_t status, uint16_t seq,
                       size_t payload_len)
{
    return hush_frame_encode(opcode, status, seq, hush_frame_payload(buf), payload_len, buf,
                             HUSH_FRAME_BUFFER_SIZE);
}

struct hush_frame_decoder {
    size_t len;           /* decoded bytes in buf for the frame in progress */
    size_t frame_len;     /* header + payload bytes of the frame just completed, else 0 */
    uint8_t remaining;    /* data bytes left in the current COBS block */
    uint8_t zero_pending; /* the current block ends in an implicit zero (code < 0xFF) */
    uint8_t started;      /* at least one byte since the last delimiter */
    uint8_t overflow;     /* the frame outgrew buf: skip to the next delimiter */
    uint8_t buf[HUSH_PROTO_MAX_RAW_FRAME];
};

_Static_assert(sizeof(struct hush_frame_decoder) <= HUSH_FRAME_DECODER_MEM_BYTES,
               "HUSH_FRAME_DECODER_MEM_BYTES too small");

size_t hush_frame_decoder_get_size(void)
{
    return sizeof(struct hush_frame_decoder);
}

void hush_frame_decoder_reset(hush_frame_decoder *dec)
{
    dec->len = 0;
    dec->remaining = 0;
    dec->zero_pending = 0;
    dec->started = 0;
    dec->overflow = 0;
}

hush_frame_decoder *hush_frame_decoder_init(void *mem, size_t mem_size)
{
    if (mem == NULL || mem_size < sizeof(hush_frame_decoder) ||
        (uintptr_t)mem % alignof(hush_frame_decoder) != 0) {
        return NULL;
    }
    hush_frame_decoder *dec = (hush_frame_decoder *)mem;
    hush_frame_decoder_reset(dec);
    dec->frame_len = 0;
    return dec;
}

static void decoder_emit(hush_frame_decoder *dec, uint8_t b)
{
    if (dec->len >= sizeof dec->buf) {
        dec->overflow = 1;
        return;
    }
    dec->buf[dec->len++] = b;
}

static int decoder_finish(hush_frame_decoder *dec)
{
    int result;
    if (dec->overflow) {
        result = HUSH_FRAME_ERR_TOO_LONG;
    } else if (dec->remaining != 0) {
        result = HUSH_FRAME_ERR_COBS;
    } else if (dec->len < HUSH_PROTO_HEADER_SIZE + HUSH_PROTO_CRC_SIZE) {
        result = HUSH_FRAME_ERR_SHORT;
    } else {
        const size_t body_len = dec->len - HUSH_PROTO_CRC_SIZE;
        const uint32_t crc = hush_frame_crc32(0, dec->buf, body_len);
        result =
            crc == hush_frame_get_u32(dec->buf + body_len) ? HUSH_FRAME_READY : HUSH_FRAME_ERR_CRC;
        dec->frame_len = body_len;
    }
    hush_frame_decoder_reset(dec);
    return result;
}

int hush_frame_decoder_push(hush_frame_decoder *dec, uint8_t byte)
{
    dec->frame_len = 0;
    if (byte == 0) {
        /* Back-to-back delimiters are idle line, not an empty frame: a sender may lead with
         * 0x00 to flush whatever noise the receiver collected. */
        return dec->started ? decoder_finish(dec) : HUSH_FRAME_PENDING;
    }
    dec->started = 1;
    if (dec->overflow) {
        return HUSH_FRAME_PENDING;
    }
    if (dec->remaining == 0) {
        if (dec->zero_pending) {
            decoder_emit(dec, 0);
        }
        dec->remaining = (uint8_t)(byte - 1u);
        dec->zero_pending = byte != 0xFFu;
    } else {
        decoder_emit(dec, byte);
        dec->remaining--;
    }
    return HUSH_FRAME_PENDING;
}

const uint8_t *hush_frame_decoder_frame(const hush_frame_decoder *dec, size_t *len)
{
    *len = dec->frame_len;
    return dec->buf;
}
