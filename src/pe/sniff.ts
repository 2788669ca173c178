/**
 * What a file's first bytes say about it, without reading the rest: is it a PE image, and
 * which subsystem does its optional header name. Used to take kernel-mode images (subsystem
 * NATIVE) whatever their extension, reading only the first 4 KiB of each file.
 */

/** Bytes a sniff reads: the DOS header, the PE headers and a generous DOS stub. */
export const SNIFF_BYTES = 4096;

export const IMAGE_SUBSYSTEM_NATIVE = 1;

/**
 * The optional header's Subsystem of a PE image whose headers lie in `head`, or null when
 * `head` does not hold a PE image's headers (no `MZ`, `e_lfanew` out of range, no `PE\0\0`,
 * an optional-header magic that is neither PE32 nor PE32+). Every offset is bounds-checked.
 */
export function sniffSubsystem(head: Uint8Array): number | null {
  if (head.length < 64 || head[0] !== 0x4d || head[1] !== 0x5a) return null;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const lfanew = view.getUint32(0x3c, true);
  // Signature (4) + COFF header (20) + optional header up to Subsystem (68) + the field (2).
  if (lfanew < 4 || lfanew > head.length - (4 + 20 + 70)) return null;
  if (view.getUint32(lfanew, true) !== 0x00004550) return null; // "PE\0\0"
  const opt = lfanew + 24;
  const magic = view.getUint16(opt, true);
  if (magic !== 0x10b && magic !== 0x20b) return null;
  return view.getUint16(opt + 68, true);
}

/** True for a kernel-mode image: a PE whose subsystem is NATIVE (drivers, ntoskrnl.exe, ci.dll). */
export function isNativeImageHead(head: Uint8Array): boolean {
  return sniffSubsystem(head) === IMAGE_SUBSYSTEM_NATIVE;
}
