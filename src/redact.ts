/**
 * Secrets never reach a message. Two nets, both applied by `redactSecrets`, which every line the
 * CLI prints and every report, page and metrics file passes through (`cli/output.ts` and the
 * report writers):
 * - every password that a URL given to ddcolor carried is remembered when the URL is parsed
 *   (`credentialsOf`), and any text holding it, raw or percent-encoded, has it replaced by `***`;
 * - the credentials of any URL in the text (`scheme://user:secret@host`) are replaced, up to the
 *   last `@` before the host, so a password with an unencoded `/`, `@` or `:` goes whole.
 */

const SCHEME = /^([a-z][a-z0-9+.-]*:\/\/)/i;
/** A URL's credentials in text: up to the last `@` of the URL (a host never holds one). */
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/)([^\s"'<>]*)@/gi;

const secrets = new Set<string>();

/** Shorter secrets are left to the URL net alone: replacing every `ab` in a text would say more than it hides. */
const MIN_REMEMBERED = 4;

function decodeLenient(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Remember a secret: from now on it is replaced by `***` in everything redacted. */
export function rememberSecret(secret: string): void {
  if (secret.length < MIN_REMEMBERED) return;
  for (const form of [secret, encodeURIComponent(secret), decodeLenient(secret)]) secrets.add(form);
}

export interface UrlCredentials {
  /** `scheme://` */
  scheme: string;
  username?: string;
  password?: string;
  /** What follows the credentials: hosts, port, path. */
  rest: string;
  /** The credentials were one word without a `:` (read as the password for Cluster and Sentinel). */
  oneWord: boolean;
}

/**
 * Split a URL into its scheme, credentials (decoded) and the rest. The credentials run to the last
 * `@` (hosts never hold one), so a password with an unencoded `/`, `@` or `:` is read whole; a
 * username ends at the first `:`. The password is remembered for redaction. Null for no scheme.
 */
export function credentialsOf(url: string): UrlCredentials | null {
  const m = SCHEME.exec(url);
  if (!m) return null;
  const scheme = m[1]!;
  const after = url.slice(scheme.length);
  // The credentials end at the last '@' before the path's end; the hosts and port hold none.
  const at = after.lastIndexOf('@');
  if (at < 0) return { scheme, rest: after, oneWord: false };
  const userinfo = after.slice(0, at);
  const rest = after.slice(at + 1);
  const colon = userinfo.indexOf(':');
  const result: UrlCredentials = { scheme, rest, oneWord: colon < 0 };
  if (colon < 0) {
    result.password = decodeLenient(userinfo);
  } else {
    const user = decodeLenient(userinfo.slice(0, colon));
    if (user) result.username = user;
    result.password = decodeLenient(userinfo.slice(colon + 1));
  }
  rememberSecret(userinfo.slice(colon + 1));
  if (result.password) rememberSecret(result.password);
  return result;
}

/** The URL with its credentials percent-encoded, as URL parsers (and ioredis) expect them. */
export function withEncodedCredentials(url: string): string {
  const c = credentialsOf(url);
  if (!c || c.password === undefined) return url;
  if (c.oneWord) return `${c.scheme}${encodeURIComponent(c.password)}@${c.rest}`;
  const user = c.username ? encodeURIComponent(c.username) : '';
  return `${c.scheme}${user}:${encodeURIComponent(c.password)}@${c.rest}`;
}

/** `text` with every remembered secret and every URL's credentials replaced: `redis://user:***@host`, `redis://***@host`. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join('***');
  return out.replace(URL_USERINFO, (_, scheme: string, userinfo: string) => {
    // Already hidden; or a placeholder of ddcolor's own help (`redis://[user:pass@]host`), whose secrets are remembered anyway.
    if (userinfo === '***' || userinfo.endsWith(':***') || userinfo.startsWith('[')) return `${scheme}${userinfo}@`;
    const i = userinfo.indexOf(':');
    return `${scheme}${i >= 0 ? `${userinfo.slice(0, i)}:***` : '***'}@`;
  });
}

/**
 * `text` made safe for a terminal or a log line: control characters (a newline in a file's name
 * could forge a line of its own, an escape sequence could rewrite the screen) shown as escapes.
 * `keepNewlines` leaves the line breaks of a multi-line block in place.
 */
export function printable(text: string, keepNewlines = false): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    if (keepNewlines && (c === '\n' || c === '\t')) return c;
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
  });
}

/** Each piece of a text being written (a report, a page) with its secrets removed. */
export function* redacted(pieces: Iterable<string>): Generator<string> {
  for (const piece of pieces) yield redactSecrets(piece);
}
