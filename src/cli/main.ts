/**
 * The ddcolor command line: commander in, exit codes out.
 * Exit codes: 0 all done; 1 some photos failed; 2 usage or configuration error; 130 interrupted.
 */
import { Command, CommanderError } from 'commander';
import { DdcolorError, errorMessage, InvalidOptionError } from '../errors.js';
import { packageVersion } from '../version.js';
import { printErr, printMessage, printOut } from './output.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/** The flag that sets each library option, for messages about a bad value. */
const FLAGS: Record<string, string> = {
  paths: '<paths>',
  outDir: '--out',
  size: '--size',
  device: '--device',
  batchSize: '--batch-size',
  concurrency: '--concurrency',
  threads: '--threads',
  memoryBudget: '--max-memory',
  ttlMs: '--ttl',
  format: '--format',
  quality: '--quality',
  saturation: '--saturation',
  colorThreshold: '--color-threshold',
  sha256: '--sha256',
  name: '--name',
};


/**
 * Each command's module, loaded only when that command runs (or for the full help): `colorize`
 * does not load BullMQ, `queue status` neither sharp nor onnxruntime, and `--version` none of
 * them. Loading every module took about 1.5 s of a core here, before any work.
 */
const COMMANDS: ReadonlyArray<readonly [string, () => Promise<Command>]> = [
  ['colorize', async () => (await import('./colorize.js')).colorizeCommand()],
  ['cache', async () => (await import('./cache.js')).cacheCommand()],
  ['models', async () => (await import('./models.js')).modelsCommand()],
  ['doctor', async () => (await import('./doctor.js')).doctorCommand()],
  ['submit', async () => (await import('./submit.js')).submitCommand()],
  ['worker', async () => (await import('./worker.js')).workerCommand()],
  ['queue', async () => (await import('./queue.js')).queueCommand()],
];

/**
 * The commands `argv` needs in full: the one it runs (`ddcolor X …`, `ddcolor help X`), none for
 * `--version`, every one otherwise (the list of commands, a misspelt one).
 */
function commandsNeeded(argv: string[]): Set<string> {
  const names = new Set(COMMANDS.map(([name]) => name));
  const [first, second] = argv.slice(2);
  if (first === '-V' || first === '--version') return new Set();
  if (first !== undefined && names.has(first)) return new Set([first]);
  if (first === 'help' && second !== undefined && names.has(second)) return new Set([second]);
  return names;
}

export async function buildProgram(argv: string[]): Promise<Command> {
  const program = new Command('ddcolor')
    .description('Colorize folders of old black-and-white photos with DDColor, caching every inference')
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const needed = commandsNeeded(argv);
  // In their order of the help; a command not needed is there by name only (commander never runs it).
  for (const [name, load] of COMMANDS) program.addCommand(needed.has(name) ? await load() : new Command(name));
  // commander's own messages (flag errors, help) leave through the same sink as ddcolor's, with
  // the same prefix: every error line starts with "ddcolor:".
  const output = {
    writeOut: (text: string) => void printOut(text),
    writeErr: (text: string) => void printErr(text),
    outputError: (text: string, write: (t: string) => void) => write(text.replace(/^error: /, 'ddcolor: ')),
  };
  program.configureOutput(output);
  for (const c of program.commands) {
    c.exitOverride().configureOutput(output);
    for (const sub of c.commands) sub.exitOverride().configureOutput(output);
  }
  addExamples(program, '');
  return program;
}

/** One worked example per command, shown at the end of its --help. */
const EXAMPLES: Record<string, string> = {
  '': 'ddcolor colorize ~/scans -o ~/colorized',
  colorize: 'ddcolor colorize ./album -o ./colorized --format jpg --saturation 1.1 --skip-color',
  cache: 'ddcolor cache stats --cache redis://localhost:6379',
  'cache stats': 'ddcolor cache stats --cache redis://localhost:6379 --json',
  'cache invalidate': 'ddcolor cache invalidate ./album/cat.jpg --preset person',
  'cache prune': 'ddcolor cache prune --max-size 2GB',
  models: 'ddcolor models pull tiny-512-int8',
  'models list': 'ddcolor models list --json',
  'models pull': 'ddcolor models pull tiny-512-int8',
  'models verify': 'ddcolor models verify',
  doctor: 'ddcolor doctor',
  submit: 'ddcolor submit /mnt/archive/scans -o /mnt/archive/colorized --redis redis://queue-host:6379 --wait',
  worker: 'ddcolor worker --redis redis://queue-host:6379 --device cuda',
  queue: 'ddcolor queue status --redis redis://queue-host:6379',
  'queue status': 'ddcolor queue status --redis redis://queue-host:6379 --json',
  'queue retry-failed': 'ddcolor queue retry-failed --redis redis://queue-host:6379',
  'queue clean': 'ddcolor queue clean --older-than 7d --redis redis://queue-host:6379',
};

function addExamples(cmd: Command, path: string): void {
  const example = EXAMPLES[path];
  if (example) cmd.addHelpText('after', `\nExample:\n  $ ${example}\n`);
  for (const sub of cmd.commands) addExamples(sub, path ? `${path} ${sub.name()}` : sub.name());
}

/** Run the CLI with `argv` (process.argv form); resolves to the exit code. */
export async function main(argv: string[] = process.argv): Promise<number> {
  try {
    const program = await buildProgram(argv);
    process.exitCode = 0;
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; commander has already printed its message.
      return err.exitCode === 0 ? 0 : EXIT.usage;
    }
    if (err instanceof InvalidOptionError) {
      const flag = FLAGS[err.option] ?? err.option;
      printMessage(`${flag}: expected ${err.expected}, got ${String(err.value)}`);
      return EXIT.usage;
    }
    if (err instanceof DdcolorError) {
      printMessage(err.message);
      return err.kind === 'interrupted' ? EXIT.interrupted : err.kind === 'input' ? EXIT.failed : EXIT.usage;
    }
    printMessage(errorMessage(err));
    return EXIT.failed;
  }
}
