/* vsl_crc32c.c — CRC32C (Castagnoli), SSE4.2 instruction or slicing-by-8 tables.
 *
 * Both implementations work on the "raw" register (no pre/post inversion) and
 * the public entry points invert on the way in and out. That is what makes the
 * crc argument equal to the previous return value: ~ undoes the final ~ of the
 * previous call, so chaining resumes exactly where the last piece stopped, and
 * crc == 0 starts from the standard initial register 0xFFFFFFFF.
 */
#include "vsl_crc32c.h"

#include <endian.h>
#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define VSL_CRC32C_HAVE_X86 1
#else
#define VSL_CRC32C_HAVE_X86 0
#endif

/* Reflected Castagnoli polynomial. */
enum { CRC32C_POLY = 0x82F63B78u };

/* crc32c_table[k][n] is the raw CRC of byte n followed by k zero bytes, so eight
 * lookups (one per table) advance the register over eight input bytes at once.
 * 8 KiB, filled once by crc32c_table_init() under pthread_once: the once
 * provides the happens-before edge, so readers need no further ordering. */
static uint32_t crc32c_table[8][256];
static pthread_once_t crc32c_table_once = PTHREAD_ONCE_INIT;

static void crc32c_table_init(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;

		for (int bit = 0; bit < 8; bit++)
			c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1u)));
		crc32c_table[0][n] = c;
	}
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = crc32c_table[0][n];

		for (int k = 1; k < 8; k++) {
			c = (c >> 8) ^ crc32c_table[0][c & 0xff];
			crc32c_table[k][n] = c;
		}
	}
}

static uint32_t crc32c_sw_raw(uint32_t crc, const uint8_t *p, size_t len)
{
	const uint32_t(*t)[256] = crc32c_table;

	/* Byte steps until p is 8-aligned: the memcpy loads below are then
	 * aligned, which matters on the few CPUs where unaligned loads are slow. */
	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
		len--;
	}
	while (len >= 8) {
		uint64_t v;

		memcpy(&v, p, sizeof(v));
		/* The CRC is reflected: the first byte in memory is the least
		 * significant, hence little-endian whatever the host order. */
		v = le64toh(v) ^ crc;
		crc = t[7][v & 0xff] ^ t[6][(v >> 8) & 0xff] ^ t[5][(v >> 16) & 0xff] ^
		      t[4][(v >> 24) & 0xff] ^ t[3][(v >> 32) & 0xff] ^
		      t[2][(v >> 40) & 0xff] ^ t[1][(v >> 48) & 0xff] ^ t[0][v >> 56];
		p += 8;
		len -= 8;
	}
	while (len > 0) {
		crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
		len--;
	}
	return crc;
}

uint32_t vsl_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc32c_table_once, crc32c_table_init);
	return ~crc32c_sw_raw(~crc, buf, len);
}

#if VSL_CRC32C_HAVE_X86

#if defined(__x86_64__)
/* The crc32 instruction has a latency of 3 cycles but a throughput of one per
 * cycle, so a single dependency chain uses a third of the unit. Large buffers
 * are cut into blocks of three lanes of CRC32C_LANE bytes each, checksummed as
 * three independent chains, then joined. The raw (uninverted) CRC is linear:
 * raw(c, A || B) = shift(raw(c, A), |B|) ^ raw(0, B), where shift(x, n) is the
 * register after feeding n zero bytes. shift by one lane is a linear map of 32
 * bits, tabulated per input byte in crc32c_shift (4 KiB). */
enum { CRC32C_LANE = 256 };
static uint32_t crc32c_shift[4][256];
static pthread_once_t crc32c_shift_once = PTHREAD_ONCE_INIT;

__attribute__((target("sse4.2"))) static void crc32c_shift_init(void)
{
	for (int k = 0; k < 4; k++) {
		for (uint32_t b = 0; b < 256; b++) {
			uint64_t c = b << (8 * k);

			for (int i = 0; i < CRC32C_LANE / 8; i++)
				c = _mm_crc32_u64(c, 0);
			crc32c_shift[k][b] = (uint32_t)c;
		}
	}
}

static inline uint32_t crc32c_shift_lane(uint32_t c)
{
	return crc32c_shift[0][c & 0xff] ^ crc32c_shift[1][(c >> 8) & 0xff] ^
	       crc32c_shift[2][(c >> 16) & 0xff] ^ crc32c_shift[3][c >> 24];
}

/* Consumes whole blocks of 3 * CRC32C_LANE bytes from *p (8-aligned). */
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw_3way(uint32_t crc,
								 const uint8_t **pp, size_t *lenp)
{
	const uint8_t *p = *pp;
	size_t len = *lenp;

	while (len >= 3 * CRC32C_LANE) {
		uint64_t a = crc, b = 0, c = 0;

		for (size_t i = 0; i < CRC32C_LANE; i += 8) {
			uint64_t va, vb, vc;

			memcpy(&va, p + i, 8);
			memcpy(&vb, p + CRC32C_LANE + i, 8);
			memcpy(&vc, p + 2 * CRC32C_LANE + i, 8);
			a = _mm_crc32_u64(a, va);
			b = _mm_crc32_u64(b, vb);
			c = _mm_crc32_u64(c, vc);
		}
		crc = crc32c_shift_lane(crc32c_shift_lane((uint32_t)a) ^ (uint32_t)b) ^ (uint32_t)c;
		p += 3 * CRC32C_LANE;
		len -= 3 * CRC32C_LANE;
	}
	*pp = p;
	*lenp = len;
	return crc;
}
#endif

/* The target attribute lets this one function use crc32 without building the
 * whole file (or the project) with -msse4.2; it is only reached after the
 * cpuid check. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw_raw(uint32_t crc,
								 const uint8_t *p, size_t len)
{
	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		crc = _mm_crc32_u8(crc, *p++);
		len--;
	}
#if defined(__x86_64__)
	{
		uint64_t c64;

		if (len >= 3 * CRC32C_LANE) {
			pthread_once(&crc32c_shift_once, crc32c_shift_init);
			crc = crc32c_hw_3way(crc, &p, &len);
		}
		c64 = crc;
		while (len >= 8) {
			uint64_t v;

			memcpy(&v, p, sizeof(v));
			c64 = _mm_crc32_u64(c64, v);
			p += 8;
			len -= 8;
		}
		crc = (uint32_t)c64;
	}
#else
	while (len >= 4) {
		uint32_t v;

		memcpy(&v, p, sizeof(v));
		crc = _mm_crc32_u32(crc, v);
		p += 4;
		len -= 4;
	}
#endif
	while (len > 0) {
		crc = _mm_crc32_u8(crc, *p++);
		len--;
	}
	return crc;
}

/* 0 = not probed yet, 1 = absent, 2 = present. Probing is idempotent, so a
 * race between two first callers is harmless; relaxed atomics only keep the
 * access free of data races. */
static int crc32c_hw_state;

bool vsl_crc32c_hw_available(void)
{
	int state = __atomic_load_n(&crc32c_hw_state, __ATOMIC_RELAXED);

	if (state == 0) {
		__builtin_cpu_init();
		state = __builtin_cpu_supports("sse4.2") ? 2 : 1;
		__atomic_store_n(&crc32c_hw_state, state, __ATOMIC_RELAXED);
	}
	return state == 2;
}

uint32_t vsl_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	return ~crc32c_hw_raw(~crc, buf, len);
}

#else /* !VSL_CRC32C_HAVE_X86 */

bool vsl_crc32c_hw_available(void)
{
	return false;
}

/* No accelerated path on this architecture: the contract says callers check
 * vsl_crc32c_hw_available() first, but answering correctly costs nothing. */
uint32_t vsl_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	return vsl_crc32c_sw(crc, buf, len);
}

#endif /* VSL_CRC32C_HAVE_X86 */

uint32_t vsl_crc32c(uint32_t crc, const void *buf, size_t len)
{
	if (vsl_crc32c_hw_available())
		return vsl_crc32c_hw(crc, buf, len);
	return vsl_crc32c_sw(crc, buf, len);
}
