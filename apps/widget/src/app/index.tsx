import { render } from 'preact';
import { useState } from 'preact/hooks';
import type { ChatClient, ConversationJson, EmbedInitJson } from '@reusable-chat/sdk';
import type { AppModule, WidgetConfig, WidgetController } from '../shared/contract.ts';
import { pickLang, RTL_LANGS, translator } from './i18n.ts';
import { PresenceTracker } from './presence.ts';
import { connectClient, forgetSession } from './session.ts';
import { PRESETS, WIDGET_CSS } from './styles.ts';
import { WidgetView, type UiState } from './widget-view.tsx';

let sharedSheet: CSSStyleSheet | null = null;
function widgetSheet(): CSSStyleSheet {
  if (!sharedSheet) {
    sharedSheet = new CSSStyleSheet();
    sharedSheet.replaceSync(WIDGET_CSS);
  }
  return sharedSheet;
}

/** DOM events for the host page (SPEC §8): bubble out of the shadow root, carry plain data only. */
function dispatch(host: HTMLElement, name: string, detail: unknown): void {
  host.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
}

/**
 * Theme through CSSOM only — never style strings from data (strict CSP). The preset goes into a `:host` rule of
 * the shadow root's own sheet, which the host page's CSS overrides (`reusable-chat { --rc-accent: … }` wins, as
 * documented); an explicit `accent` (attribute or init) is set on the element itself and wins over both.
 */
function applyTheme(host: HTMLElement, presetSheet: CSSStyleSheet, config: WidgetConfig, init: EmbedInitJson | null): void {
  const theme = (init?.theme ?? {}) as Record<string, unknown>;
  const preset = PRESETS[config.preset ?? (typeof theme.preset === 'string' ? theme.preset : 'default')] ?? PRESETS.default!;
  // Keys and values are this bundle's constants (PRESETS), not page or server data.
  presetSheet.replaceSync(`:host{${Object.entries(preset).map(([k, v]) => `${k}:${v}`).join(';')}}`);
  const accent = config.accent ?? (typeof theme.accent_color === 'string' ? theme.accent_color : typeof theme.accent === 'string' ? theme.accent : undefined);
  if (accent && CSS.supports('color', accent)) host.style.setProperty('--rc-accent', accent);
  else host.style.removeProperty('--rc-accent');
  const mode = config.theme ?? (theme.mode === 'dark' || theme.mode === 'light' ? theme.mode : 'light');
  const dark = mode === 'dark' || (mode === 'auto' && matchMedia('(prefers-color-scheme: dark)').matches);
  host.setAttribute('data-theme', dark ? 'dark' : 'light');
  const lang = pickLang(config.lang);
  host.setAttribute('lang', lang);
  host.setAttribute('dir', RTL_LANGS.has(lang) ? 'rtl' : 'ltr');
}

interface Mounted {
  client: ChatClient;
  init: EmbedInitJson | null;
  setUi: (patch: Partial<UiState>) => void;
  getUi: () => UiState;
}

async function mount(host: HTMLElement, root: ShadowRoot, config: WidgetConfig, mode: 'floating' | 'inline', conversationId: string | null): Promise<WidgetController> {
  // After the shared sheet: its `:host` rule overrides the defaults there (same specificity, later sheet).
  const presetSheet = new CSSStyleSheet();
  root.adoptedStyleSheets = [widgetSheet(), presetSheet];
  host.classList.add(mode === 'floating' ? 'rc-floating' : 'rc-inline');
  let currentConfig = config;
  const { client, init } = await connectClient(config);
  applyTheme(host, presetSheet, config, init);
  const presence = new PresenceTracker(client);
  // The page knows its own configuration's switch (SPEC §6 policies.presence); for other configurations, and
  // for token sessions without an embed init, the server's channel authorization decides.
  const presenceAllowed = (c: ConversationJson) => !init || c.widget !== init.widget.slug || init.widget.presence;

  let ui: UiState = { open: mode === 'inline', activeId: conversationId };
  let rerender: () => void = () => undefined;
  const setUi = (patch: Partial<UiState>) => {
    const before = ui;
    ui = { ...ui, ...patch };
    if (before.open !== ui.open) {
      if (ui.open) host.setAttribute('data-open', '');
      else host.removeAttribute('data-open');
      dispatch(host, ui.open ? 'rc-open' : 'rc-close', { conversation_id: ui.activeId });
      // Focus moves in WidgetView's layout effect, once the panel exists (a microtask here ran before the render).
    }
    rerender();
  };
  const m: Mounted = { client, init, setUi, getUi: () => ui };

  client.on('message', (message) => dispatch(host, 'rc-message', message));
  client.on('unread', (total) => dispatch(host, 'rc-unread', { total }));
  client.on('connection', (state) => dispatch(host, 'rc-connection', { state }));
  client.on('session_ended', () => {
    forgetSession(currentConfig);
    dispatch(host, 'rc-connection', { state: 'session_ended' });
  });

  const container = document.createElement('div');
  container.className = 'rc-root';
  // Replace the loader's launcher with the app's own (same look, now with the badge). A keyboard user may have
  // focused the loader's launcher while the app loaded (identified users mount at idle): keep the focus there.
  const launcherHadFocus = root.activeElement?.classList.contains('launcher') === true;
  root.replaceChildren(container);

  function Root() {
    const [, setTick] = useState(0);
    rerender = () => setTick((n) => n + 1);
    const lang = pickLang(currentConfig.lang);
    const t = translator(lang);
    const widget = init?.widget;
    return (
      <div dir={RTL_LANGS.has(lang) ? 'rtl' : 'ltr'} lang={lang}>
        <WidgetView
          client={client}
          t={t}
          lang={lang}
          mode={mode}
          ui={ui}
          setUi={setUi}
          title={currentConfig.title ?? init?.workspace.name ?? t('title')}
          poweredBy={currentConfig.poweredBy ?? init?.powered_by ?? true}
          attachmentsEnabled={widget?.attachments.enabled ?? true}
          widgetSlug={currentConfig.widget ?? widget?.slug ?? null}
          canStart={(widget?.can_start.length ?? 0) > 0}
          presence={presence}
          presenceAllowed={presenceAllowed}
        />
      </div>
    );
  }
  render(<Root />, container);
  if (launcherHadFocus) root.querySelector<HTMLElement>('.launcher')?.focus();
  dispatch(host, 'rc-ready', { user_id: client.me?.id ?? null, unread_total: client.unreadTotal });
  if (client.unreadTotal > 0) dispatch(host, 'rc-unread', { total: client.unreadTotal });

  return {
    open: () => m.setUi({ open: true }),
    close: () => m.setUi({ open: false }),
    toggle: () => m.setUi({ open: !m.getUi().open }),
    async openConversation(id: string) {
      await client.openConversation(id);
      m.setUi({ open: true, activeId: id });
    },
    async startConversation(options = {}) {
      const slug = options.widget ?? currentConfig.widget ?? init?.widget.slug;
      const c = await client.startConversation({ ...options, ...(slug ? { widget: slug } : {}) });
      m.setUi({ open: true, activeId: c.id });
      return c.id;
    },
    async sendMessage(text: string, id?: string) {
      const target = id ?? m.getUi().activeId ?? client.conversations()[0]?.id;
      if (!target) throw new Error('reusable-chat: no conversation to send to');
      await client.openConversation(target);
      return client.sendMessage(target, text);
    },
    async logout() {
      forgetSession(currentConfig);
      presence.stop();
      client.stop();
      render(null, container);
      dispatch(host, 'rc-close', { conversation_id: null });
    },
    configure(next: WidgetConfig) {
      currentConfig = next;
      applyTheme(host, presetSheet, next, init);
      rerender();
    },
    destroy() {
      presence.stop();
      client.stop();
      render(null, container);
    },
  };
}

const app: AppModule = {
  mountFloating: (host, root, config) => mount(host, root, config, 'floating', null),
  mountInline: (host, root, config, conversationId) => mount(host, root, config, 'inline', conversationId),
};

export const mountFloating = app.mountFloating;
export const mountInline = app.mountInline;
