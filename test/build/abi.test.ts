// The built addon must load on the distributions users run: RHEL/Rocky 9 ship glibc 2.34
// and GCC 11's libstdc++ (GLIBCXX_3.4.29, CXXABI_1.3.13). A binary built with GCC 12 or
// newer asks for GLIBCXX_3.4.30 unless the C++ runtime is linked in (CMakeLists.txt and
// binding.gyp link it statically); this reads the symbol versions the binary imports.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

import { native, nativeAddonFile } from '../../lib/native';

/** The oldest runtime versions supported (RHEL 9). */
const LIMITS: Record<string, string> = { GLIBC: '2.34', GLIBCXX: '3.4.29', CXXABI: '1.3.13', GCC: '7.0.0' };

function newer(a: string, b: string): boolean {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  return false;
}

/** The symbol versions (e.g. GLIBCXX_3.4.30) an ELF file imports, from objdump -T. */
export function importedVersions(file: string): Map<string, string[]> | null {
  const r = spawnSync('objdump', ['-T', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0) return null;
  const out = new Map<string, string[]>();
  for (const line of r.stdout.split('\n')) {
    // Imports are the undefined (*UND*) entries; their version sits in parentheses or bare.
    if (!line.includes('*UND*')) continue;
    const m = /\b(GLIBCXX|GLIBC|CXXABI|GCC)_(\d+(?:\.\d+)*)\b/.exec(line);
    if (!m) continue;
    const name = line.trim().split(/\s+/).pop() as string;
    const key = `${m[1]}_${m[2]}`;
    out.set(key, [...(out.get(key) ?? []), name]);
  }
  return out;
}

describe('build: the addon binary\'s runtime requirements', () => {
  it('imports no glibc, libstdc++ or libgcc symbol newer than RHEL 9 provides', function () {
    native();
    const file = nativeAddonFile();
    if (!file) this.skip();
    const versions = importedVersions(file as string);
    if (versions === null) {
      // objdump (binutils) is needed to read the binary; without it there is nothing to check.
      this.skip();
    }
    const tooNew: string[] = [];
    for (const [v, symbols] of versions as Map<string, string[]>) {
      const [family, version] = [v.slice(0, v.lastIndexOf('_')), v.slice(v.lastIndexOf('_') + 1)];
      if (newer(version, LIMITS[family])) tooNew.push(`${v} (${symbols.slice(0, 3).join(', ')})`);
    }
    assert.deepEqual(tooNew, [], `${file} needs runtime versions newer than RHEL 9's`);
  });

  it('needs no shared library beyond the C runtime, and exports none of the libjpeg-turbo linked in', function () {
    native();
    const file = nativeAddonFile();
    if (!file) this.skip();
    const headers = spawnSync('objdump', ['-p', file as string], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (headers.error || headers.status !== 0) this.skip();
    const needed = [...headers.stdout.matchAll(/^\s*NEEDED\s+(\S+)/gm)].map((m) => m[1]);
    assert.ok(needed.length > 0, 'objdump lists what the addon needs');
    const allowed = /^(libc|libm|libgcc_s|libdl|libpthread|librt|ld-linux-x86-64|ld-linux-aarch64)\.so/;
    assert.deepEqual(
      needed.filter((n) => !allowed.test(n)),
      [],
      `${file} needs shared libraries a user may not have (libjpeg goes in statically)`,
    );
    const symbols = spawnSync('objdump', ['-T', file as string], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const exported = symbols.stdout.split('\n').filter((l) => !l.includes('*UND*') && /\bj(peg|init|round|div|copy|zero)_\w+$/.test(l.trim()));
    assert.deepEqual(exported, [], 'libjpeg symbols stay private (--exclude-libs), so they never meet another libjpeg in the process');
  });
});
