/*
 * STM32F411 clock tree for the Black Pill (RM0383 section 6). NOT YET VERIFIED ON HARDWARE.
 *
 * HSE 25 MHz -> PLL (M = 25, N = 192, P = 2, Q = 4): SYSCLK 96 MHz, 48 MHz for USB;
 * AHB 96 MHz, APB1 48 MHz (limit 50), APB2 96 MHz; flash 3 wait states (90-100 MHz at 3.3 V),
 * voltage scale 1. Runs from the reset handler before main(), through hal_board_init().
 */
#include <stdint.h>

#include "hal_board.h"
#include "stm32f4_regs.h"

#define FLASH_ACR             CM_REG(0x40023C00u)
#define FLASH_ACR_LATENCY_3WS 3u
#define FLASH_ACR_PRFTEN      (1u << 8)
#define FLASH_ACR_ICEN        (1u << 9)
#define FLASH_ACR_DCEN        (1u << 10)
#define PWR_CR                CM_REG(0x40007000u)
#define PWR_CR_VOS_SCALE1     (3u << 14)

#define RCC_CR_HSEON        (1u << 16)
#define RCC_CR_HSERDY       (1u << 17)
#define RCC_CR_PLLON        (1u << 24)
#define RCC_CR_PLLRDY       (1u << 25)
#define RCC_PLLCFGR_SRC_HSE (1u << 22)
#define RCC_CFGR_SW_PLL     2u
#define RCC_CFGR_SWS_MASK   (3u << 2)
#define RCC_CFGR_SWS_PLL    (2u << 2)
#define RCC_CFGR_PPRE1_DIV2 (4u << 10)

#define PLL_M      (HAL_BOARD_HSE_HZ / 1000000u) /* 1 MHz at the VCO input */
#define PLL_N      192u
#define PLL_P_DIV2 0u
#define PLL_Q      4u
_Static_assert(1000000u * PLL_N / 2u == HAL_BOARD_CPU_HZ, "PLL does not give HAL_BOARD_CPU_HZ");

void hal_board_init(void);

void hal_board_init(void)
{
    STM32_RCC_APB1ENR |= STM32_RCC_APB1ENR_PWR;
    PWR_CR |= PWR_CR_VOS_SCALE1;
    STM32_RCC_CR |= RCC_CR_HSEON;
    while (!(STM32_RCC_CR & RCC_CR_HSERDY)) {
    }
    STM32_RCC_PLLCFGR =
        PLL_M | (PLL_N << 6) | (PLL_P_DIV2 << 16) | RCC_PLLCFGR_SRC_HSE | (PLL_Q << 24);
    STM32_RCC_CR |= RCC_CR_PLLON;
    while (!(STM32_RCC_CR & RCC_CR_PLLRDY)) {
    }
    /* Wait states before the clock goes up. */
    FLASH_ACR = FLASH_ACR_LATENCY_3WS | FLASH_ACR_PRFTEN | FLASH_ACR_ICEN | FLASH_ACR_DCEN;
    STM32_RCC_CFGR = RCC_CFGR_PPRE1_DIV2 | RCC_CFGR_SW_PLL;
    while ((STM32_RCC_CFGR & RCC_CFGR_SWS_MASK) != RCC_CFGR_SWS_PLL) {
    }
}
