/* vsl_crc32c.h — CRC32C (Castagnoli, reflected polynomial 0x82F63B78).
 *
 * Used for every on-disk metadata block (blockdev, lvm, raid). The SSE4.2 crc32
 * instruction is used where the CPU has it (checked once with cpuid); a
 * slicing-by-8 table implementation is the fallback. Both give identical results.
 * Thread-safe, no allocation.
 *
 * Convention: vsl_crc32c(0, "123456789", 9) == 0xE3069283 (the standard check
 * value). The crc argument is the previous return value, so a buffer may be
 * checksummed in pieces: vsl_crc32c(vsl_crc32c(0, a, n), b, m) equals the CRC of
 * a followed by b.
 */
#ifndef VSL_CRC32C_H
#define VSL_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

uint32_t vsl_crc32c(uint32_t crc, const void *buf, size_t len);

/* The two implementations, exposed for tests and benchmarks. */
uint32_t vsl_crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* Only call when vsl_crc32c_hw_available(). */
uint32_t vsl_crc32c_hw(uint32_t crc, const void *buf, size_t len);
bool vsl_crc32c_hw_available(void);

#endif /* VSL_CRC32C_H */
