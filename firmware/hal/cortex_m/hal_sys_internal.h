/* Values shared by the start-up code and hal_sys.c. */
#ifndef HAL_SYS_INTERNAL_H
#define HAL_SYS_INTERNAL_H

/* Stack paint: a value unlikely to be a real stack word (not 0, not a small integer). */
#define HAL_STACK_PAINT 0xA5C3A5C3u

/* Exit status reported when an unexpected exception or fault stops the firmware. */
#define HAL_FAULT_EXIT_CODE 0xFF

#endif /* HAL_SYS_INTERNAL_H */
