#!/usr/bin/env node
// `npm start`: build what is not built, then run the server in this process (no child process, so Ctrl-C and
// SIGTERM reach the server's own shutdown handler directly and the exit code is the server's).
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { distDir, ensureBuilt, ensureDashboardBuilt, ensureWidgetBuilt } from './build.mjs';

try {
  await ensureBuilt();
  // The /demo pages (apps/dashboard); the server answers /demo with a "not built" page without them.
  await ensureDashboardBuilt();
  // The embeddable widget served at /widget.js (404 without it).
  await ensureWidgetBuilt();
} catch (err) {
  process.stderr.write(`Build failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
// Stack traces point at the TypeScript sources (the bundle carries source maps).
process.setSourceMapsEnabled(true);
const { runMain } = await import(pathToFileURL(path.join(distDir, 'main.js')).href);
await runMain();
