export * from './client.ts';
export * as schema from './schema/index.ts';
export type { Json, JsonObject, MaskedInfo } from './schema/index.ts';
export * from './flat-select.ts';
export * from './prepared-rows.ts';
export * from './tcp-no-delay.ts';
