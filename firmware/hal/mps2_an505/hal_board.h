/*
 * MPS2 FPGA image AN505 (Cortex-M33 with FPU in the SSE-200) as emulated by QEMU. The core
 * boots in the Secure state and the firmware stays there, so it uses the Secure aliases: code
 * in SSRAM1 (0x10000000), data in SSRAM2 (0x38000000), UART0 at 0x50200000.
 */
#ifndef HAL_BOARD_H
#define HAL_BOARD_H

#ifndef HAL_BOARD_NAME
#error "HAL_BOARD_NAME comes from the build (custom_board in platformio.ini)"
#endif

#define HAL_BOARD_CPU_HZ       20000000u   /* SYSCLK of the AN505 image */
#define HAL_BOARD_UART0_BASE   0x50200000u /* CMSDK APB UART0, Secure alias */
#define HAL_BOARD_UART0_RX_IRQ 32u         /* UART0 RX (expansion IRQs start at 32) */
#define HAL_BOARD_NUM_IRQS     92u

#endif /* HAL_BOARD_H */
