/* vmm_qemu.c — QEMU's command line for a definition.
 *
 * Guest RAM is one shared memory backend (memfd or a hugetlbfs file, share=on)
 * set as the machine's RAM, because vhost-user back ends (vswitchd, blockd)
 * map it. NICs: QEMU listens on the NIC's socket (server=on,wait=off) and the
 * switch connects. Disks: QEMU connects to blockd's vhost-user-blk socket and
 * reconnects every second if blockd restarts.
 *
 * QEMU 7.2 under TCG aborts in msix_set_vector_notifiers when a vhost-user
 * virtio-net device uses MSI-X, so under TCG NICs get vectors=0 (INTx); KVM
 * keeps MSI-X.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm_internal.h"

struct argv_buf {
	char **v;
	size_t n, cap;
	bool oom;
};

static void add(struct argv_buf *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct argv_buf *a, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (a->oom)
		return;
	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		char **v = realloc(a->v, cap * sizeof(*v));

		if (!v) {
			a->oom = true;
			return;
		}
		a->v = v;
		a->cap = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0) {
		a->oom = true;
		s = NULL;
	}
	va_end(ap);
	if (s) {
		a->v[a->n++] = s;
		a->v[a->n] = NULL;
	}
}

void vmm_argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **p = argv; *p; p++)
		free(*p);
	free(argv);
}

int vmm_qemu_argv(const struct vmm_env *env, const struct vmm_def *d, const struct vmm_run *r,
		  const char *vmdir, char ***argv)
{
	struct argv_buf a = { 0 };
	bool tcg = r->accel != VMM_ACCEL_KVM;
	char mac[18];

	add(&a, "%s", env->qemu);
	add(&a, "-name");
	add(&a, "guest=%s,debug-threads=on", d->name);
	add(&a, "-accel");
	add(&a, "%s", tcg ? "tcg" : "kvm");
	if (!tcg) {
		add(&a, "-cpu");
		add(&a, "host");
	}
	add(&a, "-nodefaults");
	add(&a, "-no-user-config");
	add(&a, "-display");
	add(&a, "none");
	add(&a, "-smp");
	add(&a, "%u", d->vcpus);
	add(&a, "-m");
	add(&a, "%luM", (unsigned long)d->memory_mb);
	add(&a, "-object");
	if (d->mem_backend == VMM_MEM_HUGEPAGES)
		add(&a, "memory-backend-file,id=vmm-ram,size=%luM,mem-path=%s,share=on,prealloc=on",
		    (unsigned long)d->memory_mb, d->hugepage_dir);
	else
		add(&a, "memory-backend-memfd,id=vmm-ram,size=%luM,share=on",
		    (unsigned long)d->memory_mb);
	add(&a, "-machine");
	add(&a, "memory-backend=vmm-ram");

	/* QMP: the supervisor is its only client. */
	add(&a, "-chardev");
	add(&a, "socket,id=vmm-qmp,path=%s/qmp.sock,server=on,wait=off", vmdir);
	add(&a, "-mon");
	add(&a, "chardev=vmm-qmp,mode=control");
	/* Serial console into a log that survives guest reboots. */
	add(&a, "-chardev");
	add(&a, "file,id=vmm-serial,path=%s/console.log,append=on", vmdir);
	add(&a, "-serial");
	add(&a, "chardev:vmm-serial");

	if (d->kernel[0]) {
		add(&a, "-kernel");
		add(&a, "%s", d->kernel);
		if (d->initrd[0]) {
			add(&a, "-initrd");
			add(&a, "%s", d->initrd);
		}
		add(&a, "-append");
		add(&a, "%s", d->cmdline);
	}

	for (unsigned i = 0; i < d->n_nics; i++) {
		const struct vmm_nic *n = &d->nics[i];

		add(&a, "-chardev");
		add(&a, "socket,id=vmm-nic%u,path=%s,server=on,wait=off", i, r->ports[i].socket);
		add(&a, "-netdev");
		if (n->queues > 1)
			add(&a, "vhost-user,id=vmm-net%u,chardev=vmm-nic%u,queues=%u", i, i, n->queues);
		else
			add(&a, "vhost-user,id=vmm-net%u,chardev=vmm-nic%u", i, i);
		add(&a, "-device");
		add(&a, "virtio-net-pci,netdev=vmm-net%u,id=nic%u,mac=%s%s%s", i, i,
		    vmm_mac_format(n->mac, mac, sizeof(mac)), n->queues > 1 ? ",mq=on" : "",
		    tcg ? ",vectors=0" : "");
	}
	for (unsigned i = 0; i < d->n_disks; i++) {
		const struct vmm_disk *k = &d->disks[i];

		add(&a, "-chardev");
		add(&a, "socket,id=vmm-disk%u,path=%s,reconnect=1", i, r->disks[i].socket);
		add(&a, "-device");
		add(&a, "vhost-user-blk-pci,chardev=vmm-disk%u,id=disk%u,num-queues=%u%s", i, i,
		    k->queues, k->boot ? ",bootindex=1" : "");
	}
	/* SR-IOV VFs, bound to vfio-pci by vmm_attach_vfs(). */
	for (unsigned i = 0; i < r->n_vfs; i++) {
		add(&a, "-device");
		add(&a, "vfio-pci,host=%s,id=vf%u", r->vfs[i].pci_addr, i);
	}
	if (a.oom) {
		vmm_argv_free(a.v);
		return -ENOMEM;
	}
	*argv = a.v;
	return 0;
}
