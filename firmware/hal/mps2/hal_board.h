/*
 * MPS2 FPGA images AN386 (Cortex-M4F) and AN500 (Cortex-M7) as emulated by QEMU: same memory
 * map (4 MB code SSRAM at 0x0, 4 MB data SSRAM at 0x20000000) and the same APB peripherals.
 */
#ifndef HAL_BOARD_H
#define HAL_BOARD_H

#ifndef HAL_BOARD_NAME
#error "HAL_BOARD_NAME comes from the build (custom_board in platformio.ini)"
#endif

#define HAL_BOARD_CPU_HZ 25000000u       /* SYSCLK; SysTick and the APB run from it */
#define HAL_BOARD_UART0_BASE 0x40004000u /* CMSDK APB UART0 */
#define HAL_BOARD_UART0_RX_IRQ 0u        /* UART0 RX (TX is 1) */
#define HAL_BOARD_NUM_IRQS 32u

#endif /* HAL_BOARD_H */
