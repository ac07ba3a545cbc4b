import type { JsonObject } from '@reusable-chat/db';
import { policiesInputSchema, type PoliciesInput } from '../policies/policy.schema.ts';

export interface WidgetConfigSeed {
  slug: string;
  name: string;
  roles: JsonObject;
  policies: JsonObject;
}

/**
 * Only the values that differ from the policy defaults are stored (see policies/policy.schema.ts), so a
 * configuration keeps following the defaults it never changed. Validated here so a typo fails every test.
 */
function policies(input: PoliciesInput): JsonObject {
  policiesInputSchema.parse(input);
  return input as JsonObject;
}

/**
 * The configurations a new workspace starts with (SPEC §1): a marketplace gets `guest-host` (contact details
 * masked until the conversation's state is `booked`) and `support`; a single-app workspace gets `default`.
 */
export function defaultWidgetConfigs(kind: 'single_app' | 'marketplace'): WidgetConfigSeed[] {
  if (kind === 'single_app') {
    return [
      {
        slug: 'default',
        name: 'Chat',
        roles: { participant_roles: ['member'], can_start: ['member'] },
        policies: policies({ max_length: 10_000, read_receipts: true, typing: true, presence: true }),
      },
    ];
  }
  return [
    {
      slug: 'guest-host',
      name: 'Guest ↔ host',
      roles: { participant_roles: ['guest', 'host'], can_start: ['guest'] },
      policies: policies({
        // Marketplaces lose the booking when guest and host move off-platform before it is made.
        contact_info: { action: 'mask', kinds: ['email', 'phone', 'url'], allowed_states: ['booked'] },
        max_length: 5_000,
        max_links: 3,
        read_receipts: true,
        typing: true,
        presence: true,
      }),
    },
    {
      slug: 'support',
      name: 'Support',
      roles: { participant_roles: ['customer', 'agent'], can_start: ['customer'] },
      policies: policies({
        max_length: 10_000,
        read_receipts: true,
        typing: true,
        presence: true,
        // A support thread nobody wrote in for a week is done.
        auto_close_after_s: 7 * 24 * 60 * 60,
      }),
    },
  ];
}
