import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

/**
 * Served by the server under /demo (apps/server/src/http/demo/demo-pages.route.ts): hashed files in
 * /demo/assets/, index.html for every other /demo path. The pages run under a CSP without 'unsafe-inline'
 * or 'unsafe-eval', so the build must emit only external scripts and stylesheets: the Vue runtime build
 * (templates compiled here, no eval), CSS extracted to files, no inlined assets.
 */
export default defineConfig({
  base: '/demo/',
  plugins: [vue()],
  resolve: {
    alias: { 'node:crypto': fileURLToPath(new URL('./src/shared/node-crypto-browser.ts', import.meta.url)) },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
  },
});
