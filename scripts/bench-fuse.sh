#!/usr/bin/env bash
# ExoFS (FFS image, through `exofs mount`) against fuse2fs (ext4 without a journal) on the same machine, in
# one run: untar a ~4,500-file source tree, read every file back, rm -rf it, a 256 MiB sequential write with
# fsync, a sequential read of it after a remount and dropped caches, and postmark (5,000 files, 20,000
# transactions, 500..16,384 bytes). Runs ROUNDS rounds, the two file systems taking turns to go first, and
# prints a markdown table of each workload's median time with its range (seconds) and the median and range
# of the per-round ratios fuse2fs / exofs (above 1 means ExoFS is faster); writes it to
# OUT. A single run on a VM swings by 10-20%, so one round says little.
#
#   bash scripts/bench-fuse.sh [--rounds N] [OUT]   (default 3 rounds, OUT bench-fuse.md; root, for drop_caches)
#
# The tree is the first 4,500 files of /usr/include in byte order (a tarball made with fixed order, owner
# and times, so every run on the same machine untars the same bytes). Work files go to $BENCH_DIR
# (default /var/tmp/exofs-bench). The machine, the date and the load average go into OUT with the table.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3
if [ "${1:-}" = "--rounds" ]; then
  [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "bench-fuse: --rounds takes a positive number, not '${2:-}'" >&2; exit 2; }
  rounds=$2; shift 2
fi
out="${1:-bench-fuse.md}"
work="${BENCH_DIR:-/var/tmp/exofs-bench}"
exofs="$PWD/out/exofs/exofs"
export PATH="$HOME/.dotnet:$PATH"
for tool in fuse2fs mkfs.ext4 postmark fusermount3; do
  command -v "$tool" >/dev/null || { echo "bench-fuse: $tool is missing (bash scripts/prereqs.sh installs it)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "bench-fuse: run as root (it drops the page cache between phases)" >&2; exit 1; }
[ -x "$exofs" ] || dotnet build Cli/Cli.csproj -c Release -nologo -v quiet -o out/exofs

mkdir -p "$work"
mnt="$work/mnt"
mkdir -p "$mnt"
fuse2fs_pid=""

cleanup() {
  if grep -q " $mnt " /proc/self/mountinfo; then
    "$exofs" umount "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" || true
  fi
  if [ -n "$fuse2fs_pid" ]; then wait "$fuse2fs_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- the source tarball
tarball="$work/src.tar"
if [ ! -s "$tarball" ]; then
  (cd /usr/include && find . -type f | LC_ALL=C sort | awk 'NR <= 4500' | sed 's|^\./||' > "$work/src.list")
  tar -C /usr/include --sort=name --mtime=@1000000000 --owner=0 --group=0 --numeric-owner \
      --transform 's|^|src/|' -cf "$tarball" -T "$work/src.list"
fi
files=$(tar -tf "$tarball" | grep -vc '/$')
bytes=$(tar -tvf "$tarball" | awk '{s += $3} END {print s}')

# ---------------------------------------------------------------- mounting each file system
mount_fs() {   # $1: exofs | fuse2fs; mounts the image made by make_fs on $mnt
  case "$1" in
    exofs) "$exofs" mount "$work/exofs.img" "$mnt" >/dev/null ;;
    fuse2fs)
      fuse2fs -f "$work/ext4.img" "$mnt" -o fakeroot >"$work/fuse2fs.log" 2>&1 &
      fuse2fs_pid=$!
      for _ in $(seq 1 200); do grep -q " $mnt " /proc/self/mountinfo && return 0; sleep 0.05; done
      echo "bench-fuse: fuse2fs did not mount (see $work/fuse2fs.log)" >&2; exit 1 ;;
  esac
}

umount_fs() {  # returns once the daemon has written everything and exited
  case "$1" in
    exofs) "$exofs" umount "$mnt" ;;
    fuse2fs) fusermount3 -u "$mnt"; wait "$fuse2fs_pid"; fuse2fs_pid="" ;;
  esac
}

make_fs() {
  case "$1" in
    exofs) rm -f "$work/exofs.img"; "$exofs" mkfs "$work/exofs.img" --size 1G >/dev/null ;;
    fuse2fs) rm -f "$work/ext4.img"; truncate -s 1G "$work/ext4.img"; mkfs.ext4 -q -F -O ^has_journal "$work/ext4.img" ;;
  esac
}

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }

seconds() {    # runs "$@" and prints its wall time in seconds
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }'
}

untar()    { tar -C "$mnt" -xf "$tarball" && sync -f "$mnt"; }
readback() { tar -C "$mnt" -cf - src | cat >/dev/null; }   # through a pipe: GNU tar skips reading for /dev/null
remove()   { rm -rf "$mnt/src" && sync -f "$mnt"; }
seqwrite() { dd if=/dev/zero of="$mnt/big" bs=1M count=256 conv=fsync status=none; }
seqread()  { dd if="$mnt/big" of=/dev/null bs=1M status=none; }
postmark_run() {
  mkdir -p "$mnt/pm"
  printf 'set location %s\nset number 5000\nset transactions 20000\nset size 500 16384\nset seed 42\nrun\nquit\n' "$mnt/pm" \
    > "$work/postmark.cfg"
  postmark "$work/postmark.cfg"
}

declare -A result   # result[fs,workload] = the rounds' times, space-separated, in round order
run_suite() {
  local fs=$1
  make_fs "$fs"
  mount_fs "$fs"
  drop_caches
  result[$fs,untar]+="$(seconds untar) "
  drop_caches
  result[$fs,read]+="$(seconds readback) "
  result[$fs,rm]+="$(seconds remove) "
  result[$fs,write]+="$(seconds seqwrite) "
  umount_fs "$fs"; drop_caches; mount_fs "$fs"
  result[$fs,seqread]+="$(seconds seqread) "
  rm -f "$mnt/big"
  result[$fs,postmark]+="$(seconds postmark_run) "
  umount_fs "$fs"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$rounds"); do
  # Taking turns to go first keeps a drift in the machine's speed from favouring one of them.
  if [ $((round % 2)) -eq 1 ]; then order="exofs fuse2fs"; else order="fuse2fs exofs"; fi
  for fs in $order; do run_suite "$fs"; done
  echo "bench-fuse: round $round of $rounds done" >&2
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
"$exofs" fsck "$work/exofs.img" >/dev/null || { echo "bench-fuse: the ExoFS image is not clean after the run" >&2; exit 1; }

median() {     # "1.2 0.9 1.5 " -> "1.20 (0.90-1.50)"; a single value stands alone
  tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    if (NR == 1) printf "%.2f", m; else printf "%.2f (%.2f-%.2f)", m, v[1], v[NR] }'
}
ratios() {     # per-round fuse2fs / exofs of two lists in round order, space-separated
  paste -d' ' <(tr ' ' '\n' <<<"$1" | grep .) <(tr ' ' '\n' <<<"$2" | grep .) |
    awk '{ if ($2 > 0) printf "%.2f ", $1 / $2 }'
}
{
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, Linux $(uname -r), images on $(df -T "$work" | awk 'NR==2 {print $2}'); $(date -u '+%Y-%m-%d %H:%M UTC')."
  echo "Load average (1/5/15 min): $load_before before, $load_after after. Tree: $files files, $((bytes / 1048576)) MiB (first 4,500 files of /usr/include)."
  echo
  echo "Each figure: the median of $rounds rounds, with the range in brackets."
  echo
  echo "| workload | exofs (s) | fuse2fs (s) | fuse2fs / exofs |"
  echo "|---|---:|---:|---:|"
  for w in "untar:untar $files files (+ syncfs)" "read:read every file back (cold cache)" "rm:rm -rf the tree (+ syncfs)" \
           "write:256 MiB sequential write, fsync" "seqread:256 MiB sequential read (after remount)" "postmark:postmark 5,000 files, 20,000 transactions"; do
    key=${w%%:*} label=${w#*:}
    echo "| $label | $(median "${result[exofs,$key]}") | $(median "${result[fuse2fs,$key]}") | $(median "$(ratios "${result[fuse2fs,$key]}" "${result[exofs,$key]}")") |"
  done
} | tee "$out"
