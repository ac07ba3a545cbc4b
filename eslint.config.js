// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/**
 * The folder tree is the architecture diagram (ARCHITECTURE.md): imports point
 * apps/* → core → ports ← drivers; protocol imports nothing of ours; sdk imports only protocol.
 * These rules make a wrong-way import a lint error instead of a review comment.
 */
const ours = (names) => names.map((n) => ({ group: [`@reusable-chat/${n}`, `@reusable-chat/${n}/*`], message: `this package may not import @reusable-chat/${n} (see ARCHITECTURE.md)` }));
const noApps = { regex: '(^|/)apps/', message: 'packages never import from apps/' };

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '.data/**', '.tmp/**', 'coverage/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      'no-console': ['error', { allow: ['warn', 'error'] }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': ['error', {
        selector: "BinaryExpression[operator=/^[!=]==?$/] > Identifier[name=/signature$/i]",
        message: 'compare signatures with a constant-time helper (checklist A-09)',
      }],
    },
  },
  { files: ['packages/protocol/**'], rules: { 'no-restricted-imports': ['error', { patterns: [...ours(['config', 'core', 'db', 'drivers', 'testing', 'sdk', 'server']), noApps] }] } },
  { files: ['packages/config/**'], rules: { 'no-restricted-imports': ['error', { patterns: [...ours(['core', 'db', 'drivers', 'testing', 'sdk', 'server']), noApps] }] } },
  { files: ['packages/db/**'], rules: { 'no-restricted-imports': ['error', { patterns: [...ours(['core', 'drivers', 'testing', 'sdk', 'server']), noApps] }] } },
  { files: ['packages/core/**'], rules: { 'no-restricted-imports': ['error', { patterns: [...ours(['drivers', 'testing', 'sdk', 'server', 'config']), noApps] }] } },
  { files: ['packages/drivers/**'], rules: { 'no-restricted-imports': ['error', { patterns: [...ours(['db', 'testing', 'sdk', 'server']), { regex: '^@reusable-chat/core(?!/ports$)', message: 'drivers implement core ports and import only @reusable-chat/core/ports' }, noApps] }] } },
  { files: ['packages/sdk/**'], rules: { 'no-restricted-imports': ['error', { patterns: [...ours(['config', 'core', 'db', 'drivers', 'testing', 'server']), noApps] }] } },
  // The dashboard runs in the browser: browser globals, and only the browser SDK and protocol of ours (never server code).
  // Its .vue files are type-checked by vue-tsc (npm run typecheck), not linted: that would need eslint-plugin-vue.
  { files: ['apps/dashboard/**'], languageOptions: { globals: { ...globals.browser } }, rules: { 'no-restricted-imports': ['error', { patterns: [...ours(['config', 'core', 'db', 'drivers', 'testing', 'server']), { regex: '(^|/)apps/server/', message: 'the dashboard talks to the server over HTTP only' }] }] } },
  { files: ['tests/**', 'bench/**', '**/*.test.ts', 'scripts/**', 'apps/server/src/cli.ts'], rules: { 'no-console': 'off' } },
);
