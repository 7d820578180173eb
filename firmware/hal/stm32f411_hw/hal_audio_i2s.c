/*
 * hal_audio on STM32F411 I2S2 full duplex with circular DMA (RM0383 sections 9 and 20).
 * NOT YET VERIFIED ON HARDWARE: it builds here, no board has run it.
 *
 * I2S2 is the master transmitter (PB10 CK, PB12 WS, PB15 SD -> the DAC/amplifier, e.g.
 * MAX98357A or PCM5102A) and I2S2ext the slave receiver on the same clocks (PB14 SD <- the
 * MEMS microphone, e.g. INMP441 with L/R tied low = left slot). Philips I2S, 24-bit data in
 * 32-bit slots, stereo frames; the microphone is read from the left slot (its top 16 bits),
 * the output goes to both slots.
 *
 * PLLI2S: 25 MHz / M 25 * N 256 / R 2 = 128 MHz; Fs = 128 MHz / (64 * (2 * 62 + 1)) =
 * 16000 Hz exactly (I2SDIV 62, ODD 1, no master clock output).
 *
 * DMA1 stream 3 channel 3 (I2S2ext RX) and stream 4 channel 0 (SPI2 TX) run circular over
 * two hop-sized halves. The receive stream's half-transfer and transfer-complete interrupts
 * are the hop interrupts of hal_audio.h: each marks one captured half, clears the transmit
 * half that has just been played (so a hop not handed over in time plays silence) and counts.
 */
#include <stdint.h>
#include <string.h>

#include "hal_audio.h"
#include "hal_board.h"
#include "stm32f4_regs.h"

#define WORDS_PER_FRAME 4u /* two 32-bit slots as four 16-bit DMA transfers */
#define HALF_WORDS      (HAL_AUDIO_MAX_HOP * WORDS_PER_FRAME)

#define SPI2_BASE         0x40003800u
#define I2S2EXT_BASE      0x40003400u
#define SPI_CR2(base)     CM_REG((base) + 0x04u)
#define SPI_DR(base)      ((base) + 0x0Cu)
#define SPI_I2SCFGR(base) CM_REG((base) + 0x1Cu)
#define SPI_I2SPR(base)   CM_REG((base) + 0x20u)
#define SPI_CR2_RXDMAEN   (1u << 0)
#define SPI_CR2_TXDMAEN   (1u << 1)
#define I2SCFGR_CHLEN_32  (1u << 0)
#define I2SCFGR_DATLEN_24 (1u << 1)
#define I2SCFGR_SLAVE_RX  (1u << 8)
#define I2SCFGR_MASTER_TX (2u << 8)
#define I2SCFGR_I2SE      (1u << 10)
#define I2SCFGR_I2SMOD    (1u << 11)
#define I2SPR_DIV         62u
#define I2SPR_ODD         (1u << 8)
#define I2S_SAMPLE_RATE   16000u

#define PLLI2S_M         (HAL_BOARD_HSE_HZ / 1000000u)
#define PLLI2S_N         256u
#define PLLI2S_R         2u
#define RCC_CR_PLLI2SON  (1u << 26)
#define RCC_CR_PLLI2SRDY (1u << 27)
_Static_assert(1000000u * PLLI2S_N / PLLI2S_R / (64u * (2u * I2SPR_DIV + 1u)) == I2S_SAMPLE_RATE,
               "PLLI2S and I2SPR do not give the sample rate");

#define DMA1_BASE             0x40026000u
#define DMA_LISR              CM_REG(DMA1_BASE + 0x00u)
#define DMA_LIFCR             CM_REG(DMA1_BASE + 0x08u)
#define DMA_SCR(s)            CM_REG(DMA1_BASE + 0x10u + 0x18u * (s))
#define DMA_SNDTR(s)          CM_REG(DMA1_BASE + 0x14u + 0x18u * (s))
#define DMA_SPAR(s)           CM_REG(DMA1_BASE + 0x18u + 0x18u * (s))
#define DMA_SM0AR(s)          CM_REG(DMA1_BASE + 0x1Cu + 0x18u * (s))
#define DMA_RX_STREAM         3u
#define DMA_TX_STREAM         4u
#define DMA_RX_CHANNEL        3u
#define DMA_TX_CHANNEL        0u
#define DMA_CR_EN             (1u << 0)
#define DMA_CR_HTIE           (1u << 3)
#define DMA_CR_TCIE           (1u << 4)
#define DMA_CR_DIR_M2P        (1u << 6)
#define DMA_CR_CIRC           (1u << 8)
#define DMA_CR_MINC           (1u << 10)
#define DMA_CR_16BIT          ((1u << 11) | (1u << 13)) /* PSIZE and MSIZE */
#define DMA_CR_PL_HIGH        (2u << 16)
#define DMA_CR_CHSEL(c)       ((c) << 25)
#define DMA_LISR_HTIF3        (1u << 26)
#define DMA_LISR_TCIF3        (1u << 27)
#define DMA_LIFCR_STREAM3_ALL (0x3Du << 22)
#define AUDIO_IRQ_PRIORITY    0x40u

#define GPIO_AF_I2S2    5u
#define GPIO_AF_I2S2EXT 6u

static uint16_t s_rx[2 * HALF_WORDS];
static uint16_t s_tx[2 * HALF_WORDS];
static uint32_t s_hop;
static uint32_t s_n_hops;
static volatile uint32_t s_irqs;
static volatile uint32_t s_underruns;
static volatile int s_running;
static uint8_t s_tx_filled[2];

void hal_i2s_dma_isr(void);

hal_audio_source_t hal_audio_source(void)
{
    return HAL_AUDIO_SOURCE_I2S_DMA;
}

void hal_i2s_dma_isr(void)
{
    const uint32_t flags = DMA_LISR & (DMA_LISR_HTIF3 | DMA_LISR_TCIF3);
    DMA_LIFCR = DMA_LIFCR_STREAM3_ALL;
    if (flags == 0u) {
        return;
    }
    const uint32_t m = s_irqs + 1u;
    /* The transmit half of period m-1 has just been played; period m+1 plays it again. */
    const uint32_t done = (m - 1u) & 1u;
    if (m >= HAL_AUDIO_PATH_DELAY_HOPS && !s_tx_filled[m & 1u]) {
        s_underruns++; /* the half starting now was not handed over */
    }
    s_tx_filled[m & 1u] = 0;
    memset(&s_tx[done * s_hop * WORDS_PER_FRAME], 0, s_hop * WORDS_PER_FRAME * 2u);
    s_irqs = m;
    if (s_n_hops != 0u && m >= s_n_hops) {
        hal_audio_stop();
    }
}

static void pll_i2s_start(void)
{
    STM32_RCC_PLLI2SCFGR = PLLI2S_M | (PLLI2S_N << 6) | (PLLI2S_R << 28);
    STM32_RCC_CR |= RCC_CR_PLLI2SON;
    while (!(STM32_RCC_CR & RCC_CR_PLLI2SRDY)) {
    }
}

static void dma_stream(uint32_t stream, uint32_t cr, uint32_t periph, uint16_t *mem, uint32_t words)
{
    DMA_SCR(stream) = 0;
    while (DMA_SCR(stream) & DMA_CR_EN) {
    }
    DMA_SPAR(stream) = periph;
    DMA_SM0AR(stream) = (uint32_t)(uintptr_t)mem;
    DMA_SNDTR(stream) = words;
    DMA_SCR(stream) = cr;
    DMA_SCR(stream) = cr | DMA_CR_EN;
}

int hal_audio_start(uint32_t sample_rate, uint32_t hop, uint32_t n_hops)
{
    if (s_running) {
        return HAL_AUDIO_E_BUSY;
    }
    if (sample_rate != I2S_SAMPLE_RATE || hop == 0u || hop > HAL_AUDIO_MAX_HOP) {
        return HAL_AUDIO_E_CONFIG;
    }
    s_hop = hop;
    s_n_hops = n_hops;
    s_irqs = 0;
    s_underruns = 0;
    s_tx_filled[0] = s_tx_filled[1] = 0;
    memset(s_tx, 0, sizeof s_tx);

    STM32_RCC_AHB1ENR |= STM32_RCC_AHB1ENR_GPIOB | STM32_RCC_AHB1ENR_DMA1;
    STM32_RCC_APB1ENR |= STM32_RCC_APB1ENR_SPI2;
    stm32_gpio_af(STM32_GPIO_PORT_B, 10u, GPIO_AF_I2S2);    /* CK */
    stm32_gpio_af(STM32_GPIO_PORT_B, 12u, GPIO_AF_I2S2);    /* WS */
    stm32_gpio_af(STM32_GPIO_PORT_B, 15u, GPIO_AF_I2S2);    /* SD -> DAC */
    stm32_gpio_af(STM32_GPIO_PORT_B, 14u, GPIO_AF_I2S2EXT); /* ext SD <- microphone */
    pll_i2s_start();

    const uint32_t fmt = I2SCFGR_I2SMOD | I2SCFGR_CHLEN_32 | I2SCFGR_DATLEN_24;
    SPI_I2SCFGR(SPI2_BASE) = 0;
    SPI_I2SCFGR(I2S2EXT_BASE) = 0;
    SPI_I2SPR(SPI2_BASE) = I2SPR_DIV | I2SPR_ODD;
    SPI_I2SCFGR(SPI2_BASE) = fmt | I2SCFGR_MASTER_TX;
    SPI_I2SCFGR(I2S2EXT_BASE) = fmt | I2SCFGR_SLAVE_RX;
    SPI_CR2(SPI2_BASE) = SPI_CR2_TXDMAEN;
    SPI_CR2(I2S2EXT_BASE) = SPI_CR2_RXDMAEN;

    const uint32_t words = 2u * hop * WORDS_PER_FRAME;
    const uint32_t common = DMA_CR_CIRC | DMA_CR_MINC | DMA_CR_16BIT | DMA_CR_PL_HIGH;
    DMA_LIFCR = DMA_LIFCR_STREAM3_ALL;
    dma_stream(DMA_RX_STREAM, common | DMA_CR_CHSEL(DMA_RX_CHANNEL) | DMA_CR_HTIE | DMA_CR_TCIE,
               SPI_DR(I2S2EXT_BASE), s_rx, words);
    dma_stream(DMA_TX_STREAM, common | DMA_CR_CHSEL(DMA_TX_CHANNEL) | DMA_CR_DIR_M2P,
               SPI_DR(SPI2_BASE), s_tx, words);
    cm_nvic_enable(HAL_BOARD_AUDIO_IRQ, AUDIO_IRQ_PRIORITY);
    s_running = 1;
    /* The slave first, so it is ready for the master's first clock edge. */
    SPI_I2SCFGR(I2S2EXT_BASE) |= I2SCFGR_I2SE;
    SPI_I2SCFGR(SPI2_BASE) |= I2SCFGR_I2SE;
    return HAL_AUDIO_OK;
}

void hal_audio_stop(void)
{
    SPI_I2SCFGR(SPI2_BASE) &= ~I2SCFGR_I2SE;
    SPI_I2SCFGR(I2S2EXT_BASE) &= ~I2SCFGR_I2SE;
    DMA_SCR(DMA_RX_STREAM) = 0;
    DMA_SCR(DMA_TX_STREAM) = 0;
    s_running = 0;
}

int hal_audio_running(void)
{
    return s_running;
}

uint32_t hal_audio_hops_captured(void)
{
    return s_irqs;
}

uint32_t hal_audio_underruns(void)
{
    return s_underruns;
}

int hal_audio_read_hop(uint32_t index, int16_t *dst)
{
    int rc = HAL_AUDIO_OK;
    cm_irq_disable();
    const uint32_t captured = s_irqs;
    if (captured <= index) {
        rc = HAL_AUDIO_E_NOT_READY;
    } else if (captured - index > 1u) {
        rc = HAL_AUDIO_E_GONE; /* the DMA is refilling that half already */
    } else {
        const uint16_t *src = &s_rx[(index & 1u) * s_hop * WORDS_PER_FRAME];
        for (uint32_t i = 0; i < s_hop; i++) {
            dst[i] = (int16_t)src[WORDS_PER_FRAME * i]; /* left slot, top 16 bits */
        }
    }
    cm_irq_enable();
    return rc;
}

/* Microseconds since start: whole hops from the interrupt count, the rest from the DMA's
 * remaining transfers (NDTR counts down over both halves). */
static int64_t time_us_locked(void)
{
    const uint32_t half_words = s_hop * WORDS_PER_FRAME;
    const uint32_t into = (2u * half_words - DMA_SNDTR(DMA_RX_STREAM)) % half_words;
    const uint64_t samples = (uint64_t)s_irqs * s_hop + into / WORDS_PER_FRAME;
    return (int64_t)(samples * 1000000u / I2S_SAMPLE_RATE);
}

int hal_audio_write_hop(uint32_t index, const int16_t *src, int32_t *lateness_us)
{
    int rc = HAL_AUDIO_OK;
    cm_irq_disable();
    const int64_t deadline = (int64_t)(((uint64_t)index + HAL_AUDIO_PATH_DELAY_HOPS) * s_hop *
                                       1000000u / I2S_SAMPLE_RATE);
    const int64_t late = time_us_locked() - deadline;
    if (s_irqs >= index + HAL_AUDIO_PATH_DELAY_HOPS || s_irqs < index + 1u) {
        rc = HAL_AUDIO_E_LATE; /* its half is playing (or not free yet): drop it */
    } else {
        uint16_t *dst = &s_tx[(index & 1u) * s_hop * WORDS_PER_FRAME];
        for (uint32_t i = 0; i < s_hop; i++) {
            const uint16_t v = (uint16_t)src[i];
            dst[WORDS_PER_FRAME * i] = v; /* left slot, top 16 bits */
            dst[WORDS_PER_FRAME * i + 1u] = 0;
            dst[WORDS_PER_FRAME * i + 2u] = v; /* right slot */
            dst[WORDS_PER_FRAME * i + 3u] = 0;
        }
        s_tx_filled[index & 1u] = 1;
    }
    cm_irq_enable();
    if (lateness_us != NULL) {
        *lateness_us = (int32_t)late;
    }
    return rc;
}

uint32_t hal_audio_time_us(void)
{
    cm_irq_disable();
    const int64_t t = time_us_locked();
    cm_irq_enable();
    return (uint32_t)t;
}

size_t hal_audio_tape_samples(void)
{
    return 0;
}

int hal_audio_tape_write(size_t offset, const int16_t *src, size_t count)
{
    (void)offset;
    (void)src;
    (void)count;
    return HAL_AUDIO_E_RANGE;
}

int hal_audio_tape_read(size_t offset, int16_t *dst, size_t count)
{
    (void)offset;
    (void)dst;
    (void)count;
    return HAL_AUDIO_E_RANGE;
}
