/*
 * STM32F4 registers the HAL uses (RM0090 for the F405, RM0383 for the F411; the USART, RCC
 * and GPIO blocks used here are the same on both). Private to the HAL.
 */
#ifndef HAL_STM32F4_REGS_H
#define HAL_STM32F4_REGS_H

#include "cortex_m.h"

#define STM32_RCC_BASE           0x40023800u
#define STM32_RCC_CR             CM_REG(STM32_RCC_BASE + 0x00u)
#define STM32_RCC_PLLCFGR        CM_REG(STM32_RCC_BASE + 0x04u)
#define STM32_RCC_CFGR           CM_REG(STM32_RCC_BASE + 0x08u)
#define STM32_RCC_AHB1ENR        CM_REG(STM32_RCC_BASE + 0x30u)
#define STM32_RCC_APB1ENR        CM_REG(STM32_RCC_BASE + 0x40u)
#define STM32_RCC_APB2ENR        CM_REG(STM32_RCC_BASE + 0x44u)
#define STM32_RCC_PLLI2SCFGR     CM_REG(STM32_RCC_BASE + 0x84u)
#define STM32_RCC_AHB1ENR_GPIOA  (1u << 0)
#define STM32_RCC_AHB1ENR_GPIOB  (1u << 1)
#define STM32_RCC_AHB1ENR_DMA1   (1u << 21)
#define STM32_RCC_APB1ENR_SPI2   (1u << 14)
#define STM32_RCC_APB1ENR_PWR    (1u << 28)
#define STM32_RCC_APB2ENR_USART1 (1u << 4)

#define STM32_GPIO_BASE(port)    (0x40020000u + 0x400u * (port)) /* port 0 = A */
#define STM32_GPIO_MODER(port)   CM_REG(STM32_GPIO_BASE(port) + 0x00u)
#define STM32_GPIO_OSPEEDR(port) CM_REG(STM32_GPIO_BASE(port) + 0x08u)
#define STM32_GPIO_AFR(port, hi) CM_REG(STM32_GPIO_BASE(port) + 0x20u + 4u * (hi))
#define STM32_GPIO_PORT_A        0u
#define STM32_GPIO_PORT_B        1u
#define STM32_GPIO_MODE_AF       2u

/* USART1: SR, DR, BRR, CR1 */
#define STM32_USART1_BASE      0x40011000u
#define STM32_USART_SR         CM_REG(STM32_USART1_BASE + 0x00u)
#define STM32_USART_DR         CM_REG(STM32_USART1_BASE + 0x04u)
#define STM32_USART_BRR        CM_REG(STM32_USART1_BASE + 0x08u)
#define STM32_USART_CR1        CM_REG(STM32_USART1_BASE + 0x0Cu)
#define STM32_USART_SR_RXNE    (1u << 5)
#define STM32_USART_SR_TXE     (1u << 7)
#define STM32_USART_CR1_RE     (1u << 2)
#define STM32_USART_CR1_TE     (1u << 3)
#define STM32_USART_CR1_RXNEIE (1u << 5)
#define STM32_USART_CR1_UE     (1u << 13)

/* Put pin `pin` of `port` in alternate function `af`, fast output speed. */
static inline void stm32_gpio_af(uint32_t port, uint32_t pin, uint32_t af)
{
    STM32_GPIO_MODER(port) =
        (STM32_GPIO_MODER(port) & ~(3u << (2u * pin))) | (STM32_GPIO_MODE_AF << (2u * pin));
    STM32_GPIO_OSPEEDR(port) |= 2u << (2u * pin);
    const uint32_t shift = 4u * (pin % 8u);
    STM32_GPIO_AFR(port, pin / 8u) =
        (STM32_GPIO_AFR(port, pin / 8u) & ~(0xFu << shift)) | (af << shift);
}

#endif /* HAL_STM32F4_REGS_H */
