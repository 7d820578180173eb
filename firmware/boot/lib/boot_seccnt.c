/* boot_seccnt: the append-only security counter records (see boot_seccnt.h). */
#include "boot_seccnt.h"

#include <string.h>

#include "boot_sig.h"
#include "flash_layout.h"
#include "hal_flash.h"
#include "hush_frame.h"
#include "hush_protocol.h"

#define CAPACITY (HUSH_SECCNT_SIZE / HUSH_SECCNT_RECORD_SIZE)

_Static_assert(HUSH_SECCNT_RECORD_SIZE == 16u, "record: magic, value, ~value, ~magic");
_Static_assert(HUSH_SECCNT_RECORD_SIZE % HUSH_FLASH_WRITE_ALIGN == 0u, "records unaligned");
_Static_assert(HUSH_SECCNT_START % HUSH_FLASH_SECTOR == 0u, "counter sector unaligned");
_Static_assert(CAPACITY <= UINT16_MAX, "record count outgrew its reply field");

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static int erased(const uint8_t *p)
{
    for (unsigned i = 0; i < HUSH_SECCNT_RECORD_SIZE; ++i) {
        if (p[i] != 0xFFu) {
            return 0;
        }
    }
    return 1;
}

/* The state, and the index of the record after the last one not erased (where the next
 * raise goes: records are appended, a torn one is never reused). */
static unsigned scan(boot_seccnt_state *out)
{
    const uint8_t *sector = hal_flash_ptr(HUSH_SECCNT_START);
    unsigned next = 0, used = 0;
    uint32_t value = 0;
    for (unsigned i = 0; i < CAPACITY; ++i) {
        const uint8_t *rec = sector + i * HUSH_SECCNT_RECORD_SIZE;
        if (erased(rec)) {
            continue;
        }
        used++;
        next = i + 1u;
        const uint32_t v = get32(rec + 4);
        if (get32(rec) == HUSH_SECCNT_MAGIC && get32(rec + 8) == ~v &&
            get32(rec + 12) == ~HUSH_SECCNT_MAGIC && v > value) {
            value = v;
        }
    }
    out->value = value;
    out->records = (uint16_t)used;
    out->capacity = (uint16_t)CAPACITY;
    return next;
}

void boot_seccnt_read(boot_seccnt_state *out)
{
    (void)scan(out);
}

uint32_t boot_seccnt_value(void)
{
    boot_seccnt_state s;
    (void)scan(&s);
    return s.value;
}

int boot_seccnt_raise(uint32_t value)
{
    boot_seccnt_state s;
    const unsigned next = scan(&s);
    if (value <= s.value) {
        return HAL_FLASH_OK;
    }
    if (next >= CAPACITY) {
        return BOOT_SECCNT_E_FULL;
    }
    uint8_t rec[HUSH_SECCNT_RECORD_SIZE];
    put32(rec, HUSH_SECCNT_MAGIC);
    put32(rec + 4, value);
    put32(rec + 8, ~value);
    put32(rec + 12, ~HUSH_SECCNT_MAGIC);
    return hal_flash_program(HUSH_SECCNT_START + next * HUSH_SECCNT_RECORD_SIZE, rec, sizeof rec);
}

size_t boot_seccnt_reply(uint8_t *out)
{
    boot_seccnt_state s;
    boot_seccnt_read(&s);
    memset(out, 0, HUSH_SECURITY_COUNTER_REPLY_SIZE);
    hush_frame_put_u32(out + HUSH_SECURITY_COUNTER_REPLY_VALUE_OFFSET, s.value);
    hush_frame_put_u16(out + HUSH_SECURITY_COUNTER_REPLY_RECORDS_OFFSET, s.records);
    hush_frame_put_u16(out + HUSH_SECURITY_COUNTER_REPLY_CAPACITY_OFFSET, s.capacity);
    out[HUSH_SECURITY_COUNTER_REPLY_KEYED_OFFSET] = (uint8_t)(boot_sig_keyed() != 0);
    return HUSH_SECURITY_COUNTER_REPLY_SIZE;
}
