/** The Pusher Channels protocol, pure (no I/O besides HMAC): shared by the server, the SDK and the tests. */
export * from './close-codes.ts';
export * from './channels.ts';
export * from './frames.ts';
export * from './signatures.ts';
