// Builds the widget: dist/widget-app.js (+ a content-hashed copy the loader imports, cached for a year) and
// dist/widget.js (the tiny loader, short cache). Staged in a temp directory and swapped in atomically.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, 'dist');
const stage = path.join(here, `.dist-${process.pid}`);
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });

const common = {
  bundle: true,
  minify: true,
  legalComments: 'none',
  target: ['es2022', 'chrome100', 'firefox100', 'safari16'],
  platform: 'browser',
  logLevel: 'warning',
  alias: { 'node:crypto': path.join(here, 'src/shims/node-crypto.ts') },
  define: { 'process.env.NODE_ENV': '"production"' },
};

await build({
  ...common,
  entryPoints: [path.join(here, 'src/app/index.tsx')],
  outfile: path.join(stage, 'widget-app.js'),
  format: 'esm',
  jsx: 'automatic',
  jsxImportSource: 'preact',
});
const appCode = readFileSync(path.join(stage, 'widget-app.js'));
const hash = createHash('sha256').update(appCode).digest('hex').slice(0, 10);
const chunk = `widget-app-${hash}.js`;
writeFileSync(path.join(stage, chunk), appCode);

await build({
  ...common,
  entryPoints: [path.join(here, 'src/loader/loader.ts')],
  outfile: path.join(stage, 'widget.js'),
  format: 'iife',
  define: { ...common.define, __RC_APP_CHUNK__: JSON.stringify(chunk) },
});
writeFileSync(path.join(stage, 'manifest.json'), JSON.stringify({ loader: 'widget.js', app: chunk }, null, 2));

const old = `${out}.old-${process.pid}`;
try {
  renameSync(out, old);
} catch {
  // first build
}
renameSync(stage, out);
rmSync(old, { recursive: true, force: true });
process.stdout.write(`widget built: dist/widget.js + dist/${chunk}\n`);
