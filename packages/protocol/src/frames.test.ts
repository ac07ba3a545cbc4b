import { describe, expect, it } from 'vitest';
import {
  channelEventFrame,
  connectionEstablishedFrame,
  decodeFrameData,
  isClientEventName,
  isValidSocketId,
  memberAddedFrame,
  parseClientFrame,
  subscriptionErrorFrame,
  subscriptionSucceededFrame,
} from './frames.ts';

describe('client frames (W-11, W-17)', () => {
  it('parses the frames pusher-js sends', () => {
    expect(parseClientFrame('{"event":"pusher:ping","data":{}}')).toEqual({ ok: true, frame: { event: 'pusher:ping' } });
    expect(parseClientFrame('{"event":"pusher:subscribe","data":{"auth":"k:s","channel":"private-a"}}')).toEqual({
      ok: true,
      frame: { event: 'pusher:subscribe', data: { channel: 'private-a', auth: 'k:s' } },
    });
    expect(parseClientFrame('{"event":"pusher:subscribe","data":"{\\"channel\\":\\"a\\"}"}')).toMatchObject({ ok: true });
    expect(parseClientFrame('{"event":"pusher:signin","data":{"auth":"k:s","user_data":"{}"}}')).toMatchObject({ ok: true });
    expect(parseClientFrame('{"event":"client-typing","channel":"private-a","data":{"x":1}}')).toEqual({
      ok: true,
      frame: { event: 'client-typing', channel: 'private-a', data: { x: 1 } },
    });
  });

  it('rejects malformed input without throwing', () => {
    expect(parseClientFrame('not json')).toEqual({ ok: false, reason: 'invalid_json' });
    expect(parseClientFrame('[]')).toEqual({ ok: false, reason: 'invalid_format' });
    expect(parseClientFrame('{"data":{}}')).toEqual({ ok: false, reason: 'invalid_format' });
    expect(parseClientFrame('{"event":"pusher:subscribe","data":5}')).toMatchObject({ ok: false, reason: 'invalid_format' });
    expect(parseClientFrame('{"event":"pusher:subscribe","data":{"channel":["a"]}}')).toMatchObject({ ok: false, reason: 'invalid_format' });
    expect(parseClientFrame('{"event":"client-x","data":{}}')).toMatchObject({ ok: false, reason: 'invalid_format' });
    for (const name of ['typing', 'my-client-event', 'x.client-y', 'client-', `client-${'a'.repeat(200)}`]) {
      expect(parseClientFrame(JSON.stringify({ event: name, channel: 'private-a', data: {} }))).toMatchObject({ ok: false, reason: 'unknown_event' });
      expect(isClientEventName(name)).toBe(false);
    }
  });
});

describe('server frames', () => {
  it('double-encodes pusher:* data', () => {
    const frame = JSON.parse(connectionEstablishedFrame('123.456', 120));
    expect(frame.event).toBe('pusher:connection_established');
    expect(decodeFrameData(frame)).toEqual({ socket_id: '123.456', activity_timeout: 120 });
    const ok = JSON.parse(subscriptionSucceededFrame('presence-a', { ids: ['1'], hash: { '1': { n: 1 } }, count: 1 }));
    expect(decodeFrameData(ok)).toEqual({ presence: { ids: ['1'], hash: { '1': { n: 1 } }, count: 1 } });
    expect(decodeFrameData(JSON.parse(subscriptionErrorFrame('private-a', 'AuthError', 'no', 401)))).toEqual({ type: 'AuthError', error: 'no', status: 401 });
    expect(decodeFrameData(JSON.parse(memberAddedFrame('presence-a', '7', { name: 'x' })))).toEqual({ user_id: '7', user_info: { name: 'x' } });
  });

  it('keeps HTTP-API event data as the publisher encoded it and adds user_id for presence whispers', () => {
    expect(JSON.parse(channelEventFrame('c', 'e', '{"a":1}'))).toEqual({ event: 'e', channel: 'c', data: '{"a":1}' });
    expect(JSON.parse(channelEventFrame('presence-c', 'client-e', { a: 1 }, 'u1'))).toEqual({ event: 'client-e', channel: 'presence-c', data: { a: 1 }, user_id: 'u1' });
  });

  it('validates socket ids', () => {
    expect(isValidSocketId('123.456')).toBe(true);
    for (const bad of ['123', '1.2.3', 'a.b', '', '1.2 ', 5]) expect(isValidSocketId(bad)).toBe(false);
  });
});
