import { describe, expect, it } from 'vitest';
import {
  areClientEventsEnabled,
  channelKind,
  isPublishableChannelName,
  isValidChannelName,
  parseProductChannel,
  ProductChannel,
} from './channels.ts';
import { closeCodeRange, CloseCode, minimumReconnectDelayMs, shouldReconnect } from './close-codes.ts';

describe('channel names (W-09)', () => {
  it('accepts the product channels and Pusher names up to 164 characters', () => {
    const id = '0190f5a2-1b2c-7d3e-8f40-123456789abc';
    expect(isValidChannelName(ProductChannel.conversation(id))).toBe(true);
    expect(ProductChannel.conversation(id)).toHaveLength(57);
    expect(isValidChannelName('a'.repeat(164))).toBe(true);
    expect(isValidChannelName('foo_bar-baz=@,.;')).toBe(true);
  });

  it('rejects reserved, over-long and odd names', () => {
    for (const bad of ['#server-to-user-victim', 'pusher:foo', 'a'.repeat(165), '', 'with space', 'ünï', 'a/b', 'a*', 7, null]) {
      expect(isValidChannelName(bad)).toBe(false);
    }
    expect(isPublishableChannelName('#server-to-user-123')).toBe(true);
    expect(isPublishableChannelName('#server-to-user-')).toBe(false);
    expect(isPublishableChannelName('#other')).toBe(false);
  });

  it('classifies channel kinds', () => {
    expect(channelKind('public-x')).toBe('public');
    expect(channelKind('private-x')).toBe('private');
    expect(channelKind('private-encrypted-x')).toBe('encrypted');
    expect(channelKind('presence-x')).toBe('presence');
  });

  it('parses product channels with UUID ids only', () => {
    const id = '0190F5A2-1B2C-7D3E-8F40-123456789ABC';
    expect(parseProductChannel(`private-conversation.${id}`)).toEqual({ kind: 'conversation', id: id.toLowerCase() });
    expect(parseProductChannel(`presence-conversation.${id}`)).toEqual({ kind: 'conversation-presence', id: id.toLowerCase() });
    expect(parseProductChannel(`private-user.${id}`)).toEqual({ kind: 'user', id: id.toLowerCase() });
    expect(parseProductChannel(`private-workspace.${id}`)).toEqual({ kind: 'workspace', id: id.toLowerCase() });
    expect(parseProductChannel('private-conversation.1')).toBeNull();
    expect(parseProductChannel(`private-conversation.${id}x`)).toBeNull();
    expect(parseProductChannel(`private-other.${id}`)).toBeNull();
  });

  it('enables client events on conversation channels only', () => {
    expect(areClientEventsEnabled('private-conversation.x')).toBe(true);
    expect(areClientEventsEnabled('presence-conversation.x')).toBe(true);
    expect(areClientEventsEnabled('private-user.x')).toBe(false);
    expect(areClientEventsEnabled('public')).toBe(false);
  });
});

describe('close codes', () => {
  it('groups codes by range with a reconnect decision', () => {
    expect(closeCodeRange(CloseCode.AppNotFound)).toBe('refused');
    expect(shouldReconnect(CloseCode.AppNotFound)).toBe(false);
    expect(shouldReconnect(CloseCode.Unauthorized)).toBe(false);
    expect(shouldReconnect(CloseCode.OverCapacity)).toBe(true);
    expect(minimumReconnectDelayMs(CloseCode.OverCapacity)).toBe(1000);
    expect(shouldReconnect(CloseCode.Reconnect)).toBe(true);
    expect(shouldReconnect(CloseCode.PongNotReceived)).toBe(true);
    expect(minimumReconnectDelayMs(CloseCode.Reconnect)).toBe(0);
    expect(shouldReconnect(CloseCode.ClientEventRejected)).toBe(false);
    expect(shouldReconnect(1006)).toBe(true);
  });
});
