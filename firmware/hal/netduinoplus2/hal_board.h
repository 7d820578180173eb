/*
 * Netduino Plus 2 (STM32F405RG, Cortex-M4F) as emulated by QEMU's netduinoplus2: 1 MB flash
 * at 0x08000000 (aliased at 0x0, where the core boots), 128 KB SRAM at 0x20000000, 64 KB CCM
 * RAM at 0x10000000, USART1 on the first -serial. QEMU runs the core at 168 MHz and does not
 * model the RCC, so no clock set-up is needed (or possible) here.
 */
#ifndef HAL_BOARD_H
#define HAL_BOARD_H

#ifndef HAL_BOARD_NAME
#error "HAL_BOARD_NAME comes from the build (custom_board in platformio.ini)"
#endif

#define HAL_BOARD_CPU_HZ        168000000u /* SYSCLK; SysTick runs from it */
#define HAL_BOARD_USART_PCLK_HZ 84000000u  /* APB2 at SYSCLK / 2 on a real F405 */
#define HAL_BOARD_UART0_RX_IRQ  37u        /* USART1 global interrupt */
#define HAL_BOARD_NUM_IRQS      82u

#endif /* HAL_BOARD_H */
