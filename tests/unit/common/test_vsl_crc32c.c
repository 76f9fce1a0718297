/* test_vsl_crc32c.c — CRC32C against published vectors and a bitwise reference.
 *
 * The reference below is the textbook one-bit-at-a-time algorithm, written
 * independently of the table and instruction versions, so agreement on random
 * buffers is evidence and not a tautology.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vsl_crc32c.h"

typedef uint32_t (*crc_fn)(uint32_t crc, const void *buf, size_t len);

struct impl {
	const char *name;
	crc_fn fn;
};

static uint32_t crc32c_bitwise(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int i = 0; i < 8; i++)
			crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
	}
	return ~crc;
}

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

static void fill_random(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(rng_next() >> 56);
}

/* Every implementation the machine can run; hw only when present. */
static size_t impls_get(struct impl *out)
{
	size_t n = 0;

	out[n++] = (struct impl){ "dispatch", vsl_crc32c };
	out[n++] = (struct impl){ "sw", vsl_crc32c_sw };
	if (vsl_crc32c_hw_available())
		out[n++] = (struct impl){ "hw", vsl_crc32c_hw };
	return n;
}

static void test_check_value(void **state)
{
	static const char check[] = "123456789";
	struct impl impls[3];
	size_t n = impls_get(impls);

	(void)state;
	assert_int_equal(crc32c_bitwise(0, check, 9), 0xE3069283u);
	for (size_t i = 0; i < n; i++) {
		print_message("# %s\n", impls[i].name);
		assert_int_equal(impls[i].fn(0, check, 9), 0xE3069283u);
	}
}

/* RFC 3720 (iSCSI) appendix B.4. */
static void test_rfc3720_vectors(void **state)
{
	uint8_t zeros[32], ones[32], inc[32], dec[32];
	struct impl impls[3];
	size_t n = impls_get(impls);

	(void)state;
	memset(zeros, 0x00, sizeof(zeros));
	memset(ones, 0xff, sizeof(ones));
	for (int i = 0; i < 32; i++) {
		inc[i] = (uint8_t)i;
		dec[i] = (uint8_t)(31 - i);
	}
	for (size_t i = 0; i < n; i++) {
		print_message("# %s\n", impls[i].name);
		assert_int_equal(impls[i].fn(0, zeros, 32), 0x8A9136AAu);
		assert_int_equal(impls[i].fn(0, ones, 32), 0x62A8AB43u);
		assert_int_equal(impls[i].fn(0, inc, 32), 0x46DD794Eu);
		assert_int_equal(impls[i].fn(0, dec, 32), 0x113FDB5Cu);
	}
}

/* A zero-length update must return the running value untouched, whatever it is
 * (buf may even be NULL then). */
static void test_empty(void **state)
{
	struct impl impls[3];
	size_t n = impls_get(impls);
	static const uint32_t vals[] = { 0, 1, 0xE3069283u, 0xFFFFFFFFu, 0x12345678u };

	(void)state;
	for (size_t i = 0; i < n; i++)
		for (size_t v = 0; v < sizeof(vals) / sizeof(vals[0]); v++)
			assert_int_equal(impls[i].fn(vals[v], NULL, 0), vals[v]);
}

static void test_sw_matches_reference(void **state)
{
	uint8_t buf[4096 + 8];

	(void)state;
	fill_random(buf, sizeof(buf));
	for (size_t len = 0; len <= 300; len++)
		for (size_t off = 0; off < 8; off++)
			assert_int_equal(vsl_crc32c_sw(0, buf + off, len),
					 crc32c_bitwise(0, buf + off, len));
	for (int i = 0; i < 200; i++) {
		size_t off = rng_next() % 8, len = rng_next() % 4097;
		uint32_t seed = (uint32_t)rng_next();

		assert_int_equal(vsl_crc32c_sw(seed, buf + off, len),
				 crc32c_bitwise(seed, buf + off, len));
	}
}

/* hw and sw on random data, every length up to 1 KiB plus large ones, every
 * misalignment within a word, and random running values. */
static void test_hw_matches_sw(void **state)
{
	static uint8_t buf[65536 + 64];

	(void)state;
	if (!vsl_crc32c_hw_available()) {
		print_message("# SSE4.2 crc32 not available on this CPU\n");
		skip();
	}
	fill_random(buf, sizeof(buf));
	for (size_t len = 0; len <= 1024; len++) {
		for (size_t off = 0; off < 16; off++) {
			uint32_t seed = (uint32_t)rng_next();

			assert_int_equal(vsl_crc32c_hw(seed, buf + off, len),
					 vsl_crc32c_sw(seed, buf + off, len));
		}
	}
	static const size_t big[] = { 4095, 4096, 4097, 8191, 32768 + 3, 65536 };
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		for (size_t off = 0; off < 8; off++) {
			assert_int_equal(vsl_crc32c_hw(0, buf + off, big[i]),
					 vsl_crc32c_sw(0, buf + off, big[i]));
			assert_int_equal(vsl_crc32c_hw(0, buf + off, big[i]),
					 crc32c_bitwise(0, buf + off, big[i]));
		}
	}
	assert_true(vsl_crc32c_hw_available()); /* cached answer is stable */
}

/* Checksumming in pieces equals one shot, for every split point of a buffer
 * and for a random chain of many pieces. */
static void test_incremental(void **state)
{
	uint8_t buf[777];
	struct impl impls[3];
	size_t n = impls_get(impls);

	(void)state;
	fill_random(buf, sizeof(buf));
	for (size_t i = 0; i < n; i++) {
		uint32_t whole = impls[i].fn(0, buf, sizeof(buf));

		print_message("# %s\n", impls[i].name);
		assert_int_equal(whole, crc32c_bitwise(0, buf, sizeof(buf)));
		for (size_t cut = 0; cut <= sizeof(buf); cut++) {
			uint32_t c = impls[i].fn(0, buf, cut);

			assert_int_equal(impls[i].fn(c, buf + cut, sizeof(buf) - cut), whole);
		}
		for (int round = 0; round < 50; round++) {
			uint32_t c = 0;
			size_t pos = 0;

			while (pos < sizeof(buf)) {
				size_t piece = 1 + rng_next() % 40;

				if (piece > sizeof(buf) - pos)
					piece = sizeof(buf) - pos;
				c = impls[i].fn(c, buf + pos, piece);
				pos += piece;
			}
			assert_int_equal(c, whole);
		}
	}
	/* Mixing implementations mid-stream is allowed: they share one state. */
	if (vsl_crc32c_hw_available()) {
		uint32_t c = vsl_crc32c_hw(0, buf, 100);

		c = vsl_crc32c_sw(c, buf + 100, 300);
		c = vsl_crc32c_hw(c, buf + 400, sizeof(buf) - 400);
		assert_int_equal(c, vsl_crc32c_sw(0, buf, sizeof(buf)));
	}
}

static void test_known_strings(void **state)
{
	static const char fox[] = "The quick brown fox jumps over the lazy dog";

	(void)state;
	assert_int_equal(vsl_crc32c(0, fox, strlen(fox)), crc32c_bitwise(0, fox, strlen(fox)));
	assert_int_equal(vsl_crc32c(0, fox, strlen(fox)), 0x22620404u);
	assert_int_equal(vsl_crc32c(0, "a", 1), 0xC1D04330u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_value),
		cmocka_unit_test(test_rfc3720_vectors),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_sw_matches_reference),
		cmocka_unit_test(test_hw_matches_sw),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_known_strings),
	};

	return cmocka_run_group_tests_name("vsl_crc32c", tests, NULL, NULL);
}
