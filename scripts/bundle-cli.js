#!/usr/bin/env node
// bundle-cli.js: writes dist/cli/notary-hsm.js, the notary-hsm command line as one file,
// from what tsc emitted under dist/src (run by `npm run build` after tsc).
//
// A process per command pays for every module it loads before it does any work: resolving
// and reading ~40 files and compiling each (measured in bench/README.md, bench/cli). One
// file keeps each module's code lazy as before (a module runs when a command first
// requires it) but costs one read and one compilation. Only commander and our own code go
// in; every other dependency stays a require of the installed package, as it is loaded
// on demand or found by path at run time (@peculiar/x509, yaml, pkcs11js). The daemon is
// not bundled: it runs from dist/src and dist/daemon.
'use strict';
const path = require('node:path');
const esbuild = require('esbuild');

const root = path.join(__dirname, '..');
const pkg = require(path.join(root, 'package.json'));
const INLINED = new Set(['commander']);

esbuild
  .build({
    entryPoints: [path.join(root, 'dist', 'src', 'cli', 'main.js')],
    outfile: path.join(root, 'dist', 'cli', 'notary-hsm.js'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${pkg.engines.node.replace(/^>=/, '')}`,
    external: Object.keys(pkg.dependencies).filter((d) => !INLINED.has(d)),
    legalComments: 'inline',
    logLevel: 'warning',
  })
  .catch(() => {
    process.exitCode = 1;
  });
