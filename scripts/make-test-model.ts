/**
 * Writes models/ddcolor-tiny-test.onnx: a three-convolution stand-in with DDColor's input/output
 * contract (float32 [N,3,H,W] -> [N,2,H,W], dynamic shape). It tints; it does not colorize. ddcolor
 * uses it when no real DDColor model is installed, and says so. Run by `npm install` (prepare).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tintModel } from '../src/models/tiny-model.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const path = join(root, 'models', 'ddcolor-tiny-test.onnx');
mkdirSync(dirname(path), { recursive: true });
writeFileSync(path, tintModel(null));
