#!/usr/bin/env node
'use strict';
// The installed command; the CLI itself is lib/cli/main.ts, compiled to dist/.
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
