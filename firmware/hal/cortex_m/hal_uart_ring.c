/*
 * The UART receive ring shared by the hal_uart drivers (hal_uart_ring.h) and the receive half
 * of hal_uart.h.
 */
#include <stddef.h>
#include <stdint.h>

#include "cortex_m.h"
#include "hal_uart.h"
#include "hal_uart_ring.h"

_Static_assert((HAL_UART_RX_RING_BYTES & (HAL_UART_RX_RING_BYTES - 1u)) == 0,
               "ring size must be a power of two");

/* Single producer (the RX interrupt advances head) and single consumer (the main loop
 * advances tail); free-running 32-bit indices, so head - tail is the fill level. */
static uint8_t s_ring[HAL_UART_RX_RING_BYTES];
static volatile uint32_t s_head;
static volatile uint32_t s_tail;
static volatile uint32_t s_overflows;

void hal_uart_ring_put(uint8_t byte)
{
    const uint32_t head = s_head;
    if (head - s_tail >= HAL_UART_RX_RING_BYTES) {
        ++s_overflows;
        return;
    }
    s_ring[head % HAL_UART_RX_RING_BYTES] = byte;
    s_head = head + 1u;
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
