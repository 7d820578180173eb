/* boot_sig for an application started by the bootloader: the check runs in the bootloader,
 * through its service table (boot_sig.h). A bootloader without the table (or without a key)
 * checks no signatures, so neither does the application. */
#include "boot_sig.h"

#include "hush_protocol.h"

static const boot_api *api(void)
{
    const boot_api *a = (const boot_api *)HUSH_BOOT_API_ADDR;
    return a->magic == BOOT_API_MAGIC && a->version == BOOT_API_VERSION && a->keyed == 1u ? a : 0;
}

int boot_sig_keyed(void)
{
    return api() != 0;
}

uint8_t boot_sig_check(const uint8_t digest[HUSH_SHA256_BYTES], const uint8_t *keyhash,
                       const uint8_t *signature)
{
    const boot_api *a = api();
    return a == 0 ? HUSH_STATUS_OK : a->check(digest, keyhash, signature);
}
