/*
 * WeAct "Black Pill" STM32F411CE (Cortex-M4F): 512 KB flash at 0x08000000, 128 KB SRAM at
 * 0x20000000, 25 MHz crystal. hal/stm32f411_hw sets the core to 96 MHz and runs the audio
 * path on I2S2 (see README.md for the wiring). NOT YET VERIFIED ON HARDWARE: it builds here,
 * no board has run it.
 *
 * Planned flash layout (the sectors are 4 x 16 KB, 64 KB, 3 x 128 KB): bootloader 32 KB
 * (sectors 0-1), boot state 32 KB (sectors 2-3), slot 0 192 KB (sectors 4-5, 0x08010000),
 * slot 1 256 KB (sectors 6-7, 0x08040000). Until the bootloader supports this board the
 * application is linked to boot directly at 0x08000000, limited to one slot's 192 KB.
 */
#ifndef HAL_BOARD_H
#define HAL_BOARD_H

#ifndef HAL_BOARD_NAME
#error "HAL_BOARD_NAME comes from the build (custom_board in platformio.ini)"
#endif

#define HAL_BOARD_HSE_HZ        25000000u /* the board's crystal */
#define HAL_BOARD_CPU_HZ        96000000u /* PLL: 25 MHz / 25 * 192 / 2 */
#define HAL_BOARD_USART_PCLK_HZ 96000000u /* APB2 = HCLK */
#define HAL_BOARD_UART0_RX_IRQ  37u       /* USART1 global interrupt */
#define HAL_BOARD_NUM_IRQS      86u

/* I2S2ext receive DMA (DMA1 stream 3): its half/complete interrupts pace the audio path. */
#define HAL_BOARD_AUDIO_IRQ 14u
#define HAL_BOARD_AUDIO_ISR hal_i2s_dma_isr

#endif /* HAL_BOARD_H */
