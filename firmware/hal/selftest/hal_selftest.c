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
#include <string.h>

#include "hal_sys.h"
#include "hal_timer.h"
#include "hal_uart.h"

#define SPIN_SHORT                      100000u
#define SPIN_LONG                       1100000u
#define SPIN_INSTRUCTIONS_PER_ITERATION 2u
#define STACK_PROBE_BYTES               2048u

static int s_failures;

/* Console output without stdio: newlib's printf family would pull in malloc. */
static void say(const char *text)
{
    hal_uart_write((const uint8_t *)text, strlen(text));
}

static void say_u32(uint32_t value)
{
    char digits[10];
    size_t n = 0;
    do {
        digits[sizeof digits - 1u - n++] = (char)('0' + value % 10u);
        value /= 10u;
    } while (value != 0u);
    hal_uart_write((const uint8_t *)&digits[sizeof digits - n], n);
}

static void check(int ok, const char *what)
{
    say(ok ? "PASS " : "FAIL ");
    say(what);
    say("\n");
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

static void __attribute__((noinline)) touch_stack(uint32_t seed)
{
    volatile uint8_t probe[STACK_PROBE_BYTES];
    for (uint32_t i = 0; i < sizeof probe; ++i) {
        probe[i] = (uint8_t)(seed + i);
    }
}

static void test_fpu(void)
{
    volatile float a = 1.5f;
    volatile float b = 2.25f;
    check(a * b == 3.375f, "fpu: 1.5f * 2.25f == 3.375f");
}

static void test_timer(void)
{
    say("timer unit: ");
    say(hal_timer_unit_name());
    say("\n");
    check(hal_timer_unit() == HAL_TIMER_UNIT_INSTRUCTIONS,
          "timer source: DWT reads 0 under QEMU, SysTick counts instructions");

    uint32_t short_cost = timed_spin(SPIN_SHORT);
    uint32_t long_cost = timed_spin(SPIN_LONG);
    uint32_t expected = (SPIN_LONG - SPIN_SHORT) * SPIN_INSTRUCTIONS_PER_ITERATION;
    uint32_t measured = long_cost - short_cost;
    /* Each reading is quantised to one SysTick tick (1e9 / CPU_HZ instructions). */
    uint32_t tolerance = 2u * (1000000000u / hal_sys_cpu_hz() + 1u);
    uint32_t error = measured > expected ? measured - expected : expected - measured;
    say("timer calibration: measured ");
    say_u32(measured);
    say(" expected ");
    say_u32(expected);
    say(" tolerance ");
    say_u32(tolerance);
    say("\n");
    check(error <= tolerance, "timer calibration within two SysTick ticks");
}

static void test_stack(void)
{
    uint32_t before = hal_sys_stack_used();
    touch_stack(before);
    uint32_t after = hal_sys_stack_used();
    say("stack used: ");
    say_u32(before);
    say(" -> ");
    say_u32(after);
    say(" of ");
    say_u32(hal_sys_stack_size());
    say("\n");
    /* The probe frame sits below main's frame, so the mark must pass the probe's size. */
    check(before > 0 && after > before && after >= STACK_PROBE_BYTES &&
              after < hal_sys_stack_size(),
          "stack high-water mark covers a 2 KB frame");
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
