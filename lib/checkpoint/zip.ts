// Reading the zip archives torch.save writes (one folder holding data.pkl, byteorder, version
// and data/<storage key>; entries stored uncompressed and 64-byte aligned). adm-zip does the
// parsing; this wraps it in a synchronous name -> bytes lookup with errors that name the
// file, so checkpoint loading stays synchronous like the safetensors path.
import AdmZip from 'adm-zip';

export interface ZipArchive {
  /** Entry names, in the archive's order. */
  names(): string[];
  has(name: string): boolean;
  /** An entry's bytes (inflated if it was compressed); throws a RangeError naming it when absent. */
  read(name: string): Buffer;
}

/** True when the bytes start with a zip local file header ("PK\x03\x04"). */
export function isZip(buf: Uint8Array): boolean {
  return buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && buf[2] === 0x03 && buf[3] === 0x04;
}

export function openZip(buf: Buffer, source: string): ZipArchive {
  let zip: AdmZip;
  let entries: AdmZip.IZipEntry[];
  try {
    zip = new AdmZip(buf);
    entries = zip.getEntries();
  } catch (e) {
    throw new RangeError(`${source}: not a readable zip archive (${e instanceof Error ? e.message : String(e)})`);
  }
  const byName = new Map<string, AdmZip.IZipEntry>();
  for (const e of entries) if (!e.isDirectory) byName.set(e.entryName, e);
  return {
    names: () => [...byName.keys()],
    has: (name) => byName.has(name),
    read(name) {
      const e = byName.get(name);
      if (!e) throw new RangeError(`${source}: the archive has no entry '${name}'`);
      let data: Buffer;
      try {
        data = e.getData();
      } catch (err) {
        throw new RangeError(`${source}: entry '${name}' cannot be read (${err instanceof Error ? err.message : String(err)})`);
      }
      if (data.length !== e.header.size) throw new RangeError(`${source}: entry '${name}' holds ${data.length} bytes, its header says ${e.header.size}`);
      return data;
    },
  };
}
