/*
 * MPS2 FPGA images AN386 (Cortex-M4F) and AN500 (Cortex-M7) as emulated by QEMU: same memory
 * map (4 MB code SSRAM at 0x0, 4 MB data SSRAM at 0x20000000) and the same APB peripherals.
 */
#ifndef HAL_BOARD_H
#define HAL_BOARD_H

#ifndef HAL_BOARD_NAME
#error "HAL_BOARD_NAME comes from the build (custom_board in platformio.ini)"
#endif

#define HAL_BOARD_CPU_HZ        25000000u   /* SYSCLK; SysTick and the APB run from it */
#define HAL_BOARD_UART0_BASE    0x40004000u /* CMSDK APB UART0 */
#define HAL_BOARD_UART0_RX_IRQ  0u          /* UART0 RX (TX is 1) */
#define HAL_BOARD_NUM_IRQS      32u
#define HAL_BOARD_WATCHDOG_BASE 0x40008000u /* CMSDK APB watchdog, interrupt on NMI */
#define HAL_BOARD_WATCHDOG_HZ   25000000u   /* WDOGCLK = SYSCLK */

/* Virtual codec (hal/vcodec): CMSDK APB TIMER0 as the hop clock, tapes in the 16 MB PSRAM
 * (outside the firmware's RAM region; at 0x21000000 on the AN386, 0x60000000 on the AN500,
 * hal/mps2_an500): 1 MB = 256 K samples per direction. */
#define HAL_BOARD_HOPTIMER_BASE 0x40000000u
#define HAL_BOARD_HOPTIMER_IRQ  8u
#define HAL_BOARD_AUDIO_IRQ     HAL_BOARD_HOPTIMER_IRQ /* vector of the audio interrupt */
#define HAL_BOARD_AUDIO_ISR     hal_hoptimer_isr
#define HAL_BOARD_HOPTIMER_HZ   25000000u /* APB clock = SYSCLK */
#ifndef HAL_BOARD_TAPE_BASE
#define HAL_BOARD_TAPE_BASE 0x21000000u
#endif
#define HAL_BOARD_TAPE_BYTES 0x100000u

#endif /* HAL_BOARD_H */
