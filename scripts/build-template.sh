#!/usr/bin/env bash
# Builds a sandbox template — a root filesystem the local provider can run
# sandboxes on (local.Config.Templates) — from Debian packages, without
# installing anything on the host: the packages are downloaded with
# apt-get download and unpacked with dpkg-deb -x. No maintainer script runs;
# the few links they would make are made here.
#
#   scripts/build-template.sh python-data [DIR]
#
# python-data: python3 with numpy and matplotlib (its Agg backend draws
# charts as PNG), plus dash, bash, coreutils and grep.
# DIR defaults to .cache/templates/NAME. An existing, complete template is
# kept (delete DIR to rebuild). The packages' versions are listed in
# DIR/usr/share/computemw-template/packages.
set -euo pipefail

name=${1:-python-data}
cd "$(dirname "$0")/.."
dir=${2:-.cache/templates/$name}

case "$name" in
  python-data)
    packages=(
      libc6 libgcc-s1 dash bash coreutils grep
      libacl1 libattr1 libselinux1 libpcre2-8-0 libgmp10 libtinfo6
      python3 python3-minimal python3.11 python3.11-minimal libpython3-stdlib
      libpython3.11-minimal libpython3.11-stdlib libexpat1 zlib1g libssl3 libffi8
      libbz2-1.0 liblzma5 libsqlite3-0 libuuid1 libncursesw6 libreadline8
      libnsl2 libtirpc3 libtirpc-common libcrypt1 libdb5.3 libgdbm6 media-types
      python3-numpy libblas3 liblapack3 libgfortran5 libquadmath0
      python3-matplotlib python-matplotlib-data fonts-dejavu-core python3-dateutil python3-six
      python3-pyparsing python3-cycler python3-fonttools python3-kiwisolver python3-contourpy
      python3-packaging python3-pil libfreetype6 libqhull-r8.0 libstdc++6 libpng16-16 libbrotli1
      libjpeg62-turbo libtiff6 libdeflate0 libjbig0 liblerc4 libzstd1 libwebp7 libwebpdemux2
      libwebpmux3 liblcms2-2 libopenjp2-7 libimagequant0 libgomp1 libraqm0 libfribidi0
      libharfbuzz0b libglib2.0-0 libgraphite2-3 libmount1 libblkid1 libxcb1 libxau6 libxdmcp6
      libbsd0 libmd0
    )
    # The packages a template built by an earlier version of this script
    # lacks: such a template is rebuilt.
    required=python3-matplotlib
    check=(env MPLCONFIGDIR=/tmp python3 -c 'import numpy, matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot; print(numpy.__version__, matplotlib.__version__)')
    ;;
  *)
    echo "build-template: unknown template '$name' (known: python-data)" >&2
    exit 2
    ;;
esac

if [ -f "$dir/usr/share/computemw-template/packages" ]; then
  if grep -q "^${required} " "$dir/usr/share/computemw-template/packages"; then
    echo "build-template: $dir is already built"
    exit 0
  fi
  echo "build-template: $dir lacks ${required}: rebuilding it"
fi
for tool in apt-get dpkg-deb; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build-template: $tool is missing: templates are built from Debian packages on a Debian-based host" >&2
    exit 1
  fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debs" "$work/root"

apt_opts=()
# As root, apt-get download hands the download to the _apt user, which
# cannot write into this private directory.
if [ "$(id -u)" -eq 0 ]; then apt_opts=(-o APT::Sandbox::User=root); fi
download() { (cd "$work/debs" && apt-get download -q "${apt_opts[@]}" "${packages[@]}" >/dev/null); }
if ! download; then
  # The package lists may be missing or stale on a fresh machine.
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq; fi
  download
fi

for deb in "$work"/debs/*.deb; do
  dpkg-deb -x "$deb" "$work/root"
  dpkg-deb -W --showformat='${Package} ${Version}\n' "$deb" >> "$work/packages"
done

root=$work/root
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
# What maintainer scripts would have done: /bin/sh, the BLAS and LAPACK
# alternatives, the loader's cache.
[ -e "$root/bin/sh" ] || ln -s dash "$root/bin/sh"
for lib in blas/libblas.so.3 lapack/liblapack.so.3; do
  link=$root/usr/lib/$multiarch/$(basename "$lib")
  [ -e "$link" ] || ln -s "$lib" "$link"
done
mkdir -p "$root/etc"
echo 'include /etc/ld.so.conf.d/*.conf' > "$root/etc/ld.so.conf"
if [ "$(id -u)" -eq 0 ] && command -v ldconfig >/dev/null 2>&1; then
  ldconfig -r "$root" 2>/dev/null || true
fi
mkdir -p "$root/usr/share/computemw-template"
sort "$work/packages" > "$root/usr/share/computemw-template/packages"

# The template works when its own loader and libraries run the check.
if command -v bwrap >/dev/null 2>&1; then
  binds=()
  for d in bin lib lib64 sbin; do
    if [ -L "$root/$d" ]; then binds+=(--symlink "$(readlink "$root/$d")" "/$d");
    elif [ -d "$root/$d" ]; then binds+=(--ro-bind "$root/$d" "/$d"); fi
  done
  for f in etc/ld.so.cache etc/matplotlibrc; do
    [ -f "$root/$f" ] && binds+=(--ro-bind "$root/$f" "/$f")
  done
  # What the packages' maintainer scripts would have done (py3compile):
  # Python's bytecode, so that sandboxes, which cannot write it, need not
  # compile numpy and matplotlib on every import.
  bwrap --unshare-all --die-with-parent --bind "$root/usr" /usr "${binds[@]}" --proc /proc --dev /dev \
    --tmpfs /tmp --clearenv --setenv PATH /usr/bin:/bin \
    python3 -m compileall -q -j 0 /usr/lib/python3/dist-packages /usr/lib/python3.11 >/dev/null 2>&1 ||
    echo "build-template: compiling Python's bytecode failed; imports will be slower" >&2
  binds+=(--ro-bind "$root/usr" /usr)
  if ! out=$(bwrap --unshare-all --die-with-parent "${binds[@]}" --proc /proc --dev /dev --tmpfs /tmp \
      --clearenv --setenv PATH /usr/bin:/bin "${check[@]}" 2>&1); then
    echo "build-template: the template does not work: $out" >&2
    exit 1
  fi
  echo "build-template: checked: ${check[*]} -> $out"
fi

mkdir -p "$(dirname "$dir")"
rm -rf "$dir"
mv "$root" "$dir"
chmod 755 "$dir"
echo "build-template: $name is in $dir ($(du -sh "$dir" | cut -f1), $(wc -l < "$dir/usr/share/computemw-template/packages") packages)"
