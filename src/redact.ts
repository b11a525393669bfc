/**
 * Secrets never reach a message: a URL's credentials (`redis://user:secret@host`) are replaced by
 * `***` wherever a URL appears in text that is printed, logged or written to a report.
 */
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/)([^\s/@]*)@/gi;

/** `text` with the credentials of every URL in it replaced: `redis://user:***@host`, `redis://***@host`. */
export function redactSecrets(text: string): string {
  return text.replace(URL_USERINFO, (_, scheme: string, userinfo: string) => {
    const i = userinfo.indexOf(':');
    return `${scheme}${i >= 0 ? `${userinfo.slice(0, i)}:***` : '***'}@`;
  });
}
