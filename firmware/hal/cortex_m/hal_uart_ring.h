/*
 * The UART receive ring every hal_uart driver shares: the driver's RX interrupt puts bytes in,
 * and this ring implements the receive half of hal_uart.h (hal_uart_read,
 * hal_uart_rx_available, hal_uart_wait_rx, hal_uart_rx_overflows) on top of it. A driver
 * provides only hal_uart_init, hal_uart_write and its RX interrupt handler.
 */
#ifndef HAL_UART_RING_H
#define HAL_UART_RING_H

#include <stdint.h>

/* From the RX interrupt only: store one received byte, or count it lost when the ring holds
 * HAL_UART_RX_RING_BYTES unread bytes already. */
void hal_uart_ring_put(uint8_t byte);

#endif /* HAL_UART_RING_H */
