import { Fragment, type JSX } from 'preact';
import { useEffect, useLayoutEffect, useReducer, useRef, useState } from 'preact/hooks';
import type { AttachmentJson, ChatClient, ChatMessage, ConnectionState, ConversationJson, MessageJson } from '@reusable-chat/sdk';
import { tokenize } from './autolink.ts';
import type { T } from './i18n.ts';
import { PRESENCE_MAX_CONVERSATIONS, type PresenceSnapshot, type PresenceTracker } from './presence.ts';

/** Shown in the quick-reaction bar: the six reactions people use most. */
const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'];
const EMOJI = ['😀', '😂', '😊', '😍', '🤔', '😅', '😎', '😢', '😮', '😡', '👍', '👎', '👏', '🙏', '💪', '🎉', '❤️', '🔥', '✨', '✅', '❌', '👀', '🏠', '📅'];
/** Bubbles from the same sender within this window join one group (one avatar, one name). */
const GROUP_WINDOW_MS = 5 * 60_000;

export interface UiState {
  open: boolean;
  activeId: string | null;
}

export interface ViewProps {
  client: ChatClient;
  t: T;
  lang: string;
  mode: 'floating' | 'inline';
  ui: UiState;
  setUi: (patch: Partial<UiState>) => void;
  title: string;
  poweredBy: boolean;
  attachmentsEnabled: boolean;
  widgetSlug: string | null;
  canStart: boolean;
  presence: PresenceTracker;
  /** The configuration's presence switch (SPEC §6) for a conversation, as far as the page knows it. */
  presenceAllowed: (c: ConversationJson) => boolean;
}

const Icon = {
  chat: () => (
    <svg viewBox="0 0 24 24" fill="currentColor" aria-hidden="true">
      <path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z" />
    </svg>
  ),
  close: () => (
    <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.2" aria-hidden="true">
      <path d="M6 6l12 12M18 6L6 18" />
    </svg>
  ),
  back: () => (
    <svg class="flip" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.2" aria-hidden="true">
      <path d="M15 5l-7 7 7 7" />
    </svg>
  ),
  send: () => (
    <svg class="flip" viewBox="0 0 24 24" fill="currentColor" aria-hidden="true">
      <path d="M3 20l18-8L3 4v6l12 2-12 2z" />
    </svg>
  ),
  clip: () => (
    <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true">
      <path d="M21 11l-8.5 8.5a5 5 0 0 1-7-7L14 4a3.5 3.5 0 0 1 5 5l-8.5 8.5a2 2 0 0 1-3-3L15 7" />
    </svg>
  ),
  smile: () => (
    <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true">
      <circle cx="12" cy="12" r="9" />
      <path d="M8 14s1.5 2 4 2 4-2 4-2M9 9.5h.01M15 9.5h.01" />
    </svg>
  ),
  more: () => (
    <svg viewBox="0 0 24 24" fill="currentColor" aria-hidden="true">
      <circle cx="5" cy="12" r="2" />
      <circle cx="12" cy="12" r="2" />
      <circle cx="19" cy="12" r="2" />
    </svg>
  ),
  check: () => (
    <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.4" aria-hidden="true">
      <path d="M5 12.5l4.5 4.5L19 7.5" />
    </svg>
  ),
  checks: () => (
    <svg viewBox="0 0 28 24" fill="none" stroke="currentColor" stroke-width="2.4" aria-hidden="true">
      <path d="M3 12.5l4.5 4.5L17 7.5M12 16.5l.5.5L22 7.5" />
    </svg>
  ),
  clock: () => (
    <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true">
      <circle cx="12" cy="12" r="8.5" />
      <path d="M12 7.5V12l3 2" />
    </svg>
  ),
  plus: () => (
    <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2.2" aria-hidden="true">
      <path d="M12 5v14M5 12h14" />
    </svg>
  ),
};

function initials(name: string | null | undefined): string {
  const parts = (name ?? '?').trim().split(/\s+/).filter(Boolean);
  return ((parts[0]?.[0] ?? '?') + (parts[1]?.[0] ?? '')).toUpperCase();
}

function useClientTick(client: ChatClient, presence: PresenceTracker): number {
  const [tick, bump] = useReducer((n: number) => n + 1, 0);
  // Subscribed in a layout effect, in the same task as the first render: a passive effect runs after paint, and
  // a message or unread update arriving in between was never drawn (the badge stayed empty until the next one).
  useLayoutEffect(() => {
    let queued = false;
    const schedule = () => {
      if (queued) return;
      queued = true;
      // Many store changes in one task (a catch-up page) become one render.
      queueMicrotask(() => {
        queued = false;
        bump(undefined);
      });
    };
    const offs = [client.on('change', schedule), client.on('connection', schedule), client.on('unread', schedule), presence.onChange(schedule)];
    return () => offs.forEach((off) => off());
  }, [client, presence]);
  return tick;
}

function Text({ text }: { text: string }) {
  // Rendered as text nodes and <a> elements only: nothing from a message is parsed as HTML (V-20, V-21).
  return (
    <>
      {tokenize(text).map((tok, i) =>
        tok.kind === 'link' ? (
          <a key={i} href={tok.href} target="_blank" rel="noopener noreferrer nofollow ugc">
            {tok.text}
          </a>
        ) : (
          <Fragment key={i}>{tok.text}</Fragment>
        ),
      )}
    </>
  );
}

/** The others in a conversation (not this session's user): how many could be online. */
function otherCount(c: ConversationJson, myId: string | undefined): number {
  return (c.participants ?? []).filter((p) => p.user.id !== myId).length;
}

/** Visible text, not a coloured dot alone (WCAG 1.4.1): "Online", "Offline" or "3 online". */
function presenceText(p: PresenceSnapshot, others: number, t: T): string {
  if (p.online === 0) return t('presenceOffline');
  return others > 1 || p.online > 1 ? t('presenceSome', { n: p.online }) : t('presenceOnline');
}

function conversationTitle(c: ConversationJson, myId: string | undefined, fallback: string): string {
  if (c.name) return c.name;
  const others = (c.participants ?? []).filter((p) => p.user.id !== myId).map((p) => p.user.name ?? '');
  const joined = others.filter(Boolean).join(', ');
  return joined || c.subject || fallback;
}

function dayLabel(iso: string, t: T, lang: string): string {
  const d = new Date(iso);
  const today = new Date();
  const yesterday = new Date(Date.now() - 86_400_000);
  const same = (a: Date, b: Date) => a.toDateString() === b.toDateString();
  if (same(d, today)) return t('today');
  if (same(d, yesterday)) return t('yesterday');
  return d.toLocaleDateString(lang, { weekday: 'long', day: 'numeric', month: 'long' });
}

function timeLabel(iso: string, lang: string): string {
  return new Date(iso).toLocaleTimeString(lang, { hour: '2-digit', minute: '2-digit' });
}

function ConnectionBanner({ state, everConnected, t }: { state: ConnectionState; everConnected: boolean; t: T }) {
  if (state === 'failed') return <div class="banner error" role="alert">{t('connectionFailed')}</div>;
  const offline = typeof navigator !== 'undefined' && navigator.onLine === false;
  if (offline) return <div class="banner" role="status">{t('offline')}</div>;
  if (everConnected && (state === 'unavailable' || state === 'connecting')) {
    return (
      <div class="banner" role="status" data-testid="reconnecting">
        {t('reconnecting')}
      </div>
    );
  }
  return null;
}

export function WidgetView(props: ViewProps) {
  const { client, t, ui, setUi, mode, presence } = props;
  useClientTick(client, presence);
  const everConnected = useRef(false);
  if (client.connectionState === 'connected') everConnected.current = true;
  const panelRef = useRef<HTMLDivElement>(null);
  const launcherRef = useRef<HTMLButtonElement>(null);
  const wasOpen = useRef(ui.open);

  // Layout effects, not passive ones: they run before the browser paints or handles the next input, so a
  // message that arrives or a key pressed right after opening (a person or a test driver) already finds the
  // thread marked active and the focus inside the panel.
  useLayoutEffect(() => {
    client.setActiveConversation(ui.open && ui.activeId ? ui.activeId : null);
  }, [client, ui.open, ui.activeId]);

  useLayoutEffect(() => {
    if (wasOpen.current === ui.open) return;
    wasOpen.current = ui.open;
    if (mode !== 'floating') return;
    // Opening moves focus into the panel (so Escape and Tab work there); closing returns it to the launcher.
    if (ui.open) {
      const panel = panelRef.current;
      const target = ['textarea', '.conv', '.new-conv', 'button'].map((sel) => panel?.querySelector<HTMLElement>(sel)).find(Boolean);
      target?.focus();
    } else launcherRef.current?.focus();
  }, [mode, ui.open]);

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Escape' && mode === 'floating' && ui.open && !e.defaultPrevented) {
      e.preventDefault();
      setUi({ open: false });
    }
  };

  const unread = client.unreadTotal;
  const active = ui.activeId ? client.conversation(ui.activeId) : null;
  const myId = client.me?.id;
  const showPanel = mode === 'inline' || ui.open;

  // Presence of the open conversation and of the top of the list, whether or not the panel is open: joining
  // the channel is also what shows this user as online to the others.
  const presenceIds = [...(active ? [active] : []), ...client.conversations().slice(0, PRESENCE_MAX_CONVERSATIONS)]
    .filter((c) => props.presenceAllowed(c))
    .map((c) => c.id);
  const presenceKey = [...new Set(presenceIds)].join(',');
  useEffect(() => {
    presence.follow(presenceKey ? presenceKey.split(',') : []);
  }, [presence, presenceKey]);
  const activePresence = active && props.presenceAllowed(active) ? presence.snapshot(active.id) : null;
  const activeSubject = active?.subject && !/^[a-z_-]+:\S+$/i.test(active.subject) ? active.subject : null;

  return (
    <>
      {showPanel && (
        <div
          class="panel"
          part="panel"
          role={mode === 'floating' ? 'dialog' : 'region'}
          aria-label={props.title}
          ref={panelRef}
          onKeyDown={onKeyDown}
        >
          {mode === 'floating' || !active ? (
            <div class="header" part="header">
              {active && mode === 'floating' && (
                <button class="icon-btn" type="button" aria-label={t('back')} onClick={() => setUi({ activeId: null })}>
                  <Icon.back />
                </button>
              )}
              {active && <div class="avatar sm" aria-hidden="true">{initials(conversationTitle(active, myId, props.title))}</div>}
              <h2>
                {/* <bdi>: the name keeps its own direction while the line aligns with the widget's. */}
                <bdi class="title">{active ? conversationTitle(active, myId, props.title) : props.title}</bdi>
                {active ? (
                  (activePresence?.known || activeSubject) && (
                    <span class="sub">
                      {activePresence?.known && (
                        <span class="presence" data-testid="presence" data-online={activePresence.online > 0 ? 'true' : 'false'}>
                          <i class="dot" aria-hidden="true" />
                          {presenceText(activePresence, otherCount(active, myId), t)}
                        </span>
                      )}
                      {activeSubject && <span dir="auto">{activeSubject}</span>}
                    </span>
                  )
                ) : client.workspace && client.workspace.name !== props.title ? (
                  <span class="sub" dir="auto">
                    {client.workspace.name}
                  </span>
                ) : null}
              </h2>
              {mode === 'floating' && (
                <button class="icon-btn" type="button" aria-label={t('closeChat')} onClick={() => setUi({ open: false })}>
                  <Icon.close />
                </button>
              )}
            </div>
          ) : null}
          <ConnectionBanner state={client.connectionState} everConnected={everConnected.current} t={t} />
          {active ? <Thread {...props} conversation={active} /> : <ConversationList {...props} />}
          {props.poweredBy && (
            <div class="powered" part="powered-by">
              <a href="https://github.com/reusable-chat/reusable-chat" target="_blank" rel="noopener noreferrer">
                {t('poweredBy')}
              </a>
            </div>
          )}
        </div>
      )}
      {mode === 'floating' && (
        <button
          ref={launcherRef}
          class="launcher"
          part="launcher"
          type="button"
          onKeyDown={onKeyDown}
          aria-label={unread > 0 ? `${ui.open ? t('closeChat') : t('openChat')} (${t('unread', { n: unread })})` : ui.open ? t('closeChat') : t('openChat')}
          aria-expanded={ui.open ? 'true' : 'false'}
          onClick={() => setUi({ open: !ui.open })}
        >
          {ui.open ? <Icon.close /> : <Icon.chat />}
          {unread > 0 && !ui.open && (
            <span class="badge" part="badge" aria-hidden="true" data-testid="unread-badge">
              {unread > 99 ? '99+' : unread}
            </span>
          )}
        </button>
      )}
    </>
  );
}

function ConversationList(props: ViewProps & {}) {
  const { client, t, setUi, lang } = props;
  const conversations = client.conversations();
  const myId = client.me?.id;
  const [starting, setStarting] = useState(false);
  const start = async () => {
    setStarting(true);
    try {
      const c = await client.startConversation(props.widgetSlug ? { widget: props.widgetSlug } : {});
      setUi({ activeId: c.id });
    } finally {
      setStarting(false);
    }
  };
  return (
    <div class="body" part="conversation-list">
      {conversations.length === 0 ? (
        <p class="empty">{props.canStart ? t('startHint') : t('noConversations')}</p>
      ) : (
        <ul class="list" aria-label={t('conversations')}>
          {conversations.map((c) => {
            const title = conversationTitle(c, myId, props.title);
            const last = c.last_message;
            const preview = last ? (last.deleted_at ? t('deleted') : last.content || (last.attachments.length ? '📎' : '')) : '';
            const unread = c.unread_count ?? 0;
            const here = props.presenceAllowed(c) ? props.presence.snapshot(c.id) : null;
            const online = here?.known === true && here.online > 0;
            return (
              <li key={c.id}>
                <button class="conv" type="button" data-conversation-id={c.id} onClick={() => setUi({ activeId: c.id })}>
                  <div class={`avatar${online ? ' online' : ''}`} aria-hidden="true">
                    {initials(title)}
                  </div>
                  <div class="conv-main">
                    <div class="conv-top">
                      <span class="conv-name" dir="auto">
                        {title}
                        {online && <span class="sr-only">{`, ${presenceText(here, otherCount(c, myId), t)}`}</span>}
                      </span>
                      {c.last_message_at && <span class="conv-time">{timeLabel(c.last_message_at, lang)}</span>}
                    </div>
                    <div class="conv-preview">
                      {/* Its own direction: an English "Perfect!" in an Arabic widget keeps its "!" at the end. */}
                      <span dir="auto">{preview}</span>
                      {unread > 0 && <span class="pill">{t('unread', { n: unread })}</span>}
                    </div>
                  </div>
                </button>
              </li>
            );
          })}
        </ul>
      )}
      {props.canStart && (
        <button class="primary new-conv" type="button" disabled={starting} onClick={() => void start()}>
          {t('newConversation')}
        </button>
      )}
    </div>
  );
}

interface Upload {
  key: string;
  name: string;
  state: 'uploading' | 'done' | 'error';
  attachment: AttachmentJson | null;
}

function Thread(props: ViewProps & { conversation: ConversationJson }) {
  const { client, t, conversation, lang } = props;
  const id = conversation.id;
  const [loadError, setLoadError] = useState(false);
  const [editing, setEditing] = useState<MessageJson | null>(null);
  const [lightbox, setLightbox] = useState<AttachmentJson | null>(null);
  const bodyRef = useRef<HTMLDivElement>(null);
  const stick = useRef(true);

  useEffect(() => {
    setLoadError(false);
    client.openConversation(id).catch(() => setLoadError(true));
  }, [client, id]);

  const items = client.messages(id);
  const typing = client.typingUsers(id);

  useLayoutEffect(() => {
    const el = bodyRef.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  });

  // Images and notices grow the thread after render: stay pinned to the newest message while the user is there.
  useEffect(() => {
    const el = bodyRef.current;
    const inner = el?.querySelector('.thread');
    if (!el || !inner || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => {
      if (stick.current) el.scrollTop = el.scrollHeight;
    });
    ro.observe(inner);
    return () => ro.disconnect();
  }, [id]);

  const onScroll = () => {
    const el = bodyRef.current;
    if (el) stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 60;
  };

  let lastDay = '';
  let prev: ChatMessage | null = null;
  const rows: JSX.Element[] = [];
  for (const item of items) {
    const m = item.message;
    const day = new Date(m.created_at).toDateString();
    if (day !== lastDay) {
      rows.push(
        <div key={`day-${day}`} class="day">
          {dayLabel(m.created_at, t, lang)}
        </div>,
      );
      lastDay = day;
      prev = null;
    }
    const first =
      !prev ||
      prev.message.sender.id !== m.sender.id ||
      prev.message.sender.type !== m.sender.type ||
      Date.parse(m.created_at) - Date.parse(prev.message.created_at) > GROUP_WINDOW_MS;
    rows.push(<MessageRow key={item.key} {...props} item={item} first={first} onEdit={setEditing} onImage={setLightbox} />);
    prev = item;
  }

  return (
    <>
      <div class="body" ref={bodyRef} onScroll={onScroll}>
        {client.hasOlderMessages(id) && items.length > 0 && (
          <button class="link-btn older" type="button" onClick={() => void client.loadOlder(id)}>
            {t('loadOlder')}
          </button>
        )}
        {loadError && <p class="empty">{t('signInError')}</p>}
        {items.length === 0 && !loadError && <p class="empty">{t('startHint')}</p>}
        <div class="thread" role="log" aria-live="polite" aria-label={t('messageLog')} part="thread">
          {rows}
        </div>
      </div>
      <div class="typing" aria-live="polite" data-testid="typing">
        {typing.length > 0 && (
          <>
            <span class="dots" aria-hidden="true">
              <i />
              <i />
              <i />
            </span>
            <span>{typing.length === 1 ? t('typingOne', { name: typing[0]!.name ?? '…' }) : t('typingMany')}</span>
          </>
        )}
      </div>
      <Composer {...props} conversationId={id} editing={editing} onEditDone={() => setEditing(null)} />
      {lightbox && <Lightbox attachment={lightbox} t={t} onClose={() => setLightbox(null)} />}
    </>
  );
}

function Lightbox({ attachment, t, onClose }: { attachment: AttachmentJson; t: T; onClose: () => void }) {
  const closeRef = useRef<HTMLButtonElement>(null);
  // Before the next key press: Escape must reach the lightbox, not close the whole panel behind it.
  useLayoutEffect(() => closeRef.current?.focus(), []);
  return (
    <div
      class="lightbox"
      role="dialog"
      aria-modal="true"
      aria-label={t('image', { name: attachment.name ?? '' })}
      onKeyDown={(e) => {
        if (e.key === 'Escape') {
          e.preventDefault();
          onClose();
        }
      }}
      onClick={(e) => {
        if (e.target === e.currentTarget) onClose();
      }}
    >
      <img src={attachment.url} alt={attachment.name ?? ''} />
      <button ref={closeRef} class="icon-btn" type="button" aria-label={t('closeImage')} onClick={onClose}>
        <Icon.close />
      </button>
    </div>
  );
}

function MessageRow(
  props: ViewProps & { item: ChatMessage; first: boolean; onEdit: (m: MessageJson) => void; onImage: (a: AttachmentJson) => void },
) {
  const { client, t, item, first, lang } = props;
  const m = item.message;
  const [pop, setPop] = useState<'none' | 'react' | 'menu'>('none');
  const deleted = m.deleted_at !== null;
  const confirmed = !item.key.startsWith('local:');
  const senderName = item.mine ? t('you') : (m.sender.name ?? '');
  const stateLabel =
    item.state === 'read' ? t('read') : item.state === 'sent' ? t('sent') : item.state === 'failed' ? t('failed') : item.state === 'queued' ? t('queued') : t('sending');
  const kinds = m.masked?.kinds.map((k) => t(`kind_${k}` as 'kind_email')).join(', ');
  const myId = client.me?.id ?? '';

  return (
    <div
      class={`row${item.mine ? ' mine' : ''}${first ? ' first' : ''}${item.state === 'failed' ? ' failed' : ''}`}
      data-message-key={item.key}
      data-state={item.mine ? item.state : undefined}
    >
      {!item.mine && <div class="avatar sm" aria-hidden="true">{initials(m.sender.name)}</div>}
      <div class="stack">
        {first && !item.mine && (
          <span class="sender">
            <bdi>{senderName}</bdi>
          </span>
        )}
        <div class="msg">
          <span class="sr-only">{`${senderName}, ${timeLabel(m.created_at, lang)}: `}</span>
          {deleted ? (
            <div class="bubble deleted" part="bubble">{t('deleted')}</div>
          ) : (
            <>
              {m.content && (
                <div class="bubble" dir="auto" part={item.mine ? 'bubble bubble-mine' : 'bubble'} data-testid="bubble">
                  <Text text={m.content} />
                </div>
              )}
              {m.attachments.map((a) =>
                a.content_type.startsWith('image/') && (a.thumbnail_url || a.url) ? (
                  <button key={a.id} class="att-img" type="button" aria-label={t('image', { name: a.name ?? '' })} onClick={() => props.onImage(a)}>
                    <img src={a.thumbnail_url ?? a.url} alt={a.name ?? ''} loading="lazy" data-testid="attachment-thumb" />
                  </button>
                ) : (
                  <a key={a.id} class="att-file" href={a.url} target="_blank" rel="noopener noreferrer">
                    📎 <bdi>{a.name ?? a.content_type}</bdi>
                  </a>
                ),
              )}
            </>
          )}
          {item.mine && m.masked && kinds && (
            <div class="notice" role="note" data-testid="masked-notice">
              {t('masked', { kinds })}
            </div>
          )}
          {m.reactions.length > 0 && (
            <div class="reactions">
              {m.reactions.map((r) => (
                <button
                  key={r.emoji}
                  class="chip"
                  type="button"
                  aria-pressed={r.user_ids.includes(myId) ? 'true' : 'false'}
                  aria-label={`${r.emoji} ${r.count}`}
                  onClick={() => void client.toggleReaction(m.conversation_id, m.id, r.emoji)}
                >
                  {r.emoji} {r.count}
                </button>
              ))}
            </div>
          )}
          <div class="meta">
            <span>{timeLabel(m.created_at, lang)}</span>
            {m.edited_at && !deleted && <span>· {t('edited')}</span>}
            {item.mine && item.state !== 'failed' && (
              <span class={item.state === 'read' ? 'read' : ''} data-testid="delivery" data-delivery={item.state} title={stateLabel}>
                {item.state === 'read' ? <Icon.checks /> : item.state === 'sent' ? <Icon.check /> : <Icon.clock />}
                <span class="sr-only">{stateLabel}</span>
              </span>
            )}
            {item.state === 'failed' && item.clientId && (
              <>
                <span class="failed" role="alert">{t('failed')}</span>
                <button class="link-btn" type="button" onClick={() => client.retrySend(item.clientId!)}>
                  {t('retry')}
                </button>
                <button class="link-btn" type="button" onClick={() => client.discardSend(item.clientId!)}>
                  {t('discard')}
                </button>
              </>
            )}
          </div>
        </div>
      </div>
      {confirmed && !deleted && (
        <div class="actions">
          <button class="icon-btn" type="button" aria-label={t('react')} aria-expanded={pop === 'react'} onClick={() => setPop(pop === 'react' ? 'none' : 'react')}>
            <Icon.smile />
          </button>
          {item.mine && (
            <button class="icon-btn" type="button" aria-label={t('moreActions')} aria-expanded={pop === 'menu'} onClick={() => setPop(pop === 'menu' ? 'none' : 'menu')}>
              <Icon.more />
            </button>
          )}
          {pop === 'react' && (
            <div class="popover reaction-pop" role="group" aria-label={t('react')}>
              {QUICK_REACTIONS.map((e) => (
                <button
                  key={e}
                  class="emoji-btn"
                  type="button"
                  aria-label={e}
                  onClick={() => {
                    setPop('none');
                    void client.toggleReaction(m.conversation_id, m.id, e);
                  }}
                >
                  {e}
                </button>
              ))}
            </div>
          )}
          {pop === 'menu' && (
            <div class="popover menu" role="menu">
              <button
                type="button"
                role="menuitem"
                onClick={() => {
                  setPop('none');
                  props.onEdit(m);
                }}
              >
                {t('edit')}
              </button>
              <button
                type="button"
                role="menuitem"
                onClick={() => {
                  setPop('none');
                  void client.deleteMessage(m.conversation_id, m.id);
                }}
              >
                {t('delete')}
              </button>
            </div>
          )}
        </div>
      )}
    </div>
  );
}

function Composer(props: ViewProps & { conversationId: string; editing: MessageJson | null; onEditDone: () => void }) {
  const { client, t, conversationId, editing } = props;
  const [text, setText] = useState('');
  const [emojiOpen, setEmojiOpen] = useState(false);
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [dragging, setDragging] = useState(false);
  const areaRef = useRef<HTMLTextAreaElement>(null);
  const fileRef = useRef<HTMLInputElement>(null);

  // A layout effect, not a passive one: the composer must hold the message being edited before the next
  // keystroke lands. A passive effect runs after paint, so fast typing (or a test driver) right after
  // "Edit" was overwritten by the original content and the edit saved the old text.
  useLayoutEffect(() => {
    if (editing) {
      setText(editing.content);
      areaRef.current?.focus();
    }
  }, [editing]);

  // Layout effect: focus lands before the first keystroke, which a passive effect could otherwise steal back.
  useLayoutEffect(() => {
    areaRef.current?.focus();
  }, [conversationId]);

  useLayoutEffect(() => {
    const el = areaRef.current;
    if (!el) return;
    // Grow with the text (CSSOM property set: allowed under a strict CSP).
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, 140)}px`;
  }, [text]);

  const addFiles = (files: FileList | File[]) => {
    if (!props.attachmentsEnabled) return;
    for (const file of Array.from(files)) {
      const key = `${Date.now()}-${Math.random()}`;
      setUploads((u) => [...u, { key, name: file.name || 'file', state: 'uploading', attachment: null }]);
      client.uploadAttachment(conversationId, file, file.name || 'pasted.png').then(
        (attachment) => setUploads((u) => u.map((x) => (x.key === key ? { ...x, state: 'done', attachment } : x))),
        () => setUploads((u) => u.map((x) => (x.key === key ? { ...x, state: 'error' } : x))),
      );
    }
  };

  const ready = uploads.filter((u) => u.state === 'done' && u.attachment).map((u) => u.attachment!);
  const busy = uploads.some((u) => u.state === 'uploading');
  const canSend = !busy && (text.trim().length > 0 || ready.length > 0);

  const submit = () => {
    // What is in the box now, not the last rendered state: input and Enter may arrive before a re-render.
    const value = (areaRef.current?.value ?? text).trim();
    if (busy || (value.length === 0 && ready.length === 0)) return;
    if (editing) {
      if (value.length === 0) return;
      void client.editMessage(conversationId, editing.id, value);
      props.onEditDone();
    } else {
      client.sendMessage(conversationId, value, ready);
      setUploads([]);
    }
    setText('');
    areaRef.current?.focus();
  };

  return (
    <div
      class="composer"
      part="composer"
      onDragOver={(e) => {
        if (!props.attachmentsEnabled) return;
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={(e) => {
        e.preventDefault();
        setDragging(false);
        if (e.dataTransfer?.files.length) addFiles(e.dataTransfer.files);
      }}
    >
      {dragging && <div class="drop">{t('dropHere')}</div>}
      {editing && (
        <div class="editing">
          <span>{t('editing')}</span>
          <button
            class="link-btn"
            type="button"
            onClick={() => {
              props.onEditDone();
              setText('');
            }}
          >
            {t('cancel')}
          </button>
        </div>
      )}
      {uploads.length > 0 && (
        <div class="previews">
          {uploads.map((u) => (
            <div key={u.key} class={`preview${u.state === 'error' ? ' error' : ''}`} data-testid="upload-preview" data-state={u.state}>
              {u.attachment?.thumbnail_url ? <img src={u.attachment.thumbnail_url} alt="" /> : null}
              <span class="name">
                {u.state === 'uploading' ? t('uploading', { name: u.name }) : u.state === 'error' ? t('uploadFailed', { name: u.name }) : u.name}
              </span>
              <button class="icon-btn" type="button" aria-label={t('removeAttachment', { name: u.name })} onClick={() => setUploads((x) => x.filter((y) => y.key !== u.key))}>
                <Icon.close />
              </button>
            </div>
          ))}
        </div>
      )}
      {emojiOpen && (
        <div class="popover emoji-pop" role="group" aria-label={t('emoji')}>
          {EMOJI.map((e) => (
            <button
              key={e}
              class="emoji-btn"
              type="button"
              aria-label={e}
              onClick={() => {
                setText((s) => s + e);
                setEmojiOpen(false);
                areaRef.current?.focus();
              }}
            >
              {e}
            </button>
          ))}
        </div>
      )}
      <div class="composer-row">
        <button class="icon-btn" type="button" aria-label={t('emoji')} aria-expanded={emojiOpen} onClick={() => setEmojiOpen(!emojiOpen)}>
          <Icon.smile />
        </button>
        {props.attachmentsEnabled && !editing && (
          <>
            <button class="icon-btn" type="button" aria-label={t('attach')} onClick={() => fileRef.current?.click()}>
              <Icon.clip />
            </button>
            <input
              ref={fileRef}
              type="file"
              multiple
              hidden
              data-testid="file-input"
              onChange={(e) => {
                const input = e.currentTarget;
                if (input.files) addFiles(input.files);
                input.value = '';
              }}
            />
          </>
        )}
        <label class="sr-only" for="rc-composer">
          {t('placeholder')}
        </label>
        <textarea
          id="rc-composer"
          ref={areaRef}
          rows={1}
          placeholder={t('placeholder')}
          value={text}
          maxLength={10_000}
          onInput={(e) => {
            setText(e.currentTarget.value);
            if (e.currentTarget.value) client.notifyTyping(conversationId);
          }}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              submit();
            } else if (e.key === 'Escape' && (emojiOpen || editing)) {
              e.preventDefault();
              setEmojiOpen(false);
              if (editing) {
                props.onEditDone();
                setText('');
              }
            }
          }}
          onPaste={(e) => {
            const files = Array.from(e.clipboardData?.files ?? []);
            if (files.length > 0 && props.attachmentsEnabled) {
              e.preventDefault();
              addFiles(files);
            }
          }}
        />
        <button class="icon-btn send" type="button" aria-label={editing ? t('save') : t('send')} disabled={!canSend} onClick={submit}>
          <Icon.send />
        </button>
      </div>
    </div>
  );
}
