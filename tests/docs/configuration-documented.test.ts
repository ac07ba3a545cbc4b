import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { envSchema } from '@reusable-chat/config';
import { CONFIGURATION_DOC_PATH, renderConfigurationDoc } from '../../scripts/gen-config-docs.ts';

/** ARCHITECTURE.md convention 5: the env table is generated from the schema and kept in the repo up to date. */
describe('docs/configuration.md', () => {
  it('is what `npm run docs:config` generates from the current schema', () => {
    const committed = readFileSync(CONFIGURATION_DOC_PATH, 'utf8');
    expect(committed, 'docs/configuration.md is stale: run `npm run docs:config`').toBe(renderConfigurationDoc());
  });

  it('describes every variable', () => {
    const doc = renderConfigurationDoc();
    for (const name of Object.keys(envSchema.shape)) {
      expect(doc).toContain(`| \`${name}\` |`);
    }
    expect(doc).not.toContain('not yet described');
  });
});
