# CMSIS-DSP sources compiled into the firmware core (paths under the CMSIS-DSP tree), shared by
# the host build (firmware/host/Makefile) and the ARM build (PlatformIO). Only what the STFT
# needs, with the size-specific rfft init so the tables of other sizes stay out of flash.
CMSIS_DSP_SOURCES :=
