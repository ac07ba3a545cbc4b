/**
 * Word lists the contact-info detectors consult. Bare domains ("example.com") are recognised only with a known
 * top-level domain, which is what keeps "Mr.Smith", "e.g.", "index.html" and "node.js" unmasked.
 */

// Generic and popular country TLDs. Deliberately absent: TLDs that are common file extensions or code names
// or everyday dotted words (py, sh, md, rs, ts, ps, cs, js, name, page, top, int); `pl` stays (Poland).
export const KNOWN_TLDS: ReadonlySet<string> = new Set(
  (
    'com net org edu gov mil info biz pro mobi app dev io co me tv cc ai gg ly to so xyz online site website ' +
    'shop store tech space club blog email cloud digital agency company business services solutions studio ' +
    'design media global group network systems travel rentals rent property estate realty holiday holidays ' +
    'vacations booking hotel hotels tours ' +
    'uk de fr es it nl be ch at se no dk fi ie pt gr tr ru ua pl cz sk hu ro bg hr si ee lv lt is lu li mt cy ' +
    'us ca mx br ar cl pe uy ve ec bo au nz za ng ke eg ma tn gh jp cn hk tw kr in pk bd lk id my sg th vn ph ' +
    'ae sa qa kw il ir eu asia'
  )
    .split(/\s+/)
    .filter(Boolean),
);

/**
 * Country TLDs that are also everyday English words ("ok.so what", "yes.it is"): after a common word they are a
 * missing space, not a domain. (Any Titlecase TLD, "arrived.It", is treated as a missing space too.)
 */
export const WORDLIKE_TLDS: ReadonlySet<string> = new Set(['it', 'in', 'is', 'at', 'be', 'me', 'no', 'so', 'to', 'us', 'my', 'id', 'tv', 'co', 'am', 'do', 'go']);

/** Mail providers recognised even without a TLD: "john at gmail", "jane@hotmail". */
export const MAIL_PROVIDERS: ReadonlySet<string> = new Set([
  'gmail', 'googlemail', 'hotmail', 'outlook', 'live', 'msn', 'yahoo', 'ymail', 'icloud', 'aol', 'proton',
  'protonmail', 'pm', 'gmx', 'yandex', 'zoho', 'mail', 'fastmail', 'tutanota', 'tuta', 'web', 't-online', 'orange',
  'free', 'libero', 'seznam', 'qq', '163', 'naver',
]);

/** Tech names with a TLD-shaped suffix that are not addresses. */
export const TECH_NAMES: ReadonlySet<string> = new Set(['asp.net', 'vb.net', 'ado.net', 'f#.net']);

/**
 * Words that commonly stand before "at" in prose ("look at", "arrive at", "meet me at"). When one of these is the
 * would-be local part of "x at domain", it is a sentence, not an address (the domain itself is still a link).
 */
export const AT_STOPWORDS: ReadonlySet<string> = new Set(
  (
    'a an the look looking looked me us him her them it this that these those here there arrive arrives arrived ' +
    'arriving arrival be is are am was were been being meet meeting met stay staying stayed home work working ' +
    'located available reach reached contact find found see seen check checkin checkout visit online email mail ' +
    'write message ping text call out you i we they only just also or and but on in from to up down back start ' +
    'starts started end ends ended open opens opened closed close closes leave leaving left get got pick picked ' +
    'drop book booked price priced rate rated sell sold buy bought cost costs shop shopping dinner lunch breakfast ' +
    'eat party office school hotel airport station time now anytime least best once all not directly sign signed ' +
    'log logged registered listed posted post available anyone someone everyone something nothing wait waiting ' +
    'hi hello hey thanks thank yes no ok okay please so then well even still already'
  ).split(/\s+/),
);

/** Words that make "<word> dot com" a phrase rather than an address ("the dot com bubble"). */
export const DOMAIN_LABEL_STOPWORDS: ReadonlySet<string> = new Set(
  'a an the this that my your our his her their its old new big early late whole entire of in on at for ok so and but or yes no'.split(' '),
);

/** Digits spelled out; several languages because marketplaces are international. */
export const NUMBER_WORDS: ReadonlyMap<string, string> = new Map(
  Object.entries({
    zero: '0', one: '1', two: '2', three: '3', four: '4', five: '5', six: '6', seven: '7', eight: '8', nine: '9',
    niner: '9', oh: '0', o: '0',
    cero: '0', uno: '1', dos: '2', tres: '3', cuatro: '4', cinco: '5', seis: '6', siete: '7', ocho: '8', nueve: '9',
    zéro: '0', un: '1', deux: '2', trois: '3', quatre: '4', cinq: '5', sept: '7', huit: '8', neuf: '9',
    null: '0', eins: '1', zwei: '2', drei: '3', vier: '4', fünf: '5', sechs: '6', sieben: '7', acht: '8', neun: '9',
  }),
);

/** Zero words that only count between other digits ("five oh five"), never at the edge of a number. */
export const WEAK_NUMBER_WORDS: ReadonlySet<string> = new Set(['oh', 'o', 'un']);

export const REPEAT_WORDS: ReadonlyMap<string, number> = new Map([
  ['double', 2],
  ['triple', 3],
]);

/** Nearest keyword before a number saying it IS a phone number. */
export const PHONE_CONTEXT_WORDS: ReadonlySet<string> = new Set(
  (
    'phone tel telephone mobile mob cell cellphone call ring dial text sms whatsapp wa viber signal telegram ' +
    'contact reach handy móvil movil teléfono telefono téléphone portable telefon'
  ).split(/\s+/),
);

/**
 * Nearest keyword before a number saying it is NOT a phone number: order and booking references, prices,
 * versions, network addresses, codes. (A number after "booking ref" is the booking reference.)
 */
export const NON_PHONE_CONTEXT_WORDS: ReadonlySet<string> = new Set(
  (
    'order orders booking bookings reservation reservations confirmation conf ref reference invoice receipt ' +
    'ticket tracking track transaction txn account acct iban bic swift sort id code pin otp passcode password pass pw pwd wifi wlan ' +
    'room rooms flight flights listing case item sku serial postcode zip postal plz cp version ver build release ' +
    'firmware ip ipv4 address subnet gateway dns port server host price cost costs total amount budget fee fees ' +
    'deposit paid pay payment refund balance sum nr no nº isbn ean upc vin policy claim member membership ' +
    'customer parcel shipment package voucher coupon promo gift lot batch model part'
  ).split(/\s+/),
);

export const CURRENCY_SYMBOLS = '$€£¥₹₽¢₩₪฿₺₴₦₱₫';

export const CURRENCY_WORDS: ReadonlySet<string> = new Set(
  'usd eur gbp chf jpy cad aud nzd inr rub brl mxn sek nok dkk pln czk huf try zar aed sgd hkd cny dollar dollars euro euros pound pounds bucks yen francs kr sek'.split(
    ' ',
  ),
);

/** Units after a number make it a quantity. */
export const UNIT_WORDS: ReadonlySet<string> = new Set(
  (
    'km kms m mi miles mile ft feet sqft sqm m2 cm mm kg kgs g lb lbs oz l ml gb mb kb tb ms px pt sec secs ' +
    'seconds min mins minutes hrs hours days nights weeks people guests adults kids children rooms beds pcs ' +
    'pieces units items percent x'
  ).split(/\s+/),
);

/** Platforms whose handle, when named, is contact information ("insta: @jane.doe"). */
export const SOCIAL_PLATFORMS =
  'instagram|insta|ig|snapchat|snap|telegram|tg|twitter|tiktok|facebook|fb|skype|wechat|kik|discord|threads|bluesky|linkedin|whatsapp|viber|signal|line';
