# Compiler flags and CMSIS-DSP sources of the firmware core: the one definition both builds
# read. The host build (firmware/host/Makefile, tests/fuzz/Makefile) includes this file; the
# ARM build (firmware/platform/builder/main.py, SCons) and the host tools read it with
# hushkit.build_config, whose parser accepts only what is used here: comments, blank lines
# and `NAME := words` with `\` continuations, so Make and Python see the same values.
# tests/test_build_config.py checks that both builds compile with them.

# The flags host-vs-device bit-exactness rests on: strict IEEE single precision (no fused
# multiply-add contraction, no fast-math), the same C dialect and optimisation level, so the
# host library and the Cortex-M firmware compute the same float features bit for bit.
HUSH_CORE_CFLAGS := -std=c11 -O2 -g -ffp-contract=off -fno-fast-math

# Project sources: every warning is an error, on both builds.
HUSH_STRICT_WARNINGS := -Wall -Wextra -Werror

# CMSIS configuration, the same on both builds: the portable C paths, no DSP-extension
# intrinsics in CMSIS-DSP, so ARM and host run the same float code. CMSIS-DSP itself builds
# with these warnings relaxed (third-party code).
HUSH_CMSIS_DEFINES := __GNUC_PYTHON__
HUSH_CMSIS_RELAXED_WARNINGS := -Wno-unused-parameter -Wno-sign-compare

# CMSIS-DSP sources compiled into the firmware core (paths under the CMSIS-DSP tree). Only
# what the STFT needs, with the size-specific rfft init so the tables of other sizes stay out
# of flash.
#
# The core calls arm_rfft_fast_init_128_f32 / _256_f32 (never the generic
# arm_rfft_fast_init_f32, which references every table: ~83 KB). Each size-specific init
# references only its own tables, so an ARM link with -ffunction-sections -fdata-sections
# -Wl,--gc-sections keeps the 128- and 256-point tables (the 64- and 128-point complex FFTs
# they are built on) and drops the rest of arm_common_tables.c / arm_const_structs.c.
#
# Bit-exactness: these f32 paths are plain C on Cortex-M4/M7 and on the host (the DSP
# extension only changes fixed-point code). On Helium cores (M55) arm_math_types.h selects
# MVE f32 kernels that round differently; define ARM_MATH_AUTOVECTORIZE there to keep the
# scalar C path the host runs.
CMSIS_DSP_SOURCES := \
    Source/TransformFunctions/arm_rfft_fast_f32.c \
    Source/TransformFunctions/arm_rfft_fast_init_f32.c \
    Source/TransformFunctions/arm_cfft_f32.c \
    Source/TransformFunctions/arm_cfft_init_f32.c \
    Source/TransformFunctions/arm_cfft_radix8_f32.c \
    Source/TransformFunctions/arm_bitreversal2.c \
    Source/CommonTables/arm_common_tables.c \
    Source/CommonTables/arm_const_structs.c
