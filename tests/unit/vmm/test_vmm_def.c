/* test_vmm_def.c — the VM definition parser: a full definition round trip,
 * defaults, generated MACs, and every class of bad input, each refused with a
 * message that names the field. Host checks against a fake /proc/meminfo. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm_def.h"

static char err[1024];

static int parse(const char *s, struct vmm_def *d)
{
	return vmm_def_parse(s, strlen(s), d, err, sizeof(err));
}

static const char full[] =
	"{ \"name\": \"web-1\", \"vcpus\": 2, \"memory\": \"1G\", \"memory_backend\": \"hugepages\","
	"  \"hugepage_dir\": \"/mnt/huge\", \"accel\": \"tcg\","
	"  \"kernel\": \"/boot/vmlinuz\", \"initrd\": \"/boot/initrd\", \"cmdline\": \"console=ttyS0\","
	"  \"nics\": [ { \"port\": \"web1-eth0\", \"vlan\": 100, \"mac\": \"52:54:00:12:34:56\", \"queues\": 2 },"
	"            { \"port\": \"web1-eth1\", \"vni\": 5000 } ],"
	"  \"disks\": [ { \"volume\": \"vg0/web1\" }, { \"image\": \"/srv/seed.qcow2\", \"readonly\": true },"
	"             { \"bdev\": \"ram0\", \"queues\": 4 } ],"
	"  \"vfs\": [ { \"pf\": \"enp3s0f0\", \"vf\": 3, \"mac\": \"52:54:00:00:00:99\", \"vlan\": 20,"
	"             \"spoofchk\": true, \"trust\": false, \"max_rate\": 1000 }, { \"pf\": \"enp3s0f0\" } ] }";

static void test_full_definition(void **state)
{
	struct vmm_def d, again;
	struct json_object *o;
	const char *s;
	char m[18];

	(void)state;
	assert_int_equal(parse(full, &d), 0);
	assert_string_equal(d.name, "web-1");
	assert_int_equal(d.vcpus, 2);
	assert_int_equal(d.memory_mb, 1024);
	assert_int_equal(d.mem_backend, VMM_MEM_HUGEPAGES);
	assert_string_equal(d.hugepage_dir, "/mnt/huge");
	assert_int_equal(d.accel, VMM_ACCEL_TCG);
	assert_int_equal(d.n_nics, 2);
	assert_int_equal(d.nics[0].vlan, 100);
	assert_int_equal(d.nics[0].vni, -1);
	assert_int_equal(d.nics[0].queues, 2);
	assert_string_equal(vmm_mac_format(d.nics[0].mac, m, sizeof(m)), "52:54:00:12:34:56");
	assert_int_equal(d.nics[1].vni, 5000);
	assert_int_equal(d.nics[1].vlan, -1);
	/* Generated: locally administered KVM prefix, unicast, stable. */
	assert_int_equal(d.nics[1].mac[0], 0x52);
	assert_int_equal(d.n_disks, 3);
	assert_int_equal(d.disks[0].kind, VMM_DISK_VOLUME);
	assert_string_equal(d.disks[0].bdev, "vg0-web1");
	assert_int_equal(d.disks[1].kind, VMM_DISK_IMAGE);
	assert_true(d.disks[1].readonly);
	assert_string_equal(d.disks[1].bdev, "vmm.web-1.d1");
	assert_string_equal(d.disks[2].bdev, "ram0");
	assert_int_equal(d.disks[2].queues, 4);
	assert_int_equal(d.n_vfs, 2);
	assert_int_equal(d.vfs[0].index, 3);
	assert_int_equal(d.vfs[0].vlan, 20);
	assert_int_equal(d.vfs[0].spoofchk, 1);
	assert_int_equal(d.vfs[0].trust, 0);
	assert_int_equal(d.vfs[0].max_rate, 1000);
	assert_int_equal(d.vfs[1].index, -1);
	assert_int_equal(d.vfs[1].spoofchk, -1);

	/* The canonical form parses back to the same definition. */
	o = vmm_def_to_json(&d);
	s = json_object_to_json_string(o);
	assert_int_equal(vmm_def_parse(s, strlen(s), &again, err, sizeof(err)), 0);
	assert_memory_equal(&d, &again, sizeof(d));
	json_object_put(o);
}

static void test_defaults_and_generated_macs(void **state)
{
	struct vmm_def d, d2;

	(void)state;
	assert_int_equal(parse("{\"name\":\"a\",\"memory\":256,\"kernel\":\"/k\","
			       "\"nics\":[{\"port\":\"p0\"},{\"port\":\"p1\"}]}", &d), 0);
	assert_int_equal(d.vcpus, 1);
	assert_int_equal(d.memory_mb, 256);
	assert_int_equal(d.mem_backend, VMM_MEM_MEMFD);
	assert_int_equal(d.accel, VMM_ACCEL_AUTO);
	assert_int_equal(d.nics[0].queues, 1);
	assert_memory_not_equal(d.nics[0].mac, d.nics[1].mac, 6);
	assert_int_equal(d.nics[0].mac[0] & 1, 0);
	/* Same name and index: same MAC; another VM: another MAC. */
	assert_int_equal(parse("{\"name\":\"a\",\"memory\":256,\"kernel\":\"/k\","
			       "\"nics\":[{\"port\":\"p0\"}]}", &d2), 0);
	assert_memory_equal(d.nics[0].mac, d2.nics[0].mac, 6);
	assert_int_equal(parse("{\"name\":\"b\",\"memory\":256,\"kernel\":\"/k\","
			       "\"nics\":[{\"port\":\"p0\"}]}", &d2), 0);
	assert_memory_not_equal(d.nics[0].mac, d2.nics[0].mac, 6);
	/* A boot disk instead of a kernel. */
	assert_int_equal(parse("{\"name\":\"a\",\"memory\":\"512M\","
			       "\"disks\":[{\"volume\":\"vg0/root\",\"boot\":true}]}", &d), 0);
	assert_true(d.disks[0].boot);
	assert_string_equal(d.kernel, "");
}

struct bad {
	const char *json;
	const char *msg;
};

#define K "\"name\":\"a\",\"memory\":128,\"kernel\":\"/k\""

static const struct bad bad_cases[] = {
	{ "", "not valid JSON" },
	{ "{", "not valid JSON" },
	{ "[]", "must be a JSON object" },
	{ "{" K "} x", "not valid JSON (unexpected character at offset 40)" },
	{ "{" K ",\"colour\":1}", "colour: unknown key" },
	{ "{\"memory\":128,\"kernel\":\"/k\"}", "name: missing" },
	{ "{\"name\":\"-a\",\"memory\":128,\"kernel\":\"/k\"}", "name: '-a' must be" },
	{ "{\"name\":\"a/b\",\"memory\":128,\"kernel\":\"/k\"}", "name: 'a/b' must be" },
	{ "{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"memory\":128,\"kernel\":\"/k\"}",
	  "name: longer than 32" },
	{ "{\"name\":1,\"memory\":128,\"kernel\":\"/k\"}", "name: must be a string" },
	{ "{\"name\":\"a\",\"kernel\":\"/k\"}", "memory: missing" },
	{ "{\"name\":\"a\",\"memory\":16,\"kernel\":\"/k\"}", "memory: must be 32..16777216" },
	{ "{\"name\":\"a\",\"memory\":\"1.5M\",\"kernel\":\"/k\"}", "memory: must be a whole number" },
	{ "{\"name\":\"a\",\"memory\":\"lots\",\"kernel\":\"/k\"}", "memory: cannot parse" },
	{ "{\"name\":\"a\",\"memory\":true,\"kernel\":\"/k\"}", "memory: must be MiB" },
	{ "{\"name\":\"a\",\"memory\":127,\"memory_backend\":\"hugepages\",\"kernel\":\"/k\"}",
	  "memory: must be a multiple of the 2 MiB" },
	{ "{" K ",\"memory_backend\":\"swap\"}", "memory_backend: must be" },
	{ "{" K ",\"hugepage_dir\":\"/mnt\"}", "hugepage_dir: only with" },
	{ "{" K ",\"vcpus\":0}", "vcpus: must be 1..64" },
	{ "{" K ",\"vcpus\":1.5}", "vcpus: must be an integer" },
	{ "{" K ",\"vcpus\":99999999999999999999}", "vcpus: must be" },
	{ "{" K ",\"accel\":\"xen\"}", "accel: must be" },
	{ "{\"name\":\"a\",\"memory\":128}", "kernel: missing" },
	{ "{\"name\":\"a\",\"memory\":128,\"kernel\":\"vmlinuz\"}", "kernel: must be an absolute" },
	{ "{\"name\":\"a\",\"memory\":128,\"kernel\":\"/k,x\"}", "kernel: a path with a comma" },
	{ "{\"name\":\"a\",\"memory\":128,\"initrd\":\"/i\"}", "initrd: needs \"kernel\"" },
	{ "{" K ",\"cmdline\":\"a\\nb\"}", "cmdline: contains a control character" },
	{ "{" K ",\"nics\":{}}", "nics: must be an array" },
	{ "{" K ",\"nics\":[1]}", "nics[0]: must be an object" },
	{ "{" K ",\"nics\":[{}]}", "nics[0].port: missing" },
	{ "{" K ",\"nics\":[{\"port\":\"a b\"}]}", "nics[0].port: 'a b' must be" },
	{ "{" K ",\"nics\":[{\"port\":\"p\",\"vlan\":0}]}", "nics[0].vlan: must be 1..4094" },
	{ "{" K ",\"nics\":[{\"port\":\"p\",\"vlan\":4095}]}", "nics[0].vlan: must be 1..4094" },
	{ "{" K ",\"nics\":[{\"port\":\"p\",\"vni\":16777216}]}", "nics[0].vni: must be" },
	{ "{" K ",\"nics\":[{\"port\":\"p\",\"vlan\":1,\"vni\":1}]}", "nics[0]: give vlan or vni" },
	{ "{" K ",\"nics\":[{\"port\":\"p\",\"mac\":\"52:54:00:00:00\"}]}", "nics[0].mac: '52:54:00:00:00' is not a MAC" },
	{ "{" K ",\"nics\":[{\"port\":\"p\",\"mac\":\"01:00:5e:00:00:01\"}]}", "nics[0].mac: 01:00:5e:00:00:01 is a multicast" },
	{ "{" K ",\"nics\":[{\"port\":\"p\",\"mac\":\"00:00:00:00:00:00\"}]}", "nics[0].mac: the all-zero" },
	{ "{" K ",\"nics\":[{\"port\":\"p\",\"queues\":17}]}", "nics[0].queues: must be 1..16" },
	{ "{" K ",\"nics\":[{\"port\":\"p\",\"mac\":\"52:54:00:00:00:01\"},"
	  "{\"port\":\"q\",\"mac\":\"52:54:00:00:00:01\"}]}",
	  "nics[1].mac: 52:54:00:00:00:01 is already used by nics[0]" },
	{ "{" K ",\"nics\":[{\"port\":\"p\"},{\"port\":\"p\"}]}", "nics[1].port: 'p' is already used" },
	{ "{" K ",\"nics\":[{\"port\":\"p\"},{\"port\":\"p2\"},{\"port\":\"p3\"},{\"port\":\"p4\"},"
	  "{\"port\":\"p5\"},{\"port\":\"p6\"},{\"port\":\"p7\"},{\"port\":\"p8\"},{\"port\":\"p9\"}]}",
	  "nics: at most 8 entries" },
	{ "{" K ",\"disks\":[{}]}", "disks[0]: give exactly one of volume, image and bdev" },
	{ "{" K ",\"disks\":[{\"volume\":\"a/b\",\"bdev\":\"x\"}]}", "disks[0]: give exactly one" },
	{ "{" K ",\"disks\":[{\"volume\":\"lv1\"}]}", "disks[0].volume: 'lv1' must be VG/LV" },
	{ "{" K ",\"disks\":[{\"volume\":\"v-g/lv1\"}]}", "disks[0].volume: 'v-g/lv1' must be VG/LV" },
	{ "{" K ",\"disks\":[{\"volume\":\"vg/a/b\"}]}", "disks[0].volume" },
	{ "{" K ",\"disks\":[{\"image\":\"rel.img\"}]}", "disks[0].image: must be an absolute" },
	{ "{" K ",\"disks\":[{\"bdev\":\"a b\"}]}", "disks[0].bdev: 'a b' is not a bdev name" },
	{ "{" K ",\"disks\":[{\"bdev\":\"x\",\"readonly\":\"yes\"}]}", "disks[0].readonly: must be true or false" },
	{ "{" K ",\"disks\":[{\"bdev\":\"x\"},{\"bdev\":\"x\"}]}", "disks[1]: 'x' is already attached" },
	{ "{" K ",\"disks\":[{\"bdev\":\"x\",\"boot\":true}]}", "kernel: give a kernel or a boot disk" },
	{ "{\"name\":\"a\",\"memory\":128,\"disks\":[{\"bdev\":\"x\",\"boot\":true},"
	  "{\"bdev\":\"y\",\"boot\":true}]}", "disks: only one disk" },
	{ "{" K ",\"vfs\":[{}]}", "vfs[0].pf: missing" },
	{ "{" K ",\"vfs\":[{\"pf\":\"eth0\",\"vf\":\"some\"}]}", "vfs[0].vf: must be a VF number or \"any\"" },
	{ "{" K ",\"vfs\":[{\"pf\":\"eth0\",\"vf\":256}]}", "vfs[0].vf: must be 0..255" },
	{ "{" K ",\"vfs\":[{\"pf\":\"eth0\",\"vlan\":4095}]}", "vfs[0].vlan: must be 0..4094" },
	{ "{" K ",\"vfs\":[{\"pf\":\"eth0\",\"spoofchk\":\"on\"}]}", "vfs[0].spoofchk: must be true or false" },
	{ "{" K ",\"vfs\":[{\"pf\":\"eth0\",\"max_rate\":-1}]}", "vfs[0].max_rate: must be" },
	{ "{" K ",\"vfs\":[{\"pf\":\"eth0\",\"vf\":1},{\"pf\":\"eth0\",\"vf\":1}]}", "vfs[1].vf: eth0 VF 1 is already used" },
	{ "{" K ",\"nics\":[{\"port\":\"p\",\"mac\":\"52:54:00:00:00:01\"}],"
	  "\"vfs\":[{\"pf\":\"eth0\",\"mac\":\"52:54:00:00:00:01\"}]}", "vfs[0].mac: 52:54:00:00:00:01 is already used by nics[0]" },
};

static void test_bad_definitions(void **state)
{
	struct vmm_def d;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		int ret = parse(bad_cases[i].json, &d);

		if (ret != -EINVAL || !strstr(err, bad_cases[i].msg))
			fail_msg("case %zu %s: ret %d, message '%s', want '%s'", i, bad_cases[i].json,
				 ret, err, bad_cases[i].msg);
		assert_string_equal(d.name, "");     /* zeroed on error */
	}
}

static void test_embedded_nul_and_size(void **state)
{
	static const char withnul[] = "{\"name\":\"a\0b\",\"memory\":128,\"kernel\":\"/k\"}";
	struct vmm_def d;
	char *big;

	(void)state;
	assert_int_equal(vmm_def_parse(withnul, sizeof(withnul) - 1, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "NUL"));
	big = malloc((1 << 20) + 2);
	assert_non_null(big);
	memset(big, ' ', (1 << 20) + 1);
	big[0] = '{';
	assert_int_equal(vmm_def_parse(big, (1 << 20) + 1, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "larger than"));
	free(big);
	/* A NULL error buffer is allowed. */
	assert_int_equal(vmm_def_parse("{}", 2, &d, NULL, 0), -EINVAL);
}

static void test_host_checks(void **state)
{
	char dir[] = "/tmp/vmm-def-test-XXXXXX", kernel[256], meminfo[256], js[1024];
	struct vmm_def d;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", dir);
	snprintf(meminfo, sizeof(meminfo), "%s/meminfo", dir);
	f = fopen(meminfo, "w");
	assert_non_null(f);
	fprintf(f, "MemTotal:        2097152 kB\nHugePages_Free:  4\nHugepagesize:    2048 kB\n");
	fclose(f);

	snprintf(js, sizeof(js), "{\"name\":\"a\",\"memory\":512,\"kernel\":\"%s\"}", kernel);
	assert_int_equal(parse(js, &d), 0);
	assert_int_equal(vmm_def_check_host(&d, meminfo, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "kernel: "));
	f = fopen(kernel, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(vmm_def_check_host(&d, meminfo, err, sizeof(err)), 0);

	snprintf(js, sizeof(js), "{\"name\":\"a\",\"memory\":\"4G\",\"kernel\":\"%s\"}", kernel);
	assert_int_equal(parse(js, &d), 0);
	assert_int_equal(vmm_def_check_host(&d, meminfo, err, sizeof(err)), -ENOMEM);
	assert_string_equal(err, "memory: 4096M is more than the host's 2048M");

	snprintf(js, sizeof(js), "{\"name\":\"a\",\"memory\":128,\"kernel\":\"%s\","
		 "\"initrd\":\"%s/none\"}", kernel, dir);
	assert_int_equal(parse(js, &d), 0);
	assert_int_equal(vmm_def_check_host(&d, meminfo, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "initrd: "));

	snprintf(js, sizeof(js), "{\"name\":\"a\",\"memory\":128,\"kernel\":\"%s\","
		 "\"disks\":[{\"image\":\"%s\"}]}", kernel, dir);
	assert_int_equal(parse(js, &d), 0);
	assert_int_equal(vmm_def_check_host(&d, meminfo, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "disks[0].image: "));
	assert_non_null(strstr(err, "is not a regular file"));

	/* hugepages: the directory must be hugetlbfs. */
	snprintf(js, sizeof(js), "{\"name\":\"a\",\"memory\":128,\"kernel\":\"%s\","
		 "\"memory_backend\":\"hugepages\",\"hugepage_dir\":\"%s\"}", kernel, dir);
	assert_int_equal(parse(js, &d), 0);
	assert_int_equal(vmm_def_check_host(&d, meminfo, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is not a hugetlbfs mount"));

	unlink(kernel);
	unlink(meminfo);
	rmdir(dir);
}

static void test_mac_helpers(void **state)
{
	uint8_t m[6];
	char s[18];

	(void)state;
	assert_int_equal(vmm_mac_parse("52:54:00:AB:cd:0f", m), 0);
	assert_string_equal(vmm_mac_format(m, s, sizeof(s)), "52:54:00:ab:cd:0f");
	assert_int_equal(vmm_mac_parse("52:54:00:ab:cd:0f:", m), -EINVAL);
	assert_int_equal(vmm_mac_parse("52-54-00-ab-cd-0f", m), -EINVAL);
	assert_int_equal(vmm_mac_parse("5:54:00:ab:cd:0f", m), -EINVAL);
	assert_int_equal(vmm_mac_parse("", m), -EINVAL);
	assert_true(vmm_name_valid("vm_1.a-b"));
	assert_false(vmm_name_valid(".hidden"));
	assert_false(vmm_name_valid(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_definition),
		cmocka_unit_test(test_defaults_and_generated_macs),
		cmocka_unit_test(test_bad_definitions),
		cmocka_unit_test(test_embedded_nul_and_size),
		cmocka_unit_test(test_host_checks),
		cmocka_unit_test(test_mac_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
