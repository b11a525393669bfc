/**
 * The one way out of the CLI: everything ddcolor prints to stdout or stderr goes through these
 * functions, which remove credentials (`redactSecrets`) and show control characters as escapes
 * (`printable`), so neither a password in a URL nor a newline in a file's name reaches a terminal
 * or a cron log as it came. A message is one line; a block (a summary, a table, JSON) keeps its
 * own line breaks.
 */
import { printable, redactSecrets } from '../redact.js';

/** Text made safe to print: one line, or a block whose line breaks are kept. */
export function safeText(text: string, block = false): string {
  return printable(redactSecrets(text), block);
}

/** A block of text on stdout (the summary, a table, JSON); returns write()'s answer, for back-pressure. */
export function printOut(text: string): boolean {
  return process.stdout.write(safeText(text, true));
}

/** A block of text on stderr. */
export function printErr(text: string): boolean {
  return process.stderr.write(safeText(text, true));
}

/** One message on stderr, as `ddcolor: <message>`: whatever it holds, it stays one line. */
export function printMessage(message: string): void {
  process.stderr.write(`ddcolor: ${safeText(message)}\n`);
}
