/* boot_jump: start an application slot, reset the system (Cortex-M; see boot_image.h). */
#include <stdint.h>

#include "boot_image.h"
#include "flash_layout.h"

/* Cortex-M system control block. */
#define SCB_VTOR              (*(volatile uint32_t *)0xE000ED08u)
#define SCB_AIRCR             (*(volatile uint32_t *)0xE000ED0Cu)
#define SCB_AIRCR_SYSRESETREQ 0x05FA0004u /* VECTKEY | SYSRESETREQ */
#define SYST_CSR              (*(volatile uint32_t *)0xE000E010u)
#define NVIC_ICER(n)          (*(volatile uint32_t *)(0xE000E180u + 4u * (n)))
#define NVIC_ICPR(n)          (*(volatile uint32_t *)(0xE000E280u + 4u * (n)))

void boot_jump(unsigned index)
{
    boot_slot_info info;
    boot_slot_inspect(index, &info);
    const uint32_t vectors = HUSH_FLASH_BASE + boot_regions[index].start + info.body_offset;
    __asm volatile("cpsid i" ::: "memory");
    SYST_CSR = 0;
    for (unsigned n = 0; n < 8u; ++n) {
        NVIC_ICER(n) = 0xFFFFFFFFu;
        NVIC_ICPR(n) = 0xFFFFFFFFu;
    }
    SCB_VTOR = vectors;
    const uint32_t sp = *(const volatile uint32_t *)vectors;
    const uint32_t pc = *(const volatile uint32_t *)(vectors + 4u);
    /* The application's start-up enables interrupts again once its handlers are set up. */
    __asm volatile("msr msp, %0\n\tdsb\n\tisb\n\tbx %1" ::"r"(sp), "r"(pc) : "memory");
    __builtin_unreachable();
}

void boot_system_reset(void)
{
    __asm volatile("dsb" ::: "memory");
    SCB_AIRCR = SCB_AIRCR_SYSRESETREQ;
    __asm volatile("dsb" ::: "memory");
    for (;;) {
    }
}
