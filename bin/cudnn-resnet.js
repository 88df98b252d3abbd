#!/usr/bin/env node
'use strict';
// The installed command; the CLI itself is lib/cli/main.ts, compiled to dist/.
// Image decoding runs on libuv's thread pool (4 threads unless set before its first use):
// give it one thread per core so `train --data <image folder>` decodes on every core.
if (!process.env.UV_THREADPOOL_SIZE) {
  process.env.UV_THREADPOOL_SIZE = String(Math.min(1024, Math.max(4, require('node:os').availableParallelism())));
}
require('../dist/lib/cli/main.js')
  .main(process.argv.slice(2))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`${(e && e.stack) || e}\n`);
      process.exitCode = 1;
    },
  );
