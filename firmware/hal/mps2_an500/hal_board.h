/*
 * MPS2 FPGA image AN500 (Cortex-M7): the AN386 map (hal/mps2), except that its 16 MB PSRAM,
 * where the virtual codec keeps its tapes, sits at 0x60000000.
 */
#ifndef HAL_BOARD_AN500_H
#define HAL_BOARD_AN500_H

#define HAL_BOARD_TAPE_BASE 0x60000000u
#include "../mps2/hal_board.h"

#endif /* HAL_BOARD_AN500_H */
