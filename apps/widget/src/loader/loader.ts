/**
 * widget.js — the tiny loader (SPEC §8). It defines <reusable-chat> and <reusable-chat-inline>, draws the
 * launcher in a Shadow DOM with a constructable stylesheet (CSP without 'unsafe-inline'), exposes
 * `window.ReusableChat`, and imports the full app (widget-app-<hash>.js) on first interaction — or at idle
 * time for identified users, so the unread badge is live. No secret is ever needed here (S-01): a public
 * key + user_hash, or a session token the site's server minted.
 */
import type { AppModule, WidgetConfig, WidgetController } from '../shared/contract.ts';

declare const __RC_APP_CHUNK__: string;

// Replaced with the server's Pusher app key when /widget.js is served (a public identifier, not a secret).
const REALTIME_KEY = '__RC_REALTIME_KEY__';

const script = document.currentScript as HTMLScriptElement | null;
const scriptUrl = new URL(script?.src ?? document.querySelector<HTMLScriptElement>('script[src*="widget.js"]')?.src ?? location.href);
const BASE_URL = scriptUrl.origin;

let appPromise: Promise<AppModule> | null = null;
function loadApp(): Promise<AppModule> {
  appPromise ??= import(/* @vite-ignore */ `${BASE_URL}/${__RC_APP_CHUNK__}`) as Promise<AppModule>;
  return appPromise;
}

const LAUNCHER_CSS = `:host{position:fixed;z-index:2147483000;bottom:20px;right:20px;--rc-accent:#4f46e5;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
:host([position=left]){right:auto;left:20px}
.launcher{width:56px;height:56px;border-radius:50%;border:0;background:var(--rc-accent);color:#fff;cursor:pointer;display:grid;place-items:center;box-shadow:0 6px 20px rgba(0,0,0,.22);position:relative}
.launcher:focus-visible{outline:3px solid #111;outline-offset:3px}
.launcher svg{width:28px;height:28px}`;

const ICON =
  '<svg viewBox="0 0 24 24" fill="currentColor" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>';

const ATTRS = ['public-key', 'user-id', 'user-name', 'user-hash', 'user-email', 'session-token', 'widget', 'lang', 'theme', 'preset', 'accent', 'position', 'powered-by', 'title'];

function configFrom(el: HTMLElement, extra: Partial<WidgetConfig> = {}): WidgetConfig {
  const a = (n: string) => el.getAttribute(n) ?? undefined;
  return {
    baseUrl: BASE_URL,
    realtimeKey: REALTIME_KEY,
    publicKey: a('public-key'),
    userId: a('user-id'),
    userName: a('user-name'),
    userHash: a('user-hash'),
    userEmail: a('user-email'),
    sessionToken: a('session-token'),
    widget: a('widget'),
    lang: a('lang') ?? document.documentElement.lang ?? undefined,
    theme: a('theme') as WidgetConfig['theme'],
    preset: a('preset'),
    accent: a('accent'),
    position: a('position') as WidgetConfig['position'],
    poweredBy: a('powered-by') === 'false' ? false : undefined,
    title: a('title'),
    ...extra,
  };
}

function sheet(css: string): CSSStyleSheet {
  const s = new CSSStyleSheet();
  s.replaceSync(css);
  return s;
}

type Call = (c: WidgetController) => unknown;

class ReusableChatElement extends HTMLElement {
  static observedAttributes = ATTRS;
  controller: WidgetController | null = null;
  private queue: { call: Call; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  private mounting = false;
  extra: Partial<WidgetConfig> = {};

  connectedCallback(): void {
    if (this.shadowRoot) return;
    const root = this.attachShadow({ mode: 'open' });
    root.adoptedStyleSheets = [sheet(LAUNCHER_CSS)];
    const button = document.createElement('button');
    button.className = 'launcher';
    button.setAttribute('part', 'launcher');
    button.setAttribute('aria-label', 'Open chat');
    button.setAttribute('aria-expanded', 'false');
    button.innerHTML = ICON; // static markup of this file, never data
    root.append(button);
    const accent = this.getAttribute('accent');
    if (accent && CSS.supports('color', accent)) this.style.setProperty('--rc-accent', accent);
    button.addEventListener('click', () => void this.run((c) => c.toggle()));
    // Warm up on intent, so the panel opens without a visible wait.
    button.addEventListener('pointerenter', () => void loadApp(), { once: true });
    button.addEventListener('focus', () => void loadApp(), { once: true });
    if (this.getAttribute('user-id') || this.getAttribute('session-token')) {
      const idle = (globalThis as { requestIdleCallback?: (cb: () => void) => void }).requestIdleCallback ?? ((cb: () => void) => setTimeout(cb, 200));
      idle(() => void this.mount());
    }
  }

  disconnectedCallback(): void {
    this.controller?.destroy();
    this.controller = null;
  }

  attributeChangedCallback(name: string, old: string | null, value: string | null): void {
    if (old === value || !this.controller) return;
    if (name === 'accent' || name === 'theme' || name === 'position' || name === 'lang' || name === 'preset') this.controller.configure(configFrom(this, this.extra));
  }

  async mount(): Promise<WidgetController> {
    if (this.controller) return this.controller;
    if (this.mounting) return new Promise((resolve, reject) => this.queue.push({ call: (c) => c, resolve: resolve as (v: unknown) => void, reject }));
    this.mounting = true;
    try {
      const app = await loadApp();
      this.controller = await app.mountFloating(this, this.shadowRoot!, configFrom(this, this.extra));
      for (const q of this.queue.splice(0)) {
        try {
          q.resolve(await q.call(this.controller));
        } catch (e) {
          q.reject(e);
        }
      }
      return this.controller;
    } catch (err) {
      for (const q of this.queue.splice(0)) q.reject(err);
      this.mounting = false;
      throw err;
    }
  }

  async run<T>(call: (c: WidgetController) => T | Promise<T>): Promise<T> {
    const c = await this.mount();
    return call(c);
  }
}

class ReusableChatInlineElement extends HTMLElement {
  private controller: WidgetController | null = null;

  connectedCallback(): void {
    if (this.shadowRoot) return;
    const root = this.attachShadow({ mode: 'open' });
    // The conversation is visible content: load at once.
    const floating = document.querySelector('reusable-chat') as HTMLElement | null;
    const base = floating ? configFrom(floating) : {};
    const own = configFrom(this);
    const merged = { ...base, ...Object.fromEntries(Object.entries(own).filter(([, v]) => v !== undefined)) } as WidgetConfig;
    const id = this.getAttribute('conversation-id') ?? '';
    void loadApp()
      .then((app) => app.mountInline(this, root, merged, id))
      .then((c) => {
        this.controller = c;
      });
  }

  disconnectedCallback(): void {
    this.controller?.destroy();
    this.controller = null;
  }
}

function element(): ReusableChatElement {
  let el = document.querySelector('reusable-chat') as ReusableChatElement | null;
  if (!el) {
    el = document.createElement('reusable-chat') as ReusableChatElement;
    document.body.append(el);
  }
  return el;
}

const ATTR_OF: Record<string, string> = {
  publicKey: 'public-key',
  userId: 'user-id',
  userName: 'user-name',
  userHash: 'user-hash',
  userEmail: 'user-email',
  sessionToken: 'session-token',
  widget: 'widget',
  lang: 'lang',
  theme: 'theme',
  preset: 'preset',
  accent: 'accent',
  position: 'position',
  title: 'title',
};

/** The JS API of SPEC §8. Calls before the app has loaded are queued and resolved once it is. */
const api = {
  init(options: Record<string, unknown> & { user?: { id?: string; name?: string; hash?: string; email?: string } }): ReusableChatElement {
    let el = document.querySelector('reusable-chat') as ReusableChatElement | null;
    if (!el) el = document.createElement('reusable-chat') as ReusableChatElement;
    const flat: Record<string, unknown> = { ...options };
    if (options.user) {
      flat.userId = options.user.id;
      flat.userName = options.user.name;
      flat.userHash = options.user.hash;
      flat.userEmail = options.user.email;
    }
    for (const [k, attr] of Object.entries(ATTR_OF)) {
      const v = flat[k];
      if (typeof v === 'string') el.setAttribute(attr, v);
    }
    if (options.poweredBy === false) el.setAttribute('powered-by', 'false');
    if (!el.isConnected) document.body.append(el);
    return el;
  },
  open: () => element().run((c) => c.open()),
  close: () => element().run((c) => c.close()),
  toggle: () => element().run((c) => c.toggle()),
  openConversation: (id: string) => element().run((c) => c.openConversation(id)),
  startConversation: (options: { widget?: string; with_user_id?: string; subject?: string } = {}) => element().run((c) => c.startConversation(options)),
  sendMessage: (text: string, conversationId?: string) => element().run((c) => c.sendMessage(text, conversationId)),
  logout: () => element().run((c) => c.logout()),
  /** `on('message', fn)` ≡ listening to `rc-message` on the element. Returns an unsubscribe function. */
  on(event: string, fn: (detail: unknown) => void): () => void {
    const name = event.startsWith('rc-') ? event : `rc-${event}`;
    const listener = (e: Event) => fn((e as CustomEvent).detail);
    document.addEventListener(name, listener);
    return () => document.removeEventListener(name, listener);
  },
};

if (!customElements.get('reusable-chat')) customElements.define('reusable-chat', ReusableChatElement);
if (!customElements.get('reusable-chat-inline')) customElements.define('reusable-chat-inline', ReusableChatInlineElement);
const w = window as unknown as { ReusableChat?: typeof api & { q?: unknown[][] } };
const queued = w.ReusableChat?.q;
w.ReusableChat = api;
// A snippet may have queued calls (`ReusableChat.q.push(['init', {...}])`) before this script arrived.
if (Array.isArray(queued)) for (const [name, ...args] of queued) (api as Record<string, (...a: unknown[]) => unknown>)[name as string]?.(...args);
