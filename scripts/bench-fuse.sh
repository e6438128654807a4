#!/usr/bin/env bash
# ExoFS (an FFS image and an LFS image, through `exofs mount`) against fuse2fs (ext4 without a journal) and
# libfuse's passthrough_ll serving a tmpfs (the FUSE floor: what a daemon costs that does no file-system work)
# on the same machine, in one run: untar a ~4,500-file source tree, read every file back, rm -rf it, a 256 MiB
# sequential write with fsync, a sequential read of it after a remount and dropped caches, and postmark (5,000
# files, 20,000 transactions, 500..16,384 bytes). Runs ROUNDS rounds, the file systems' order reversed every
# other round, and prints a markdown table of each workload's median time with its range (seconds), the
# median and range of the per-round ratios exofs / passthrough_ll and lfs / passthrough_ll (times: 1 is the
# floor, above 1 is slower), lfs / exofs (the two libFS designs on the same mount code, run back to back in
# each round; above 1 means the LFS is slower) and fuse2fs / exofs (above 1 means ExoFS FFS is faster); writes
# it to OUT.
# A single run on a VM swings by 10-20%, so one round says little.
#
# passthrough_ll is compiled from the example source libfuse3-dev ships (/usr/share/doc/libfuse3-dev/examples)
# into $BENCH_DIR; its "cold" read after a remount and drop_caches still reads tmpfs pages from memory, which
# is the point: it is the cost of the FUSE round trips alone.
#
#   bash scripts/bench-fuse.sh [--rounds N] [--images disk|tmpfs] [OUT]
#       (default 3 rounds, images on disk, OUT bench-fuse.md; root, for drop_caches)
#
# --images tmpfs puts the three image files on a tmpfs of their own, so every daemon's backing store is RAM,
# as passthrough_ll's is: the ratios to passthrough_ll then measure what each daemon adds, not the disk. With
# the default (images on disk under $BENCH_DIR) a "cold" read really reads the disk and fsync really flushes it.
#
# The tree is the first 4,500 files of /usr/include in byte order (a tarball made with fixed order, owner
# and times, so every run on the same machine untars the same bytes). Work files go to $BENCH_DIR
# (default /var/tmp/exofs-bench). The machine, the date and the load average go into OUT with the table.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3
images=disk
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds)
      [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "bench-fuse: --rounds takes a positive number, not '${2:-}'" >&2; exit 2; }
      rounds=$2; shift 2 ;;
    --images)
      [[ "${2:-}" =~ ^(disk|tmpfs)$ ]] || { echo "bench-fuse: --images takes disk or tmpfs, not '${2:-}'" >&2; exit 2; }
      images=$2; shift 2 ;;
    -*) echo "bench-fuse: unknown option '$1'" >&2; exit 2 ;;
    *) break ;;
  esac
done
out="${1:-bench-fuse.md}"
work="${BENCH_DIR:-/var/tmp/exofs-bench}"
exofs="$PWD/out/exofs/exofs"
export PATH="$HOME/.dotnet:$PATH"
for tool in fuse2fs mkfs.ext4 postmark fusermount3 gcc pkg-config; do
  command -v "$tool" >/dev/null || { echo "bench-fuse: $tool is missing (bash scripts/prereqs.sh installs it)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "bench-fuse: run as root (it drops the page cache between phases)" >&2; exit 1; }
# Always build: an out/exofs left by an older checkout would otherwise be measured instead of this one.
dotnet build Cli/Cli.csproj -c Release -nologo -v quiet -o out/exofs >/dev/null || { echo "bench-fuse: the build failed" >&2; exit 1; }

mkdir -p "$work"
mnt="$work/mnt"
tmpfs="$work/tmpfs"     # what passthrough_ll serves
imgdir="$work"          # where the three image files live
[ "$images" = tmpfs ] && imgdir="$work/images"
mkdir -p "$mnt" "$tmpfs" "$imgdir"
daemon_pid=""           # fuse2fs's or passthrough_ll's, while mounted
own_tmpfs=0; own_imgdir=0   # 1 once this run mounted them: a tmpfs someone else mounted there is left alone

cleanup() {
  if grep -q " $mnt " /proc/self/mountinfo; then
    "$exofs" umount "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" || true
  fi
  if [ -n "$daemon_pid" ]; then wait "$daemon_pid" 2>/dev/null || true; fi
  if [ "$own_tmpfs" = 1 ]; then umount "$tmpfs" || true; fi
  if [ "$own_imgdir" = 1 ]; then umount "$imgdir" || true; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- passthrough_ll, from libfuse's examples
examples=/usr/share/doc/libfuse3-dev/examples
ptll="$work/passthrough_ll"
[ -f "$examples/passthrough_ll.c" ] || { echo "bench-fuse: $examples/passthrough_ll.c is missing (bash scripts/prereqs.sh installs libfuse3-dev)" >&2; exit 1; }
if [ ! -x "$ptll" ] || [ "$examples/passthrough_ll.c" -nt "$ptll" ]; then
  # shellcheck disable=SC2046 # pkg-config's flags are separate words
  gcc -O2 -o "$ptll" "$examples/passthrough_ll.c" -I"$examples" $(pkg-config fuse3 --cflags --libs) ||
    { echo "bench-fuse: could not compile passthrough_ll" >&2; exit 1; }
fi
if ! grep -q " $tmpfs " /proc/self/mountinfo; then
  mount -t tmpfs -o size=1200M exofs-bench "$tmpfs" && own_tmpfs=1
fi
if [ "$images" = tmpfs ] && ! grep -q " $imgdir " /proc/self/mountinfo; then
  mount -t tmpfs -o size=3600M exofs-bench-images "$imgdir" && own_imgdir=1
fi

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
wait_mounted() { # $1: the daemon's name, for the message
  for _ in $(seq 1 200); do grep -q " $mnt " /proc/self/mountinfo && return 0; sleep 0.05; done
  echo "bench-fuse: $1 did not mount (see $work/$1.log)" >&2; exit 1
}

mount_fs() {   # $1: exofs | lfs | fuse2fs | ptll; mounts what make_fs made on $mnt
  case "$1" in
    exofs) "$exofs" mount "$imgdir/exofs.img" "$mnt" >/dev/null ;;
    lfs) "$exofs" mount "$imgdir/lfs.img" "$mnt" >/dev/null ;;
    fuse2fs)
      fuse2fs -f "$imgdir/ext4.img" "$mnt" -o fakeroot >"$work/fuse2fs.log" 2>&1 &
      daemon_pid=$!
      wait_mounted fuse2fs ;;
    ptll)
      "$ptll" -f -o source="$tmpfs" "$mnt" >"$work/passthrough_ll.log" 2>&1 &
      daemon_pid=$!
      wait_mounted passthrough_ll ;;
  esac
}

umount_fs() {  # returns once the daemon has written everything and exited
  case "$1" in
    exofs | lfs) "$exofs" umount "$mnt" ;;
    fuse2fs | ptll) fusermount3 -u "$mnt"; wait "$daemon_pid"; daemon_pid="" ;;
  esac
}

make_fs() {
  case "$1" in
    exofs) rm -f "$imgdir/exofs.img"; "$exofs" mkfs "$imgdir/exofs.img" --size 1G >/dev/null ;;
    lfs) rm -f "$imgdir/lfs.img"; "$exofs" mkfs "$imgdir/lfs.img" --size 1G --libfs lfs >/dev/null ;;
    fuse2fs) rm -f "$imgdir/ext4.img"; truncate -s 1G "$imgdir/ext4.img"; mkfs.ext4 -q -F -O ^has_journal "$imgdir/ext4.img" ;;
    ptll) find "$tmpfs" -mindepth 1 -delete ;;
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
  # Reversing the order every other round keeps a drift in the machine's speed from favouring one of them.
  if [ $((round % 2)) -eq 1 ]; then order="exofs lfs fuse2fs ptll"; else order="ptll fuse2fs lfs exofs"; fi
  for fs in $order; do run_suite "$fs"; done
  echo "bench-fuse: round $round of $rounds done" >&2
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
for img in exofs lfs; do
  "$exofs" fsck "$imgdir/$img.img" >/dev/null || { echo "bench-fuse: the ExoFS $img image is not clean after the run" >&2; exit 1; }
done

median() {     # "1.2 0.9 1.5 " -> "1.20 (0.90-1.50)"; a single value stands alone
  tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    if (NR == 1) printf "%.2f", m; else printf "%.2f (%.2f-%.2f)", m, v[1], v[NR] }'
}
ratios() {     # per-round $1 / $2 of two lists in round order, space-separated
  paste -d' ' <(tr ' ' '\n' <<<"$1" | grep .) <(tr ' ' '\n' <<<"$2" | grep .) |
    awk '{ if ($2 > 0) printf "%.2f ", $1 / $2 }'
}
{
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, Linux $(uname -r), images on $(df -T "$imgdir" | awk 'NR==2 {print $2}'); $(date -u '+%Y-%m-%d %H:%M UTC')."
  echo "Load average (1/5/15 min): $load_before before, $load_after after. Tree: $files files, $((bytes / 1048576)) MiB (first 4,500 files of /usr/include)."
  echo
  echo "Each figure: the median of $rounds rounds, with the range in brackets."
  echo
  echo "| workload | exofs FFS (s) | exofs LFS (s) | fuse2fs (s) | passthrough_ll (s) | FFS / ptll | LFS / ptll | LFS / FFS | fuse2fs / FFS |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for w in "untar:untar $files files (+ syncfs)" "read:read every file back (cold cache)" "rm:rm -rf the tree (+ syncfs)" \
           "write:256 MiB sequential write, fsync" "seqread:256 MiB sequential read (after remount)" "postmark:postmark 5,000 files, 20,000 transactions"; do
    key=${w%%:*} label=${w#*:}
    echo "| $label | $(median "${result[exofs,$key]}") | $(median "${result[lfs,$key]}") | $(median "${result[fuse2fs,$key]}") |" \
         "$(median "${result[ptll,$key]}") | $(median "$(ratios "${result[exofs,$key]}" "${result[ptll,$key]}")") |" \
         "$(median "$(ratios "${result[lfs,$key]}" "${result[ptll,$key]}")") | $(median "$(ratios "${result[lfs,$key]}" "${result[exofs,$key]}")") |" \
         "$(median "$(ratios "${result[fuse2fs,$key]}" "${result[exofs,$key]}")") |"
  done
} | tee "$out"
