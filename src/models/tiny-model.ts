/**
 * Writes small ONNX models with DDColor's contract (input `input` float32 [N,3,H,W] RGB in [0,1],
 * output `output` float32 [N,2,H,W], Lab a and b; or the same with float16 I/O) out of a few
 * convolutions. They stand in for the
 * real weights where those cannot be downloaded: the bundled test model (it tints, it does not
 * colorize) and the models the test suite builds.
 *
 * A minimal protobuf encoder for the handful of ONNX messages needed (onnx.proto3 field numbers).
 */
import { TEST_MODEL_PRODUCER } from '../inference/onnx-info.js';

class ProtoWriter {
  private readonly chunks: Buffer[] = [];

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  private varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    const bytes: number[] = [];
    while (v >= 0x80n) {
      bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    bytes.push(Number(v));
    this.chunks.push(Buffer.from(bytes));
  }

  int(field: number, value: number): this {
    this.tag(field, 0);
    this.varint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, 5);
    const b = Buffer.alloc(4);
    b.writeFloatLE(value);
    this.chunks.push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2);
    this.varint(value.length);
    this.chunks.push(Buffer.from(value));
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, Buffer.from(value, 'utf8'));
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  finish(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** One convolution layer: weights laid out [outC, inC, k, k]. */
export interface ConvLayer {
  outChannels: number;
  inChannels: number;
  kernel: number;
  weights: number[];
  bias: number[];
  /** Apply ReLU after this layer. */
  relu?: boolean;
}

export interface TinyModelSpec {
  /** Fixed square input size, or null for dynamic N, H and W. */
  size: number | null;
  /** Fix the batch dimension to this value (the official exports fix it at 1); default dynamic. */
  batch?: number;
  layers: ConvLayer[];
  /** Names of the graph's input and output; DDColor's are `input` and `output`. */
  inputName?: string;
  outputName?: string;
  /** Store the weights in this external data file (relative name); `buildConvModelExternal` returns its bytes. */
  externalData?: string;
  /** Tests only: allow channel counts that break DDColor's contract. */
  breakContract?: boolean;
  /** What the network does, written as the model's doc_string (shown wherever the model is named). */
  doc?: string;
  /** The producer name written in the file (default TEST_MODEL_PRODUCER: ddcolor knows it as a test model); tests pass another to stand in for a real export. */
  producer?: string;
  /** float16 input and output (Cast nodes around the float32 convolutions), as some fp16 exports have. */
  halfIo?: boolean;
}

export { TEST_MODEL_PRODUCER };

/** The doc_string of the bundled tint model. */
export const TINT_DOC = 'tints photos sepia; does not colorize';

const FLOAT = 1;
const FLOAT16 = 10;
const ATTR_INT = 2;
const ATTR_INTS = 7;

function valueInfo(w: ProtoWriter, name: string, dims: Array<number | string>, elemType = FLOAT): void {
  w.string(1, name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, elemType);
      tensor.message(2, (shape) => {
        for (const d of dims) {
          shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
        }
      });
    }),
  );
}

function initializer(w: ProtoWriter, name: string, dims: number[], values: number[], external?: { file: string; chunks: Buffer[]; offset: number }): void {
  for (const d of dims) w.int(1, d);
  w.int(2, FLOAT);
  w.string(8, name);
  const data = Buffer.from(new Float32Array(values).buffer);
  if (!external) {
    w.bytes(9, data);
    return;
  }
  // TensorProto.external_data (13): location, offset, length; data_location (14) = EXTERNAL.
  const entry = (key: string, value: string): void => {
    w.message(13, (e) => e.string(1, key).string(2, value));
  };
  entry('location', external.file);
  entry('offset', String(external.offset));
  entry('length', String(data.length));
  w.int(14, 1);
  external.chunks.push(data);
  external.offset += data.length;
}

function intAttribute(w: ProtoWriter, name: string, value: number): void {
  w.string(1, name);
  w.int(3, value);
  w.int(20, ATTR_INT);
}

function intsAttribute(w: ProtoWriter, name: string, values: number[]): void {
  w.string(1, name);
  for (const v of values) w.int(8, v);
  w.int(20, ATTR_INTS);
}

/** Serialise a model of stacked convolutions (same padding) to ONNX bytes. */
export function buildConvModel(spec: TinyModelSpec): Buffer {
  return buildConvModelExternal(spec).model;
}

/** Like buildConvModel; with `externalData`, also the bytes of the weights file to put beside it. */
export function buildConvModelExternal(spec: TinyModelSpec): { model: Buffer; weights: Buffer | null } {
  const external = spec.externalData ? { file: spec.externalData, chunks: [] as Buffer[], offset: 0 } : undefined;
  const inputName = spec.inputName ?? 'input';
  const outputName = spec.outputName ?? 'output';
  const n: number | string = spec.batch ?? 'N';
  const h: number | string = spec.size ?? 'H';
  const wd: number | string = spec.size ?? 'W';
  if (spec.layers.length === 0) throw new Error('a model needs at least one layer');
  const last = spec.layers[spec.layers.length - 1]!;
  const first = spec.layers[0]!;
  if (!spec.breakContract && (first.inChannels !== 3 || last.outChannels !== 2)) {
    throw new Error('DDColor contract: 3 input channels, 2 output channels');
  }
  const model = new ProtoWriter();
  model.int(1, 8); // ir_version
  model.string(2, spec.producer ?? TEST_MODEL_PRODUCER);
  if (spec.doc) model.string(6, spec.doc);
  model.message(7, (graph) => {
    // With float16 I/O: Cast in, float32 convolutions, Cast out.
    const finalName = spec.halfIo ? `${outputName}_f32` : outputName;
    let current = inputName;
    if (spec.halfIo) {
      graph.message(1, (node) => {
        node.string(1, inputName).string(2, `${inputName}_f32`).string(3, 'CastIn').string(4, 'Cast');
        node.message(5, (a) => intAttribute(a, 'to', FLOAT));
      });
      current = `${inputName}_f32`;
    }
    spec.layers.forEach((layer, i) => {
      const isLast = i === spec.layers.length - 1;
      const convOut = isLast && !layer.relu ? finalName : `conv${i}`;
      const pad = (layer.kernel - 1) >> 1;
      graph.message(1, (node) => {
        node.string(1, current).string(1, `w${i}`).string(1, `b${i}`);
        node.string(2, convOut).string(3, `Conv${i}`).string(4, 'Conv');
        node.message(5, (a) => intsAttribute(a, 'kernel_shape', [layer.kernel, layer.kernel]));
        node.message(5, (a) => intsAttribute(a, 'pads', [pad, pad, pad, pad]));
      });
      current = convOut;
      if (layer.relu) {
        const reluOut = isLast ? finalName : `relu${i}`;
        graph.message(1, (node) => {
          node.string(1, current).string(2, reluOut).string(3, `Relu${i}`).string(4, 'Relu');
        });
        current = reluOut;
      }
    });
    if (spec.halfIo) {
      graph.message(1, (node) => {
        node.string(1, finalName).string(2, outputName).string(3, 'CastOut').string(4, 'Cast');
        node.message(5, (a) => intAttribute(a, 'to', FLOAT16));
      });
    }
    graph.string(2, 'ddcolor-tiny');
    spec.layers.forEach((layer, i) => {
      const count = layer.outChannels * layer.inChannels * layer.kernel * layer.kernel;
      if (layer.weights.length !== count || layer.bias.length !== layer.outChannels) {
        throw new Error(`layer ${i}: expected ${count} weights and ${layer.outChannels} biases`);
      }
      graph.message(5, (t) =>
        initializer(t, `w${i}`, [layer.outChannels, layer.inChannels, layer.kernel, layer.kernel], layer.weights, external),
      );
      graph.message(5, (t) => initializer(t, `b${i}`, [layer.outChannels], layer.bias, external));
    });
    const io = spec.halfIo ? FLOAT16 : FLOAT;
    graph.message(11, (v) => valueInfo(v, inputName, [n, first.inChannels, h, wd], io));
    graph.message(12, (v) => valueInfo(v, outputName, [n, last.outChannels, h, wd], io));
  });
  model.message(8, (op) => op.string(1, '').int(2, 13));
  return { model: model.finish(), weights: external ? Buffer.concat(external.chunks) : null };
}

/** A 1x1 convolution [outC, 3] that maps each pixel's RGB to ab linearly: ab = M·rgb + bias. */
export function linearAbModel(
  size: number | null,
  m: [[number, number, number], [number, number, number]],
  bias: [number, number],
  batch?: number,
): Buffer {
  return buildConvModel({
    size,
    ...(batch === undefined ? {} : { batch }),
    layers: [{ outChannels: 2, inChannels: 3, kernel: 1, weights: [...m[0], ...m[1]], bias }],
  });
}

/**
 * The bundled stand-in model: three convolutions that turn the gray input into a warm sepia-like
 * tint that follows the picture's tones and edges. It shows the pipeline working end to end; it is
 * not DDColor and does not colorize.
 */
export function tintModel(size: number | null = null): Buffer {
  // Layer 0: 3x3 box blur of the gray value into 4 feature maps with different offsets.
  const box = 1 / 27; // 3 input channels x 9 taps
  const w0: number[] = [];
  const gains = [1, -1, 1, -1];
  for (let o = 0; o < 4; o++) for (let t = 0; t < 27; t++) w0.push(gains[o]! * box);
  const b0 = [0, 1, -0.5, 0.5]; // gray, 1-gray, relu(gray-0.5), relu(0.5-gray)
  // Layer 1: 1x1 mix to 4 maps (identity with a little mixing, ReLU keeps them positive).
  const w1 = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
  // Layer 2: to a and b. Warm highlights and midtones, slightly cool deep shadows.
  const w2 = [
    6, 2, 4, -6, // a
    18, 4, 6, -14, // b
  ];
  return buildConvModel({
    size,
    doc: TINT_DOC,
    layers: [
      { outChannels: 4, inChannels: 3, kernel: 3, weights: w0, bias: b0, relu: true },
      { outChannels: 4, inChannels: 4, kernel: 1, weights: w1, bias: [0, 0, 0, 0], relu: true },
      { outChannels: 2, inChannels: 4, kernel: 1, weights: w2, bias: [2, 4] },
    ],
  });
}

/**
 * A stand-in model whose time is known and set by its size, for measuring how well the pipeline
 * keeps a model fed (bench-targets `feed`, bench-gpu): a 3x3 convolution to `channels` maps,
 * `layers` more 3x3 convolutions of `channels` to `channels` (ReLU between), and a 1x1 to a and b.
 * It costs `costModelMacs` multiply-adds per image; its output is a small tint of the input (the
 * weights average their taps), never a colouring.
 */
export function costModel(size: number | null, channels: number, layers: number): Buffer {
  const conv = (inChannels: number, outChannels: number, kernel: number, relu: boolean): ConvLayer => {
    const taps = inChannels * kernel * kernel;
    return { outChannels, inChannels, kernel, weights: Array.from({ length: outChannels * taps }, (_, i) => ((i % 7) - 3 + 0.5) / taps), bias: new Array<number>(outChannels).fill(0.01), relu };
  };
  return buildConvModel({
    size,
    doc: `stand-in of known cost: ${channels} channels, ${layers + 2} convolutions; does not colorize`,
    layers: [conv(3, channels, 3, true), ...Array.from({ length: layers }, () => conv(channels, channels, 3, true)), conv(channels, 2, 1, false)],
  });
}

/** Multiply-adds per image of `costModel(size, channels, layers)`. */
export function costModelMacs(size: number, channels: number, layers: number): number {
  return size * size * (3 * channels * 9 + layers * channels * channels * 9 + channels * 2);
}

/** One node of a hand-built graph: an ONNX operator over named tensors. */
interface GraphNode {
  op: string;
  inputs: string[];
  output: string;
}

/**
 * Serialise a graph of element-wise nodes over DDColor's input (`input`, [N,3,H,W]) to `output`
 * ([N,2,H,W]); `constants` are float32 initializers by name (a scalar has dims []).
 */
function buildGraphModel(
  size: number | null,
  nodes: GraphNode[],
  constants: Record<string, { dims: number[]; values: number[] }>,
): Buffer {
  const model = new ProtoWriter();
  model.int(1, 8);
  model.string(2, TEST_MODEL_PRODUCER);
  model.message(7, (graph) => {
    nodes.forEach((n, i) => {
      graph.message(1, (node) => {
        for (const input of n.inputs) node.string(1, input);
        node.string(2, n.output).string(3, `${n.op}${i}`).string(4, n.op);
      });
    });
    graph.string(2, 'ddcolor-tiny-graph');
    for (const [name, c] of Object.entries(constants)) graph.message(5, (t) => initializer(t, name, c.dims, c.values));
    const h: number | string = size ?? 'H';
    const w: number | string = size ?? 'W';
    graph.message(11, (v) => valueInfo(v, 'input', ['N', 3, h, w]));
    graph.message(12, (v) => valueInfo(v, 'output', ['N', 2, h, w]));
  });
  model.message(8, (op) => op.string(1, '').int(2, 13));
  return model.finish();
}

/**
 * A position-sensitive stand-in for DDColor: each output pixel is a known function of the input
 * at that same pixel, so any shift, flip, stretch, transposition or channel mix-up between the
 * photo and the model shows as a colour error. The model computes CIELAB L from its input's red
 * channel (sRGB-encoded, as DDColor's gray input is) and returns a = k·(L − 50), b = −k·(L − 50).
 * With a large `k` its output leaves the Lab range, as DDColor's sometimes does; with `sqrt`,
 * ab = [k, −k]·√(L − 50), which is NaN wherever L < 50 (a broken export's output).
 */
export function lightnessModel(size: number | null, k: number, shape: 'linear' | 'sqrt' = 'linear'): Buffer {
  const scalar = (v: number): { dims: number[]; values: number[] } => ({ dims: [], values: [v] });
  const nodes: GraphNode[] = [
    // R plane, [N,1,H,W].
    { op: 'Conv', inputs: ['input', 'pick_r'], output: 'r' },
    // sRGB decoding: r <= 0.04045 ? r / 12.92 : ((r + 0.055) / 1.055) ^ 2.4
    { op: 'LessOrEqual', inputs: ['r', 'c_04045'], output: 'r_low' },
    { op: 'Div', inputs: ['r', 'c_1292'], output: 'lin_low' },
    { op: 'Add', inputs: ['r', 'c_0055'], output: 'r_off' },
    { op: 'Div', inputs: ['r_off', 'c_1055'], output: 'r_scaled' },
    { op: 'Max', inputs: ['r_scaled', 'c_0'], output: 'r_pos' },
    { op: 'Pow', inputs: ['r_pos', 'c_24'], output: 'lin_high' },
    { op: 'Where', inputs: ['r_low', 'lin_low', 'lin_high'], output: 'y' },
    // Lab f(): y > (6/29)^3 ? cbrt(y) : (kappa·y + 16) / 116
    { op: 'Greater', inputs: ['y', 'c_eps'], output: 'y_high' },
    { op: 'Max', inputs: ['y', 'c_0'], output: 'y_pos' },
    { op: 'Pow', inputs: ['y_pos', 'c_third'], output: 'f_high' },
    { op: 'Mul', inputs: ['y', 'c_kappa'], output: 'ky' },
    { op: 'Add', inputs: ['ky', 'c_16'], output: 'ky16' },
    { op: 'Div', inputs: ['ky16', 'c_116'], output: 'f_low' },
    { op: 'Where', inputs: ['y_high', 'f_high', 'f_low'], output: 'f' },
    // L − 50 = 116·f − 66, then [a, b] = [k, −k]·(L − 50).
    { op: 'Mul', inputs: ['f', 'c_116'], output: 'f116' },
    { op: 'Sub', inputs: ['f116', 'c_66'], output: 'l_centred' },
    ...(shape === 'sqrt' ? [{ op: 'Sqrt', inputs: ['l_centred'], output: 'l_root' }] : []),
    { op: 'Mul', inputs: [shape === 'sqrt' ? 'l_root' : 'l_centred', 'gains'], output: 'output' },
  ];
  return buildGraphModel(size, nodes, {
    pick_r: { dims: [1, 3, 1, 1], values: [1, 0, 0] },
    gains: { dims: [1, 2, 1, 1], values: [k, -k] },
    c_0: scalar(0),
    c_04045: scalar(0.04045),
    c_1292: scalar(12.92),
    c_0055: scalar(0.055),
    c_1055: scalar(1.055),
    c_24: scalar(2.4),
    c_eps: scalar(216 / 24389),
    c_third: scalar(1 / 3),
    c_kappa: scalar(24389 / 27),
    c_16: scalar(16),
    c_116: scalar(116),
    c_66: scalar(66),
  });
}
