/* sw_vlan_vni.c — VLAN-to-VNI bindings of trunk ports: the vlan_vni= parser,
 * its checks against the port's VLAN settings, and the immutable lookup map
 * the PMDs read. See sw_vlan_vni.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sw_vlan_vni.h"

/* Parses a decimal number of at most 8 digits in [lo, hi]; the whole of
 * [s, end) must be digits. */
static bool num_parse(const char *s, const char *end, uint32_t lo, uint32_t hi, uint32_t *out)
{
	uint32_t v = 0;

	if (s == end || end - s > 8)
		return false;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (uint32_t)(*s - '0');
	}
	if (v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

int sw_vv_parse(const char *s, struct sw_vv_list *l, char *err, size_t errlen)
{
	const char *p = s;

	l->n = 0;
	if (!*s)
		return 0;
	for (;;) {
		const char *end = strchr(p, ','), *colon;
		int len;
		uint32_t vlan, vni;
		unsigned i;

		if (!end)
			end = p + strlen(p);
		len = (int)(end - p);
		if (len > 40)
			len = 40;                      /* quote at most 40 characters */
		if (end == p) {
			snprintf(err, errlen, "vlan_vni '%.64s' has an empty entry (expected "
				 "VLAN:VNI[,VLAN:VNI...], e.g. 100:5000,200:6000)", s);
			return -EINVAL;
		}
		colon = memchr(p, ':', (size_t)(end - p));
		if (!colon) {
			snprintf(err, errlen, "vlan_vni entry '%.*s' is not VLAN:VNI "
				 "(e.g. 100:5000)", len, p);
			return -EINVAL;
		}
		if (!num_parse(p, colon, 1, SW_VLAN_MAX, &vlan)) {
			snprintf(err, errlen, "vlan_vni entry '%.*s': VLAN '%.*s' is not a number "
				 "1-4095", len, p, (int)(colon - p) > 16 ? 16 : (int)(colon - p), p);
			return -EINVAL;
		}
		if (!num_parse(colon + 1, end, 1, VX_VNI_MAX, &vni)) {
			snprintf(err, errlen, "vlan_vni entry '%.*s': VNI '%.*s' is not a number "
				 "1-16777215", len, p,
				 (int)(end - colon - 1) > 16 ? 16 : (int)(end - colon - 1), colon + 1);
			return -EINVAL;
		}
		for (i = 0; i < l->n; i++) {
			if (l->b[i].vlan == vlan) {
				snprintf(err, errlen, "vlan_vni entry '%.*s': VLAN %u is already "
					 "bound to VNI %u", len, p, vlan, l->b[i].vni);
				return -EINVAL;
			}
			if (l->b[i].vni == vni) {
				snprintf(err, errlen, "vlan_vni entry '%.*s': VNI %u is already "
					 "bound to VLAN %u of this port", len, p, vni, l->b[i].vlan);
				return -EINVAL;
			}
		}
		if (l->n == SW_VV_MAX) {
			snprintf(err, errlen, "vlan_vni entry '%.*s': more than %d bindings on "
				 "one port", len, p, SW_VV_MAX);
			return -EINVAL;
		}
		/* Insertion keeps the list sorted by VLAN. */
		for (i = l->n; i > 0 && l->b[i - 1].vlan > vlan; i--)
			l->b[i] = l->b[i - 1];
		l->b[i] = (struct sw_vv_binding){ .vlan = (uint16_t)vlan, .vni = vni };
		l->n++;
		if (!*end)
			return 0;
		p = end + 1;
		if (!*p) {
			snprintf(err, errlen, "vlan_vni '%.64s' ends with ',' (expected "
				 "VLAN:VNI[,VLAN:VNI...])", s);
			return -EINVAL;
		}
	}
}

int sw_vv_check(const struct sw_vv_list *l, const struct sw_port_cfg *cfg, bool existing,
		char *err, size_t errlen)
{
	const char *hint = existing ? " (the port's vlan_vni bindings; change or clear them "
				      "with vlan_vni=...)" : "";

	if (!l->n)
		return 0;
	if (cfg->vlan_mode == SW_VLAN_ACCESS) {
		snprintf(err, errlen, "vlan_vni binds VLANs of a trunk port: an access port "
			 "(tag= or vni=) has none%s", hint);
		return -EINVAL;
	}
	for (unsigned i = 0; i < l->n; i++) {
		uint16_t v = l->b[i].vlan;
		bool native = cfg->vlan_mode != SW_VLAN_TRUNK && cfg->native_vlan == v;

		if (native) {
			snprintf(err, errlen, "vlan_vni entry '%u:%u': VLAN %u is the port's native "
				 "VLAN (only tagged VLANs can be bound)%s", v, l->b[i].vni, v, hint);
			return -EINVAL;
		}
		if (!cfg->trunks_all && !(cfg->trunks[v / 64] >> (v % 64) & 1)) {
			snprintf(err, errlen, "vlan_vni entry '%u:%u': VLAN %u is not in the "
				 "port's trunks%s", v, l->b[i].vni, v, hint);
			return -EINVAL;
		}
	}
	return 0;
}

void sw_vv_format(const struct sw_vv_list *l, char *buf, size_t len)
{
	size_t n = 0;

	if (!len)
		return;
	buf[0] = '\0';
	for (unsigned i = 0; i < l->n && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%u:%u", i ? "," : "", l->b[i].vlan,
				      l->b[i].vni);
}

void sw_vv_map_list(const struct sw_vv_map *m, struct sw_vv_list *l)
{
	l->n = 0;
	if (!m)
		return;
	for (unsigned v = 1; v <= SW_VLAN_MAX; v++) {
		int s = sw_vv_slot_by_vid(m, (uint16_t)v);

		if (s >= 0)
			l->b[l->n++] = m->b[s];
	}
}

bool sw_vv_list_equal(const struct sw_vv_list *a, const struct sw_vv_list *b)
{
	if (a->n != b->n)
		return false;
	for (unsigned i = 0; i < a->n; i++)
		if (a->b[i].vlan != b->b[i].vlan || a->b[i].vni != b->b[i].vni)
			return false;
	return true;
}

struct sw_vv_stats *sw_vv_stats_alloc(void)
{
	size_t size = sizeof(struct sw_vv_stats) * SW_VV_MAX * SW_MAX_PMDS;
	void *p = NULL;

	/* Each PMD's row (SW_VV_MAX * 32 bytes) starts on a cache line. */
	_Static_assert(sizeof(struct sw_vv_stats) * SW_VV_MAX % 64 == 0, "rows on cache lines");
	if (posix_memalign(&p, 64, size))
		return NULL;
	memset(p, 0, size);
	return p;
}

void sw_vv_stats_free(struct sw_vv_stats *s)
{
	free(s);
}

void sw_vv_stats_sum(const struct sw_vv_map *m, unsigned slot, struct sw_vv_stats *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (unsigned p = 0; p < SW_MAX_PMDS; p++) {
		const struct sw_vv_stats *s = &m->stats[p * SW_VV_MAX + slot];

		sum->rx_packets += __atomic_load_n(&s->rx_packets, __ATOMIC_RELAXED);
		sum->rx_bytes += __atomic_load_n(&s->rx_bytes, __ATOMIC_RELAXED);
		sum->tx_packets += __atomic_load_n(&s->tx_packets, __ATOMIC_RELAXED);
		sum->tx_bytes += __atomic_load_n(&s->tx_bytes, __ATOMIC_RELAXED);
	}
}

static void slot_zero(struct sw_vv_stats *stats, unsigned slot)
{
	for (unsigned p = 0; p < SW_MAX_PMDS; p++)
		memset(&stats[p * SW_VV_MAX + slot], 0, sizeof(*stats));
}

struct sw_vv_map *sw_vv_map_build(const struct sw_vv_map *old, const struct sw_vv_list *l,
				  const uint16_t *segs, struct sw_vv_stats *stats,
				  uint64_t *late_zero)
{
	struct sw_vv_map *m = calloc(1, sizeof(*m));
	bool used[SW_VV_MAX] = { false }, pending[SW_VV_MAX] = { false };

	memset(late_zero, 0, SW_VV_MAX / 8);
	if (!m)
		return NULL;
	m->stats = stats;
	m->n = (uint16_t)l->n;
	/* Pass 1: bindings that stay keep their slots. */
	for (unsigned i = 0; i < l->n; i++) {
		int s = old ? sw_vv_slot_by_vid(old, l->b[i].vlan) : -1;

		if (s >= 0 && old->b[s].vni == l->b[i].vni)
			used[s] = true;
		else
			pending[i] = true;
	}
	/* Pass 2: new ones, preferring slots nobody can be writing. */
	for (unsigned i = 0, next = 0; i < l->n; i++) {
		int s;

		if (!pending[i])
			continue;
		while (next < SW_VV_MAX && (used[next] || (old && old->b[next].vlan)))
			next++;
		if (next < SW_VV_MAX) {
			s = (int)next;
			slot_zero(stats, next);
		} else {
			for (s = 0; used[s]; s++)
				;
			late_zero[s / 64] |= 1ull << (s % 64);
		}
		used[s] = true;
		m->b[s] = l->b[i];
		m->seg[s] = segs[i];
	}
	for (unsigned i = 0; i < l->n; i++) {
		int s;

		if (pending[i]) {
			for (s = 0; s < SW_VV_MAX; s++)
				if (m->b[s].vlan == l->b[i].vlan)
					break;
		} else {
			s = sw_vv_slot_by_vid(old, l->b[i].vlan);
			m->b[s] = l->b[i];
			m->seg[s] = segs[i];
		}
		m->slot_by_vid[l->b[i].vlan] = (uint16_t)(s + 1);
		if (segs[i] >= SW_VX_SEG_BASE && segs[i] - SW_VX_SEG_BASE < SW_VX_MAX_VNIS)
			m->slot_by_seg[segs[i] - SW_VX_SEG_BASE] = (uint16_t)(s + 1);
	}
	return m;
}

void sw_vv_map_free(struct sw_vv_map *m)
{
	free(m);
}

void sw_vv_stats_zero(struct sw_vv_stats *stats, const uint64_t *late_zero)
{
	for (unsigned s = 0; s < SW_VV_MAX; s++)
		if (late_zero[s / 64] >> (s % 64) & 1)
			slot_zero(stats, s);
}

void sw_vv_view_mask(struct sw_port_cfg *cfg)
{
	const struct sw_vv_map *m = cfg->vv;

	if (!m || cfg->vlan_mode == SW_VLAN_ACCESS)
		return;
	if (cfg->trunks_all) {
		memset(cfg->trunks, 0xff, sizeof(cfg->trunks));
		cfg->trunks_all = false;
	}
	for (unsigned s = 0; s < SW_VV_MAX; s++) {
		uint16_t v = m->b[s].vlan;

		if (v)
			cfg->trunks[v / 64] &= ~(1ull << (v % 64));
	}
}
