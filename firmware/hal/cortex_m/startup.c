/*
 * Reset handler and vector table for the QEMU Cortex-M boards.
 *
 * QEMU's -kernel loads the ELF segments and boots from the vector table at the boot address
 * (0x0 on mps2, 0x10000000 on mps3-an547); the linker script places .isr_vector there.
 */
#include <stdint.h>
#include <string.h>

#include "cortex_m.h"
#include "hal_board.h"
#include "hal_sys.h"
#include "hal_sys_internal.h"

/* Linker script symbols. */
extern uint32_t __data_load__[], __data_start__[], __data_end__[];
extern uint32_t __bss_start__[], __bss_end__[];
extern uint32_t __stack_limit__[], __stack_top__[];

int main(void);

void hal_reset_handler(void) __attribute__((noreturn));
void hal_default_handler(void) __attribute__((noreturn));
void hal_systick_isr(void);
void hal_uart_rx_isr(void);
void hal_nmi_isr(void);
/* Board clock set-up before main(), where a board needs one (hal/stm32f411_hw). */
void hal_board_init(void) __attribute__((weak));
#ifdef HAL_BOARD_AUDIO_IRQ
void HAL_BOARD_AUDIO_ISR(void); /* the board's audio interrupt (hop timer or I2S DMA) */
#endif

void hal_reset_handler(void)
{
    /* FPU before any C that may touch a float register. */
    CM_SCB_CPACR |= CM_CPACR_CP10_CP11_FULL;
    cm_dsb_isb();
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
    /* ARMv8-M: a stack overflow faults at the limit instead of corrupting memory below. */
    __asm volatile("msr msplim, %0" ::"r"(__stack_limit__));
#endif

    memcpy(__data_start__, __data_load__,
           (size_t)((uintptr_t)__data_end__ - (uintptr_t)__data_start__));
    memset(__bss_start__, 0, (size_t)((uintptr_t)__bss_end__ - (uintptr_t)__bss_start__));

    /* Paint the unused part of the stack: everything below this frame. */
    uintptr_t sp;
    __asm volatile("mov %0, sp" : "=r"(sp));
    for (volatile uint32_t *w = __stack_limit__; (uintptr_t)w < sp - 4u; ++w) {
        *w = HAL_STACK_PAINT;
    }

    if (hal_board_init) {
        hal_board_init();
    }
    hal_sys_exit(main());
}

void hal_default_handler(void)
{
    /* Unexpected exception or fault: report it as exit status 0xFF under QEMU. */
    hal_sys_exit(HAL_FAULT_EXIT_CODE);
}

/* NMI: the board's watchdog warning where it has one (hal/cmsdk_watchdog), else a fault. */
__attribute__((weak)) void hal_nmi_isr(void)
{
    hal_default_handler();
}

/* Every exception and interrupt defaults to hal_default_handler (reserved slots too: they
 * are never taken); SysTick, the board's UART RX IRQ and its audio IRQ override the range on
 * purpose. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
__attribute__((section(".isr_vector"),
               used)) static void (*const vectors[16 + HAL_BOARD_NUM_IRQS])(void) = {
    [0] = (void (*)(void))__stack_top__,
    [1] = hal_reset_handler,
    [2 ... 15 + HAL_BOARD_NUM_IRQS] = hal_default_handler,
    [2] = hal_nmi_isr,
    [15] = hal_systick_isr,
    [16 + HAL_BOARD_UART0_RX_IRQ] = hal_uart_rx_isr,
#ifdef HAL_BOARD_AUDIO_IRQ
    [16 + HAL_BOARD_AUDIO_IRQ] = HAL_BOARD_AUDIO_ISR,
#endif
};
#pragma GCC diagnostic pop
