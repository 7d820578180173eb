/* hush_mailbox: a few words at the top of RAM that the bootloader and the application share.
 *
 * Neither image's linker script covers HUSH_MAILBOX_ADDR (flash_layout.h), so start-up code
 * never clears it and it survives a reset (not a power cycle: `magic` then reads garbage and
 * the mailbox starts afresh). */
#ifndef HUSH_MAILBOX_H
#define HUSH_MAILBOX_H

#include <stdint.h>

#include "flash_layout.h"

#define HUSH_MAILBOX_MAGIC              0x4D42484Bu /* "KHBM" */
#define HUSH_MAILBOX_REQUEST_BOOTLOADER 0xB007B007u

typedef struct {
    uint32_t magic;
    uint32_t flash_ops;      /* erase/program operations since power-on */
    uint32_t request;        /* HUSH_MAILBOX_REQUEST_BOOTLOADER: stay in the bootloader */
    uint32_t running_region; /* region index the bootloader started, 0xFF = none */
    uint32_t power_cut_at;   /* emulator only: operation number that loses power, 0 = never */
} hush_mailbox;

_Static_assert(sizeof(hush_mailbox) <= HUSH_MAILBOX_SIZE, "mailbox outgrew its RAM");

/* The mailbox, initialised on the first call after power-on. */
static inline hush_mailbox *hush_mailbox_get(void)
{
    hush_mailbox *m = (hush_mailbox *)HUSH_MAILBOX_ADDR;
    if (m->magic != HUSH_MAILBOX_MAGIC) {
        m->magic = HUSH_MAILBOX_MAGIC;
        m->flash_ops = 0;
        m->request = 0;
        m->running_region = 0xFFu;
        m->power_cut_at = 0;
    }
    return m;
}

#endif /* HUSH_MAILBOX_H */
