#include "hal_sys.h"

#include <stdint.h>

#include "cortex_m.h"
#include "hal_board.h"
#include "hal_sys_internal.h"

extern uint32_t __stack_limit__[], __stack_top__[];

/* Semihosting (Arm "Semihosting for AArch32 and AArch64"): operation in r0, argument in r1,
 * trapped by BKPT 0xAB on M-profile. */
#define SEMIHOSTING_SYS_EXIT_EXTENDED            0x20u
#define SEMIHOSTING_ADP_STOPPED_APPLICATION_EXIT 0x20026u

const char *hal_sys_board_name(void)
{
    return HAL_BOARD_NAME;
}

uint32_t hal_sys_cpu_hz(void)
{
    return HAL_BOARD_CPU_HZ;
}

uint32_t hal_sys_stack_size(void)
{
    return (uint32_t)((uintptr_t)__stack_top__ - (uintptr_t)__stack_limit__);
}

uint32_t hal_sys_stack_used(void)
{
    const volatile uint32_t *w = __stack_limit__;
    while (w < __stack_top__ && *w == HAL_STACK_PAINT) {
        ++w;
    }
    return (uint32_t)((uintptr_t)__stack_top__ - (uintptr_t)w);
}

void hal_sys_sleep_unless(int (*work_pending)(void))
{
    cm_irq_disable();
    if (!work_pending()) {
        cm_wfi();
    }
    cm_irq_enable();
}

void hal_sys_exit(int code)
{
    uint32_t block[2] = {SEMIHOSTING_ADP_STOPPED_APPLICATION_EXIT, (uint32_t)code};
    register uint32_t r0 __asm("r0") = SEMIHOSTING_SYS_EXIT_EXTENDED;
    register uint32_t *r1 __asm("r1") = block;
    __asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    for (;;) {
        cm_wfi();
    }
}
