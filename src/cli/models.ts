/**
 * `ddcolor models list | pull | verify`.
 */
import cliProgress from 'cli-progress';
import { Command } from 'commander';
import { findCatalogEntry, installedPath, loadCatalog, loadRegistry, modelsHome } from '../models/catalog.js';
import type { DownloadProgress } from '../models/download.js';
import { pullModel, verifyModels } from '../models/install.js';
import { formatBytes } from '../units.js';
import { printOut, printMessage } from './output.js';

interface ListFlags {
  json?: boolean;
}

export interface ModelListing {
  home: string;
  default: string | null;
  models: Array<{
    name: string;
    description: string;
    inputSize: number | null;
    precision: string | null;
    bytes: number | null;
    sha256: string | null;
    checksum: string;
    license: string | null;
    url: string;
    installed: boolean;
    path: string | null;
    default: boolean;
  }>;
}

export async function listModels(env: NodeJS.ProcessEnv = process.env): Promise<ModelListing> {
  const home = modelsHome(env);
  const catalog = loadCatalog();
  const registry = await loadRegistry(home);
  const models: ModelListing['models'] = catalog.models.map((m) => {
    const inst = registry.models.find((x) => x.name === m.name);
    return {
      name: m.name,
      description: m.description,
      inputSize: m.inputSize,
      precision: m.precision,
      bytes: m.bytes ?? m.approxBytes ?? null,
      sha256: m.sha256 ?? inst?.sha256 ?? null,
      checksum: m.sha256 ? 'published' : inst ? 'none published; recorded at first download' : 'none published; will be recorded at first download',
      license: m.license,
      url: m.url,
      installed: inst !== undefined,
      path: inst ? installedPath(inst, home) : null,
      default: registry.default === m.name,
    };
  });
  for (const inst of registry.models) {
    if (findCatalogEntry(inst.name, catalog)) continue;
    models.push({
      name: inst.name,
      description: 'pulled from a URL',
      inputSize: null,
      precision: null,
      bytes: inst.bytes,
      sha256: inst.sha256,
      checksum: 'given at pull',
      license: null,
      url: inst.url,
      installed: true,
      path: installedPath(inst, home),
      default: registry.default === inst.name,
    });
  }
  return { home, default: registry.default, models };
}

function renderList(l: ModelListing): string {
  const lines = [`models folder: ${l.home}`, ''];
  for (const m of l.models) {
    const flags = [m.installed ? 'installed' : 'not installed', m.default ? 'default' : ''].filter(Boolean).join(', ');
    lines.push(`${m.default ? '*' : ' '} ${m.name.padEnd(16)} ${m.inputSize ? `${m.inputSize}px` : '     '} ${(m.precision ?? '').padEnd(5)} ${m.bytes ? formatBytes(m.bytes).padStart(9) : '         '}  ${flags}`);
    lines.push(`    ${m.description}${m.license ? ` (${m.license})` : ''}`);
    lines.push(`    sha256: ${m.sha256 ?? '-'}${m.checksum !== 'published' ? ` (${m.checksum})` : ''}`);
    if (m.path) lines.push(`    at ${m.path}`);
  }
  if (!l.default) lines.push('', 'No model installed yet: ddcolor models pull tiny-512-int8');
  return lines.join('\n') + '\n';
}

interface PullFlags {
  force?: boolean;
  sha256?: string;
  name?: string;
  progress: boolean;
  json?: boolean;
}

function progressRenderer(flags: PullFlags): { onProgress: (p: DownloadProgress) => void; stop: () => void } {
  const tty = process.stderr.isTTY && flags.progress !== false && !flags.json;
  let bar: cliProgress.SingleBar | null = null;
  let last = 0;
  return {
    onProgress(p) {
      if (tty) {
        if (!bar) {
          bar = new cliProgress.SingleBar(
            {
              format: ' {bar} {percentage}% | {got} of {size} | {speed}/s | ETA {eta_formatted}',
              stream: process.stderr,
              hideCursor: true,
              fps: 5,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(p.total ?? p.received, p.resumedFrom, { got: formatBytes(p.resumedFrom), size: p.total ? formatBytes(p.total) : '?', speed: '0 B' });
          (bar as unknown as { startedAt: number }).startedAt = Date.now();
        }
        const startedAt = (bar as unknown as { startedAt: number }).startedAt;
        const secs = Math.max(0.001, (Date.now() - startedAt) / 1000);
        bar.setTotal(p.total ?? p.received);
        bar.update(p.received, { got: formatBytes(p.received), size: p.total ? formatBytes(p.total) : '?', speed: formatBytes(Math.round((p.received - p.resumedFrom) / secs)) });
      } else if (!flags.json && Date.now() - last > 10_000) {
        last = Date.now();
        printMessage(`downloaded ${formatBytes(p.received)}${p.total ? ` of ${formatBytes(p.total)}` : ''}`);
      }
    },
    stop() {
      bar?.stop();
    },
  };
}

export function modelsCommand(): Command {
  const models = new Command('models').description('the catalog of DDColor exports: list, pull (download and verify), verify');
  models
    .command('list')
    .description('the catalog, which models are installed and where, and which is the default')
    .option('--json', 'print the list as JSON')
    .action(async (flags: ListFlags) => {
      const l = await listModels();
      printOut(flags.json ? JSON.stringify(l, null, 2) + '\n' : renderList(l));
    });
  models
    .command('pull')
    .description('download a model from the catalog (or any URL with --sha256), verify it, install it')
    .argument('<name|url>', 'a catalog name (see models list) or an https URL of an ONNX export')
    .option('--sha256 <hex>', "the file's SHA-256 (required for a URL; overrides the catalog's)")
    .option('--name <name>', 'install under this name (default: the catalog name, or the file name)')
    .option('--force', 'download again even if installed')
    .option('--no-progress', 'no progress bar')
    .option('--json', 'print the installed model as JSON')
    .action(async (source: string, flags: PullFlags) => {
      const progress = progressRenderer(flags);
      try {
        const r = await pullModel({
          source,
          ...(flags.sha256 ? { sha256: flags.sha256 } : {}),
          ...(flags.name ? { name: flags.name } : {}),
          force: flags.force ?? false,
          onProgress: progress.onProgress,
          onRestart: (reason) => printMessage(`${reason}`),
        });
        progress.stop();
        if (flags.json) {
          printOut(JSON.stringify({ ...r.model, path: r.path, already: r.already, default: r.madeDefault }, null, 2) + '\n');
          return;
        }
        if (r.already) {
          printOut(`${r.model.name} is already installed at ${r.path} (use --force to download it again)\n`);
          return;
        }
        const how = r.model.checksum === 'recorded' ? 'no published checksum: sha256 recorded for later verification' : 'sha256 verified';
        printOut(
          `installed ${r.model.name} (${formatBytes(r.model.bytes)}, ${how}${r.resumedFrom ? `, resumed from ${formatBytes(r.resumedFrom)}` : ''}) at ${r.path}\n` +
            (r.madeDefault ? `${r.model.name} is now the default model\n` : ''),
        );
      } finally {
        progress.stop();
      }
    });
  models
    .command('verify')
    .description('re-hash installed models against the catalog (or the checksum recorded at pull)')
    .argument('[name]', 'one installed model (default: all)')
    .option('--json', 'print the results as JSON')
    .action(async (name: string | undefined, flags: ListFlags) => {
      const results = await verifyModels(name);
      if (flags.json) printOut(JSON.stringify(results, null, 2) + '\n');
      else if (results.length === 0) printOut('no models installed\n');
      else for (const r of results) printOut(`${r.ok ? 'ok     ' : 'FAILED '} ${r.name}  ${r.path}${r.reason ? `: ${r.reason}` : ''}\n`);
      if (results.some((r) => !r.ok)) process.exitCode = 1;
    });
  return models;
}
