/*
 * hal_uart on STM32F4 USART1 (PA9 = TX, PA10 = RX, alternate function 7), 115200 8N1.
 *
 * QEMU's netduinoplus2 models the USART registers (SR, DR, BRR, CR1) but not RCC or GPIO:
 * the clock-enable and pin writes below are ignored there and only take effect on a chip.
 */
#include <stddef.h>
#include <stdint.h>

#include "hal_board.h"
#include "hal_uart.h"
#include "stm32f4_regs.h"

#define UART_BAUD 115200u
#define USART1_AF 7u
#define PIN_TX 9u
#define PIN_RX 10u
/* Above SysTick (lowest), below the audio interrupt. */
#define UART_RX_IRQ_PRIORITY 0x80u

_Static_assert((HAL_UART_RX_RING_BYTES & (HAL_UART_RX_RING_BYTES - 1u)) == 0,
               "ring size must be a power of two");

/* Single producer (the RX interrupt) and single consumer (the main loop); free-running
 * indices, head - tail is the fill level. */
static uint8_t s_ring[HAL_UART_RX_RING_BYTES];
static volatile uint32_t s_head;
static volatile uint32_t s_tail;
static volatile uint32_t s_overflows;

void hal_uart_rx_isr(void)
{
    /* Reading DR clears RXNE; the USART holds one byte, so drain while RXNE stays set. */
    while (STM32_USART_SR & STM32_USART_SR_RXNE) {
        const uint8_t byte = (uint8_t)STM32_USART_DR;
        const uint32_t head = s_head;
        if (head - s_tail >= HAL_UART_RX_RING_BYTES) {
            ++s_overflows;
            continue;
        }
        s_ring[head % HAL_UART_RX_RING_BYTES] = byte;
        s_head = head + 1u;
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
    STM32_USART_CR1 = STM32_USART_CR1_UE | STM32_USART_CR1_TE | STM32_USART_CR1_RE |
                      STM32_USART_CR1_RXNEIE;
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

size_t hal_uart_read(uint8_t *buf, size_t cap)
{
    uint32_t tail = s_tail;
    size_t n = 0;
    while (n < cap && tail != s_head) {
        buf[n++] = s_ring[tail % HAL_UART_RX_RING_BYTES];
        ++tail;
    }
    s_tail = tail;
    return n;
}

size_t hal_uart_rx_available(void)
{
    return (size_t)(s_head - s_tail);
}

void hal_uart_wait_rx(void)
{
    /* With interrupts masked, WFI still wakes on a pending IRQ: no byte slips in between
     * the check and the sleep. */
    cm_irq_disable();
    while (s_head == s_tail) {
        cm_wfi();
        cm_irq_enable();
        cm_irq_disable();
    }
    cm_irq_enable();
}

uint32_t hal_uart_rx_overflows(void)
{
    return s_overflows;
}
