/*
 * hal_uart: the serial link to the host (UART0 of the board).
 *
 * Receive is interrupt driven into a ring buffer owned by the HAL, so bytes that arrive
 * while the core processes a hop are kept (the host may send the next frame early).
 * Transmit is polled: hal_uart_write() returns once every byte is in the UART.
 * Single consumer: call the read functions from the main loop only, never from an ISR.
 */
#ifndef HAL_UART_H
#define HAL_UART_H

#include <stddef.h>
#include <stdint.h>

/* Bytes the receive ring holds; a power of two. 2 KB covers a frame of 512 int16 samples. */
#define HAL_UART_RX_RING_BYTES 2048u

/* Enable UART0 (TX and RX) and its receive interrupt. Call once, after hal_timer_init(). */
void hal_uart_init(void);

/* Blocking write of len bytes. */
void hal_uart_write(const uint8_t *data, size_t len);

/* Non-blocking read: copies up to cap received bytes into buf, returns how many. */
size_t hal_uart_read(uint8_t *buf, size_t cap);

/* Received bytes waiting in the ring (a snapshot: more may arrive at any time). */
size_t hal_uart_rx_available(void);

/* Sleep (WFI) until at least one received byte is waiting. */
void hal_uart_wait_rx(void);

/* Bytes dropped because the ring was full, since init. */
uint32_t hal_uart_rx_overflows(void);

#endif /* HAL_UART_H */
