/** The devices a run may ask for, without loading onnxruntime: what the options and flags need. */
export type Device = 'auto' | 'cuda' | 'cpu';
export const DEVICES: readonly Device[] = ['auto', 'cuda', 'cpu'];
