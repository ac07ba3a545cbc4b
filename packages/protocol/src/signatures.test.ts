import { describe, expect, it } from 'vitest';
import {
  apiStringToSign,
  constantTimeEqual,
  hmacHex,
  md5Hex,
  signApiRequest,
  signChannelAuth,
  signUserAuth,
  verifyApiRequest,
  verifyChannelAuth,
  verifyUserAuth,
} from './signatures.ts';

// Reference vectors from pusher-protocol.md §1.2–1.5 (Pusher docs, re-computed independently).
const app = { key: '278d425bdf160c739803', secret: '7ad3773142a6692b25b8' };

describe('channel and user signatures', () => {
  it('signs the private-channel vector', () => {
    expect(signChannelAuth(app, '1234.1234', 'private-foobar')).toBe(
      '278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4',
    );
  });

  it('signs the corrected presence vector and the doc string it was really computed from', () => {
    const channels = '{"user_id":10,"user_info":{"name":"Mr. Channels"}}';
    const pusherName = '{"user_id":10,"user_info":{"name":"Mr. Pusher"}}';
    expect(signChannelAuth(app, '1234.1234', 'presence-foobar', channels)).toBe(
      '278d425bdf160c739803:31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80',
    );
    const docHex = signChannelAuth(app, '1234.1234', 'presence-foobar', pusherName).split(':')[1]!;
    expect(docHex.startsWith('afaed369')).toBe(true);
    expect(docHex.endsWith('304c')).toBe(true);
  });

  it('signs the user sign-in vector', () => {
    expect(signUserAuth(app, '1234.1234', '{"id":"12345"}')).toBe(
      '278d425bdf160c739803:4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba',
    );
  });

  it('verifies only the exact auth string (W-04)', () => {
    const good = signChannelAuth(app, '1234.1234', 'private-foobar');
    expect(verifyChannelAuth(app, good, '1234.1234', 'private-foobar')).toBe(true);
    const [, hex] = good.split(':') as [string, string];
    for (const bad of [undefined, '', `${app.key}:`, `other:${hex}`, `${app.key}:${hex.toUpperCase()}`, hex, `${app.key}:${hex}x`]) {
      expect(verifyChannelAuth(app, bad, '1234.1234', 'private-foobar')).toBe(false);
    }
    expect(verifyChannelAuth(app, good, '1234.1235', 'private-foobar')).toBe(false);
    expect(verifyChannelAuth(app, good, '1234.1234', 'private-foobaz')).toBe(false);
    // Presence: altered channel_data fails (the server checks the bytes it received, not a re-serialisation).
    const data = '{"user_id":"a"}';
    const presence = signChannelAuth(app, '1.2', 'presence-x', data);
    expect(verifyChannelAuth(app, presence, '1.2', 'presence-x', data)).toBe(true);
    expect(verifyChannelAuth(app, presence, '1.2', 'presence-x', '{"user_id":"b"}')).toBe(false);
    expect(verifyChannelAuth(app, presence, '1.2', 'presence-x', '{"user_id": "a"}')).toBe(false);
    expect(verifyUserAuth(app, signUserAuth(app, '1.2', '{"id":"u"}'), '1.2', '{"id":"u"}')).toBe(true);
    expect(verifyUserAuth(app, signUserAuth(app, '1.2', '{"id":"u"}'), '1.3', '{"id":"u"}')).toBe(false);
  });

  it('compares in constant time without throwing on different lengths', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
  });
});

describe('HTTP API signatures (W-24)', () => {
  const body = '{"name":"foo","channels":["project-3"],"data":"{\\"some\\":\\"data\\"}"}';
  const params = {
    auth_key: '278d425bdf160c739803',
    auth_timestamp: '1353088179',
    auth_version: '1.0',
    body_md5: 'ec365a775a4cd0599faeb73354201b6f',
  };
  const signature = 'da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c';

  it('reproduces the rest-api.md vector', () => {
    expect(md5Hex(body)).toBe(params.body_md5);
    expect(apiStringToSign('POST', '/apps/3/events', params)).toBe(
      'POST\n/apps/3/events\nauth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&body_md5=ec365a775a4cd0599faeb73354201b6f',
    );
    expect(signApiRequest(app, { method: 'POST', path: '/apps/3/events', body, timestampS: 1353088179 }).auth_signature).toBe(signature);
    const ok = verifyApiRequest(app, { method: 'POST', path: '/apps/3/events', params: { ...params, auth_signature: signature }, rawBody: body, nowS: 1353088179 + 599 });
    expect(ok).toEqual({ ok: true });
  });

  it('rejects a wrong body, the 600 s window either way, a missing version, another app and a reordered signing string', () => {
    const base = { method: 'POST', path: '/apps/3/events', rawBody: body, nowS: 1353088179 };
    const signed = { ...params, auth_signature: signature };
    expect(verifyApiRequest(app, { ...base, params: signed, rawBody: body.replace('foo', 'bar') })).toEqual({ ok: false, reason: 'body_md5_mismatch' });
    expect(verifyApiRequest(app, { ...base, params: signed, nowS: 1353088179 + 601 })).toEqual({ ok: false, reason: 'timestamp_out_of_window' });
    expect(verifyApiRequest(app, { ...base, params: signed, nowS: 1353088179 - 601 })).toEqual({ ok: false, reason: 'timestamp_out_of_window' });
    const { auth_version: _v, ...noVersion } = signed;
    expect(verifyApiRequest(app, { ...base, params: noVersion })).toEqual({ ok: false, reason: 'missing_parameter' });
    const other = { key: app.key, secret: 'another-apps-secret' };
    expect(verifyApiRequest(other, { ...base, params: signed })).toEqual({ ok: false, reason: 'bad_signature' });
    // A client that signed the parameters unsorted or with uppercase keys produced a different string.
    const unsorted = 'POST\n/apps/3/events\nauth_version=1.0&auth_key=278d425bdf160c739803&auth_timestamp=1353088179&body_md5=ec365a775a4cd0599faeb73354201b6f';
    const hmacOfUnsorted = hmacHex(app.secret, unsorted);
    expect(verifyApiRequest(app, { ...base, params: { ...params, auth_signature: hmacOfUnsorted } })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyApiRequest(app, { ...base, params: { ...params, AUTH_KEY: params.auth_key, auth_signature: signature } })).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('signs GET parameters unescaped and sorted', () => {
    const p = signApiRequest(app, { method: 'GET', path: '/apps/3/channels', params: { info: 'user_count', filter_by_prefix: 'presence-' }, timestampS: 1000 });
    expect(apiStringToSign('GET', '/apps/3/channels', p)).toBe(
      'GET\n/apps/3/channels\nauth_key=278d425bdf160c739803&auth_timestamp=1000&auth_version=1.0&filter_by_prefix=presence-&info=user_count',
    );
    expect(verifyApiRequest(app, { method: 'GET', path: '/apps/3/channels', params: p, nowS: 1000 })).toEqual({ ok: true });
  });
});
