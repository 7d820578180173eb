/*
 * hal_audio for boards without a real-time audio path (yet): nothing starts, nothing is
 * captured. The serial PROCESS path works as everywhere.
 */
#include <stddef.h>
#include <stdint.h>

#include "hal_audio.h"

hal_audio_source_t hal_audio_source(void)
{
    return HAL_AUDIO_SOURCE_NONE;
}

int hal_audio_start(uint32_t sample_rate, uint32_t hop, uint32_t n_hops)
{
    (void)sample_rate;
    (void)hop;
    (void)n_hops;
    return HAL_AUDIO_E_CONFIG;
}

void hal_audio_stop(void)
{
}

int hal_audio_running(void)
{
    return 0;
}

uint32_t hal_audio_hops_captured(void)
{
    return 0;
}

uint32_t hal_audio_underruns(void)
{
    return 0;
}

int hal_audio_read_hop(uint32_t index, int16_t *dst)
{
    (void)index;
    (void)dst;
    return HAL_AUDIO_E_NOT_READY;
}

int hal_audio_write_hop(uint32_t index, const int16_t *src, int32_t *lateness_us)
{
    (void)index;
    (void)src;
    if (lateness_us != NULL) {
        *lateness_us = 0;
    }
    return HAL_AUDIO_E_LATE;
}

uint32_t hal_audio_time_us(void)
{
    return 0;
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
