#!/usr/bin/env node
// `npx reusable-chat <command>`: runs the bundled CLI (apps/server/dist/cli.js), building it first when the
// sources are newer than the bundle (a fresh clone after `npm install` has no dist yet).
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const { distDir, ensureBuilt } = await import(pathToFileURL(path.join(root, 'scripts/build.mjs')).href);
try {
  await ensureBuilt({ quiet: true });
} catch (err) {
  process.stderr.write(`reusable-chat: build failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
// Stack traces point at the TypeScript sources (the bundle carries source maps).
process.setSourceMapsEnabled(true);
const { runCli } = await import(pathToFileURL(path.join(distDir, 'cli.js')).href);
process.exit(await runCli(process.argv.slice(2)));
