#!/usr/bin/env bash
# Builds the fixture drivers in test/fixtures/src for every architecture,
# compiler and optimisation level, signs a few of them with throw-away keys,
# and writes test/fixtures/manifest.json (checked against the disassembly).
#
#   npm run fixtures:build          (= bash scripts/build-fixtures.sh)
#   KEEP_WORK=1 bash scripts/build-fixtures.sh   keep the temp dir (maps, objects, keys)
#   NO_SIGN=1 ...                                skip signing
#   NO_TIMESTAMP=1 ...                           sign without the loopback RFC 3161 TSA
#
# Needs: clang (14+), lld-link, llvm-dlltool, llvm-rc, llvm-objdump,
# x86_64-w64-mingw32-{gcc,dlltool,windres}, i686-w64-mingw32-{gcc,dlltool,windres},
# osslsigncode, openssl, node.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FX="$ROOT/test/fixtures"
SRC="$FX/src"
BIN="$FX/bin"
HERE="$ROOT/scripts/fixtures"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pooltag-fixtures.XXXXXX")
cleanup() {
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

export LC_ALL=C TZ=UTC SOURCE_DATE_EPOCH=1700000000

for tool in clang lld-link llvm-dlltool llvm-rc llvm-objdump \
            x86_64-w64-mingw32-gcc x86_64-w64-mingw32-dlltool x86_64-w64-mingw32-windres \
            i686-w64-mingw32-gcc i686-w64-mingw32-dlltool i686-w64-mingw32-windres \
            osslsigncode openssl node; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

# driver name -> import modules (.def basenames) it links against
declare -A LIBS=(
  [core]="ntoskrnl hal"
  [net]="ndis"
  [flt]="fltmgr ntoskrnl"
  [video_stor]="videoprt storport"
  [kmdf]="wdfldr"
  [hostile]="ntoskrnl"
  [flow]="ntoskrnl"
  [shapes]="ntoskrnl ntbugcheck"
  [pools]="ntoskrnl"
  [pointers]="ntoskrnl"
)
DRIVERS="core net flt video_stor kmdf hostile flow pools pointers"
# llvm-mc snippets in MSVC's shape (src/<name>-<arch>.s), one build per arch
ASM_DRIVERS="shapes"
ASM_ARCHES="x86 x64 arm64"
# <arch>-<compiler>
CONFIGS="x86-mingw x64-mingw x86-clang x64-clang arm64-clang"
OPTS="O0 O2"

CFLAGS_COMMON=(-ffreestanding -fno-builtin -fno-stack-protector -mno-stack-arg-probe
               -Wall -Wextra -Wno-multichar -Wno-unused-parameter -fno-ident)

rm -rf "$BIN"
mkdir -p "$BIN" "$WORK/lib" "$WORK/res" "$WORK/maps" "$WORK/obj"

# ---------------------------------------------------------------- import libraries
# The .def files carry x86 stdcall/fastcall decorations; strip them for 64-bit.
for def in "$SRC"/*.def; do
  m=$(basename "$def" .def)
  sed -E 's/^@//; s/^([A-Za-z_0-9]+)@[0-9]+/\1/' "$def" > "$WORK/lib/$m.64.def"
  llvm-dlltool -m i386        -k -d "$def"              -l "$WORK/lib/$m.x86.lib"
  llvm-dlltool -m i386:x86-64    -d "$WORK/lib/$m.64.def" -l "$WORK/lib/$m.x64.lib"
  llvm-dlltool -m arm64          -d "$WORK/lib/$m.64.def" -l "$WORK/lib/$m.arm64.lib"
  i686-w64-mingw32-dlltool   -k -d "$def"              -l "$WORK/lib/lib$m.x86.a"
  x86_64-w64-mingw32-dlltool    -d "$WORK/lib/$m.64.def" -l "$WORK/lib/lib$m.x64.a"
done

# ---------------------------------------------------------------- resources
for d in $DRIVERS $ASM_DRIVERS; do
  rc="$SRC/$d.rc"
  [ -f "$rc" ] || continue
  llvm-rc -no-preprocess -c 65001 -fo "$WORK/res/$d.res" "$rc"
  i686-w64-mingw32-windres   -c 65001 -O coff -i "$rc" -o "$WORK/res/$d.x86.o"
  x86_64-w64-mingw32-windres -c 65001 -O coff -i "$rc" -o "$WORK/res/$d.x64.o"
done

# ---------------------------------------------------------------- compile + link
build_clang() { # arch opt driver outdir
  local arch=$1 opt=$2 d=$3 out=$4 triple machine libs=() base
  case $arch in
    x86)   triple=i686-pc-windows-msvc;    machine=x86;   base=0x10000 ;;
    x64)   triple=x86_64-pc-windows-msvc;  machine=x64;   base=0x140000000 ;;
    arm64) triple=aarch64-pc-windows-msvc; machine=arm64; base=0x140000000 ;;
  esac
  local obj="$WORK/obj/$arch-clang-$opt-$d.obj"
  # -ffreestanding turns unwind tables off for *-windows-msvc; real x64/ARM64
  # drivers always carry .pdata, so ask for them back
  ( cd "$SRC" && clang --target=$triple -$opt "${CFLAGS_COMMON[@]}" -fasynchronous-unwind-tables -Wno-ignored-attributes \
    -c "$d.c" -o "$obj" )
  for m in ${LIBS[$d]}; do libs+=("lib/$m.$arch.lib"); done
  local res=()
  [ -f "$WORK/res/$d.res" ] && res=("res/$d.res")
  # link from inside $WORK with relative paths only (plus /pdbsourcepath), so
  # that no temp-dir name reaches the PDB and the /Brepro hash is stable
  mkdir -p "$WORK/out/$arch-clang-$opt"
  ( cd "$WORK" && lld-link /nologo /driver /subsystem:native /entry:DriverEntry /nodefaultlib \
    /machine:$machine /base:$base /out:"out/$arch-clang-$opt/$d.sys" "obj/$arch-clang-$opt-$d.obj" "${res[@]}" "${libs[@]}" \
    /debug /pdb:"obj/$arch-clang-$opt-$d.pdb" \
    "/pdbaltpath:C:\\pooltag\\fixtures\\$arch-clang-$opt\\$d.pdb" "/pdbsourcepath:C:\\pooltag\\fixtures" \
    /Brepro /opt:ref /opt:noicf /map:"maps/$arch-clang-$opt-$d.map" )
  cp "$WORK/out/$arch-clang-$opt/$d.sys" "$out/$d.sys"
}

build_mingw() { # arch opt driver outdir
  local arch=$1 opt=$2 d=$3 out=$4 cc entry base libs=() res=()
  case $arch in
    x86) cc=i686-w64-mingw32-gcc;   entry=_DriverEntry@8; base=0x10000 ;;
    x64) cc=x86_64-w64-mingw32-gcc; entry=DriverEntry;    base=0x140000000 ;;
  esac
  for m in ${LIBS[$d]}; do libs+=("-l$m.$arch"); done
  [ -f "$WORK/res/$d.$arch.o" ] && res=("$WORK/res/$d.$arch.o")
  ( cd "$SRC" && $cc -$opt "${CFLAGS_COMMON[@]}" -nostdlib -shared -s \
    -Wl,--subsystem,native -e "$entry" \
    -Wl,--image-base,$base -Wl,--dynamicbase -Wl,--nxcompat \
    -Wl,--no-insert-timestamp -Wl,--exclude-all-symbols \
    -Wl,-Map="$WORK/maps/$arch-mingw-$opt-$d.map" \
    -o "$out/$d.sys" "$d.c" "${res[@]}" -L"$WORK/lib" "${libs[@]}" )
}

for cfg in $CONFIGS; do
  arch=${cfg%-*}; comp=${cfg#*-}
  for opt in $OPTS; do
    out="$BIN/$arch-$comp-$opt"
    mkdir -p "$out"
    for d in $DRIVERS; do
      "build_$comp" "$arch" "$opt" "$d" "$out"
    done
    echo "built $arch-$comp-$opt"
  done
done

# llvm-mc snippets: assembled, then linked like the clang builds (no optimisation
# level: the bytes are the ones written in the .s file)
build_asm() { # arch driver outdir
  local arch=$1 d=$2 out=$3 triple machine libs=() base res=()
  case $arch in
    x86)   triple=i686-pc-windows-msvc;    machine=x86;   base=0x10000 ;;
    x64)   triple=x86_64-pc-windows-msvc;  machine=x64;   base=0x140000000 ;;
    arm64) triple=aarch64-pc-windows-msvc; machine=arm64; base=0x140000000 ;;
  esac
  llvm-mc --triple=$triple -filetype=obj "$SRC/$d-$arch.s" -o "$WORK/obj/$arch-asm-$d.obj"
  for m in ${LIBS[$d]}; do libs+=("lib/$m.$arch.lib"); done
  [ -f "$WORK/res/$d.res" ] && res=("res/$d.res")
  local seh=()
  [ "$arch" = x86 ] && seh=(/safeseh:no) # hand-written code has no SEH handler table
  mkdir -p "$WORK/out/$arch-asm"
  ( cd "$WORK" && lld-link /nologo /driver /subsystem:native /entry:DriverEntry /nodefaultlib \
    /machine:$machine /base:$base /out:"out/$arch-asm/$d.sys" "obj/$arch-asm-$d.obj" "${res[@]}" "${libs[@]}" \
    /debug /pdb:"obj/$arch-asm-$d.pdb" \
    "/pdbaltpath:C:\\pooltag\\fixtures\\$arch-asm\\$d.pdb" "/pdbsourcepath:C:\\pooltag\\fixtures" \
    /Brepro /opt:ref /opt:noicf "${seh[@]}" /map:"maps/$arch-asm-$d.map" )
  cp "$WORK/out/$arch-asm/$d.sys" "$out/$d.sys"
}

for arch in $ASM_ARCHES; do
  out="$BIN/$arch-asm"
  mkdir -p "$out"
  for d in $ASM_DRIVERS; do build_asm "$arch" "$d" "$out"; done
  echo "built $arch-asm"
done

# ---------------------------------------------------------------- signing
SIGN_JSON="$WORK/signing.json"
echo '[]' > "$SIGN_JSON"
if [ "${NO_SIGN:-0}" != 1 ]; then
  bash "$HERE/sign.sh" "$BIN" "$WORK" "$SIGN_JSON"
fi

# ---------------------------------------------------------------- manifest
[ "${NO_MANIFEST:-0}" = 1 ] || node "$HERE/gen-manifest.mjs" --fixtures "$FX" --work "$WORK" --signing "$SIGN_JSON"
du -sh "$BIN"
