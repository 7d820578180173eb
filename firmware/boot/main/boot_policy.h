/* boot_policy: which verified images a keyed bootloader still refuses. */
#ifndef BOOT_POLICY_H
#define BOOT_POLICY_H

#include "boot_image.h"

/* 1 when a key is built in and the image `info` of region `index` is older than another
 * verified image of the same kind on the device: a lower version (major.minor.revision) or a
 * lower security counter. 0 without a key (downgrades allowed, as before). */
int boot_policy_is_downgrade(unsigned index, const boot_slot_info *info);

#endif /* BOOT_POLICY_H */
