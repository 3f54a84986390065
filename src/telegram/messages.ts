// What the bot says, in English or French (the user's Telegram language when it is French,
// English otherwise). Plain text, no Markdown: fruit names need no escaping that way.
import type { Prediction } from '../classify/image-classifier.js';

export type Lang = 'en' | 'fr';

export function langOf(languageCode: string | undefined): Lang {
  return languageCode?.toLowerCase().startsWith('fr') ? 'fr' : 'en';
}

/** What became of one message: the label of the answers metric, and what the reply says. */
export type Answer =
  | { outcome: 'recognised'; predictions: Prediction[] }
  | { outcome: 'unknown' }
  | { outcome: 'too_large'; limitBytes: number }
  | { outcome: 'not_image' }
  | { outcome: 'download_failed' }
  | { outcome: 'busy' }
  | { outcome: 'failed' }
  | { outcome: 'rate_limited'; retrySeconds: number }
  | { outcome: 'help'; start: boolean }
  | { outcome: 'hint' };

export type Outcome = Answer['outcome'];

function percent(score: number, lang: Lang): string {
  const p = score * 100;
  const n = p >= 1 ? Math.round(p).toString() : p > 0 ? '<1' : '0';
  // French puts a (non-breaking) space before the sign.
  return lang === 'fr' ? `${n}\u00a0%` : `${n}%`;
}

function megabytes(bytes: number, lang: Lang): string {
  const mb = bytes / (1024 * 1024);
  const s = mb >= 10 ? Math.round(mb).toString() : mb.toFixed(1);
  return lang === 'fr' ? `${s.replace('.', ',')}\u00a0Mo` : `${s} MB`;
}

const HELP: Record<Lang, (classes: number) => string> = {
  en: (classes) =>
    [
      'I recognise fruits and vegetables in photos.',
      `Send me a photo (📎 → Photo, or the camera) of one fruit or vegetable, close up on a plain background, and I answer with what it most likely is, how sure I am, and the runners-up. I know ${classes} kinds.`,
      'An image sent as a file works too. Commands: /help.',
    ].join('\n\n'),
  fr: (classes) =>
    [
      'Je reconnais les fruits et légumes en photo.',
      `Envoyez-moi la photo (📎 → Photo, ou l’appareil photo) d’un seul fruit ou légume, de près sur un fond uni : je réponds ce que c’est le plus probablement, avec quelle certitude, et les autres possibilités. J’en connais ${classes} sortes.`,
      'Une image envoyée comme fichier marche aussi. Commandes : /help.',
    ].join('\n\n'),
};

const TEXT = {
  en: {
    hello: 'Hello! 👋',
    best: (label: string, score: string) => `🍎 ${label} (${score})`,
    others: 'Or perhaps:',
    unknown: '🤔 I don’t recognise this one: it does not look like any fruit or vegetable I know. Try another photo, close up on a plain background.',
    tooLarge: (limit: string) => `This file is too large for me (over ${limit}). Send it as a photo instead, or a smaller image.`,
    notImage: 'I could not read an image in this. Send a photo (JPEG, PNG, WebP…) of a fruit or vegetable.',
    downloadFailed: 'I could not fetch your photo from Telegram just now. Please send it again in a moment.',
    busy: 'I am busy with many photos right now. Please send yours again in a moment.',
    failed: 'Something went wrong on my side with this photo. Please try again later.',
    rateLimited: (s: number) => `That is a lot of messages at once. Please wait ${s} s before the next one.`,
    hint: 'Send me a photo of a fruit or vegetable and I will tell you what it is. /help for more.',
  },
  fr: {
    hello: 'Bonjour ! 👋',
    best: (label: string, score: string) => `🍎 ${label} (${score})`,
    others: 'Ou peut-être :',
    unknown: '🤔 Je ne reconnais pas celui-ci : il ne ressemble à aucun des fruits et légumes que je connais. Essayez une autre photo, de près sur un fond uni.',
    tooLarge: (limit: string) => `Ce fichier est trop lourd pour moi (plus de ${limit}). Envoyez-le plutôt comme photo, ou une image plus petite.`,
    notImage: 'Je n’ai pas pu lire d’image là-dedans. Envoyez une photo (JPEG, PNG, WebP…) d’un fruit ou d’un légume.',
    downloadFailed: 'Je n’ai pas pu récupérer votre photo auprès de Telegram. Renvoyez-la dans un instant, s’il vous plaît.',
    busy: 'J’ai beaucoup de photos en cours. Renvoyez la vôtre dans un instant, s’il vous plaît.',
    failed: 'Un problème est survenu de mon côté avec cette photo. Réessayez plus tard, s’il vous plaît.',
    rateLimited: (s: number) => `Cela fait beaucoup de messages d’un coup. Attendez ${s} s avant le suivant, s’il vous plaît.`,
    hint: 'Envoyez-moi la photo d’un fruit ou d’un légume et je vous dis ce que c’est. /help pour en savoir plus.',
  },
} as const;

/** The reply to a message; `classes` is how many labels the bundle knows. */
export function replyText(answer: Answer, lang: Lang, classes: number): string {
  const t = TEXT[lang];
  switch (answer.outcome) {
    case 'recognised': {
      const [best, ...rest] = answer.predictions;
      const lines = [t.best(best.label, percent(best.score, lang))];
      if (rest.length) lines.push(`${t.others} ${rest.map((p) => `${p.label} (${percent(p.score, lang)})`).join(', ')}`);
      return lines.join('\n');
    }
    case 'unknown':
      return t.unknown;
    case 'too_large':
      return t.tooLarge(megabytes(answer.limitBytes, lang));
    case 'not_image':
      return t.notImage;
    case 'download_failed':
      return t.downloadFailed;
    case 'busy':
      return t.busy;
    case 'failed':
      return t.failed;
    case 'rate_limited':
      return t.rateLimited(answer.retrySeconds);
    case 'help':
      return answer.start ? `${t.hello}\n\n${HELP[lang](classes)}` : HELP[lang](classes);
    case 'hint':
      return t.hint;
  }
}
