import { randomInt } from 'node:crypto';

/**
 * Socket ids `^\d+\.\d+$` (pusher-protocol.md §1.1), unique across the cluster (checklist W-28): the first
 * part is the node id (random per process, ~2^48 space), the second a per-node counter that starts at a random
 * offset so ids are not predictable from one another's order alone. A collision would deliver or exclude
 * events on the wrong connection, so uniqueness comes from construction, not from chance within a node.
 */
export function createSocketIdFactory(nodeId: string): () => string {
  if (!/^\d+$/.test(nodeId)) throw new Error('node id must be digits');
  let counter = randomInt(1, 1_000_000_000);
  return () => {
    counter += 1;
    return `${nodeId}.${counter}`;
  };
}
