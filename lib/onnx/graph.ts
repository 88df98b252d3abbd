// A small builder for the ONNX graph of an exported model: named initializers from host
// arrays, nodes with typed attributes, unique value names.
import { AttributeType, DataType, OnnxAttribute, OnnxNode, OnnxTensor } from './proto';

export type AttrValue = number | number[] | string | { float: number };

function attribute(name: string, v: AttrValue): OnnxAttribute {
  if (typeof v === 'string') return { name, type: AttributeType.STRING, s: new Uint8Array(Buffer.from(v, 'utf8')) };
  if (Array.isArray(v)) return { name, type: AttributeType.INTS, ints: v };
  if (typeof v === 'object') return { name, type: AttributeType.FLOAT, f: v.float };
  return { name, type: AttributeType.INT, i: v };
}

function littleEndianBytes(a: Float32Array | BigInt64Array): Uint8Array {
  // Typed arrays use the platform's byte order; raw_data is little-endian, as every supported target is.
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

export class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private readonly used = new Set<string>();
  private counter = 0;

  /** A fresh value name from a readable stem. */
  name(stem: string): string {
    let n = stem;
    while (this.used.has(n)) n = `${stem}_${++this.counter}`;
    this.used.add(n);
    return n;
  }

  /** A float32 initializer; returns its name. */
  floats(stem: string, dims: number[], values: ArrayLike<number>): string {
    const n = dims.reduce((a, b) => a * b, 1);
    if (values.length !== n) throw new RangeError(`exportOnnx: initializer '${stem}' has ${values.length} values for dims [${dims.join(', ')}]`);
    const name = this.name(stem);
    this.initializers.push({ name, dims, dataType: DataType.FLOAT, rawData: littleEndianBytes(Float32Array.from(values)) });
    return name;
  }

  /** An int64 initializer (Slice bounds, Pad amounts); returns its name. */
  int64s(stem: string, values: number[]): string {
    const name = this.name(stem);
    this.initializers.push({ name, dims: [values.length], dataType: DataType.INT64, rawData: littleEndianBytes(BigInt64Array.from(values.map(BigInt))) });
    return name;
  }

  /** Adds a node with one output named from `stem` (or exactly `output`, reserved by the caller); returns the output name. */
  node(opType: string, inputs: string[], stem: string, attrs: Record<string, AttrValue> = {}, output?: string): string {
    const out = output ?? this.name(stem);
    this.nodes.push({
      input: inputs,
      output: [out],
      name: out,
      opType,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }
}
