#!/usr/bin/env node
'use strict';
// The built CLI when `npm run build` produced it, else the TypeScript sources through tsx.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const built = join(__dirname, '..', 'dist', 'client', 'cli.js');
let cli;
if (existsSync(built)) {
  cli = require(built);
} else {
  require('tsx/cjs');
  cli = require(join(__dirname, '..', 'src', 'client', 'cli.ts'));
}
void cli.main(process.argv);
