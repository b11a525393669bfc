/**
 * Which CUDA this machine has, and what onnxruntime-node's CUDA provider still lacks. The
 * provider onnxruntime-node ships (`ONNXRUNTIME_NODE_INSTALL=cuda12`) is built for CUDA 12: it
 * loads the CUDA 12 runtime, cuBLAS, cuFFT and cuDNN 9 by their sonames. A machine set up for
 * CUDA 13 (a current driver, PyTorch's cu130 wheels) has none of them, and onnxruntime's own error
 * only names the first it missed. This names them all, with the way to add them beside CUDA 13.
 *
 * Only file names are looked at (the folders of the dynamic loader's path, and the driver's
 * version file), so it is tested with folders of empty files.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** The sonames the CUDA 12 provider of onnxruntime-node loads, and the NVIDIA wheel that carries each. */
export const CUDA12_LIBRARIES: ReadonlyArray<{ soname: string; wheel: string }> = [
  { soname: 'libcudart.so.12', wheel: 'nvidia-cuda-runtime-cu12' },
  { soname: 'libcublas.so.12', wheel: 'nvidia-cublas-cu12' },
  { soname: 'libcublasLt.so.12', wheel: 'nvidia-cublas-cu12' },
  { soname: 'libcufft.so.11', wheel: 'nvidia-cufft-cu12' },
  { soname: 'libcudnn.so.9', wheel: 'nvidia-cudnn-cu12' },
];

/** The folders the dynamic loader searches: LD_LIBRARY_PATH first, then the usual places of CUDA and the distribution. */
export function librarySearchPath(env: NodeJS.ProcessEnv = process.env): string[] {
  const fromEnv = (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  const usual = ['/usr/local/cuda/lib64', '/usr/local/cuda/targets/x86_64-linux/lib', '/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib'];
  return [...new Set([...fromEnv, ...usual])];
}

export interface CudaStack {
  /** The NVIDIA driver's version (`580.65.06`), or null when no driver is loaded. */
  driver: string | null;
  /** The newest CUDA major version that driver runs (13 from driver 580, 12 from 525), or null. */
  driverCudaMajor: number | null;
  /** Major versions of the CUDA runtimes found (`libcudart.so.N`), newest first. */
  runtimes: number[];
  /** CUDA 12 provider libraries not found in any folder searched. */
  missing: string[];
  /** Where each library that was found is. */
  found: Record<string, string>;
}

/** The newest CUDA major version a driver runs, by NVIDIA's minimum driver versions (Linux). */
export function cudaMajorOfDriver(version: string): number | null {
  const major = Number(version.split('.')[0]);
  if (!Number.isInteger(major)) return null;
  return major >= 580 ? 13 : major >= 525 ? 12 : major >= 450 ? 11 : null;
}

function driverVersion(procFile: string): string | null {
  try {
    return /Kernel Module(?:\s+for\s+\S+)?\s+(\d+\.\d+(?:\.\d+)?)/.exec(readFileSync(procFile, 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

/** What `dirs` hold of CUDA, and the driver's version from `procFile` (`/proc/driver/nvidia/version`). */
export function findCudaStack(dirs: readonly string[] = librarySearchPath(), procFile = '/proc/driver/nvidia/version'): CudaStack {
  const found: Record<string, string> = {};
  const runtimes = new Set<number>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const runtime = /^libcudart\.so\.(\d+)$/.exec(name);
      if (runtime) runtimes.add(Number(runtime[1]));
      if (CUDA12_LIBRARIES.some((l) => l.soname === name) && !(name in found)) found[name] = `${dir}/${name}`;
    }
  }
  const driver = driverVersion(procFile);
  return {
    driver,
    driverCudaMajor: driver ? cudaMajorOfDriver(driver) : null,
    runtimes: [...runtimes].sort((a, b) => b - a),
    missing: CUDA12_LIBRARIES.map((l) => l.soname).filter((s) => !(s in found)),
    found,
  };
}

/** What to do about the missing libraries, in one paragraph a user can follow; null when none is missing. */
export function cudaAdvice(stack: CudaStack): string | null {
  if (stack.missing.length === 0) return null;
  const wheels = [...new Set(CUDA12_LIBRARIES.filter((l) => stack.missing.includes(l.soname)).map((l) => l.wheel))];
  const beside = stack.runtimes.some((m) => m > 12) || (stack.driverCudaMajor ?? 0) > 12 ? ` beside CUDA ${Math.max(...stack.runtimes, stack.driverCudaMajor ?? 0)} (a CUDA 13 driver runs CUDA 12 libraries)` : '';
  return (
    `onnxruntime-node's CUDA provider is built for CUDA 12 and cannot find ${stack.missing.join(', ')}. ` +
    `Add the CUDA 12 libraries${beside}: pip install ${wheels.join(' ')}, then put their lib folders on the loader's path: ` +
    `export LD_LIBRARY_PATH=$(python3 -c 'import nvidia, os; print(":".join(os.path.join(p, d, "lib") for p in nvidia.__path__ for d in os.listdir(p)))'):$LD_LIBRARY_PATH ` +
    `(or install NVIDIA's packages cuda-cudart-12-x, libcublas-12-x, libcufft-12-x and cudnn9-cuda-12)`
  );
}
