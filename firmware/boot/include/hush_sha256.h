/* hush_sha256: SHA-256 (FIPS 180-4) for image and model verification.
 *
 * Streaming: hush_sha256_init, any number of hush_sha256_update, hush_sha256_final. The state
 * is a plain struct owned by the caller (~108 bytes); no heap, no tables in RAM. */
#ifndef HUSH_SHA256_H
#define HUSH_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define HUSH_SHA256_BYTES 32u

typedef struct {
    uint32_t h[8];
    uint64_t total; /* bytes hashed so far */
    uint8_t block[64];
    uint32_t fill; /* bytes waiting in block */
} hush_sha256_ctx;

void hush_sha256_init(hush_sha256_ctx *s);
void hush_sha256_update(hush_sha256_ctx *s, const uint8_t *data, size_t len);
void hush_sha256_final(hush_sha256_ctx *s, uint8_t out[HUSH_SHA256_BYTES]);

/* One-shot digest of len bytes. */
void hush_sha256(const uint8_t *data, size_t len, uint8_t out[HUSH_SHA256_BYTES]);

#endif /* HUSH_SHA256_H */
