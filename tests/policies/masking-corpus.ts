import type { ContactKind } from '@reusable-chat/core';

/**
 * The contact-info masking corpus (issue 4): what a marketplace sender writes and what the other side must see.
 * `kinds` is what must be reported as masked ([] = nothing may change: a look-alike). `scan` is the policy's
 * `kinds` setting for the case (default email, phone and url — the `guest-host` default).
 */
export interface MaskingCase {
  input: string;
  expected: string;
  kinds: ContactKind[];
  scan?: ContactKind[];
}

const E = '[email hidden]';
const P = '[phone hidden]';
const L = '[link hidden]';
const H = '[handle hidden]';

export const maskedCases: MaskingCase[] = [
  // ── emails, plain and obfuscated ──
  { input: 'Email me: jane.doe@gmail.com', expected: `Email me: ${E}`, kinds: ['email'] },
  { input: 'JOHN.DOE@GMAIL.COM', expected: E, kinds: ['email'] },
  { input: 'reach me: j.smith+promo@company.co.uk!', expected: `reach me: ${E}!`, kinds: ['email'] },
  { input: 'john at gmail dot com', expected: E, kinds: ['email'] },
  { input: 'my mail is john [at] gmail [dot] com thanks', expected: `my mail is ${E} thanks`, kinds: ['email'] },
  { input: 'john(at)gmail.com', expected: E, kinds: ['email'] },
  { input: 'name {at} domain {dot} org', expected: E, kinds: ['email'] },
  { input: 'anna.k AT web DOT de', expected: E, kinds: ['email'] },
  { input: 'john @ gmail . com', expected: E, kinds: ['email'] },
  { input: 'email me at john at gmail', expected: `email me at ${E}`, kinds: ['email'] },
  { input: 'write to ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ please', expected: `write to ${E} please`, kinds: ['email'] },
  { input: 'jane_doe99 at hotmail dot co dot uk', expected: E, kinds: ['email'] },
  { input: 'contact: maria.garcia@empresa.es, gracias', expected: `contact: ${E}, gracias`, kinds: ['email'] },
  { input: 'j\u200Bane@gm\u200Bail.com', expected: E, kinds: ['email'] },
  { input: 'Ping me (jane at outlook dot com) later', expected: `Ping me (${E}) later`, kinds: ['email'] },
  { input: 'hans.mueller(a)gmx.de', expected: E, kinds: ['email'] },
  { input: 'escríbeme: juan arroba gmail punto com', expected: `escríbeme: ${E}`, kinds: ['email'] },
  { input: 'jane dot doe at yahoo dot com', expected: E, kinds: ['email'] },

  // ── phone numbers: formats, spacing, full-width, other scripts, spelled out, mixed ──
  { input: 'call me at 555-123-4567', expected: `call me at ${P}`, kinds: ['phone'] },
  { input: 'my number is +1 (555) 123-4567 thanks', expected: `my number is ${P} thanks`, kinds: ['phone'] },
  { input: '555.123.4567', expected: P, kinds: ['phone'] },
  { input: '5 5 5 1 2 3 4 5 6 7', expected: P, kinds: ['phone'] },
  { input: '5.5.5.1.2.3.4.5.6.7', expected: P, kinds: ['phone'] },
  { input: 'five five five one two three four', expected: P, kinds: ['phone'] },
  { input: 'It is five-five-five, one two three, four five six seven', expected: `It is ${P}`, kinds: ['phone'] },
  { input: '５５５－１２３－４５６７', expected: P, kinds: ['phone'] },
  { input: 'text me +44 20 7946 0958', expected: `text me ${P}`, kinds: ['phone'] },
  { input: 'appelle-moi au 06 12 34 56 78', expected: `appelle-moi au ${P}`, kinds: ['phone'] },
  { input: 'my num is 555 one two three 4567', expected: `my num is ${P}`, kinds: ['phone'] },
  { input: 'zero seven seven double zero nine double zero one two three', expected: P, kinds: ['phone'] },
  { input: 'WhatsApp: 5551234567', expected: `WhatsApp: ${P}`, kinds: ['phone'] },
  { input: '555\u200B123\u200B4567', expected: P, kinds: ['phone'] },
  { input: '5️⃣5️⃣5️⃣1️⃣2️⃣3️⃣4️⃣', expected: P, kinds: ['phone'] },
  { input: 'phone: ٠٥٥٥١٢٣٤٥٦٧', expected: `phone: ${P}`, kinds: ['phone'] },
  { input: 'fivefivefive 1234', expected: P, kinds: ['phone'] },
  { input: 'Call 0049 30 1234567 tomorrow', expected: `Call ${P} tomorrow`, kinds: ['phone'] },
  { input: 'tel:+15551234567', expected: `tel:${P}`, kinds: ['phone'] },
  { input: '(555) 123 4567', expected: P, kinds: ['phone'] },
  { input: 'mi número es seis uno dos tres cuatro cinco seis siete ocho', expected: `mi número es ${P}`, kinds: ['phone'] },
  { input: 'ruf an: null eins sieben zwei drei vier fünf sechs sieben', expected: `ruf an: ${P}`, kinds: ['phone'] },
  { input: 'call me on 555 123 4567 or 555 987 6543', expected: `call me on ${P} or ${P}`, kinds: ['phone'] },
  { input: 'my cell is 07700 900123', expected: `my cell is ${P}`, kinds: ['phone'] },
  { input: 'number: 555-1234', expected: `number: ${P}`, kinds: ['phone'] },
  { input: 'ring 555 – 123 – 4567', expected: `ring ${P}`, kinds: ['phone'] },
  { input: 'call 212.555.12.34', expected: `call ${P}`, kinds: ['phone'] },
  { input: 'seven one eight 5 5 5 oh one two three', expected: P, kinds: ['phone'] },

  // ── links and domains ──
  { input: 'visit www.example.com/x?y=1.', expected: `visit ${L}.`, kinds: ['url'] },
  { input: 'see https://example.com/path', expected: `see ${L}`, kinds: ['url'] },
  { input: 'my site is janes-villa dot com', expected: `my site is ${L}`, kinds: ['url'] },
  { input: 'find me on airbnb.com/users/show/12345', expected: `find me on ${L}`, kinds: ['url'] },
  { input: 'book direct: example [dot] com', expected: `book direct: ${L}`, kinds: ['url'] },
  { input: 'go to https://wa.me/15551234567', expected: `go to ${L}`, kinds: ['url'] },
  { input: 'look at example.com', expected: `look at ${L}`, kinds: ['url'] },
  { input: 'Check out my-place.co.uk for photos', expected: `Check out ${L} for photos`, kinds: ['url'] },
  { input: '(https://en.wikipedia.org/wiki/Foo_(bar))', expected: `(${L})`, kinds: ['url'] },
  { input: 'admin page http://192.168.1.1/admin', expected: `admin page ${L}`, kinds: ['url'] },
  { input: 'hxxps://evil.example/path', expected: L, kinds: ['url'] },
  { input: 'WWW.MYVILLA.ES', expected: L, kinds: ['url'] },
  { input: 'ｅｘａｍｐｌｅ．ｃｏｍ', expected: L, kinds: ['url'] },
  { input: 'msg me t.me/jdoe', expected: `msg me ${L}`, kinds: ['url'] },
  { input: 'instagram.com/jane.doe!', expected: `${L}!`, kinds: ['url'] },

  // ── several kinds, and text around them kept byte-identical (RTL, emoji) ──
  { input: 'Email jane@example.com or call 555-123-4567', expected: `Email ${E} or call ${P}`, kinds: ['email', 'phone'] },
  {
    input: 'Site: villa.com, mail: info@villa.com, tel 555 123 4567',
    expected: `Site: ${L}, mail: ${E}, tel ${P}`,
    kinds: ['email', 'phone', 'url'],
  },
  { input: 'اتصل بي على 555-123-4567 شكرا 🙏', expected: `اتصل بي على ${P} شكرا 🙏`, kinds: ['phone'] },
  { input: '👋 hi! jane@gmail.com 😀', expected: `👋 hi! ${E} 😀`, kinds: ['email'] },
  { input: '\u202Bשלום\u202C jane@gmail.com 👨‍👩‍👧', expected: `\u202Bשלום\u202C ${E} 👨‍👩‍👧`, kinds: ['email'] },

  // ── social handles, when a configuration asks for them ──
  { input: 'Insta: @jane.doe', expected: `Insta: ${H}`, kinds: ['social'], scan: ['email', 'phone', 'url', 'social'] },
  { input: 'add me on telegram @jdoe_88', expected: `add me on telegram ${H}`, kinds: ['social'], scan: ['social'] },
  { input: 'snapchat: jdoe99', expected: `snapchat: ${H}`, kinds: ['social'], scan: ['social'] },
  { input: 'only phones: jane@gmail.com 555 123 4567', expected: `only phones: jane@gmail.com ${P}`, kinds: ['phone'], scan: ['phone'] },
];

/** Look-alikes: prices, dates, times, order and booking references, years, quantities, versions, IPs, prose. */
export const lookAlikeCases: MaskingCase[] = [
  'Total $1,250.00 for 3 nights',
  'Price: 1 250 000 €',
  'The total is 1.250.000 IDR',
  'Deposit of 1500000 KRW received',
  'I paid 1234567 in total',
  'It costs 25 euros per night for 7 nights',
  'Check-in on 2024-03-15',
  'from 15.03.2024 to 20.03.2024',
  'See you on 03/15/2024 at 3pm',
  'Check in 2024-03-15 10:30',
  'open 10:30-11:45 and 14:00-18:00',
  '10.30-11.45 works for me',
  'see you at 9.30',
  'Years 2019-2023 were busy',
  'The year 1999 was fun',
  'Order #123456789 has shipped',
  'booking ref HB-2024-88123',
  'Your confirmation number is 88231145',
  'Booking ID 1234567890',
  'Invoice 2024-000123 paid',
  'Tracking: 1Z999AA10123456784',
  'ISBN 978-3-16-148410-0',
  'Flight LH 1234 lands 14:35',
  'room 1234567 is on the 3rd floor',
  'Your PIN is 1234',
  'I need 10 towels and 2 pillows',
  '2 adults + 2 children, 14 nights',
  'Rooms 101, 102 and 103',
  'one or two nights, maybe three',
  'Size 1920x1080 pixels',
  'Zip 90210, apt 4B',
  'version 10.0.19045 is installed',
  'v2.10.3 released',
  'set the router to 192.168.1.1',
  'ping 8.8.8.8 and 10.0.0.1:8080',
  'coords 48.856613, 2.352222',
  'pi is 3.14159265',
  'Mr.Smith said e.g. this is fine, i.e. ok',
  'the dot com bubble',
  'polka dot dress',
  'node.js and index.html and ASP.NET',
  'I arrived.It was great',
  "I'm at the beach, look at this!",
  '@ 5pm. See you',
  'Call me when you arrive at 5',
  'مرحبا 👋 كيف حالك؟ 🇸🇦',
  'Ça coûte 120 € la nuit 🙂',
  'Pick option (a) or option (b) at checkout',
  'Wifi: NETGEAR-5G pass: 12345678',
  'Is 1 2 3 4 5 6 7 8 9 10 enough towels?',
  'see you 20.06.-25.06.',
  'The house was built 1890-1895',
  'Built with socket-io and vue.js, see README.md',
].map((input) => ({ input, expected: input, kinds: [] }));

export const maskingCorpus: MaskingCase[] = [...maskedCases, ...lookAlikeCases];
