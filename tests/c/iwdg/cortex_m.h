/*
 * Test double of firmware/hal/cortex_m/cortex_m.h for host tests of register-level HAL
 * drivers: every CM_REG(addr) access goes through fake_mmio(addr), which the test implements
 * (a model of the peripheral that sees each read and write). Put this folder first on the
 * include path, ahead of firmware/hal/cortex_m.
 */
#ifndef HAL_CORTEX_M_H
#define HAL_CORTEX_M_H

#include <stdint.h>

/* The register at addr. The model sees what the previous access did at the next call (or at
 * fake_mmio_settle()). */
volatile uint32_t *fake_mmio(uint32_t addr);
void fake_mmio_settle(void);

#define CM_REG(addr) (*fake_mmio(addr))

#endif /* HAL_CORTEX_M_H */
