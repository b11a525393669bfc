/**
 * Finding the CUDA stack a machine has, with fake library folders and driver files: a CUDA 13
 * machine (the lent GPU machine's image: a 580 driver, CUDA 13 runtime, cuDNN for CUDA 13) lacks
 * every library onnxruntime-node's CUDA 12 provider loads, and the advice says which and how to
 * add them beside CUDA 13; a machine that has them gets no advice; doctor says the same.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cudaLibrariesCheck } from '../src/cli/doctor.js';
import { CUDA12_LIBRARIES, cudaAdvice, cudaMajorOfDriver, findCudaStack, librarySearchPath } from '../src/inference/cuda-libs.js';
import { cleanup, tempDir } from './helpers.js';

after(cleanup);

async function folder(root: string, name: string, files: string[]): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  for (const f of files) await writeFile(join(dir, f), '');
  return dir;
}

async function driverFile(root: string, version: string): Promise<string> {
  const path = join(root, `nvidia-version-${version}`);
  await writeFile(path, `NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  ${version}  Release Build  (dvs-builder@U22)  Mon Jul 14 2025\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n`);
  return path;
}

test('a CUDA 13 machine: the driver says CUDA 13, every CUDA 12 library is missing, and the advice names them and the wheels that add them beside CUDA 13', async () => {
  const root = await tempDir();
  const cuda13 = await folder(root, 'cuda-13', ['libcudart.so.13', 'libcudart.so.13.0.48', 'libcublas.so.13', 'libcublasLt.so.13', 'libcufft.so.12']);
  const cudnn = await folder(root, 'cudnn-cu13', ['libcudnn.so.9']);
  const stack = findCudaStack([cuda13, join(root, 'absent')], await driverFile(root, '580.65.06'));
  assert.equal(stack.driver, '580.65.06');
  assert.equal(stack.driverCudaMajor, 13);
  assert.deepEqual(stack.runtimes, [13]);
  assert.deepEqual(stack.missing, CUDA12_LIBRARIES.map((l) => l.soname));
  const advice = cudaAdvice(stack)!;
  assert.match(advice, /cannot find libcudart\.so\.12, libcublas\.so\.12, libcublasLt\.so\.12, libcufft\.so\.11, libcudnn\.so\.9/);
  assert.match(advice, /beside CUDA 13/);
  assert.match(advice, /pip install nvidia-cuda-runtime-cu12 nvidia-cublas-cu12 nvidia-cufft-cu12 nvidia-cudnn-cu12/);
  assert.match(advice, /LD_LIBRARY_PATH/);
  // cuDNN 9 found in another folder of the path: no longer named, nor its wheel.
  const withCudnn = findCudaStack([cuda13, cudnn], await driverFile(root, '580.65.06'));
  assert.deepEqual(withCudnn.missing, ['libcudart.so.12', 'libcublas.so.12', 'libcublasLt.so.12', 'libcufft.so.11']);
  assert.doesNotMatch(cudaAdvice(withCudnn)!, /nvidia-cudnn-cu12/);
  const check = cudaLibrariesCheck(stack)!;
  assert.equal(check.status, 'warn');
  assert.match(check.detail, /^driver 580\.65\.06 \(CUDA 13\), CUDA runtime 13 found; the CUDA 12 provider lacks libcudart\.so\.12/);
  assert.equal(check.fix, advice);
});

test('CUDA 12 libraries beside CUDA 13 (as the wheels put them): all found, no advice, doctor says ok; no driver: no check', async () => {
  const root = await tempDir();
  const cuda13 = await folder(root, 'cuda-13', ['libcudart.so.13']);
  const wheels = [
    await folder(root, 'nvidia/cuda_runtime/lib', ['libcudart.so.12']),
    await folder(root, 'nvidia/cublas/lib', ['libcublas.so.12', 'libcublasLt.so.12']),
    await folder(root, 'nvidia/cufft/lib', ['libcufft.so.11']),
    await folder(root, 'nvidia/cudnn/lib', ['libcudnn.so.9', 'libcudnn_ops.so.9']),
  ];
  const dirs = librarySearchPath({ LD_LIBRARY_PATH: [...wheels, cuda13].join(':') }).slice(0, 5);
  const stack = findCudaStack(dirs, await driverFile(root, '580.65.06'));
  assert.deepEqual(stack.missing, []);
  assert.deepEqual(stack.runtimes, [13, 12]);
  assert.equal(stack.found['libcudnn.so.9'], join(wheels[3]!, 'libcudnn.so.9'));
  assert.equal(cudaAdvice(stack), null);
  assert.equal(cudaLibrariesCheck(stack)?.status, 'ok');
  assert.equal(cudaLibrariesCheck(findCudaStack(dirs, join(root, 'no-driver'))), null, 'no NVIDIA driver: nothing to say');
});

test("a driver's version says which CUDA it runs", () => {
  assert.deepEqual(['580.65.06', '575.57.08', '525.60.13', '470.256.02', '390.157', 'x'].map(cudaMajorOfDriver), [13, 12, 12, 11, null, null]);
});
