/*
 * hal_uart on STM32F4 USART1 (PA9 = TX, PA10 = RX, alternate function 7), 115200 8N1.
 *
 * QEMU's netduinoplus2 models the USART registers (SR, DR, BRR, CR1) but not RCC or GPIO:
 * the clock-enable and pin writes below are ignored there and only take effect on a chip.
 * The receive ring and the receive half of hal_uart.h are cortex_m/hal_uart_ring.c.
 */
#include <stddef.h>
#include <stdint.h>

#include "hal_board.h"
#include "hal_uart.h"
#include "hal_uart_ring.h"
#include "stm32f4_regs.h"

#define UART_BAUD 115200u
#define USART1_AF 7u
#define PIN_TX    9u
#define PIN_RX    10u
/* Above SysTick (lowest), below the audio interrupt. */
#define UART_RX_IRQ_PRIORITY 0x80u

void hal_uart_rx_isr(void)
{
    /* Reading DR clears RXNE; the USART holds one byte, so drain while RXNE stays set. */
    while (STM32_USART_SR & STM32_USART_SR_RXNE) {
        hal_uart_ring_put((uint8_t)STM32_USART_DR);
    }
}

void hal_uart_init(void)
{
    STM32_RCC_AHB1ENR |= STM32_RCC_AHB1ENR_GPIOA;
    STM32_RCC_APB2ENR |= STM32_RCC_APB2ENR_USART1;
    stm32_gpio_af(STM32_GPIO_PORT_A, PIN_TX, USART1_AF);
    stm32_gpio_af(STM32_GPIO_PORT_A, PIN_RX, USART1_AF);
    STM32_USART_CR1 = 0;
    /* Oversampling by 16: BRR = f_PCLK2 / baud (mantissa and fraction in one value). */
    STM32_USART_BRR = (HAL_BOARD_USART_PCLK_HZ + UART_BAUD / 2u) / UART_BAUD;
    STM32_USART_CR1 =
        STM32_USART_CR1_UE | STM32_USART_CR1_TE | STM32_USART_CR1_RE | STM32_USART_CR1_RXNEIE;
    cm_nvic_enable(HAL_BOARD_UART0_RX_IRQ, UART_RX_IRQ_PRIORITY);
    cm_irq_enable();
}

void hal_uart_write(const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; ++i) {
        while (!(STM32_USART_SR & STM32_USART_SR_TXE)) {
        }
        STM32_USART_DR = data[i];
    }
}
