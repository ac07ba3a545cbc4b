import type { JoinedRoom } from '../api.ts';

/**
 * A joined room's session survives reloads of that tab (sessionStorage: per tab, gone when it closes), so a
 * refresh does not create a new demo user; another tab or browser joins as someone new, as intended.
 */
export interface StoredRoomSession {
  token: string;
  expires_at: string;
  app_key: string;
  name: string;
}

const key = (roomId: string) => `rc-demo-room:${roomId}`;

export function saveRoomSession(joined: JoinedRoom): void {
  const value: StoredRoomSession = {
    token: joined.session.token,
    expires_at: joined.session.expires_at,
    app_key: joined.realtime.app_key,
    name: joined.session.user.name ?? '',
  };
  try {
    sessionStorage.setItem(key(joined.room.id), JSON.stringify(value));
  } catch {
    // Storage may be disabled (private mode): the session then lasts as long as the page.
  }
}

export function loadRoomSession(roomId: string): StoredRoomSession | null {
  try {
    const raw = sessionStorage.getItem(key(roomId));
    if (!raw) return null;
    const value = JSON.parse(raw) as StoredRoomSession;
    if (!value.token || !value.app_key || Date.parse(value.expires_at) <= Date.now()) return null;
    return value;
  } catch {
    return null;
  }
}

export function forgetRoomSession(roomId: string): void {
  try {
    sessionStorage.removeItem(key(roomId));
  } catch {
    // Nothing stored.
  }
}
