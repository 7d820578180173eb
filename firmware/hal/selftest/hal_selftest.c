/*
 * HAL self-test, run under QEMU with
 *   -icount shift=0,align=off,sleep=off -semihosting-config enable=on,target=native
 * Prints one line per check on UART0 and exits (semihosting) with the number of failed
 * checks, so the host test reads the verdict from QEMU's exit status.
 *
 * Timer calibration: a loop of exactly 2 instructions per iteration (SUBS + BNE) is timed
 * for two lengths; the difference of the two readings cancels the fixed cost of the timer
 * calls and must equal 2 instructions per extra iteration within two SysTick ticks (the
 * quantisation of each reading).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hal_sys.h"
#include "hal_timer.h"
#include "hal_uart.h"

#define SPIN_SHORT 100000u
#define SPIN_LONG 1100000u
#define SPIN_INSTRUCTIONS_PER_ITERATION 2u
#define STACK_PROBE_BYTES 2048u

static int s_failures;

static void say(const char *text)
{
    hal_uart_write((const uint8_t *)text, strlen(text));
}

static void check(int ok, const char *what, const char *detail)
{
    char line[160];
    snprintf(line, sizeof line, "%s %s: %s\n", ok ? "PASS" : "FAIL", what, detail);
    say(line);
    s_failures += !ok;
}

static void __attribute__((noinline)) spin(uint32_t iterations)
{
    __asm volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(iterations) : : "cc");
}

static uint32_t timed_spin(uint32_t iterations)
{
    hal_timer_mark_t start = hal_timer_start();
    spin(iterations);
    return hal_timer_elapsed(start);
}

static uint32_t __attribute__((noinline)) touch_stack(uint32_t seed)
{
    volatile uint8_t probe[STACK_PROBE_BYTES];
    for (uint32_t i = 0; i < sizeof probe; ++i) {
        probe[i] = (uint8_t)(seed + i);
    }
    return probe[seed % sizeof probe];
}

static void test_fpu(void)
{
    volatile float a = 1.5f;
    volatile float b = 2.25f;
    check(a * b == 3.375f, "fpu", "1.5f * 2.25f == 3.375f");
}

static void test_timer(void)
{
    char detail[120];
    check(hal_timer_unit() == HAL_TIMER_UNIT_INSTRUCTIONS, "timer source",
          hal_timer_unit() == HAL_TIMER_UNIT_INSTRUCTIONS
              ? "DWT reads 0 under QEMU: SysTick, in instructions"
              : "DWT runs: cycles (not an emulator?)");

    uint32_t short_cost = timed_spin(SPIN_SHORT);
    uint32_t long_cost = timed_spin(SPIN_LONG);
    uint32_t expected = (SPIN_LONG - SPIN_SHORT) * SPIN_INSTRUCTIONS_PER_ITERATION;
    uint32_t measured = long_cost - short_cost;
    /* Each reading is quantised to one SysTick tick (1e9 / CPU_HZ instructions). */
    uint32_t tolerance = 2u * (1000000000u / hal_sys_cpu_hz() + 1u);
    uint32_t error = measured > expected ? measured - expected : expected - measured;
    snprintf(detail, sizeof detail, "measured %lu expected %lu (+-%lu) instructions",
             (unsigned long)measured, (unsigned long)expected, (unsigned long)tolerance);
    check(error <= tolerance, "timer calibration", detail);
}

static void test_stack(void)
{
    char detail[120];
    uint32_t before = hal_sys_stack_used();
    uint32_t sink = touch_stack(before);
    uint32_t after = hal_sys_stack_used();
    snprintf(detail, sizeof detail, "%lu -> %lu of %lu bytes after a %u-byte frame (%lu)",
             (unsigned long)before, (unsigned long)after, (unsigned long)hal_sys_stack_size(),
             STACK_PROBE_BYTES, (unsigned long)(sink & 1u));
    check(before > 0 && after >= before + STACK_PROBE_BYTES && after < hal_sys_stack_size(),
          "stack high-water mark", detail);
}

int main(void)
{
    hal_timer_init();
    hal_uart_init();
    say("hushkit HAL self-test on ");
    say(hal_sys_board_name());
    say("\n");
    test_fpu();
    test_timer();
    test_stack();
    say(s_failures ? "self-test FAILED\n" : "self-test passed\n");
    return s_failures;
}
