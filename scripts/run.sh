#!/usr/bin/env bash
# The main job on a fresh machine: prerequisites, build, then an ExoFS image mounted and ready to use.
#
#   bash scripts/run.sh [--install-mount-helper]
#
# Creates ./exofs.img (1 GiB, sparse, FFS) if it is missing, mounts it (on /mnt/exofs as root, else ./mnt)
# and leaves it mounted. Running it again while the image is mounted says so and exits 0.
# EXOFS_IMAGE and EXOFS_MOUNTPOINT override the defaults. --install-mount-helper also installs
# /sbin/mount.fuse.exofs so that `mount -t fuse.exofs IMAGE DIR` and fstab lines work, /sbin/fsck.exofs so
# that `fsck -t exofs IMAGE` works, the exofs(8) man page and the bash completion.
set -euo pipefail
cd "$(dirname "$0")/.."
install_helper=0
for arg in "$@"; do
  case "$arg" in
    --install-mount-helper) install_helper=1 ;;
    *) echo "usage: bash scripts/run.sh [--install-mount-helper]" >&2; exit 2 ;;
  esac
done

bash scripts/prereqs.sh
export PATH="$HOME/.dotnet:$PATH"
exofs="$PWD/out/exofs/exofs"
image="${EXOFS_IMAGE:-$PWD/exofs.img}"
if [ -n "${EXOFS_MOUNTPOINT:-}" ]; then mnt="$EXOFS_MOUNTPOINT"
elif [ "$(id -u)" -eq 0 ]; then mnt=/mnt/exofs
else mnt="$PWD/mnt"; fi

# Already serving? Then there is nothing to do (and rebuilding would replace the binary under the daemon).
mounted_source() { awk -v m="$1" '$5 == m { for (i = 7; i <= NF; i++) if ($i == "-") { print $(i + 1) " " $(i + 2); break } }' /proc/self/mountinfo | tail -n 1; }
fstype="" source=""
read -r fstype source < <(mounted_source "$(realpath -m "$mnt")") || true
if [ "$fstype" = fuse.exofs ] && ! stat "$mnt" >/dev/null 2>&1 && [ -x "$exofs" ]; then
  # Its daemon is gone (killed): clear the dead mount, then mount again below.
  echo "clearing a dead ExoFS mount on $mnt"
  "$exofs" umount "$mnt"
  fstype=""
fi
if [ -n "$fstype" ]; then
  if [ "$fstype" = fuse.exofs ]; then
    echo "ExoFS is already mounted on $mnt (image $source)."
    echo "Unmount with: $exofs umount $mnt"
    exit 0
  else
    echo "run.sh: $mnt already has a $fstype mount ($source); set EXOFS_MOUNTPOINT to another directory" >&2
    exit 1
  fi
fi

dotnet build Cli/Cli.csproj -c Release -nologo -v quiet -o out/exofs

if [ "$install_helper" -eq 1 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  sed "s|@EXOFS@|$exofs|" scripts/mount.fuse.exofs | $sudo tee /sbin/mount.fuse.exofs >/dev/null
  $sudo chmod 755 /sbin/mount.fuse.exofs
  echo "installed /sbin/mount.fuse.exofs (mount -t fuse.exofs IMAGE DIR)"
  sed "s|@EXOFS@|$exofs|" scripts/fsck.exofs | $sudo tee /sbin/fsck.exofs >/dev/null
  $sudo chmod 755 /sbin/fsck.exofs
  echo "installed /sbin/fsck.exofs (fsck -t exofs IMAGE)"
  $sudo install -D -m 644 docs/exofs.8 /usr/local/share/man/man8/exofs.8
  $sudo mandb -q 2>/dev/null || true
  echo "installed /usr/local/share/man/man8/exofs.8 (man exofs)"
  $sudo install -D -m 644 scripts/exofs-completion.bash /etc/bash_completion.d/exofs
  echo "installed /etc/bash_completion.d/exofs (bash completion; or: source scripts/exofs-completion.bash)"
fi

if [ ! -e "$image" ]; then
  "$exofs" mkfs "$image" --size 1G
fi
mkdir -p "$mnt"
"$exofs" mount "$image" "$mnt"
echo
echo "ExoFS ($image) is mounted on $mnt: use it with ordinary tools (ls, cp, tar, git, ...)."
echo "Unmount with: $exofs umount $mnt"
echo "Check the image afterwards with: $exofs fsck $image"
