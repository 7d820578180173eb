/* hush_frame: the serial frame codec (CRC32, COBS, byte-at-a-time frame decoder).
 *
 * A frame on the wire is COBS(header | payload | CRC32-LE(header | payload)) followed by a
 * 0x00 delimiter; header and limits are in hush_protocol.h (generated from
 * host_tools/framing.py). Portable C11, no malloc, no register access: the same code runs on
 * the Cortex-M and in the host library the Python tests compare against.
 *
 * Memory: the decoder is an opaque state the caller places in memory it owns
 * (hush_frame_decoder_get_size() bytes, 4-byte aligned, at most HUSH_FRAME_DECODER_MEM_BYTES);
 * it holds one decoded frame (HUSH_PROTO_MAX_RAW_FRAME bytes) and lives as long as that memory.
 */
#ifndef HUSH_FRAME_H
#define HUSH_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "hush_protocol.h"

/* Worst-case COBS overhead for n raw bytes: one code byte per started 254-byte block. */
#define HUSH_FRAME_COBS_OVERHEAD(n) (1u + (n) / HUSH_PROTO_COBS_BLOCK)

/* Reply buffer layout for in-place encoding: a sender writes the payload at
 * hush_frame_payload(buf) and calls hush_frame_seal(), which encodes the frame over the same
 * buffer. HUSH_FRAME_BUFFER_SIZE bytes hold both the raw frame and its encoded form. */
#define HUSH_FRAME_RAW_OFFSET  HUSH_FRAME_COBS_OVERHEAD(HUSH_PROTO_MAX_RAW_FRAME)
#define HUSH_FRAME_BUFFER_SIZE (HUSH_FRAME_RAW_OFFSET + HUSH_PROTO_MAX_RAW_FRAME + 1u)

/* Upper bound of hush_frame_decoder_get_size(), for static allocation. */
#define HUSH_FRAME_DECODER_MEM_BYTES (HUSH_PROTO_MAX_RAW_FRAME + 32u)

/* Result of hush_frame_decoder_push(). Errors are reported when the delimiter arrives; the
 * decoder is then ready for the next frame. */
enum hush_frame_result {
    HUSH_FRAME_PENDING = 0,       /* byte consumed, no complete frame yet */
    HUSH_FRAME_READY = 1,         /* a frame with a valid CRC is available */
    HUSH_FRAME_ERR_COBS = -1,     /* malformed COBS (truncated block) */
    HUSH_FRAME_ERR_SHORT = -2,    /* fewer bytes than header + CRC */
    HUSH_FRAME_ERR_CRC = -3,      /* CRC mismatch */
    HUSH_FRAME_ERR_TOO_LONG = -4, /* more than HUSH_PROTO_MAX_RAW_FRAME bytes */
};

/* CRC32 IEEE 802.3 (reflected, poly 0xEDB88320), chainable like zlib.crc32: start with 0. */
uint32_t hush_frame_crc32(uint32_t crc, const uint8_t *data, size_t len);

/* COBS-encode len bytes into out (no delimiter). Returns the encoded length, or 0 when cap is
 * too small. out may overlap in if out + HUSH_FRAME_COBS_OVERHEAD(len) <= in (encoding runs
 * front to back and never overtakes the input). */
size_t hush_frame_cobs_encode(const uint8_t *in, size_t len, uint8_t *out, size_t cap);

/* COBS-decode len bytes (no delimiter) into out. Returns the decoded length, or SIZE_MAX on a
 * malformed input or when cap is too small. */
size_t hush_frame_cobs_decode(const uint8_t *in, size_t len, uint8_t *out, size_t cap);

/* Build a complete frame (header, payload, CRC, COBS, delimiter) in out. payload may point into
 * out. Returns the bytes to send, or 0 when payload_len > HUSH_PROTO_MAX_PAYLOAD or out is too
 * small (cap >= payload_len + HUSH_PROTO_HEADER_SIZE + HUSH_PROTO_CRC_SIZE + overhead + 1). */
size_t hush_frame_encode(uint8_t opcode, uint8_t status, uint16_t seq, const uint8_t *payload,
                         size_t payload_len, uint8_t *out, size_t cap);

/* Where to write the payload of a reply built in place in a HUSH_FRAME_BUFFER_SIZE buffer. */
static inline uint8_t *hush_frame_payload(uint8_t *buf)
{
    return buf + HUSH_FRAME_RAW_OFFSET + HUSH_PROTO_HEADER_SIZE;
}

/* Encode the reply whose payload_len bytes sit at hush_frame_payload(buf), in place. buf holds
 * HUSH_FRAME_BUFFER_SIZE bytes. Returns the bytes to send from buf[0], or 0 on overflow. */
size_t hush_frame_seal(uint8_t *buf, uint8_t opcode, uint8_t status, uint16_t seq,
                       size_t payload_len);

typedef struct hush_frame_decoder hush_frame_decoder;

size_t hush_frame_decoder_get_size(void);

/* Initialise a decoder in the mem_size bytes at mem; NULL (and nothing written) when that is
 * less than hush_frame_decoder_get_size() or mem is not aligned for a size_t. */
hush_frame_decoder *hush_frame_decoder_init(void *mem, size_t mem_size);

/* Drop any partial frame, e.g. after a link reset. */
void hush_frame_decoder_reset(hush_frame_decoder *dec);

/* Feed one received byte; returns an enum hush_frame_result. */
int hush_frame_decoder_push(hush_frame_decoder *dec, uint8_t byte);

/* The decoded bytes of the frame just completed (header | payload, CRC removed). Valid after
 * HUSH_FRAME_READY, and after HUSH_FRAME_ERR_CRC (so an error reply can echo the seq); *len
 * is 0 after other errors. Valid until the next push. */
const uint8_t *hush_frame_decoder_frame(const hush_frame_decoder *dec, size_t *len);

/* Little-endian field access: explicit byte order, no alignment requirement. */
static inline uint16_t hush_frame_get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t hush_frame_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline void hush_frame_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void hush_frame_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void hush_frame_put_u64(uint8_t *p, uint64_t v)
{
    hush_frame_put_u32(p, (uint32_t)v);
    hush_frame_put_u32(p + 4, (uint32_t)(v >> 32));
}

#endif /* HUSH_FRAME_H */
