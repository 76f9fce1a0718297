/* vmm_attach.c — a VM's switch ports (vswitchd) and disk exports (blockd),
 * asked for and given back over JSON-RPC. vmm never links a daemon's code. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm_internal.h"
#include "vsl_log.h"
#include "vsl_rpc.h"
#include "vsl_util.h"

VSL_LOG_MODULE(attach);

int vmm_rpc(const char *sock, const char *daemon, int timeout_ms, const char *method,
	    struct json_object *params, struct json_object **result, char *err, size_t errlen)
{
	struct vsl_rpc_client *c;
	struct vsl_rpc_error e = { 0 };
	struct json_object *res = NULL;
	int ret;

	if (result)
		*result = NULL;
	c = vsl_rpc_client_connect(sock, timeout_ms);
	if (!c) {
		ret = vsl_neg_errno();
		json_object_put(params);
		return vsl_errf(err, errlen, ret, "cannot reach %s at %s: %s", daemon, sock,
				strerror(-ret));
	}
	ret = vsl_rpc_client_call(c, method, params, &res, &e);
	vsl_rpc_client_close(c);
	if (ret == -EREMOTEIO) {
		/* Domain errors carry -errno in the code. */
		int neg = (e.code <= VSL_RPC_ERRNO_BASE && e.code > VSL_RPC_ERRNO_BASE - 1000)
				  ? e.code - VSL_RPC_ERRNO_BASE : -EINVAL;
		return vsl_errf(err, errlen, neg, "%s: %s", daemon, e.message);
	}
	if (ret)
		return vsl_errf(err, errlen, ret, "%s did not answer %s: %s", daemon, method,
				strerror(-ret));
	if (result)
		*result = res;
	else
		json_object_put(res);
	return 0;
}

static int sock_path(const struct vmm_env *env, const char *vm, const char *file, char *buf)
{
	char p[VMM_PATH_MAX];
	int ret = vmm_vm_file(env, vm, file, p, sizeof(p));

	if (ret || strlen(p) >= VMM_SOCK_MAX)
		return -ENAMETOOLONG;
	snprintf(buf, VMM_SOCK_MAX, "%s", p);
	return 0;
}

int vmm_attach_ports(const struct vmm_env *env, const struct vmm_def *d, struct vmm_run *r,
		     char *err, size_t errlen)
{
	char sub[600];
	int ret = 0;

	r->n_ports = d->n_nics;
	for (unsigned i = 0; i < d->n_nics; i++) {
		const struct vmm_nic *n = &d->nics[i];
		struct vmm_port_att *a = &r->ports[i];
		struct json_object *p;
		char file[32];

		snprintf(a->port, sizeof(a->port), "%s", n->port);
		snprintf(file, sizeof(file), "nic%u.sock", i);
		if (sock_path(env, d->name, file, a->socket)) {
			ret = vsl_errf(err, errlen, -ENAMETOOLONG, "nics[%u]: socket path under %s is "
				       "too long for a unix socket", i, env->state_dir);
			goto rollback;
		}
		/* vswitchd is the vhost-user client and keeps reconnecting: QEMU
		 * listens (server=on,wait=off), so the guest survives a switch
		 * restart. */
		p = json_object_new_object();
		json_object_object_add(p, "name", json_object_new_string(n->port));
		json_object_object_add(p, "type", json_object_new_string("vhost-user"));
		json_object_object_add(p, "path", json_object_new_string(a->socket));
		if (n->queues > 1)
			json_object_object_add(p, "n_rxq", json_object_new_int((int)n->queues));
		if (n->vlan >= 0)
			json_object_object_add(p, "tag", json_object_new_int(n->vlan));
		if (n->vni >= 0)
			json_object_object_add(p, "vni", json_object_new_int64(n->vni));
		ret = vmm_rpc(env->vswitchd_sock, "vswitchd", env->rpc_timeout_ms, "add-port", p,
			      NULL, sub, sizeof(sub));
		if (ret) {
			vsl_errf(err, errlen, ret, "nics[%u].port: cannot create switch port '%s': %s",
				 i, n->port, sub);
			goto rollback;
		}
		a->added = true;
	}
	return 0;

rollback:
	for (unsigned i = 0; i < d->n_nics; i++) {
		struct vmm_port_att *a = &r->ports[i];
		struct json_object *p;

		if (!a->added)
			continue;
		p = json_object_new_object();
		json_object_object_add(p, "name", json_object_new_string(a->port));
		if (!vmm_rpc(env->vswitchd_sock, "vswitchd", env->rpc_timeout_ms, "del-port", p, NULL,
			     sub, sizeof(sub)))
			a->added = false;
		else
			VSL_WARN("rollback: %s", sub);
	}
	return ret;
}

static bool bdev_exists(const struct vmm_env *env, const char *bdev, char *sub, size_t sublen,
			int *ret)
{
	struct json_object *p = json_object_new_object();

	json_object_object_add(p, "name", json_object_new_string(bdev));
	*ret = vmm_rpc(env->blockd_sock, "blockd", env->rpc_timeout_ms, "bdev-list", p, NULL, sub,
		       sublen);
	return *ret == 0;
}

/* Opens an image file as a bdev: raw or qcow2, as blockd's image-info says. */
static int open_image(const struct vmm_env *env, const struct vmm_disk *k, char *sub,
		      size_t sublen)
{
	struct json_object *p = json_object_new_object(), *res = NULL, *fmt;
	char format[16] = "raw";
	int ret;

	json_object_object_add(p, "path", json_object_new_string(k->source));
	ret = vmm_rpc(env->blockd_sock, "blockd", env->rpc_timeout_ms, "image-info", p, &res, sub,
		      sublen);
	if (ret)
		return ret;
	if (json_object_object_get_ex(res, "format", &fmt))
		snprintf(format, sizeof(format), "%s", json_object_get_string(fmt));
	json_object_put(res);
	p = json_object_new_object();
	json_object_object_add(p, "type", json_object_new_string(format));
	json_object_object_add(p, "name", json_object_new_string(k->bdev));
	json_object_object_add(p, "path", json_object_new_string(k->source));
	return vmm_rpc(env->blockd_sock, "blockd", env->rpc_timeout_ms, "bdev-create", p, NULL, sub,
		       sublen);
}

int vmm_attach_disks(const struct vmm_env *env, const struct vmm_def *d, struct vmm_run *r,
		     char *err, size_t errlen)
{
	static const char *const kinds[] = { "volume", "image", "bdev" };
	char sub[600];
	int ret = 0;

	r->n_disks = d->n_disks;
	for (unsigned i = 0; i < d->n_disks; i++) {
		const struct vmm_disk *k = &d->disks[i];
		struct vmm_disk_att *a = &r->disks[i];
		struct json_object *p;
		char file[32];

		snprintf(a->bdev, sizeof(a->bdev), "%s", k->bdev);
		snprintf(a->export_name, sizeof(a->export_name), "vmm.%s.d%u", d->name, i);
		snprintf(file, sizeof(file), "disk%u.sock", i);
		if (sock_path(env, d->name, file, a->socket)) {
			ret = vsl_errf(err, errlen, -ENAMETOOLONG, "disks[%u]: socket path under %s "
				       "is too long for a unix socket", i, env->state_dir);
			goto rollback;
		}
		if (k->kind == VMM_DISK_IMAGE) {
			ret = open_image(env, k, sub, sizeof(sub));
			if (ret) {
				vsl_errf(err, errlen, ret, "disks[%u].image: cannot open %s: %s", i,
					 k->source, sub);
				goto rollback;
			}
			a->bdev_created = true;
		} else if (!bdev_exists(env, k->bdev, sub, sizeof(sub), &ret)) {
			vsl_errf(err, errlen, ret, "disks[%u].%s: no bdev '%s' in blockd%s (%s)", i,
				 kinds[k->kind], k->bdev,
				 k->kind == VMM_DISK_VOLUME ? " (is the volume group active?)" : "",
				 sub);
			goto rollback;
		}
		p = json_object_new_object();
		json_object_object_add(p, "bdev", json_object_new_string(k->bdev));
		json_object_object_add(p, "type", json_object_new_string("vhost-user-blk"));
		json_object_object_add(p, "name", json_object_new_string(a->export_name));
		json_object_object_add(p, "socket", json_object_new_string(a->socket));
		if (k->readonly)
			json_object_object_add(p, "readonly", json_object_new_boolean(true));
		ret = vmm_rpc(env->blockd_sock, "blockd", env->rpc_timeout_ms, "export-add", p, NULL,
			      sub, sizeof(sub));
		if (ret) {
			vsl_errf(err, errlen, ret, "disks[%u].%s: cannot export '%s' over "
				 "vhost-user-blk: %s", i, kinds[k->kind], k->bdev, sub);
			goto rollback;
		}
		a->added = true;
	}
	return 0;

rollback:
	for (unsigned i = 0; i < d->n_disks; i++) {
		struct vmm_disk_att *a = &r->disks[i];
		struct json_object *p;

		if (a->added) {
			p = json_object_new_object();
			json_object_object_add(p, "name", json_object_new_string(a->export_name));
			if (!vmm_rpc(env->blockd_sock, "blockd", env->rpc_timeout_ms, "export-remove",
				     p, NULL, sub, sizeof(sub)))
				a->added = false;
			else
				VSL_WARN("rollback: %s", sub);
		}
		if (a->bdev_created && !a->added) {
			p = json_object_new_object();
			json_object_object_add(p, "name", json_object_new_string(a->bdev));
			if (!vmm_rpc(env->blockd_sock, "blockd", env->rpc_timeout_ms, "bdev-delete",
				     p, NULL, sub, sizeof(sub)))
				a->bdev_created = false;
			else
				VSL_WARN("rollback: %s", sub);
		}
	}
	return ret;
}

static void vf_env(const struct vmm_env *env, struct vmm_vf_env *venv)
{
	memset(venv, 0, sizeof(*venv));
	venv->sysfs_root = env->sysfs_root[0] ? env->sysfs_root : NULL;
}

int vmm_attach_vfs(const struct vmm_env *env, const struct vmm_def *d, struct vmm_run *r,
		   char *err, size_t errlen)
{
	struct vmm_vf_env venv;
	char sub[600];
	int ret;

	vf_env(env, &venv);
	r->n_vfs = 0;
	for (unsigned i = 0; i < d->n_vfs; i++) {
		const struct vmm_vf *f = &d->vfs[i];
		struct vmm_vf_settings s = { 0 };

		if (f->has_mac) {
			s.fields |= VMM_VF_MAC;
			memcpy(s.mac, f->mac, 6);
		}
		if (f->vlan >= 0) {
			s.fields |= VMM_VF_VLAN;
			s.vlan = (uint16_t)f->vlan;
		}
		if (f->spoofchk >= 0) {
			s.fields |= VMM_VF_SPOOFCHK;
			s.spoofchk = f->spoofchk;
		}
		if (f->trust >= 0) {
			s.fields |= VMM_VF_TRUST;
			s.trust = f->trust;
		}
		if (f->max_rate) {
			s.fields |= VMM_VF_MAX_RATE;
			s.max_rate = f->max_rate;
		}
		ret = vmm_vf_attach(&venv, f->pf, f->index, &s, &r->vfs[i], sub, sizeof(sub));
		if (ret) {
			vsl_errf(err, errlen, ret, "vfs[%u]: %s", i, sub);
			for (unsigned j = r->n_vfs; j-- > 0;)
				if (vmm_vf_detach(&venv, &r->vfs[j], sub, sizeof(sub)))
					VSL_WARN("rollback: %s", sub);
			r->n_vfs = 0;
			return ret;
		}
		r->n_vfs = i + 1;
		VSL_INFO("%s: VF %u of %s (%s) bound to vfio-pci", d->name, r->vfs[i].index,
			 f->pf, r->vfs[i].pci_addr);
	}
	return 0;
}

int vmm_release(const struct vmm_env *env, struct vmm_run *r)
{
	char sub[600];
	int ret = 0, rc;

	if (r->n_vfs) {
		struct vmm_vf_env venv;
		unsigned failed = 0;

		vf_env(env, &venv);
		for (unsigned i = r->n_vfs; i-- > 0;) {
			rc = vmm_vf_detach(&venv, &r->vfs[i], sub, sizeof(sub));
			if (rc) {
				VSL_WARN("%s: cannot give VF %s back: %s", r->name, r->vfs[i].pci_addr,
					 sub);
				ret = rc;
				failed++;
			}
		}
		/* detach is best effort and idempotent: keep the record only when
		 * something failed, so a later stop can try again. */
		if (!failed)
			r->n_vfs = 0;
	}

	for (unsigned i = 0; i < r->n_ports; i++) {
		struct vmm_port_att *a = &r->ports[i];
		struct json_object *p;

		if (!a->added)
			continue;
		p = json_object_new_object();
		json_object_object_add(p, "name", json_object_new_string(a->port));
		rc = vmm_rpc(env->vswitchd_sock, "vswitchd", env->rpc_timeout_ms, "del-port", p, NULL,
			     sub, sizeof(sub));
		if (rc && rc != -ENOENT) {
			VSL_WARN("%s: cannot delete switch port '%s': %s", r->name, a->port, sub);
			ret = rc;
			continue;
		}
		VSL_INFO("%s: switch port '%s' deleted", r->name, a->port);
		a->added = false;
	}
	for (unsigned i = 0; i < r->n_disks; i++) {
		struct vmm_disk_att *a = &r->disks[i];
		struct json_object *p;

		if (a->added) {
			p = json_object_new_object();
			json_object_object_add(p, "name", json_object_new_string(a->export_name));
			rc = vmm_rpc(env->blockd_sock, "blockd", env->rpc_timeout_ms, "export-remove",
				     p, NULL, sub, sizeof(sub));
			if (rc && rc != -ENOENT) {
				VSL_WARN("%s: cannot remove export '%s': %s", r->name, a->export_name,
					 sub);
				ret = rc;
				continue;
			}
			VSL_INFO("%s: export '%s' removed", r->name, a->export_name);
			a->added = false;
		}
		if (a->bdev_created) {
			p = json_object_new_object();
			json_object_object_add(p, "name", json_object_new_string(a->bdev));
			rc = vmm_rpc(env->blockd_sock, "blockd", env->rpc_timeout_ms, "bdev-delete",
				     p, NULL, sub, sizeof(sub));
			if (rc && rc != -ENOENT) {
				VSL_WARN("%s: cannot delete bdev '%s': %s", r->name, a->bdev, sub);
				ret = rc;
				continue;
			}
			a->bdev_created = false;
		}
	}
	r->released = ret == 0;
	return ret;
}
