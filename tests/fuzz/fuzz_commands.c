/* libFuzzer target: the firmware's command handler with the shipped model loaded, built as a
 * slot application (HUSH_IMAGE_SLOT) with its real flash and model-push code (app_flash.c,
 * app_model.c, the bootloader's flash commands and image checks) over the emulator's RAM
 * flash (hal_flash_ram.c behind fuzz_flash_stub.c), qemu-m4 layout.
 *
 * The first input byte picks how the rest is used:
 *   bit 0 clear: raw link bytes fed to hush_cmd_feed (framing, CRC, resync, error replies);
 *   bit 0 set:   a list of requests [opcode, length_lo, length_hi, payload...] that the
 *                harness frames with a valid CRC, so the fuzzer reaches every command's
 *                argument checks (PROCESS, SET, FLASH_ERASE / FLASH_WRITE / FLASH_HASH of a
 *                model image, MODEL_ACTIVATE) without guessing CRCs;
 *   bit 1 set:   the bootloader holds a key (the fuzz test key, boot_key/): pushed models
 *                must carry its Ed25519 signature; clear: a bootloader without a key, where
 *                the image's SHA-256 is the check.
 * Each input ends with a reset: the model the flash records as in use is chosen and set up as
 * at boot (main.c), falling back to the compiled-in one.
 *
 * Checked (abort() is the finding): every reply is one well-formed frame that fits the reply
 * buffer; no erase or program lands outside a model slot, nor on the image of the model in
 * use (its trailer sector only: the record of which model runs); a MODEL_ACTIVATE that
 * answers OK runs a model whose image verifies, whose SHA-256 INFO reports, and which a reset
 * would choose again; one that does not answer OK changes neither the model in use nor its
 * SHA-256. */
/* mmap flags of Linux (MAP_FIXED_NOREPLACE) beyond the C standard the core builds with. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "app_flash.h"
#include "app_model.h"
#include "boot_image.h"
#include "boot_sig.h"
#include "commands.h"
#include "flash_layout.h"
#include "fuzz_flash_stub.h"
#include "hal_flash.h"
#include "hal_uart.h"
#include "hush_frame.h"
#include "hush_mailbox.h"
#include "hush_pipeline.h"
#include "fuzz_reply.h"

/* The shipped int8 model, compiled in by the Makefile (build/fuzz/fuzz_model_data.c). */
extern const uint8_t fuzz_model_data[];
extern const unsigned int fuzz_model_data_len;

/* The bootloader's signature check with the fuzz test key (boot_sig.c, renamed by the
 * Makefile), reached when the input says the bootloader is keyed. */
uint8_t fuzz_keyed_sig_check(const uint8_t digest[HUSH_SHA256_BYTES], const uint8_t *keyhash,
                             const uint8_t *signature);

#define ARENA_BYTES (64u * 1024u)

static _Alignas(16) uint8_t pipeline_mem[PIPELINE_MEM_BYTES];
static _Alignas(16) uint8_t arena[ARENA_BYTES];
static _Alignas(8) uint8_t cmd_mem[HUSH_CMD_MEM_BYTES];
static uint8_t reply[HUSH_CMD_REPLY_BYTES];
static uint8_t request[HUSH_FRAME_BUFFER_SIZE];
static char model_sha[APP_MODEL_SHA_HEX];

static const hush_cmd_device_info info = {
    .fw_version = "fuzz",
    .target = "qemu-m4",
    .model_sha256 = model_sha,
    .sample_rate = 16000,
    .n_fft = 256,
};

static hush_cmd_ctx *ctx;
static int keyed;
static jmp_buf reset_jump;

/* What the device ran before the request being answered. */
static int in_use_before;
static char sha_before[APP_MODEL_SHA_HEX];

uint8_t boot_sig_check(const uint8_t digest[HUSH_SHA256_BYTES], const uint8_t *keyhash,
                       const uint8_t *signature)
{
    return keyed ? fuzz_keyed_sig_check(digest, keyhash, signature) : HUSH_STATUS_OK;
}

int boot_sig_keyed(void)
{
    return keyed;
}

/* ENTER_BOOTLOADER sends its reply itself, then resets. */
void hal_uart_write(const uint8_t *data, size_t len)
{
    fuzz_check_reply(data, HUSH_CMD_REPLY_BYTES, len);
}

void boot_system_reset(void)
{
    if (hush_mailbox_get()->request != HUSH_MAILBOX_REQUEST_BOOTLOADER) {
        abort(); /* the application resets only to stay in the bootloader */
    }
    longjmp(reset_jump, 1);
}

/* Erase and program: model slots only, and of the model in use only its trailer sector. */
static void model_slots_only(uint32_t offset, size_t len)
{
    const int region = boot_writable_region(offset, (uint32_t)len);
    if (region < 0 || boot_regions[region].kind != HUSH_SLOT_KIND_MODEL) {
        abort();
    }
    const boot_region *r = &boot_regions[region];
    if (region == app_model_in_use() && offset < r->start + r->size - HUSH_FLASH_SECTOR) {
        abort();
    }
}

static int pipeline_init(const uint8_t *model, size_t len)
{
    return hush_pipeline_init((hush_pipeline *)pipeline_mem, sizeof pipeline_mem, 256, model, len,
                              arena, sizeof arena);
}

static void setup(void)
{
    if (hush_pipeline_get_size() > PIPELINE_MEM_BYTES) {
        abort(); /* app_model.c could never switch to a pushed model */
    }
    /* The mailbox the application shares with the bootloader: a few words at a fixed RAM
     * address of the qemu-m4 map, mapped here (free in a Linux process's low memory). */
    const uintptr_t page = HUSH_MAILBOX_ADDR & ~(uintptr_t)0xFFFu;
    void *mb = mmap((void *)page, 0x1000u, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (mb != (void *)page) {
        abort();
    }
    hal_flash_init(1);
    fuzz_flash_set_guard(model_slots_only);
    if (pipeline_init(fuzz_model_data, fuzz_model_data_len) != HUSH_PIPELINE_OK) {
        abort(); /* the shipped model must load */
    }
    hush_pipeline *p = (hush_pipeline *)pipeline_mem;
    /* Memory that is too small or not 8-byte aligned is refused. */
    if (hush_cmd_init(cmd_mem, hush_cmd_get_size() - 1, p, 0, &info) != NULL ||
        hush_cmd_init(cmd_mem + 4, sizeof cmd_mem - 4, p, 0, &info) != NULL) {
        abort();
    }
}

static void sha_of(const uint8_t *data, size_t len, char hex[APP_MODEL_SHA_HEX])
{
    static const char digits[] = "0123456789abcdef";
    uint8_t digest[HUSH_SHA256_BYTES];
    hush_sha256(data, len, digest);
    for (unsigned i = 0; i < HUSH_SHA256_BYTES; ++i) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 0xFu];
    }
    hex[2 * HUSH_SHA256_BYTES] = '\0';
}

/* The model in region `index` must be one a device may run: a verified image. Returns its
 * SHA-256 in hex. */
static void check_verified(int index, char hex[APP_MODEL_SHA_HEX])
{
    if (index < 0 || (unsigned)index >= HUSH_FLASH_N_REGIONS ||
        boot_regions[index].kind != HUSH_SLOT_KIND_MODEL) {
        abort();
    }
    boot_slot_info slot;
    boot_slot_inspect((unsigned)index, &slot);
    if (slot.state < HUSH_SLOT_VALID || slot.verdict != HUSH_STATUS_OK) {
        abort();
    }
    sha_of(hal_flash_ptr(boot_regions[index].start + slot.body_offset), slot.body_size, hex);
}

static void check_activate(uint8_t status)
{
    const int now = app_model_in_use();
    if (status != HUSH_STATUS_OK) {
        if (now != in_use_before || strcmp(model_sha, sha_before) != 0) {
            abort(); /* a refused model must leave the running one in place */
        }
        return;
    }
    char hex[APP_MODEL_SHA_HEX];
    check_verified(now, hex);
    if (strcmp(hex, model_sha) != 0) {
        abort(); /* INFO must report the model that runs */
    }
    /* A reset (or a power cut) now must come back with the same model. */
    const uint8_t *model = fuzz_model_data;
    size_t len = fuzz_model_data_len;
    char boot_sha[APP_MODEL_SHA_HEX];
    if (app_model_boot_choice(&model, &len, boot_sha) != now || strcmp(boot_sha, hex) != 0) {
        abort();
    }
}

static void feed(const uint8_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const size_t len = hush_cmd_feed(ctx, bytes[i], reply, sizeof reply);
        const uint8_t *frame = fuzz_check_reply(reply, sizeof reply, len);
        if (frame == NULL) {
            continue;
        }
        if (frame[HUSH_PROTO_HDR_OPCODE_OFFSET] ==
            (HUSH_OP_MODEL_ACTIVATE | HUSH_PROTO_REPLY_FLAG)) {
            check_activate(frame[HUSH_PROTO_HDR_STATUS_OFFSET]);
        }
        in_use_before = app_model_in_use();
        memcpy(sha_before, model_sha, sizeof sha_before);
    }
}

static void run_requests(const uint8_t *data, size_t size)
{
    size_t at = 0;
    uint16_t seq = 0;
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
        const size_t n =
            hush_frame_encode(opcode, 0, seq++, data + at, len, request, sizeof request);
        at += len;
        feed(request, n);
    }
}

/* What main.c does at boot: the recorded pushed model if there is one and it sets up, else
 * the compiled-in one. Returns 1 when a pushed model now runs in the primary buffers. */
static int reboot(void)
{
    const uint8_t *model = fuzz_model_data;
    size_t len = fuzz_model_data_len;
    char hex[APP_MODEL_SHA_HEX];
    const int region = app_model_boot_choice(&model, &len, hex);
    if (region < 0) {
        return 0;
    }
    char verified[APP_MODEL_SHA_HEX];
    check_verified(region, verified);
    if (strcmp(verified, hex) != 0) {
        abort();
    }
    return pipeline_init(model, len) == HUSH_PIPELINE_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    static int primary_pushed; /* the primary buffers run a pushed model, not the shipped one */
    if (!ready) {
        setup();
        ready = 1;
    }
    if (size == 0) {
        return 0;
    }
    /* Each input starts from the same device state, so a finding reproduces from its input:
     * erased model slots, the shipped model, no mailbox request. */
    fuzz_flash_reset();
    hush_mailbox_get()->request = 0;
    hush_pipeline *p = (hush_pipeline *)pipeline_mem;
    if (primary_pushed || app_model_in_use() >= 0) {
        if (pipeline_init(fuzz_model_data, fuzz_model_data_len) != HUSH_PIPELINE_OK) {
            abort();
        }
    }
    hush_pipeline_reset(p);
    hush_pipeline_set_bypass(p, 0);
    hush_pipeline_set_attenuation_limit(p, 0.0f);
    ctx = hush_cmd_init(cmd_mem, sizeof cmd_mem, p, 0, &info);
    memcpy(model_sha, "0", 2);
    app_model_attach(ctx, pipeline_mem, sizeof pipeline_mem, arena, sizeof arena, model_sha, -1);
    app_flash_start(1);
    in_use_before = -1;
    memcpy(sha_before, model_sha, sizeof sha_before);
    keyed = (data[0] & 2u) != 0;

    if (setjmp(reset_jump) == 0) {
        if (data[0] & 1u) {
            run_requests(data + 1, size - 1);
        } else {
            feed(data + 1, size - 1);
        }
    }
    primary_pushed = reboot();
    return 0;
}
