/* vsl_pcapng.h — a pcapng (RFC draft "PCAP Next Generation") file writer.
 *
 * Writes a Section Header Block, one Interface Description Block per interface
 * added (link type Ethernet, nanosecond timestamps via if_tsresol = 9, the
 * interface name in if_name) and Enhanced Packet Blocks. tshark/Wireshark read
 * the result. Fields are in host byte order (little-endian on x86; the SHB's
 * byte-order magic tells readers), every block 32-bit aligned.
 *
 * Used by `vswitchctl capture` on the control thread: a writer is used by one
 * thread at a time. Writes are buffered through stdio; vsl_pcapng_flush() pushes
 * them to the file.
 *
 * Errors are sticky: after the first failed write (e.g. -ENOSPC) the file may
 * end in a partial block, so every later call returns that same -errno without
 * writing, and vsl_pcapng_close() reports it.
 */
#ifndef VSL_PCAPNG_H
#define VSL_PCAPNG_H

#include <stddef.h>
#include <stdint.h>

struct vsl_pcapng;

enum {
	VSL_PCAPNG_LINKTYPE_ETHERNET = 1,
	VSL_PCAPNG_DEFAULT_SNAPLEN = 262144,
};

/* Creates (truncates) `path` and writes the section header; `app` names the
 * writing application in shb_userappl (may be NULL). Returns NULL with errno set. */
struct vsl_pcapng *vsl_pcapng_open(const char *path, const char *app);
/* Adds an interface; returns its id (0, 1, ...) for vsl_pcapng_write(), or -errno.
 * `name` goes into if_name (NULL: no name; longer than 65532 bytes:
 * -ENAMETOOLONG). A snaplen of 0 means VSL_PCAPNG_DEFAULT_SNAPLEN. */
int vsl_pcapng_add_interface(struct vsl_pcapng *w, const char *name, uint32_t snaplen);
/* Writes one packet seen on interface `ifid` at `wall_ns` (ns since the epoch).
 * `orig_len` is the length on the wire (raised to `len` if smaller; above
 * UINT32_MAX is -EINVAL); at most snaplen bytes of `len` are stored. The caller
 * keeps `pkt`. Returns 0 or -errno (-EINVAL for an unknown interface). */
int vsl_pcapng_write(struct vsl_pcapng *w, int ifid, uint64_t wall_ns, const void *pkt,
		     size_t len, size_t orig_len);
int vsl_pcapng_flush(struct vsl_pcapng *w);
/* Flushes, closes and frees (NULL is a no-op). Returns 0 or the first -errno
 * seen while writing. */
int vsl_pcapng_close(struct vsl_pcapng *w);

#endif /* VSL_PCAPNG_H */
