#!/usr/bin/env bash
# Build the Vessel test guest: Debian's kernel + a busybox initramfs that loads the
# virtio drivers and runs a test script (see tests/guest/init for the guest side).
#
# Usage: tests/guest/build-guest.sh [BUILD_DIR]        (default BUILD_DIR: build)
#
# Output (BUILD_DIR/guest/):
#   vmlinuz             the kernel of Debian's linux-image-amd64 (its real package)
#   vmlinux             the same kernel, uncompressed ELF (booted via PVH: faster)
#   initramfs.cpio.gz   busybox + symlinks, the virtio modules, /init
#   modules.txt         the modules in the order /init loads them
#   kernel-release      uname -r of the guest kernel
#   stamp               what the outputs were built from; a run whose inputs match
#                       it does nothing
#   cache/              downloaded .deb files and the resolved kernel package
#
# Nothing is installed on the host: the kernel package is fetched with
# `apt-get download` and unpacked with `dpkg -x` into a scratch directory.
#
# Environment:
#   VESSEL_GUEST_EXTRA_MODULES  extra kernel modules to load (space separated),
#                               e.g. "8021q vxlan"; their dependencies follow.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir=${1:-build}
out="$build_dir/guest"
cache="$out/cache"

# The drivers the guest needs. Required ones must exist as a module or be built
# in; the helpers are split out of virtio_pci only in some kernel versions, and
# failover/net_failover are virtio_net dependencies, so those are "if present".
required_modules=(virtio virtio_ring virtio_pci virtio_net virtio_blk)
optional_modules=(virtio_pci_modern_dev virtio_pci_legacy_dev net_failover failover)
fs_modules=(crc32c_generic ext4)
read -r -a extra_modules <<<"${VESSEL_GUEST_EXTRA_MODULES:-}"

log() { echo "build-guest: $*" >&2; }
die() { echo "build-guest: error: $*" >&2; exit 1; }
# Exit status 3 = the kernel package cannot be had (no apt lists, no network):
# guest.py turns it into GuestUnavailable, which tests report as a skip. Every
# other failure (exit 1) is a real error.
die_unavailable() { echo "build-guest: error: $*" >&2; exit 3; }

for tool in apt-get apt-cache dpkg-deb dpkg gzip sha256sum flock; do
    command -v "$tool" >/dev/null || die "'$tool' not found (this script expects Debian)"
done

mkdir -p "$cache"
out=$(cd "$out" && pwd)
cache="$out/cache"

# Two test processes may build at once: serialise on a lock in the output dir.
exec 9>"$out/.lock"
flock 9

# ---------------------------------------------------------------------------
# 1. Which kernel package? linux-image-amd64 is a metapackage that depends on
#    the real one (e.g. linux-image-6.1.0-56-amd64). apt-cache takes ~0.7 s here
#    (Debian images disable apt's binary cache), too slow for the cached path,
#    so the answer is remembered together with a fingerprint of the apt lists
#    and asked again only when the lists change (after an `apt-get update`).
# ---------------------------------------------------------------------------
apt_lists_fingerprint() {
    # Name, size and mtime of every Packages list + apt preferences: cheap to
    # stat, and changes whenever `apt-get update` brings anything new.
    { stat -c '%n %s %Y' /var/lib/apt/lists/*_Packages* /etc/apt/preferences \
        /etc/apt/preferences.d/* 2>/dev/null || true; } | sha256sum | cut -d' ' -f1
}

resolve_kernel_package() {
    local deps pkg ver
    deps=$(apt-cache depends linux-image-amd64 2>/dev/null || true)
    pkg=$(sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' <<<"$deps" | head -n1)
    [ -n "$pkg" ] || return 1
    ver=$(apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^ *Candidate: //p')
    [ -n "$ver" ] && [ "$ver" != "(none)" ] || return 1
    echo "$pkg $ver"
}

fp=$(apt_lists_fingerprint)
kpkg="" kver=""
if [ -f "$cache/kernel-package" ]; then
    read -r cached_fp cached_pkg cached_ver <"$cache/kernel-package" || true
    if [ "${cached_fp:-}" = "$fp" ]; then
        kpkg=$cached_pkg kver=$cached_ver
    fi
fi
if [ -z "$kpkg" ]; then
    if resolved=$(resolve_kernel_package); then
        read -r kpkg kver <<<"$resolved"
        echo "$fp $kpkg $kver" >"$cache/kernel-package"
    elif [ -n "${cached_pkg:-}" ] && ls "$cache/${cached_pkg}_"*.deb >/dev/null 2>&1; then
        # No apt lists now, but an earlier run downloaded the kernel: keep using it.
        kpkg=$cached_pkg kver=$cached_ver
        log "warning: cannot resolve linux-image-amd64 with apt-cache (apt lists missing?);" \
            "using the cached $kpkg $kver"
    else
        die_unavailable "cannot resolve the real package behind linux-image-amd64: the apt package" \
            "lists are missing or stale. Run 'apt-get update' (as root) and try again."
    fi
fi

# ---------------------------------------------------------------------------
# 2. Cache check. The stamp names the kernel package version and hashes of
#    everything else that goes into the initramfs (this script, /init, busybox,
#    the module list). Same stamp + outputs present = nothing to do.
# ---------------------------------------------------------------------------
busybox_src=
if [ -x /bin/busybox ] && [ "$(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null)" = "install ok installed" ]; then
    busybox_src=/bin/busybox
fi
input_hash=$(
    {
        sha256sum "$here/build-guest.sh" "$here/init" | cut -d' ' -f1
        if [ -n "$busybox_src" ]; then sha256sum "$busybox_src" | cut -d' ' -f1; else echo busybox-deb; fi
        echo "modules: ${required_modules[*]} ${optional_modules[*]} ${extra_modules[*]:-} fs: ${fs_modules[*]}"
    } | sha256sum | cut -d' ' -f1
)
stamp="kernel=$kpkg=$kver inputs=$input_hash"
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] \
    && [ -s "$out/vmlinuz" ] && [ -s "$out/initramfs.cpio.gz" ]; then
    exit 0
fi
log "building the test guest in $out ($kpkg $kver)"

# Scratch space, removed on exit whatever happens. The unpacked kernel package
# is ~400 MB, so it never stays around.
work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# apt-get download, retried once after `apt-get update` (stale lists name a .deb
# the mirror no longer has). Downloads land in $cache; a .deb already there is
# reused. APT::Sandbox::User=root: the _apt user may not be able to write here.
fetch_deb() { # PKG VERSION -> prints the .deb path
    local pkg=$1 ver=$2 deb
    deb=$(ls "$cache/${pkg}_${ver/:/%3a}_"*.deb 2>/dev/null | head -n1 || true)
    if [ -z "$deb" ]; then
        log "downloading $pkg $ver"
        if ! (cd "$cache" && apt-get -q -o APT::Sandbox::User=root download "$pkg=$ver" >&2); then
            log "apt-get download failed; running 'apt-get update' and retrying"
            apt-get -q update >&2 || die_unavailable "'apt-get update' failed (needs root and network)"
            rm -f "$cache/kernel-package"   # resolve again from the new lists next time
            (cd "$cache" && apt-get -q -o APT::Sandbox::User=root download "$pkg" >&2) \
                || die_unavailable "cannot download $pkg with apt-get"
        fi
        deb=$(ls -t "$cache/${pkg}_"*.deb 2>/dev/null | head -n1 || true)
        [ -n "$deb" ] || die "apt-get download reported success but no ${pkg}_*.deb is in $cache"
    fi
    echo "$deb"
}

# ---------------------------------------------------------------------------
# 3. The kernel: unpack the package (never install it) and keep vmlinuz.
# ---------------------------------------------------------------------------
kdeb=$(fetch_deb "$kpkg" "$kver")
# After an `apt-get update` retry the .deb may be newer than the version resolved
# above: the stamp names what was really built.
kver=$(dpkg-deb -f "$kdeb" Version) || die "$kdeb is not a valid .deb (delete it and retry)"
stamp="kernel=$kpkg=$kver inputs=$input_hash"
dpkg -x "$kdeb" "$work/kernel" || die "dpkg -x $kdeb failed (corrupt download? delete it and retry)"
vmlinuz=$(ls "$work"/kernel/boot/vmlinuz-* 2>/dev/null | head -n1 || true)
[ -n "$vmlinuz" ] || die "$kdeb has no boot/vmlinuz-*"
krel=${vmlinuz##*/vmlinuz-}
moddir=
for d in "$work/kernel/lib/modules/$krel" "$work/kernel/usr/lib/modules/$krel"; do
    [ -d "$d" ] && moddir=$d && break
done
[ -n "$moddir" ] || die "$kdeb has no lib/modules/$krel"
kconfig="$work/kernel/boot/config-$krel"
if [ -f "$kconfig" ]; then
    log "kernel $krel config: $(grep -E '^CONFIG_(VIRTIO|VIRTIO_PCI|VIRTIO_NET|VIRTIO_BLK|DEVTMPFS|RD_GZIP)=' "$kconfig" | tr '\n' ' ')"
fi

# vmlinuz is an XZ-compressed bzImage; under TCG its decompressor alone takes
# ~3.5 s of a ~6.5 s boot. The ELF inside it can be booted directly by QEMU
# through the PVH entry point (CONFIG_PVH), which halves every test boot, so
# keep it too (~65 MB). guest.py uses it when present, vmlinuz otherwise.
if [ -f "$kconfig" ] && grep -q '^CONFIG_PVH=y' "$kconfig" && [ -x /usr/bin/python3 ]; then
    /usr/bin/python3 "$here/guest.py" extract-vmlinux "$vmlinuz" "$work/vmlinux" \
        || log "warning: could not extract vmlinux from vmlinuz; boots will use vmlinuz (slower)"
else
    log "note: no PVH entry (CONFIG_PVH) or no /usr/bin/python3; boots will use vmlinuz"
fi

# ---------------------------------------------------------------------------
# 4. The initramfs tree: busybox and its applet symlinks.
# ---------------------------------------------------------------------------
root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,lib/modules}

if [ -z "$busybox_src" ]; then
    # busybox-static not installed: take its binary from the package, unpacked.
    log "busybox-static is not installed; fetching it with apt-get download"
    bbver=$(apt-cache policy busybox-static 2>/dev/null | sed -n 's/^ *Candidate: //p')
    [ -n "$bbver" ] && [ "$bbver" != "(none)" ] \
        || die "busybox-static is not installed and apt-cache cannot find it (run 'apt-get update')"
    bbdeb=$(fetch_deb busybox-static "$bbver")
    dpkg -x "$bbdeb" "$work/busybox" || die "dpkg -x $bbdeb failed"
    busybox_src="$work/busybox/bin/busybox"
fi
# The initramfs has no libc: busybox must be the static build.
if ldd "$busybox_src" >/dev/null 2>&1; then
    die "$busybox_src is dynamically linked; install busybox-static"
fi
cp "$busybox_src" "$root/bin/busybox"
chmod 0755 "$root/bin/busybox"
while read -r applet; do
    [ "$applet" = bin/busybox ] && continue
    [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done < <("$root/bin/busybox" --list-full)

install -m 0755 "$here/init" "$root/init"
echo "vessel-guest" >"$root/etc/hostname"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"

# ---------------------------------------------------------------------------
# 5. Modules. modules.dep is not in the package (depmod makes it at install
#    time), so the order comes from each module's own "depends=" modinfo field:
#    a depth-first walk puts every module after its dependencies. Compressed
#    modules (.ko.xz/.ko.zst/.ko.gz) are decompressed because busybox insmod
#    loads plain .ko only. Built-in drivers (modules.builtin) are skipped.
# ---------------------------------------------------------------------------
declare -A ko_path=() builtin=() state=()
while IFS= read -r f; do
    name=${f##*/}; name=${name%%.ko*}; name=${name//-/_}
    ko_path[$name]=$f
done < <(find "$moddir/kernel" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')
if [ -f "$moddir/modules.builtin" ]; then
    while IFS= read -r f; do
        name=${f##*/}; name=${name%%.ko*}; builtin[${name//-/_}]=1
    done <"$moddir/modules.builtin"
fi

module_depends() { # FILE.ko -> dependency names, one per line
    local deps
    if command -v modinfo >/dev/null; then
        deps=$(modinfo -F depends "$1")
    else
        deps=$(tr '\0' '\n' <"$1" | sed -n 's/^depends=//p' | head -n1)
    fi
    tr ',' '\n' <<<"$deps" | sed '/^$/d; s/-/_/g'
}

order=()
visit() { # NAME: decompress NAME into the tree after its dependencies
    local m=$1 src dst d
    case "${state[$m]:-}" in
        "done") return 0 ;;
        active) die "module dependency cycle at $m" ;;
    esac
    state[$m]=active
    src=${ko_path[$m]}
    dst="$root/lib/modules/$m.ko"
    case "$src" in
        *.ko.xz) xz -dc "$src" >"$dst" || die "cannot decompress $src (is xz-utils installed?)" ;;
        *.ko.zst) zstd -qdc "$src" >"$dst" || die "cannot decompress $src (is zstd installed?)" ;;
        *.ko.gz) gzip -dc "$src" >"$dst" ;;
        *) cp "$src" "$dst" ;;
    esac
    for d in $(module_depends "$dst"); do
        if [ -n "${ko_path[$d]:-}" ]; then
            visit "$d"
        elif [ -z "${builtin[$d]:-}" ]; then
            die "module $m depends on $d, which is neither a module nor built in"
        fi
    done
    state[$m]="done"
    order+=("$m")
}

skipped=()
for m in "${required_modules[@]}" "${optional_modules[@]}" ${extra_modules[@]+"${extra_modules[@]}"}; do
    m=${m//-/_}
    if [ -n "${ko_path[$m]:-}" ]; then
        visit "$m"
    elif [ -n "${builtin[$m]:-}" ]; then
        skipped+=("$m(built-in)")
    elif [[ " ${optional_modules[*]} " == *" $m "* ]]; then
        skipped+=("$m(absent)")
    else
        die "kernel $krel has no module '$m' and does not build it in"
    fi
done
printf '%s\n' ${order[@]+"${order[@]}"} >"$root/etc/vessel-modules"
log "modules (load order): ${order[*]:-none}${skipped:+; skipped: ${skipped[*]}}"

# Filesystem modules a test loads on demand (`vessel-load-fs`): ext4, which
# also mounts the ext2 that busybox mke2fs makes, and the crc32c it insists on.
# Not loaded at boot, so they cost the other tests nothing but initramfs bytes.
boot_count=${#order[@]}
for m in "${fs_modules[@]}"; do
    if [ -n "${ko_path[$m]:-}" ]; then
        visit "$m"
    elif [ -z "${builtin[$m]:-}" ]; then
        log "warning: kernel $krel has no $m; vessel-load-fs will fail"
    fi
done
printf '%s\n' ${order[@]:$boot_count} >"$root/etc/vessel-fs-modules"
cat >"$root/bin/vessel-load-fs" <<'LOADFS'
#!/bin/sh
# Loads the filesystem modules listed in /etc/vessel-fs-modules (ext4 and what
# it depends on); already loaded ones are skipped.
while read -r mod; do
    [ -n "$mod" ] || continue
    grep -q "^$mod " /proc/modules 2>/dev/null && continue
    insmod "/lib/modules/$mod.ko" || { echo "vessel-load-fs: insmod $mod failed"; exit 1; }
done </etc/vessel-fs-modules
LOADFS
chmod 0755 "$root/bin/vessel-load-fs"

# ---------------------------------------------------------------------------
# 6. Pack: newc cpio, gzip. Sorted names, owner root, fixed mtimes (-n for
#    gzip, --reproducible for cpio) so the same inputs give the same bytes.
#    Without GNU cpio, guest.py writes the archive (stdlib only).
# ---------------------------------------------------------------------------
find "$root" -exec touch -h -d @0 {} +
if command -v cpio >/dev/null; then
    (cd "$root" && find . -mindepth 1 -print0 | LC_ALL=C sort -z \
        | cpio --quiet --null -o -H newc -R 0:0 --reproducible) | gzip -9 -n >"$work/initramfs.cpio.gz"
else
    /usr/bin/python3 "$here/guest.py" mkcpio "$root" "$work/initramfs.cpio.gz"
fi

# Publish: outputs first, the stamp last, so an interrupted build is redone.
rm -f "$out/stamp"
cp "$vmlinuz" "$out/vmlinuz.tmp" && mv -f "$out/vmlinuz.tmp" "$out/vmlinuz"
if [ -s "$work/vmlinux" ]; then mv -f "$work/vmlinux" "$out/vmlinux"; else rm -f "$out/vmlinux"; fi
mv -f "$work/initramfs.cpio.gz" "$out/initramfs.cpio.gz"
printf '%s\n' ${order[@]:0:$boot_count} >"$out/modules.txt"
echo "$krel" >"$out/kernel-release"
echo "$stamp" >"$out/stamp"
log "done: $out/vmlinuz ($krel), $out/initramfs.cpio.gz ($(stat -c %s "$out/initramfs.cpio.gz") bytes)"
