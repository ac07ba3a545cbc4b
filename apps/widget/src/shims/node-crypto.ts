/**
 * Build-time stand-in for `node:crypto` in the browser bundle: @reusable-chat/protocol's server-side
 * signature helpers import it, the widget never calls them (tree-shaken), and a browser has no such module.
 */
function unavailable(): never {
  throw new Error('node:crypto is not available in the browser');
}
export const createHash = unavailable;
export const createHmac = unavailable;
export const timingSafeEqual = unavailable;
