/*
 * hal_uart for the Arm CMSDK APB UART (UART0 of the MPS2/MPS3 FPGA images).
 * Registers: DATA +0x00, STATE +0x04, CTRL +0x08, INTSTATUS/INTCLEAR +0x0C, BAUDDIV +0x10.
 * The receive ring and the receive half of hal_uart.h are cortex_m/hal_uart_ring.c.
 */
#include <stddef.h>
#include <stdint.h>

#include "cortex_m.h"
#include "hal_board.h"
#include "hal_uart.h"
#include "hal_uart_ring.h"

#define UART_DATA     CM_REG(HAL_BOARD_UART0_BASE + 0x00u)
#define UART_STATE    CM_REG(HAL_BOARD_UART0_BASE + 0x04u)
#define UART_CTRL     CM_REG(HAL_BOARD_UART0_BASE + 0x08u)
#define UART_INTCLEAR CM_REG(HAL_BOARD_UART0_BASE + 0x0Cu)
#define UART_BAUDDIV  CM_REG(HAL_BOARD_UART0_BASE + 0x10u)

#define UART_STATE_TX_FULL  (1u << 0)
#define UART_STATE_RX_FULL  (1u << 1)
#define UART_CTRL_TX_EN     (1u << 0)
#define UART_CTRL_RX_EN     (1u << 1)
#define UART_CTRL_RX_IRQ_EN (1u << 3)
#define UART_INT_RX         (1u << 1)

/* 115200 baud on hardware; the emulated UART ignores the rate but needs BAUDDIV >= 16. */
#define UART_BAUD        115200u
#define UART_MIN_BAUDDIV 16u
/* Above SysTick (lowest), so receive is never starved by the wrap counter. */
#define UART_RX_IRQ_PRIORITY 0x80u

void hal_uart_rx_isr(void)
{
    /* Clear first, then drain: a byte landing after the last check raises the IRQ again. */
    UART_INTCLEAR = UART_INT_RX;
    while (UART_STATE & UART_STATE_RX_FULL) {
        hal_uart_ring_put((uint8_t)UART_DATA);
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
