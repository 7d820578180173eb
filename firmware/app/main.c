/*
 * hushkit firmware main loop: bytes from UART0 -> frame decoder -> command handler -> reply,
 * and captured hops of the real-time audio path (hal_audio) -> pipeline -> playback.
 *
 * The model comes from the export directory compiled into this build (model_data.c,
 * hush_model_config.h). If the pipeline cannot be set up (model rejected, arena too small),
 * the firmware still runs the command loop: INFO reports the error, model commands answer
 * MODEL_NOT_LOADED.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "app_flash.h"
#include "app_model.h"
#include "app_watchdog.h"
#include "audio_path.h"
#include "commands.h"
#include "hal_sys.h"
#include "hal_timer.h"
#include "hal_uart.h"
#include "hush_model_config.h"
#include "hush_pipeline.h"
#include "model_data.h"

#ifndef HUSH_FW_VERSION
#error "HUSH_FW_VERSION comes from the build (the project version in pyproject.toml)"
#endif
#ifndef HUSH_TARGET
#error "HUSH_TARGET comes from the build (the PlatformIO environment name)"
#endif

/* Bytes read from the UART ring per pass of the loop. */
#define RX_CHUNK_BYTES 64u

static alignas(16) uint8_t s_pipeline_mem[PIPELINE_MEM_BYTES];
/* Tensor arena, sized by the exporter for this model (HUSH_ARENA_BYTES). */
static alignas(16) uint8_t s_arena[HUSH_ARENA_BYTES];
static alignas(8) uint8_t s_cmd_mem[HUSH_CMD_MEM_BYTES];
static uint8_t s_reply[HUSH_CMD_REPLY_BYTES];

/* SHA-256 of the model in use: the compiled-in one, or a pushed one (app_model.h). */
static char s_model_sha[APP_MODEL_SHA_HEX] = HUSH_MODEL_SHA256;
static int s_model_region = -1;

static const hush_cmd_device_info s_info = {
    .fw_version = HUSH_FW_VERSION,
    .target = HUSH_TARGET,
    .model_sha256 = s_model_sha,
    .sample_rate = HUSH_SAMPLE_RATE,
    .n_fft = HUSH_N_FFT,
};

/* Set up the pipeline in static storage. *out is the pipeline whenever its storage is
 * usable, also when init failed: the command layer then reports the init status. */
static int pipeline_setup(hush_pipeline **out)
{
    if (hush_pipeline_get_size() > sizeof s_pipeline_mem) {
        *out = NULL;
        return HUSH_E_MEMORY; /* the static storage is smaller than the core needs */
    }
    *out = (hush_pipeline *)s_pipeline_mem;
    const uint8_t *model = hush_model_data;
    size_t model_len = hush_model_data_len;
    s_model_region = app_model_boot_choice(&model, &model_len, s_model_sha);
    int rc = hush_pipeline_init(*out, sizeof s_pipeline_mem, HUSH_N_FFT, model, model_len, s_arena,
                                sizeof s_arena);
    if (rc != HUSH_PIPELINE_OK && s_model_region >= 0) {
        /* A recorded pushed model that no longer sets up: run the compiled-in one. */
        s_model_region = -1;
        memcpy(s_model_sha, HUSH_MODEL_SHA256, sizeof HUSH_MODEL_SHA256);
        rc = hush_pipeline_init(*out, sizeof s_pipeline_mem, HUSH_N_FFT, hush_model_data,
                                hush_model_data_len, s_arena, sizeof s_arena);
    }
    return rc;
}

static int work_pending(void)
{
    return hal_uart_rx_available() != 0 || hush_audio_pending();
}

int main(void)
{
    hal_timer_init();
    hal_uart_init();

    hush_pipeline *pipeline;
    int init_status = pipeline_setup(&pipeline);
    app_flash_start(init_status == HUSH_PIPELINE_OK);
    hush_cmd_ctx *cmd = hush_cmd_init(s_cmd_mem, sizeof s_cmd_mem, pipeline, init_status, &s_info);
    if (cmd == NULL) {
        /* The command context outgrew HUSH_CMD_MEM_BYTES: a build inconsistency, not a
         * runtime condition; stop with a distinct status under QEMU. */
        hal_sys_exit(2);
    }

    hush_audio_init(init_status == HUSH_PIPELINE_OK ? pipeline : NULL);
    app_model_attach(cmd, s_pipeline_mem, sizeof s_pipeline_mem, s_arena, sizeof s_arena,
                     s_model_sha, s_model_region);
    if (app_watchdog_start()) {
        /* The last run hung: keep the audio safe (passed through) until the host says. */
        hush_cmd_set_bypass(cmd, 1);
    }

    uint8_t rx[RX_CHUNK_BYTES];
    for (;;) {
        app_watchdog_enter(HUSH_WDT_PHASE_LOOP);
        /* Audio first: a captured hop has a deadline, a request only a host waiting. */
        size_t reply_len = hush_audio_service(s_reply, sizeof s_reply);
        if (reply_len != 0) {
            hal_uart_write(s_reply, reply_len);
        }
        const size_t n = hal_uart_read(rx, sizeof rx);
        for (size_t i = 0; i < n; ++i) {
            reply_len = hush_cmd_feed(cmd, rx[i], s_reply, sizeof s_reply);
            if (reply_len != 0) {
                hal_uart_write(s_reply, reply_len);
            }
        }
        if (n == 0) {
            app_watchdog_enter(HUSH_WDT_PHASE_IDLE);
            hal_sys_sleep_unless(work_pending);
        }
    }
}
