#!/usr/bin/env node
// Bundles the server (apps/server/src/main.ts, cli.ts) into apps/server/dist with esbuild, and builds the
// dashboard app (apps/dashboard: the /demo pages) into apps/dashboard/dist with Vite.
// Our workspace packages (@reusable-chat/*, TypeScript source) are bundled; every other bare import stays
// external and is loaded from node_modules at run time (native add-ons, WASM and package assets keep working).
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const serverDir = path.join(root, 'apps/server');
export const distDir = path.join(serverDir, 'dist');
const outputs = [
  path.join(distDir, 'main.js'),
  path.join(distDir, 'cli.js'),
  path.join(distDir, 'migrations/meta/_journal.json'),
  path.join(distDir, 'image-process.child.mjs'),
];
/** What the bundle is made of; a file here newer than the bundle means "rebuild". */
const sourceRoots = [path.join(serverDir, 'src'), path.join(root, 'packages'), path.join(root, 'package-lock.json')];

function newestMtimeMs(target) {
  if (!existsSync(target)) return 0;
  const stat = statSync(target);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(target, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
    newest = Math.max(newest, newestMtimeMs(path.join(target, entry.name)));
  }
  return newest;
}

/** Cheap mtime check: missing output, or any source newer than the oldest output. */
export function isBuildStale() {
  if (!outputs.every((f) => existsSync(f))) return true;
  const built = Math.min(...outputs.map((f) => statSync(f).mtimeMs));
  return sourceRoots.some((r) => newestMtimeMs(r) > built);
}

const externalizeDependencies = {
  name: 'externalize-dependencies',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('@reusable-chat/')) return undefined; // bundle our own source
      if (path.isAbsolute(args.path)) return undefined;
      return { path: args.path, external: true };
    });
  },
};

export async function build({ quiet = false } = {}) {
  const esbuild = await import('esbuild');
  const started = Date.now();
  // Build beside dist and swap at the end, so a process starting meanwhile never sees half a bundle.
  const staging = `${distDir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: { main: 'apps/server/src/main.ts', cli: 'apps/server/src/cli.ts' },
    outdir: staging,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    logLevel: quiet ? 'error' : 'warning',
    plugins: [externalizeDependencies],
    // Bundled CommonJS helpers may call require(); give ESM output one.
    banner: { js: "import { createRequire as __rcCreateRequire } from 'node:module'; const require = __rcCreateRequire(import.meta.url);" },
  });
  // packages/db resolveMigrationsDir() looks for ./migrations next to the bundle.
  cpSync(path.join(root, 'packages/db/migrations'), path.join(staging, 'migrations'), { recursive: true });
  // The image-processing child (U-07) is forked from a file, so it ships beside the bundle.
  cpSync(path.join(root, 'packages/drivers/src/storage/image-process.child.mjs'), path.join(staging, 'image-process.child.mjs'));
  rmSync(distDir, { recursive: true, force: true });
  renameSync(staging, distDir);
  if (!quiet) process.stdout.write(`Built apps/server/dist in ${Date.now() - started} ms\n`);
}

const dashboardDir = path.join(root, 'apps/dashboard');
export const dashboardDistDir = path.join(dashboardDir, 'dist');
/** What the dashboard build is made of: its own sources plus the browser SDK and the protocol package it bundles. */
const dashboardSources = [
  path.join(dashboardDir, 'src'),
  path.join(dashboardDir, 'index.html'),
  path.join(dashboardDir, 'vite.config.ts'),
  path.join(dashboardDir, 'package.json'),
  path.join(root, 'packages/sdk/src'),
  path.join(root, 'packages/protocol/src'),
];

/** Missing build, or any dashboard source newer than its index.html (written last by Vite). */
export function isDashboardStale() {
  const index = path.join(dashboardDistDir, 'index.html');
  if (!existsSync(index)) return true;
  const built = statSync(index).mtimeMs;
  return dashboardSources.some((s) => newestMtimeMs(s) > built);
}

/** Vite build into a staging directory, then swapped in, so a running server never serves half a build. */
export async function buildDashboard({ quiet = false } = {}) {
  const vite = await import('vite');
  const started = Date.now();
  const staging = `${dashboardDistDir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  await vite.build({
    root: dashboardDir,
    configFile: path.join(dashboardDir, 'vite.config.ts'),
    logLevel: quiet ? 'error' : 'warn',
    build: { outDir: staging, emptyOutDir: true },
  });
  rmSync(dashboardDistDir, { recursive: true, force: true });
  renameSync(staging, dashboardDistDir);
  if (!quiet) process.stdout.write(`Built apps/dashboard/dist in ${Date.now() - started} ms\n`);
}

export async function ensureDashboardBuilt(options = {}) {
  if (isDashboardStale()) await buildDashboard(options);
}

const widgetDir = path.join(root, 'apps/widget');
const widgetSources = [path.join(widgetDir, 'src'), path.join(widgetDir, 'build.mjs'), path.join(root, 'packages/sdk/src'), path.join(root, 'packages/protocol/src')];

/** Missing loader, or any widget source (or the SDK it bundles) newer than it. */
export function isWidgetStale() {
  const loader = path.join(widgetDir, 'dist', 'widget.js');
  if (!existsSync(loader)) return true;
  const built = statSync(loader).mtimeMs;
  return widgetSources.some((s) => newestMtimeMs(s) > built);
}

/** The embeddable widget (apps/widget/build.mjs stages and swaps its own dist). */
export async function buildWidget({ quiet = false } = {}) {
  const started = Date.now();
  const { execFileSync } = await import('node:child_process');
  execFileSync(process.execPath, [path.join(widgetDir, 'build.mjs')], { stdio: quiet ? 'ignore' : 'inherit' });
  if (!quiet) process.stdout.write(`Built apps/widget/dist in ${Date.now() - started} ms\n`);
}

export async function ensureWidgetBuilt(options = {}) {
  if (isWidgetStale()) await buildWidget(options);
}

/** Build only when needed (npm start, the bin). */
export async function ensureBuilt(options = {}) {
  if (isBuildStale()) await build(options);
}

if (process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) {
  try {
    await build();
    await buildDashboard();
    await buildWidget();
  } catch (err) {
    process.stderr.write(`Build failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
