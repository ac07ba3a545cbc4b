/**
 * Stand-in for `node:crypto` in the browser build. @reusable-chat/protocol's index re-exports the server-side
 * Pusher signature helpers, which the browser SDK never calls (channel auth is signed by the server); aliasing
 * the import here keeps the build quiet and makes any accidental call fail loudly instead of silently.
 */
function unavailable(name: string): never {
  throw new Error(`node:crypto ${name} is not available in the browser`);
}

export const createHash = (): never => unavailable('createHash');
export const createHmac = (): never => unavailable('createHmac');
export const timingSafeEqual = (): never => unavailable('timingSafeEqual');
