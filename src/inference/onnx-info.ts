/**
 * Reading an ONNX file's graph inputs and outputs (names, element types, shapes) straight from its
 * protobuf bytes, without creating an inference session. The pipeline needs the model's input
 * size before any cache lookup; reading it here means a run whose photos are all cached or up to
 * date never pays for loading the model.
 *
 * Only the fields needed are decoded: ModelProto.graph (7) -> GraphProto.input (11) / output (12)
 * -> ValueInfoProto.name (1), type (2) -> TypeProto.tensor_type (1) -> elem_type (1), shape (2)
 * -> dim (1) -> dim_value (1) | dim_param (2). Everything else (initializers: the weights) is skipped.
 */

export type Dim = number | string;

export interface TensorInfo {
  name: string;
  /** ONNX TensorProto.DataType: 1 = float32, 10 = float16. */
  elemType: number;
  shape: Dim[];
}

export interface OnnxGraphInfo {
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** Files holding weights outside the .onnx (external data), relative to its folder. */
  externalFiles: string[];
  /** The model's producer_name and doc_string, when it has them. */
  producer: string | null;
  doc: string | null;
}

/** The producer name of the networks ddcolor makes for its tests (models/tiny-model.ts): such a model is labelled a test model, never DDColor. */
export const TEST_MODEL_PRODUCER = 'ddcolor-tiny-model';

export const ELEM_FLOAT32 = 1;
export const ELEM_FLOAT16 = 10;

class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const byte = this.buf[this.pos++]!;
      result += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return result;
      shift += 7;
      if (shift > 63) throw new Error('varint too long');
    }
  }

  /** Next field: [field number, wire type], or null at the end. */
  tag(): [number, number] | null {
    if (this.pos >= this.end) return null;
    const t = this.varint();
    return [Math.floor(t / 8), t & 7];
  }

  /** A length-delimited field's bounds. */
  bytes(): [number, number] {
    const len = this.varint();
    const start = this.pos;
    if (start + len > this.end) throw new Error('truncated field');
    this.pos = start + len;
    return [start, start + len];
  }

  skip(wire: number): void {
    switch (wire) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        return;
      case 2:
        this.bytes();
        return;
      case 5:
        this.pos += 4;
        return;
      default:
        throw new Error(`unsupported protobuf wire type ${wire}`);
    }
  }

  sub([start, end]: [number, number]): Reader {
    return new Reader(this.buf, start, end);
  }

  text([start, end]: [number, number]): string {
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + start, end - start).toString('utf8');
  }
}

function eachField(r: Reader, fn: (field: number, wire: number) => boolean): void {
  for (let t = r.tag(); t; t = r.tag()) {
    const [field, wire] = t;
    if (!fn(field, wire)) r.skip(wire);
  }
}

function readDim(r: Reader): Dim {
  let dim: Dim = '?';
  eachField(r, (field, wire) => {
    if (field === 1 && wire === 0) dim = r.varint();
    else if (field === 2 && wire === 2) dim = r.text(r.bytes());
    else return false;
    return true;
  });
  return dim;
}

function readValueInfo(r: Reader): TensorInfo {
  const info: TensorInfo = { name: '', elemType: 0, shape: [] };
  eachField(r, (field, wire) => {
    if (field === 1 && wire === 2) info.name = r.text(r.bytes());
    else if (field === 2 && wire === 2) {
      const type = r.sub(r.bytes());
      eachField(type, (tf, tw) => {
        if (tf !== 1 || tw !== 2) return false;
        const tensor = type.sub(type.bytes());
        eachField(tensor, (f, w) => {
          if (f === 1 && w === 0) info.elemType = tensor.varint();
          else if (f === 2 && w === 2) {
            const shape = tensor.sub(tensor.bytes());
            eachField(shape, (sf, sw) => {
              if (sf !== 1 || sw !== 2) return false;
              info.shape.push(readDim(shape.sub(shape.bytes())));
              return true;
            });
          } else return false;
          return true;
        });
        return true;
      });
    } else return false;
    return true;
  });
  return info;
}

/** Parse the graph's inputs and outputs. Initializers listed as inputs (old exports) are dropped. */
export function readOnnxGraphInfo(bytes: Uint8Array): OnnxGraphInfo {
  const model = new Reader(bytes, 0, bytes.length);
  let graph: Reader | null = null;
  let producer: string | null = null;
  let doc: string | null = null;
  eachField(model, (field, wire) => {
    if (wire !== 2 || (field !== 7 && field !== 2 && field !== 6)) return false;
    if (field === 7) graph = model.sub(model.bytes());
    else if (field === 2) producer = model.text(model.bytes());
    else doc = model.text(model.bytes());
    return true;
  });
  if (!graph) throw new Error('no graph in the ONNX file');
  const g: Reader = graph;
  const inputs: TensorInfo[] = [];
  const outputs: TensorInfo[] = [];
  const initializers = new Set<string>();
  const external = new Set<string>();
  eachField(g, (field, wire) => {
    if (wire !== 2) return false;
    if (field === 11) inputs.push(readValueInfo(g.sub(g.bytes())));
    else if (field === 12) outputs.push(readValueInfo(g.sub(g.bytes())));
    else if (field === 5) {
      // TensorProto: name (8) and external_data (13: key/value entries, 'location' names the file).
      const t = g.sub(g.bytes());
      eachField(t, (f, w) => {
        if (f === 8 && w === 2) initializers.add(t.text(t.bytes()));
        else if (f === 13 && w === 2) {
          const entry = t.sub(t.bytes());
          let key = '';
          let value = '';
          eachField(entry, (ef, ew) => {
            if (ew !== 2 || (ef !== 1 && ef !== 2)) return false;
            if (ef === 1) key = entry.text(entry.bytes());
            else value = entry.text(entry.bytes());
            return true;
          });
          if (key === 'location' && value) external.add(value);
        } else return false;
        return true;
      });
    } else return false;
    return true;
  });
  return { inputs: inputs.filter((i) => !initializers.has(i.name)), outputs, externalFiles: [...external].sort(), producer, doc };
}
