/** UI strings (SPEC §8: i18n with RTL). Message text is never translated — only the widget's own labels. */

export type Lang = 'en' | 'fr' | 'ar';

const en = {
  openChat: 'Open chat',
  closeChat: 'Close chat',
  title: 'Messages',
  conversations: 'Conversations',
  newConversation: 'New conversation',
  noConversations: 'No conversations yet.',
  startHint: 'Send us a message — we usually reply within a few minutes.',
  back: 'Back to conversations',
  placeholder: 'Write a message…',
  send: 'Send',
  attach: 'Attach a file',
  emoji: 'Insert emoji',
  typingOne: '{name} is typing…',
  typingMany: 'Several people are typing…',
  sending: 'Sending',
  sent: 'Sent',
  read: 'Read',
  queued: 'Waiting for connection',
  failed: 'Not sent',
  retry: 'Retry',
  discard: 'Discard',
  edit: 'Edit',
  delete: 'Delete',
  edited: 'edited',
  deleted: 'This message was deleted.',
  react: 'Add reaction',
  save: 'Save',
  cancel: 'Cancel',
  editing: 'Editing message',
  reconnecting: 'Reconnecting…',
  offline: 'You are offline. Messages will be sent when the connection is back.',
  connectionFailed: 'Cannot connect to chat.',
  masked: 'Some details were hidden ({kinds}). Contact details can be shared after booking.',
  kind_email: 'email address',
  kind_phone: 'phone number',
  kind_url: 'link',
  kind_blocked_term: 'blocked words',
  today: 'Today',
  yesterday: 'Yesterday',
  poweredBy: 'Powered by Reusable Chat',
  uploading: 'Uploading {name}…',
  uploadFailed: 'Upload failed: {name}',
  removeAttachment: 'Remove {name}',
  dropHere: 'Drop files to attach',
  image: 'Image {name}',
  closeImage: 'Close image',
  loadOlder: 'Load earlier messages',
  unread: '{n} unread',
  you: 'You',
  messageLog: 'Message history',
  signInError: 'Chat is unavailable right now.',
  moreActions: 'Message actions',
  presenceOnline: 'Online',
  presenceOffline: 'Offline',
  presenceSome: '{n} online',
};

export type Strings = typeof en;

const fr: Strings = {
  openChat: 'Ouvrir le chat',
  closeChat: 'Fermer le chat',
  title: 'Messages',
  conversations: 'Conversations',
  newConversation: 'Nouvelle conversation',
  noConversations: 'Aucune conversation pour le moment.',
  startHint: 'Écrivez-nous — nous répondons en général en quelques minutes.',
  back: 'Retour aux conversations',
  placeholder: 'Écrire un message…',
  send: 'Envoyer',
  attach: 'Joindre un fichier',
  emoji: 'Insérer un emoji',
  typingOne: '{name} est en train d’écrire…',
  typingMany: 'Plusieurs personnes écrivent…',
  sending: 'Envoi',
  sent: 'Envoyé',
  read: 'Lu',
  queued: 'En attente de connexion',
  failed: 'Non envoyé',
  retry: 'Réessayer',
  discard: 'Supprimer',
  edit: 'Modifier',
  delete: 'Supprimer',
  edited: 'modifié',
  deleted: 'Ce message a été supprimé.',
  react: 'Réagir',
  save: 'Enregistrer',
  cancel: 'Annuler',
  editing: 'Modification du message',
  reconnecting: 'Reconnexion…',
  offline: 'Vous êtes hors ligne. Les messages partiront au retour de la connexion.',
  connectionFailed: 'Connexion au chat impossible.',
  masked: 'Certaines informations ont été masquées ({kinds}). Les coordonnées pourront être échangées après la réservation.',
  kind_email: 'adresse e-mail',
  kind_phone: 'numéro de téléphone',
  kind_url: 'lien',
  kind_blocked_term: 'mots interdits',
  today: 'Aujourd’hui',
  yesterday: 'Hier',
  poweredBy: 'Propulsé par Reusable Chat',
  uploading: 'Envoi de {name}…',
  uploadFailed: 'Échec de l’envoi : {name}',
  removeAttachment: 'Retirer {name}',
  dropHere: 'Déposez les fichiers à joindre',
  image: 'Image {name}',
  closeImage: 'Fermer l’image',
  loadOlder: 'Charger les messages précédents',
  unread: '{n} non lus',
  you: 'Vous',
  messageLog: 'Historique des messages',
  signInError: 'Le chat est indisponible pour le moment.',
  moreActions: 'Actions du message',
  presenceOnline: 'En ligne',
  presenceOffline: 'Hors ligne',
  presenceSome: '{n} en ligne',
};

const ar: Strings = {
  openChat: 'فتح المحادثة',
  closeChat: 'إغلاق المحادثة',
  title: 'الرسائل',
  conversations: 'المحادثات',
  newConversation: 'محادثة جديدة',
  noConversations: 'لا توجد محادثات بعد.',
  startHint: 'راسلنا — نرد عادةً خلال دقائق.',
  back: 'العودة إلى المحادثات',
  placeholder: 'اكتب رسالة…',
  send: 'إرسال',
  attach: 'إرفاق ملف',
  emoji: 'إدراج رمز تعبيري',
  typingOne: '{name} يكتب…',
  typingMany: 'عدة أشخاص يكتبون…',
  sending: 'جارٍ الإرسال',
  sent: 'تم الإرسال',
  read: 'تمت القراءة',
  queued: 'بانتظار الاتصال',
  failed: 'لم تُرسل',
  retry: 'إعادة المحاولة',
  discard: 'تجاهل',
  edit: 'تعديل',
  delete: 'حذف',
  edited: 'معدّلة',
  deleted: 'تم حذف هذه الرسالة.',
  react: 'إضافة تفاعل',
  save: 'حفظ',
  cancel: 'إلغاء',
  editing: 'تعديل الرسالة',
  reconnecting: 'جارٍ إعادة الاتصال…',
  offline: 'أنت غير متصل. ستُرسل الرسائل عند عودة الاتصال.',
  connectionFailed: 'تعذّر الاتصال بالمحادثة.',
  masked: 'تم إخفاء بعض التفاصيل ({kinds}). يمكن مشاركة بيانات الاتصال بعد الحجز.',
  kind_email: 'البريد الإلكتروني',
  kind_phone: 'رقم الهاتف',
  kind_url: 'رابط',
  kind_blocked_term: 'كلمات محظورة',
  today: 'اليوم',
  yesterday: 'أمس',
  poweredBy: 'مدعوم من Reusable Chat',
  uploading: 'جارٍ رفع {name}…',
  uploadFailed: 'فشل الرفع: {name}',
  removeAttachment: 'إزالة {name}',
  dropHere: 'أفلت الملفات لإرفاقها',
  image: 'صورة {name}',
  closeImage: 'إغلاق الصورة',
  loadOlder: 'تحميل الرسائل الأقدم',
  unread: '{n} غير مقروءة',
  you: 'أنت',
  messageLog: 'سجل الرسائل',
  signInError: 'المحادثة غير متاحة حالياً.',
  moreActions: 'إجراءات الرسالة',
  presenceOnline: 'متصل الآن',
  presenceOffline: 'غير متصل',
  presenceSome: 'متصلون الآن: {n}',
};

/** Every language's table (exported for the completeness test: same keys, same {placeholders}, nothing left in English). */
export const TABLE: Readonly<Record<Lang, Strings>> = { en, fr, ar };
export const RTL_LANGS: ReadonlySet<string> = new Set(['ar', 'he', 'fa', 'ur']);

export function pickLang(requested: string | undefined): Lang {
  const candidates = [requested, ...(typeof navigator !== 'undefined' ? navigator.languages ?? [] : [])];
  for (const c of candidates) {
    const base = c?.toLowerCase().split('-')[0];
    if (base && base in TABLE) return base as Lang;
  }
  return 'en';
}

export type T = (key: keyof Strings, vars?: Record<string, string | number>) => string;

/** Unicode FIRST STRONG ISOLATE … POP DIRECTIONAL ISOLATE: the text-level equivalent of `<bdi>`. */
const FSI = '\u2068';
const PDI = '\u2069';

/**
 * Interpolated text (a person's name, a file name; not counts) is bidi-isolated: an Arabic name inside an English
 * sentence, or a Latin one inside an Arabic sentence, would otherwise reorder the words around it
 * ("is typing… Ahmad" instead of "Ahmad is typing…"). Screen readers ignore the isolate marks.
 */
export function translator(lang: Lang): T {
  const table = TABLE[lang];
  return (key, vars) => {
    let s = table[key] ?? en[key];
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, typeof v === 'number' ? String(v) : `${FSI}${v}${PDI}`);
    return s;
  };
}
