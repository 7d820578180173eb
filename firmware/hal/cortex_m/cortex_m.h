/*
 * Cortex-M system registers the HAL uses (ARMv7-M / ARMv8-M architecture reference manuals).
 * Private to the HAL; the board header (hal_board.h) supplies the board-specific values.
 */
#ifndef HAL_CORTEX_M_H
#define HAL_CORTEX_M_H

#include <stdint.h>

#define CM_REG(addr) (*(volatile uint32_t *)(addr))

/* System control block */
#define CM_SCB_VTOR             CM_REG(0xE000ED08u)
#define CM_SCB_SHPR3            CM_REG(0xE000ED20u) /* bits 31:24 = SysTick priority */
#define CM_SCB_CPACR            CM_REG(0xE000ED88u)
#define CM_CPACR_CP10_CP11_FULL (0xFu << 20) /* FPU (and MVE) access, privileged and user */
#define CM_SCB_DEMCR            CM_REG(0xE000EDFCu)
#define CM_DEMCR_TRCENA         (1u << 24)

/* SysTick */
#define CM_SYST_CSR               CM_REG(0xE000E010u)
#define CM_SYST_RVR               CM_REG(0xE000E014u)
#define CM_SYST_CVR               CM_REG(0xE000E018u)
#define CM_SYST_CSR_ENABLE        (1u << 0)
#define CM_SYST_CSR_TICKINT       (1u << 1)
#define CM_SYST_CSR_CLKSOURCE_CPU (1u << 2)
#define CM_SYST_MAX_RELOAD        0x00FFFFFFu /* 24-bit counter */

/* DWT cycle counter */
#define CM_DWT_CTRL           CM_REG(0xE0001000u)
#define CM_DWT_CYCCNT         CM_REG(0xE0001004u)
#define CM_DWT_LAR            CM_REG(0xE0001FB0u) /* lock access register (Cortex-M7) */
#define CM_DWT_LAR_UNLOCK     0xC5ACCE55u
#define CM_DWT_CTRL_CYCCNTENA (1u << 0)

/* NVIC: 32 interrupts per enable / clear-pending register */
#define CM_NVIC_ISER(n)       CM_REG(0xE000E100u + 4u * (n))
#define CM_NVIC_ICPR(n)       CM_REG(0xE000E280u + 4u * (n))
#define CM_NVIC_IPR_BYTE(irq) (*(volatile uint8_t *)(0xE000E400u + (irq)))

static inline void cm_dsb_isb(void)
{
    __asm volatile("dsb\n\tisb" ::: "memory");
}

static inline void cm_irq_disable(void)
{
    __asm volatile("cpsid i" ::: "memory");
}

static inline void cm_irq_enable(void)
{
    __asm volatile("cpsie i" ::: "memory");
}

static inline void cm_wfi(void)
{
    __asm volatile("wfi" ::: "memory");
}

static inline void cm_nvic_enable(uint32_t irq, uint8_t priority)
{
    CM_NVIC_IPR_BYTE(irq) = priority;
    CM_NVIC_ICPR(irq / 32u) = 1u << (irq % 32u);
    CM_NVIC_ISER(irq / 32u) = 1u << (irq % 32u);
}

#endif /* HAL_CORTEX_M_H */
