/*
 * MPS3 FPGA image AN547 (Cortex-M55 in the SSE-300) as emulated by QEMU. The core boots in
 * the Secure state and the firmware stays there, so it uses the Secure aliases: code in ITCM
 * (0x10000000), data in DTCM (0x30000000), UART0 at 0x59303000.
 */
#ifndef HAL_BOARD_H
#define HAL_BOARD_H

#ifndef HAL_BOARD_NAME
#error "HAL_BOARD_NAME comes from the build (custom_board in platformio.ini)"
#endif

#define HAL_BOARD_CPU_HZ       32000000u   /* SYSCLK of the AN547 image */
#define HAL_BOARD_UART0_BASE   0x59303000u /* CMSDK APB UART0, Secure alias */
#define HAL_BOARD_UART0_RX_IRQ 33u         /* UART0 RX (expansion IRQs start at 32) */
#define HAL_BOARD_NUM_IRQS     96u

#endif /* HAL_BOARD_H */
