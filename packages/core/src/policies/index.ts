export * from './policy.schema.ts';
export * from './contact-info.ts';
export * from './blocked-terms.ts';
export * from './message-limits.ts';
export * from './engine.ts';
export * from './conversation-rules.ts';
export * from './create-policy-hook.ts';
export { normalizeForDetection, type MappedText } from './text-normalization.ts';
