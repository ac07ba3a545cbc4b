/** The contract between the loader (widget.js) and the lazily loaded app (widget-app.js). */

export interface WidgetConfig {
  /** Origin of the Reusable Chat server (where widget.js came from). */
  baseUrl: string;
  realtimeKey: string;
  publicKey?: string | undefined;
  userId?: string | undefined;
  userName?: string | undefined;
  userHash?: string | undefined;
  userEmail?: string | undefined;
  sessionToken?: string | undefined;
  widget?: string | undefined;
  lang?: string | undefined;
  theme?: 'light' | 'dark' | 'auto' | undefined;
  preset?: string | undefined;
  accent?: string | undefined;
  position?: 'right' | 'left' | undefined;
  poweredBy?: boolean | undefined;
  title?: string | undefined;
}

export interface WidgetController {
  open(): void;
  close(): void;
  toggle(): void;
  openConversation(id: string): Promise<void>;
  startConversation(options?: { widget?: string; with_user_id?: string; subject?: string }): Promise<string>;
  sendMessage(text: string, conversationId?: string): Promise<string>;
  logout(): Promise<void>;
  configure(config: WidgetConfig): void;
  destroy(): void;
}

export interface AppModule {
  mountFloating(host: HTMLElement, root: ShadowRoot, config: WidgetConfig): Promise<WidgetController>;
  mountInline(host: HTMLElement, root: ShadowRoot, config: WidgetConfig, conversationId: string): Promise<WidgetController>;
}
