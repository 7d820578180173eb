# CMSIS-DSP sources compiled into the firmware core (paths under the CMSIS-DSP tree), shared by
# the host build (firmware/host/Makefile) and the ARM build (PlatformIO). Only what the STFT
# needs, with the size-specific rfft init so the tables of other sizes stay out of flash.
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
