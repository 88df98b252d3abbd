// The project's own source files, for the lint scripts: everything under the source folders
// with a source extension, without build outputs, dependencies or test fixtures.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const SOURCE_DIRS = ['lib', 'native', 'test', 'bench', 'scripts', 'bin', 'examples'];
const SKIP = new Set(['node_modules', 'dist', 'build', 'prebuilds', 'fixtures', 'results']);

/** Relative paths (with /) of the files under root's source folders whose extension is in exts. */
function sourceFiles(root, exts) {
  const out = [];
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (!SKIP.has(e.name) && !e.name.startsWith('build-') && !e.name.startsWith('.')) walk(r);
      } else if (e.isFile() && exts.some((x) => e.name.endsWith(x))) out.push(r);
    }
  };
  for (const d of SOURCE_DIRS) if (fs.existsSync(path.join(root, d))) walk(d);
  return out.sort();
}

module.exports = { sourceFiles };
