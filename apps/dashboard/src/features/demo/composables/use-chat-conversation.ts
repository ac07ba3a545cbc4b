import { onBeforeUnmount, ref, shallowRef } from 'vue';
import { ChatClient, type ChatMessage, type ConnectionState, type ConversationJson, type UserJson } from '@reusable-chat/sdk';
import { describeError } from '../api.ts';

export interface ChatConversationOptions {
  token: string;
  appKey: string;
  conversationId: string;
}

/**
 * One widget session following one conversation, as Vue state. The SDK's ChatClient does the work (widget
 * API, realtime with catch-up, offline send queue); this copies its snapshots into refs on every `change`.
 * Each call owns its client, so two panes on one page are two independent sessions.
 */
export function useChatConversation() {
  const messages = shallowRef<ChatMessage[]>([]);
  const conversation = shallowRef<ConversationJson | null>(null);
  const typingUsers = shallowRef<UserJson[]>([]);
  const me = shallowRef<UserJson | null>(null);
  const connection = ref<ConnectionState>('idle');
  const error = ref<string | null>(null);
  const ready = ref(false);
  let client: ChatClient | null = null;
  let conversationId = '';

  function refresh(): void {
    if (!client) return;
    messages.value = client.messages(conversationId);
    conversation.value = client.conversation(conversationId);
    typingUsers.value = client.typingUsers(conversationId);
    me.value = client.me;
  }

  async function start(options: ChatConversationOptions): Promise<void> {
    stop();
    conversationId = options.conversationId;
    error.value = null;
    const c = new ChatClient({ baseUrl: window.location.origin, token: options.token, appKey: options.appKey });
    client = c;
    c.on('change', (id) => {
      if (id === null || id === conversationId) refresh();
    });
    c.on('connection', (state) => (connection.value = state));
    c.on('session_ended', () => (error.value = 'Your demo session has ended. Reload the page to start again.'));
    try {
      await c.start();
      await c.openConversation(conversationId);
      c.setActiveConversation(conversationId);
      refresh();
      ready.value = true;
    } catch (err) {
      error.value = describeError(err);
      throw err;
    }
  }

  function send(text: string): void {
    const content = text.trim();
    if (!client || !content) return;
    client.sendMessage(conversationId, content);
  }

  function notifyTyping(): void {
    client?.notifyTyping(conversationId);
  }

  function retry(clientId: string): void {
    client?.retrySend(clientId);
  }

  function stop(): void {
    client?.stop();
    client = null;
    ready.value = false;
  }

  onBeforeUnmount(stop);

  return { messages, conversation, typingUsers, me, connection, error, ready, start, send, notifyTyping, retry, stop };
}

export type ChatConversation = ReturnType<typeof useChatConversation>;
