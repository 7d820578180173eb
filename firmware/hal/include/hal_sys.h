/*
 * hal_sys: board identity, stack high-water mark, exit to the emulator.
 *
 * The start-up code enables the FPU, initialises .data/.bss and paints the whole stack
 * reservation (HAL_STACK_SIZE in the linker script) with a pattern before main() runs;
 * hal_sys_stack_used() finds the deepest word that no longer holds it.
 */
#ifndef HAL_SYS_H
#define HAL_SYS_H

#include <stdint.h>

/* QEMU machine name of the board, e.g. "mps2-an386". */
const char *hal_sys_board_name(void);

/* CPU (and SysTick) clock in Hz. */
uint32_t hal_sys_cpu_hz(void);

/* Bytes of stack reserved by the linker script. */
uint32_t hal_sys_stack_size(void);

/* Deepest stack use since reset, in bytes (a lower bound: writes of the paint value are missed). */
uint32_t hal_sys_stack_used(void);

/*
 * Sleep (WFI) until an interrupt is taken, unless work_pending() already returns nonzero.
 * The check runs with interrupts masked, so an interrupt arriving between the check and the
 * sleep still wakes it (a masked pending interrupt ends WFI); it is taken on return.
 */
void hal_sys_sleep_unless(int (*work_pending)(void));

/*
 * Stop with an exit status through semihosting SYS_EXIT_EXTENDED: QEMU (with
 * -semihosting-config enable=on) exits with `code`. Only under QEMU or an attached debugger;
 * without one the breakpoint faults and the CPU parks in the fault handler.
 */
void hal_sys_exit(int code) __attribute__((noreturn));

#endif /* HAL_SYS_H */
