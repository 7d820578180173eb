/*
 * hal_uart for the Arm CMSDK APB UART (UART0 of the MPS2/MPS3 FPGA images).
 * Registers: DATA +0x00, STATE +0x04, CTRL +0x08, INTSTATUS/INTCLEAR +0x0C, BAUDDIV +0x10.
 */
#include <stddef.h>
#include <stdint.h>

#include "cortex_m.h"
#include "hal_board.h"
#include "hal_uart.h"

#define UART_DATA CM_REG(HAL_BOARD_UART0_BASE + 0x00u)
#define UART_STATE CM_REG(HAL_BOARD_UART0_BASE + 0x04u)
#define UART_CTRL CM_REG(HAL_BOARD_UART0_BASE + 0x08u)
#define UART_INTCLEAR CM_REG(HAL_BOARD_UART0_BASE + 0x0Cu)
#define UART_BAUDDIV CM_REG(HAL_BOARD_UART0_BASE + 0x10u)

#define UART_STATE_TX_FULL (1u << 0)
#define UART_STATE_RX_FULL (1u << 1)
#define UART_CTRL_TX_EN (1u << 0)
#define UART_CTRL_RX_EN (1u << 1)
#define UART_CTRL_RX_IRQ_EN (1u << 3)
#define UART_INT_RX (1u << 1)

/* 115200 baud on hardware; the emulated UART ignores the rate but needs BAUDDIV >= 16. */
#define UART_BAUD 115200u
#define UART_MIN_BAUDDIV 16u
/* Above SysTick (lowest), so receive is never starved by the wrap counter. */
#define UART_RX_IRQ_PRIORITY 0x80u

_Static_assert((HAL_UART_RX_RING_BYTES & (HAL_UART_RX_RING_BYTES - 1u)) == 0,
               "ring size must be a power of two");

/* Single producer (the RX interrupt advances head) and single consumer (the main loop
 * advances tail); free-running 32-bit indices, so head - tail is the fill level. */
static uint8_t s_ring[HAL_UART_RX_RING_BYTES];
static volatile uint32_t s_head;
static volatile uint32_t s_tail;
static volatile uint32_t s_overflows;

void hal_uart_rx_isr(void)
{
    /* Clear first, then drain: a byte landing after the last check raises the IRQ again. */
    UART_INTCLEAR = UART_INT_RX;
    while (UART_STATE & UART_STATE_RX_FULL) {
        uint8_t byte = (uint8_t)UART_DATA;
        uint32_t head = s_head;
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
    uint32_t div = HAL_BOARD_CPU_HZ / UART_BAUD;
    UART_CTRL = 0;
    UART_BAUDDIV = div < UART_MIN_BAUDDIV ? UART_MIN_BAUDDIV : div;
    UART_INTCLEAR = UART_INT_RX;
    UART_CTRL = UART_CTRL_TX_EN | UART_CTRL_RX_EN | UART_CTRL_RX_IRQ_EN;
    cm_nvic_enable(HAL_BOARD_UART0_RX_IRQ, UART_RX_IRQ_PRIORITY);
    cm_irq_enable();
}

void hal_uart_write(const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; ++i) {
        while (UART_STATE & UART_STATE_TX_FULL) {
        }
        UART_DATA = data[i];
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
    /* With interrupts masked, WFI still wakes on a pending IRQ: no byte can slip in between
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
