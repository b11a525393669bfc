import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's models/ folder (dist/src/models -> package root): the catalog, the test model. */
export const PACKAGE_MODELS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'models');
