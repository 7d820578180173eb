/*
 * hushkit bootloader: picks the application slot to run, or stays and serves the flash
 * commands over the same COBS + CRC32 link as the application (hush_protocol.h).
 *
 * At reset (direct-xip with revert, MCUboot's test/confirm semantics):
 *   1. bring the flash in (hal_flash_init); stay here when the forced flag (state region) or
 *      the application's request (RAM mailbox) says so;
 *   2. an application slot still TESTING was booted once and never confirmed: revert it
 *      (erase its header sector, so it can never boot again);
 *   3. boot a PENDING slot once (set copy_done first), else the CONFIRMED one, else one
 *      that merely verifies (VALID); an image boots only if its SHA-256 and target match
 *      and, in a bootloader built with a public key, its Ed25519 signature verifies; such a
 *      bootloader also drops a PENDING image older than another one (boot_policy.h), never
 *      boots one whose security counter is below the stored counter (boot_seccnt.h), and
 *      raises that counter to the CONFIRMED image's before starting it;
 *   4. with nothing bootable, stay and answer commands.
 * Every step is one erase or one program, each safe to lose power in: a torn header no
 * longer verifies, a torn trailer flag reads as not set.
 */
#include <stdint.h>
#include <string.h>

#include "boot_cmd.h"
#include "boot_image.h"
#include "boot_policy.h"
#include "boot_rollback.h"
#include "boot_seccnt.h"
#include "boot_sig.h"
#include "flash_layout.h"
#include "hal_flash.h"
#include "hal_sys.h"
#include "hal_timer.h"
#include "hal_uart.h"
#include "hush_mailbox.h"

/* The forced-bootloader flag: these 8 bytes at the start of the state region. */
static const uint8_t k_force_flag[8] = {'H', 'U', 'S', 'H', 'B', 'O', 'O', 'T'};

static uint8_t s_cmd_mem[BOOT_CMD_MEM_BYTES] __attribute__((aligned(8)));
static uint8_t s_reply[BOOT_CMD_REPLY_BYTES];

/* Region index to boot, or -1. */
static int choose_slot(void)
{
    boot_rollback_check();
    int pending = -1, confirmed = -1, valid = -1;
    uint32_t confirmed_counter = 0;
    for (unsigned i = 0; i < HUSH_FLASH_N_REGIONS; ++i) {
        if (boot_regions[i].kind != HUSH_SLOT_KIND_APP) {
            continue;
        }
        boot_slot_info info;
        boot_slot_inspect(i, &info);
        if (info.state == HUSH_SLOT_TESTING) {
            /* Booted once and never confirmed: crashed, hung or failed its self-check. */
            (void)hal_flash_erase(boot_regions[i].start);
            continue;
        }
        if (info.state == HUSH_SLOT_PENDING && boot_policy_is_downgrade(i, &info)) {
            /* Marked pending without MARK_PENDING's check (its trailer written directly). */
            (void)boot_trailer_erase(i);
            continue;
        }
        if (info.state == HUSH_SLOT_PENDING && pending < 0) {
            pending = (int)i;
        } else if (info.state == HUSH_SLOT_CONFIRMED && confirmed < 0) {
            confirmed = (int)i;
            confirmed_counter = info.security_counter;
        } else if (info.state == HUSH_SLOT_VALID && valid < 0) {
            valid = (int)i;
        }
    }
    if (pending >= 0 && boot_trailer_set_copy_done((unsigned)pending) == HAL_FLASH_OK) {
        return pending;
    }
    if (confirmed >= 0 && boot_sig_keyed()) {
        /* Normally raised by the image's confirm already; this covers a power cut between its
         * image_ok and the raise. A full counter sector still boots the image. */
        (void)boot_seccnt_raise(confirmed_counter);
    }
    return confirmed >= 0 ? confirmed : valid;
}

int main(void)
{
    hush_mailbox *mb = hush_mailbox_get();
    mb->running_region = 0xFFu;
    uint8_t reason = HUSH_REASON_NO_IMAGE;
    if (hal_flash_init(1) != HAL_FLASH_OK) {
        reason = HUSH_REASON_NO_IMAGE; /* no backing store: serve commands, boot nothing */
    } else if (memcmp(hal_flash_ptr(HUSH_REGION_STATE_START), k_force_flag, sizeof k_force_flag) ==
               0) {
        reason = HUSH_REASON_FORCED;
    } else if (mb->request == HUSH_MAILBOX_REQUEST_BOOTLOADER) {
        mb->request = 0;
        reason = HUSH_REASON_REQUESTED;
    } else {
        const int slot = choose_slot();
        if (slot >= 0) {
            mb->running_region = (uint32_t)slot;
            boot_jump((unsigned)slot);
        }
    }

    hal_timer_init();
    hal_uart_init();
    boot_cmd_ctx *cmd = boot_cmd_init(s_cmd_mem, sizeof s_cmd_mem, reason);
    if (cmd == NULL) {
        hal_sys_exit(2);
    }
    uint8_t rx[64];
    for (;;) {
        hal_uart_wait_rx();
        size_t n;
        while ((n = hal_uart_read(rx, sizeof rx)) != 0) {
            for (size_t i = 0; i < n; ++i) {
                const size_t len = boot_cmd_feed(cmd, rx[i], s_reply, sizeof s_reply);
                if (len != 0) {
                    hal_uart_write(s_reply, len);
                }
                if (boot_cmd_reset_requested(cmd)) {
                    boot_system_reset();
                }
            }
        }
    }
}
